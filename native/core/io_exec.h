/*
 * Running one request on the calling thread with the ordinary syscalls
 * (pread/pwrite/fsync/poll), or trying a read without blocking.
 */
#ifndef AIOR_IO_EXEC_H
#define AIOR_IO_EXEC_H

#include <stdint.h>
#include <linux/aio_abi.h>

struct aior_req;

/*
 * Run a request to its end: its result (or a negative errno). Not a poll
 * (the pool's poll service waits for those): -EINVAL. stopping (its
 * context's flag, or NULL): a read or write of a stream (a pipe, FIFO or
 * socket) waits for it without blocking and ends with -ECANCELED once
 * the flag is set, instead of waiting for ever.
 */
int64_t aior_execute(const struct aior_req *req, const int *stopping);

/*
 * A poll's result once poll() reported revents for it: at its first look
 * (waited 0) those; after a wait, its wakeup's classes looked at again.
 */
int64_t aior_poll_result(const struct iocb *cb, short revents, int waited);

/*
 * A read without blocking (RWF_NOWAIT), as io_uring tries it first: its
 * result when the page cache held all of it (or it failed in a way the
 * event carries), AIOR_NOWAIT_DEFER when it must run where it may block,
 * or -EBADF.
 */
#define AIOR_NOWAIT_DEFER INT64_MIN
int64_t aior_try_nowait(const struct aior_req *req);

#endif
