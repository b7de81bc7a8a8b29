#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/uio.h>
#include "atomics.h"
#include "io_exec.h"
#include "requests.h"

/* How often a pending poll request looks whether the context is stopping. */
#define POLL_SLICE_MS 50

static int64_t result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

static int64_t run_poll(const struct iocb *cb, const int *stopping)
{
	struct pollfd p = {(int)cb->aio_fildes, (short)cb->aio_buf, 0};

	for (;;) {
		int r = poll(&p, 1, POLL_SLICE_MS);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			return p.revents;
		if (aior_load_acquire(stopping))
			return -ECANCELED;
	}
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
		return result(flags ? preadv2(fd, &one, 1, cb->aio_offset, flags)
				    : pread(fd, buf, cb->aio_nbytes, cb->aio_offset));
	case IOCB_CMD_PWRITE:
		return result(flags ? pwritev2(fd, &one, 1, cb->aio_offset, flags)
				    : pwrite(fd, buf, cb->aio_nbytes, cb->aio_offset));
	case IOCB_CMD_PREADV:
		return result(preadv2(fd, req->iov, (int)cb->aio_nbytes, cb->aio_offset, flags));
	case IOCB_CMD_PWRITEV:
		return result(pwritev2(fd, req->iov, (int)cb->aio_nbytes, cb->aio_offset, flags));
	case IOCB_CMD_FSYNC:
		return result(fsync(fd));
	case IOCB_CMD_FDSYNC:
		return result(fdatasync(fd));
	case IOCB_CMD_POLL:
		return run_poll(cb, stopping);
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
	if (r == 0 || (r > 0 && (size_t)r == want))
		return r;
	if (r < 0 && errno != EAGAIN && errno != EOPNOTSUPP)
		return -errno;
	return AIOR_NOWAIT_DEFER;
}
