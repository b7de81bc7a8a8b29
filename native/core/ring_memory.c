#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include "ring_memory.h"

static size_t round_up(size_t len, size_t unit)
{
	return (len + unit - 1) / unit * unit;
}

size_t ring_memory_huge_page_size(void)
{
	char line[128];
	size_t kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %zu kB", &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

static int map_fd(struct ring_memory *m, int fd, size_t len)
{
	void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (addr == MAP_FAILED) {
		int err = errno;

		close(fd);
		return -err;
	}
	m->addr = addr;
	m->len = len;
	m->fd = fd;
	return 0;
}

int ring_memory_anonymous(struct ring_memory *m, size_t len, int huge)
{
	size_t unit = huge ? ring_memory_huge_page_size() : (size_t)sysconf(_SC_PAGESIZE);
	void *addr;

	if (len == 0 || unit == 0)
		return -EINVAL;
	len = round_up(len, unit);
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0), -1, 0);
	if (addr == MAP_FAILED)
		return -errno;
	m->addr = addr;
	m->len = len;
	m->fd = -1;
	return 0;
}

int ring_memory_memfd(struct ring_memory *m, size_t len, int huge)
{
	size_t unit = huge ? ring_memory_huge_page_size() : (size_t)sysconf(_SC_PAGESIZE);
	int fd;

	if (len == 0 || unit == 0)
		return -EINVAL;
	len = round_up(len, unit);
	fd = memfd_create("aioring", MFD_CLOEXEC | MFD_ALLOW_SEALING | (huge ? MFD_HUGETLB : 0));
	if (fd < 0)
		return -errno;
	/* sealed against shrinking: a mapping of it can never SIGBUS */
	if (ftruncate(fd, (off_t)len) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return map_fd(m, fd, len);
}

int ring_memory_create_file(struct ring_memory *m, const char *path, size_t len)
{
	struct statfs fs;
	int fd, err;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* hugetlbfs reports its huge page size as the block size */
	if (fstatfs(fd, &fs) < 0) {
		err = errno;
		goto fail;
	}
	if (fs.f_bsize <= 0) {
		err = EINVAL;
		goto fail;
	}
	len = round_up(len, (size_t)fs.f_bsize);
	if (ftruncate(fd, (off_t)len) < 0) {
		err = errno;
		goto fail;
	}
	err = -map_fd(m, fd, len);
	if (err)
		unlink(path);
	return -err;
fail:
	close(fd);
	unlink(path);
	return -err;
}

int ring_memory_attach_file(struct ring_memory *m, const char *path)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return -EINVAL;
	}
	return map_fd(m, fd, (size_t)st.st_size);
}

void ring_memory_release(struct ring_memory *m)
{
	if (m->addr)
		munmap(m->addr, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->addr = NULL;
	m->len = 0;
	m->fd = -1;
}
