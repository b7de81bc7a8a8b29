#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/uio.h>
#include "atomics.h"
#include "io_exec.h"
#include "requests.h"

static int64_t result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

/*
 * What the kernel's poll reports once it has waited: its wakeup's key,
 * which names the whole class woken (a pipe's reader wakes with POLLIN |
 * POLLRDNORM, its writer with POLLOUT | POLLWRNORM), not only the bits
 * asked. Userspace sees no key: the file's state in the asked classes
 * after the wakeup is the nearest, and exactly the key for pipes and
 * FIFOs.
 */
static short woken_classes(short asked)
{
	return (short)(asked | (asked & POLLIN ? POLLRDNORM : 0) | (asked & POLLOUT ? POLLWRNORM : 0));
}

/*
 * As aio_poll: a file ready at its first look reports what it has of the
 * asked events (and POLLERR, POLLHUP); one that became ready later reports
 * its wakeup (woken_classes).
 */
int64_t aior_poll_result(const struct iocb *cb, short revents, int waited)
{
	struct pollfd p = {(int)cb->aio_fildes, woken_classes((short)cb->aio_buf), 0};

	if (!waited)
		return revents;
	return poll(&p, 1, 0) > 0 ? p.revents : 0;
}

/* How often a stream's wait looks whether its context is stopping. */
#define STREAM_STOP_CHECK_MS 10

/*
 * Wait until the stream fd can be read (or written), looking every
 * STREAM_STOP_CHECK_MS whether stopping was set: 0 when it may be tried
 * again, -1 with errno ECANCELED once stopping is set.
 */
static int stream_ready(int fd, int write, const int *stopping)
{
	struct pollfd p = {fd, write ? POLLOUT : POLLIN, 0};

	for (;;) {
		if (aior_load_acquire(stopping)) {
			errno = ECANCELED;
			return -1;
		}
		if (poll(&p, 1, STREAM_STOP_CHECK_MS) != 0)
			return 0;  /* ready, hung up, or interrupted: the next try says which */
	}
}

static ssize_t stream_call(int fd, const struct iovec *iov, int cnt, int flags, int write)
{
	return write ? pwritev2(fd, iov, cnt, -1, flags) : preadv2(fd, iov, cnt, -1, flags);
}

/*
 * A second open file description of the stream fd names, O_NONBLOCK, with
 * fd's access mode (/proc/self/fd reopens a FIFO or a pipe; not a socket):
 * for a file that refuses RWF_NOWAIT (a FIFO does), without touching the
 * O_NONBLOCK of the description fd shares with others. -1 if it cannot.
 */
static int reopen_nonblocking(int fd, int fl)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

/*
 * A file with no position to read at (a pipe, a FIFO, a socket): the
 * kernel's AIO reads and writes it at its stream position, whatever the
 * offset, where pread says ESPIPE. Only then is it done again that way.
 * With stopping (a pool's request), the stream is never waited on in a
 * blocking call: it is tried without blocking (RWF_NOWAIT, or, where the
 * file refuses that, through a non-blocking description of its own,
 * reopen_nonblocking) and polled between tries, so that a read no data
 * ever comes to (or a write to a pipe nobody drains) ends with ECANCELED
 * when its context stops, rather than holding its thread, and the destroy
 * that waits for it, for ever; two reads racing for one byte never leave
 * the loser blocked. A write takes what room there is: it may be short,
 * as io_uring's is. A descriptor opened O_NONBLOCK, and a request that
 * asked RWF_NOWAIT itself, keep their EAGAIN, as the blocking call would
 * give it. Only a stream that neither takes RWF_NOWAIT nor reopens (a
 * terminal) is still polled, then called blocking.
 */
