/*
 * The kernel's argument contract for the drop-in's own contexts
 * (kernel_contract.h).
 *
 * The probes: rt_sigprocmask with an invalid `how` copies the 8 bytes of
 * its set from user memory and then refuses (EFAULT if the copy faulted,
 * else EINVAL, and the mask is left alone); getcpu writes 4 bytes with
 * put_user. Both fault exactly where the io_* calls' own copies would
 * (unmapped, read-only for a write, kernel space, the top page), cost one
 * plain system call each (a tenth of process_vm_readv's, which pins the
 * pages), and are made once per page per call, never across calls: memory
 * may be unmapped between two calls.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "atomics.h"
#include "kernel_contract.h"
#include "system_info.h"

/* The kernel's MAX_RW_COUNT: one read or write moves at most this much. */
#define MAX_RW_COUNT ((size_t)INT32_MAX & ~(size_t)4095)

/* The rw flags that the kernel refuses per file, not per kernel, with EOPNOTSUPP. */
#define RWF_FILE_DEPENDENT 0xc0u /* RWF_ATOMIC, RWF_DONTCACHE */

static int probe_read(uintptr_t at)
{
	if (at == 0)
		return -EFAULT; /* NULL is "no set" to rt_sigprocmask */
	return syscall(SYS_rt_sigprocmask, -1, at, NULL, 8) < 0 && errno == EFAULT ? -EFAULT : 0;
}

static int probe_write(uintptr_t at)
{
	if (at == 0)
		return -EFAULT;
	return syscall(SYS_getcpu, at, NULL, NULL) < 0 && errno == EFAULT ? -EFAULT : 0;
}

/* Probe every page of [p, p + len) with width-byte accesses inside the range. */
static int probe_range(uintptr_t a, size_t len, size_t width, int (*probe)(uintptr_t))
{
	uintptr_t page = (uintptr_t)system_page_size(), end = a + len;

	if (end < a)
		return -EFAULT;
	while (a < end) {
		uintptr_t next = (a | (page - 1)) + 1;
		uintptr_t at = a + width > end ? end - width : a;

		if (probe(at))
			return -EFAULT;
		if (next == 0)
			break;
		a = next;
	}
	return 0;
}

int user_readable(const void *p, size_t len)
{
	return probe_range((uintptr_t)p, len, 8, probe_read);
}

int user_writable(void *p, size_t len)
{
	return probe_range((uintptr_t)p, len, 4, probe_write);
}

static long read_number(const char *path, long otherwise)
{
	FILE *f = fopen(path, "re");
	long v = otherwise;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = otherwise;
		fclose(f);
	}
	return v;
}

/*
 * As ioctx_alloc: the ring is sized at twice max(nr, 4 per CPU), nr may
 * not pass aio-max-nr, nor what aio-nr has left of it. The last is read
 * here before anything is mapped; the engine's kernel context, which
 * charges aio-nr exactly nr as the kernel's would, is the exact check
 * (the drop-in refuses a context whose kernel context met EAGAIN).
 */
int contract_setup_count(unsigned nr)
{
	unsigned cpus4 = system_possible_cpus() * 4;
	unsigned ring = (nr > cpus4 ? nr : cpus4) * 2;
	long max = read_number("/proc/sys/fs/aio-max-nr", 65536);

	if (ring > 0x10000000u / sizeof(struct io_event))
		return -EINVAL;
	if (ring == 0 || (long)nr > max || read_number("/proc/sys/fs/aio-nr", 0) + (long)nr > max)
		return -EAGAIN;
	return 0;
}

