/*
 * Memory for a ring that the caller chooses (flaw F7): anonymous pages,
 * a file on tmpfs, /dev/shm or hugetlbfs, or a memfd. The kernel's own ring
 * is pinned and unswappable; these are ordinary shared mappings.
 */
#ifndef AIOR_RING_MEMORY_H
#define AIOR_RING_MEMORY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ring_memory {
	void *addr;
	size_t len;   /* mapped bytes, rounded to the page (or huge page) size */
	int fd;       /* -1 for anonymous memory */
};

/* All return 0 or a negative errno; on failure m is left unmapped. */
int ring_memory_anonymous(struct ring_memory *m, size_t len, int huge);
int ring_memory_memfd(struct ring_memory *m, size_t len, int huge);
/* Create path (O_EXCL, O_NOFOLLOW, mode 0600) sized for len bytes. */
int ring_memory_create_file(struct ring_memory *m, const char *path, size_t len);
/*
 * Map an existing file whole; the caller validates what it holds. A file
 * another process truncates under the mapping faults (SIGBUS) on access:
 * share ring files only between processes that trust each other, or use a
 * memfd, which is sealed against shrinking.
 */
int ring_memory_attach_file(struct ring_memory *m, const char *path);
void ring_memory_release(struct ring_memory *m);

/* Default huge page size in bytes, or 0 when the system has none. */
size_t ring_memory_huge_page_size(void);

#ifdef __cplusplus
}
#endif

#endif