static ssize_t streamed(ssize_t r, int fd, const struct iovec *iov, int cnt, int flags, int write,
			const int *stopping)
{
	int alt = -1, fl = -2, err;

	if (r >= 0 || errno != ESPIPE)
		return r;
	if (stopping == NULL || (flags & RWF_NOWAIT))
		return stream_call(fd, iov, cnt, flags, write);
	for (;;) {
		int blocking = 0;

		r = alt >= 0 ? stream_call(alt, iov, cnt, flags, write) : stream_call(fd, iov, cnt, flags | RWF_NOWAIT, write);
		if (r >= 0 || (errno != EAGAIN && errno != EOPNOTSUPP))
			break;
		if (fl == -2) {
			err = errno;
			fl = fcntl(fd, F_GETFL);
			/* O_NONBLOCK of its own: the plain call is what it asked for */
			if (fl < 0 || (fl & O_NONBLOCK)) {
				r = stream_call(fd, iov, cnt, flags, write);
				break;
			}
			errno = err;
		}
		if (alt < 0 && errno == EOPNOTSUPP) {
			alt = reopen_nonblocking(fd, fl);
			if (alt >= 0)
				continue;
			blocking = 1;
		}
		if (stream_ready(fd, write, stopping) < 0) {
			r = -1;
			break;
		}
		if (blocking) {
			r = stream_call(fd, iov, cnt, flags, write);
			break;
		}
	}
	if (alt >= 0) {
		err = errno;
		close(alt);
		errno = err;
	}
	return r;
}

int64_t aior_execute(const struct aior_req *req, const int *stopping)
{
	const struct iocb *cb = &req->cb;
	int fd = (int)cb->aio_fildes;
	void *buf = (void *)(uintptr_t)cb->aio_buf;
	int flags = (int)cb->aio_rw_flags;
	struct iovec one = {buf, cb->aio_nbytes};

	switch (cb->aio_lio_opcode) {
	case IOCB_CMD_PREAD:
		return result(streamed(flags ? preadv2(fd, &one, 1, cb->aio_offset, flags)
					     : pread(fd, buf, cb->aio_nbytes, cb->aio_offset),
				       fd, &one, 1, flags, 0, stopping));
	case IOCB_CMD_PWRITE:
		return result(streamed(flags ? pwritev2(fd, &one, 1, cb->aio_offset, flags)
					     : pwrite(fd, buf, cb->aio_nbytes, cb->aio_offset),
				       fd, &one, 1, flags, 1, stopping));
	case IOCB_CMD_PREADV:
		return result(streamed(preadv2(fd, req->iov, (int)cb->aio_nbytes, cb->aio_offset, flags),
				       fd, req->iov, (int)cb->aio_nbytes, flags, 0, stopping));
	case IOCB_CMD_PWRITEV:
		return result(streamed(pwritev2(fd, req->iov, (int)cb->aio_nbytes, cb->aio_offset, flags),
				       fd, req->iov, (int)cb->aio_nbytes, flags, 1, stopping));
	case IOCB_CMD_FSYNC:
		return result(fsync(fd));
	case IOCB_CMD_FDSYNC:
		return result(fdatasync(fd));
	case IOCB_CMD_NOOP:
		return 0;
	}
	return -EINVAL;
}

int64_t aior_try_nowait(const struct aior_req *req)
{
	const struct iocb *cb = &req->cb;
	struct iovec one = {(void *)(uintptr_t)cb->aio_buf, cb->aio_nbytes};
	const struct iovec *iov = req->iov ? req->iov : &one;
	int cnt = req->iov ? (int)cb->aio_nbytes : 1;
	size_t want = 0;
	ssize_t r;

	for (int i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	r = preadv2((int)cb->aio_fildes, iov, cnt, cb->aio_offset, (int)cb->aio_rw_flags | RWF_NOWAIT);
	if (r < 0 && errno == ESPIPE) {
		/* a stream: what it had is the whole result (those bytes are gone from it) */
		r = streamed(r, (int)cb->aio_fildes, iov, cnt, (int)cb->aio_rw_flags | RWF_NOWAIT, 0, NULL);
		if (r >= 0)
			return r;
	}
	if (r == 0 || (r > 0 && (size_t)r == want))
		return r;
	if (r < 0 && errno != EAGAIN && errno != EOPNOTSUPP)
		return -errno;
	return AIOR_NOWAIT_DEFER;
}