/* The highest address access_ok lets through, found once by where mmap may place a page. */
static uintptr_t user_top(void)
{
	static uintptr_t top;
	static const int bits[] = {56, 52, 48};
	uintptr_t page = (uintptr_t)system_page_size(), t = aior_load_relaxed(&top);
	unsigned i;

	if (t)
		return t;
	t = ((uintptr_t)1 << 47) - page;
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		void *hint = (void *)(((uintptr_t)1 << bits[i]) - 2 * page);
		void *p = mmap(hint, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p == MAP_FAILED)
			continue;
		munmap(p, page);
		if (p == hint) {
			t = ((uintptr_t)1 << bits[i]) - page;
			break;
		}
	}
	aior_store_relaxed(&top, t);
	return t;
}

/*
 * The rw flags this kernel knows, found once: each bit written to a pipe
 * with pwritev2, where only an unknown flag gives EOPNOTSUPP.
 */
static unsigned known_rw_flags(void)
{
	static unsigned known;
	static int found;
	unsigned k = RWF_FILE_DEPENDENT;
	int fds[2], bit;
	char byte = 0, drain[64];

	if (aior_load_acquire(&found))
		return aior_load_relaxed(&known);
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return ~0u;
	for (bit = 0; bit < 32; bit++) {
		struct iovec iov = {&byte, 1};

		if (pwritev2(fds[1], &iov, 1, -1, (int)(1u << bit)) >= 0 || errno != EOPNOTSUPP)
			k |= 1u << bit;
		while (read(fds[0], drain, sizeof(drain)) > 0)
			;
	}
	close(fds[0]);
	close(fds[1]);
	aior_store_relaxed(&known, k);
	aior_store_release(&found, 1);
	return k;
}

#define SLOTS (sizeof(((struct submit_checks *)0)->pages) / sizeof(uintptr_t))

void submit_checks_init(struct submit_checks *k)
{
	k->npages = 0;
	k->next = 0;
	k->fd = -1;
	k->fd_flags = 0;
}

/* Whether [p, p + len) lies in pages this call has probed (for writing, if write). */
static int probed(const struct submit_checks *k, const void *p, size_t len, int write)
{
	uintptr_t mask = ~((uintptr_t)system_page_size() - 1);
	uintptr_t first = (uintptr_t)p & mask, last = ((uintptr_t)p + len - 1) & mask;
	int seen_first = 0, seen_last = 0;
	unsigned i;

	for (i = 0; i < k->npages; i++) {
		uintptr_t at = k->pages[i] & mask;

		if (write && !(k->pages[i] & 1))
			continue;
		seen_first |= at == first;
		seen_last |= at == last;
	}
	return seen_first && seen_last;
}

static void remember(struct submit_checks *k, const void *p, size_t len, int write)
{
	uintptr_t mask = ~((uintptr_t)system_page_size() - 1);
	uintptr_t ends[2] = {(uintptr_t)p & mask, ((uintptr_t)p + len - 1) & mask};
	unsigned e;

	for (e = 0; e < (ends[0] == ends[1] ? 1u : 2u); e++) {
		k->pages[k->next] = ends[e] | (uintptr_t)write;
		k->next = (k->next + 1) % SLOTS;
		if (k->npages < SLOTS)
			k->npages++;
	}
}

static int checked_readable(struct submit_checks *k, const void *p, size_t len)
{
	if (probed(k, p, len, 0))
		return 0;
	if (user_readable(p, len))
		return -EFAULT;
	remember(k, p, len, 0);
	return 0;
}

/* eventfd_ctx_fdget: EBADF for no file, EINVAL for a file that is not an eventfd. */
static int check_resfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0; /* no /proc: the engine's eventfd write reports it */
	target[n] = 0;
	return strcmp(target, "anon_inode:[eventfd]") == 0 ? 0 : -EINVAL;
}

static int is_rw(unsigned op)
{
	return op == IOCB_CMD_PREAD || op == IOCB_CMD_PWRITE || op == IOCB_CMD_PREADV ||
	       op == IOCB_CMD_PWRITEV;
}

