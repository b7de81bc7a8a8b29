/*
 * Running one request on the calling thread with the ordinary syscalls
 * (pread/pwrite/fsync/poll), or trying a read without blocking.
 */
#ifndef AIOR_IO_EXEC_H
#define AIOR_IO_EXEC_H

#include <stdint.h>

struct aior_req;

/*
 * Run a request to its end: its result (or a negative errno). A poll
 * request gives up with -ECANCELED once *stopping is set.
 */
int64_t aior_execute(const struct aior_req *req, const int *stopping);

/*
 * A read without blocking (RWF_NOWAIT), as io_uring tries it first: its
 * result when the page cache held all of it (or it failed in a way the
 * event carries), AIOR_NOWAIT_DEFER when it must run where it may block,
 * or -EBADF.
 */
#define AIOR_NOWAIT_DEFER INT64_MIN
int64_t aior_try_nowait(const struct aior_req *req);

#endif