/* import_iovec: the count (UIO_MAXIOV at most), the array read, each segment's length and range. */
static int check_iovecs(const struct iocb *cb)
{
	const struct iovec *iov = (const struct iovec *)(uintptr_t)cb->aio_buf;
	size_t i, n = (size_t)cb->aio_nbytes;

	if (n > UIO_MAXIOV)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (user_readable(iov, n * sizeof(*iov)))
		return -EFAULT;
	for (i = 0; i < n; i++) {
		uintptr_t base = (uintptr_t)iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if ((ssize_t)len < 0)
			return -EINVAL;
		if (base + len < base || base + len > user_top())
			return -EFAULT;
	}
	return 0;
}

/* io_submit_one and __io_submit_one, in their order. */
int contract_iocb(struct submit_checks *k, struct iocb *const *iocbs, long i, struct iocb **out)
{
	struct iocb *const *slot = iocbs + i;
	struct iocb *user, cb;
	unsigned op;
	int acc, r, key_ok;

	if ((uintptr_t)iocbs + (uintptr_t)i * sizeof(*slot) < (uintptr_t)iocbs ||
	    checked_readable(k, slot, sizeof(*slot)))
		return -EFAULT;
	user = *slot;
	if (user == NULL)
		return -EFAULT;
	/*
	 * The key's page probed for writing first: one probe where the kernel
	 * reads the iocb and later writes its key, and a page it may write is
	 * one it may read. Only a failed one needs the read probe, for the
	 * kernel's order of errors.
	 */
	key_ok = probed(k, &user->aio_key, sizeof(user->aio_key), 1);
	if (!key_ok && !user_writable(&user->aio_key, sizeof(user->aio_key))) {
		remember(k, &user->aio_key, sizeof(user->aio_key), 1);
		key_ok = 1;
	}
	if (key_ok)
		aior_store_relaxed(&user->aio_key, 0);
	if (checked_readable(k, user, sizeof(*user)))
		return -EFAULT;
	memcpy(&cb, user, sizeof(cb));
	if (cb.aio_reserved2 || (int64_t)cb.aio_nbytes < 0)
		return -EINVAL;
	if ((int)cb.aio_fildes != k->fd || k->fd < 0) {
		k->fd_flags = fcntl((int)cb.aio_fildes, F_GETFL);
		k->fd = k->fd_flags < 0 ? -1 : (int)cb.aio_fildes;
	}
	if (k->fd_flags < 0 || (k->fd_flags & O_PATH))
		return -EBADF;
	if (cb.aio_flags & IOCB_FLAG_RESFD) {
		r = check_resfd((int)cb.aio_resfd);
		if (r)
			return r;
	}
	if (!key_ok)
		return -EFAULT;
	op = cb.aio_lio_opcode;
	acc = k->fd_flags & O_ACCMODE;
	if (is_rw(op)) {
		if (cb.aio_rw_flags & ~known_rw_flags())
			return -EOPNOTSUPP;
		if ((op == IOCB_CMD_PREAD || op == IOCB_CMD_PREADV) ? acc == O_WRONLY : acc == O_RDONLY)
			return -EBADF;
		if (op == IOCB_CMD_PREAD || op == IOCB_CMD_PWRITE) {
			size_t len = cb.aio_nbytes < MAX_RW_COUNT ? (size_t)cb.aio_nbytes : MAX_RW_COUNT;

			if (cb.aio_buf + len < cb.aio_buf || cb.aio_buf + len > user_top())
				return -EFAULT;
		} else {
			r = check_iovecs(&cb);
			if (r)
				return r;
		}
	} else if (op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC) {
		if (cb.aio_buf || cb.aio_offset || cb.aio_nbytes || cb.aio_rw_flags)
			return -EINVAL;
	} else if (op == IOCB_CMD_POLL) {
		if ((uint16_t)cb.aio_buf != cb.aio_buf || cb.aio_offset || cb.aio_nbytes || cb.aio_rw_flags)
			return -EINVAL;
	} else {
		return -EINVAL; /* IOCB_CMD_NOOP too: the kernel runs no such command */
	}
	*out = user;
	return 0;
}
