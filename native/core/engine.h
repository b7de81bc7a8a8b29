/*
 * Contexts that do real asynchronous I/O and complete it into a ring of the
 * layout the caller chose: legacy (the default) or v2 (only when asked with
 * AIORING_SETUP_V2). No Node dependency: the addon and the drop-in libaio
 * both drive this.
 *
 * Backends: the kernel's AIO (io_setup/io_submit; completions are moved
 * from the kernel's ring into the context's ring by reading the kernel's
 * ring in userspace, one eventfd read per batch, never a syscall per event)
 * and a thread pool (pread/pwrite/fsync/poll in worker threads, which
 * publish into the ring themselves). In the default "auto" mode O_DIRECT
 * reads and writes go to the kernel, everything else to the pool, and the
 * pool serves alone when io_setup fails. A buffered read bound for the pool
 * is first tried inline with RWF_NOWAIT, as io_uring does: served from the
 * page cache at once when it can be, and by the pool when it would block.
 *
 * Capacity is accounted as the kernel does it: in-flight plus unreaped
 * events never exceed the ring's capacity (legacy nr - 1, v2 entries), so a
 * producer always finds a free slot; a submit past that is -EAGAIN.
 */
#ifndef AIOR_ENGINE_H
#define AIOR_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/uio.h>
#include <time.h>
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Setup flags (AIORING_SETUP_*): the public ones in aioring.h, the rest in abi.h. */

enum aior_backend_mode {
	AIOR_BACKEND_AUTO,
	AIOR_BACKEND_KERNEL,
	AIOR_BACKEND_THREADPOOL,
	AIOR_BACKEND_URING,             /* every request through io_uring (engine_uring.c) */
};

struct aior_ctx;
struct aior_req;

struct aior_setup {
	uint32_t nr_events;
	uint32_t flags;                 /* AIORING_SETUP_* */
	enum aior_backend_mode backend;
	uint32_t threads;               /* pool workers it may occupy at once; 0: default */
	/* io_setup's count for its kernel context (0: nr_events): what the program asked */
	uint32_t kernel_events;
	/* Ring memory: NULL to map anonymous memory, or the caller's (at least
	 * AIORING_MEMORY_ALIGN aligned, and 64 to keep head and tail on lines of
	 * their own; at least aior_ring_bytes long). */
	void *memory;
	size_t memory_len;
	/* With memory: adopt the ring already there (validated first) instead
	 * of formatting a new one; its layout must be the one flags ask for,
	 * and a v2 ring's features no more than AIORING_FEAT_USER_REAP. */
	int attach;
	/* Called from a producer thread when a waiter announced itself (or once after aior_notify_idle). */
	void (*wake)(void *arg);
	void *wake_arg;
	/*
	 * The embedder's waiters wait on aior_kernel_fd() themselves: a
	 * passthrough context then needs no mover thread to ring them (one
	 * wakeup a completion burst instead of two).
	 */
	int waits_on_kernel_fd;
	/*
	 * Waiters announce themselves in the engine's own page, not in the v2
	 * header: for an embedder that is the ring's only waiter (the drop-in's
	 * io_getevents) and may move the ring (aior_ring_move).
	 */
	int private_waiters;
	/*
	 * auto only: where io_uring works in this process (a real
	 * io_uring_setup, once), io_uring serves what the pool would (buffered
	 * reads the page cache lacks, writes, poll, noop; syncs stay on the pool) and O_DIRECT
	 * where io_setup failed, its ring made at the first such request;
	 * elsewhere, or if that ring cannot be made, the pool as without it.
	 * The Node API's auto sets it; the drop-in's does not.
	 */
	int prefer_uring;
};

/* What a context ended up with. */
struct aior_info {
	void *ring;
	size_t ring_len;
	uint32_t capacity;       /* events in flight + unreaped at most */
	uint32_t nr;             /* legacy nr, or v2 entries */
	int kernel;              /* a kernel AIO context exists */
	uint64_t kernel_id;      /* its id, the kernel's ring address (0: none) */
	uint32_t threads;        /* pool threads (0: none) */
	int kernel_error;        /* errno io_setup failed with, 0 if it did not */
	uint32_t *wait_flags;    /* where a waiter announces itself */
	int read_helper;         /* a read helper serves part of large cached runs */
	int uring;               /* an io_uring serves every request */
	int uring_error;         /* errno io_uring_setup failed with, 0 if it did not */
	/*
	 * auto with prefer_uring: 1 while io_uring serves it (its ring made, or to
	 * be made at the first request not served inline); 0 with uring_refused
	 * the errno of the process's probe where io_uring is refused, or with
	 * uring_error where its ring could not be made
	 */
	int uring_auto;
	int uring_refused;
	size_t memory;           /* bytes it holds: the ring it mapped (or the kernel's), control page, request table */
};

/* Bytes of ring memory a setup needs (the caller-memory case). */
size_t aior_ring_bytes(const struct aior_setup *s);

/* 0 and *ctx, or a negative errno (EINVAL for unknown flags). */
int aior_setup(const struct aior_setup *s, struct aior_ctx **ctx);
void aior_info(const struct aior_ctx *ctx, struct aior_info *info);

/*
 * Queue n requests, as io_submit: each completes with io_event.data =
 * aio_data and io_event.obj = the iocb's address. The iocb is copied; the
 * buffers it names must stay valid until its event is reaped. Returns the
 * number queued, or a negative errno when the first could not be: -EAGAIN
 * (the ring cannot take more), -EBADF, -EINVAL.
 */
long aior_submit(struct aior_ctx *ctx, struct iocb *const *iocbs, long n);

/*
 * aior_submit with the status flags of descriptor fd known to the caller
 * (fcntl(fd, F_GETFL) = fd_flags, read in this same call): the engine
 * takes fd as open and does not ask again for the requests on fd.
 * fd -1: nothing known.
 */
long aior_submit_known(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, int fd, int fd_flags);

/*
 * aior_submit with io_uring fixed files: files[i] is the slot
 * aior_register_file gave for iocbs[i]'s descriptor, or -1. A slot that
 * does not hold a file registered from that descriptor, or a context of
 * another backend, runs the request on its aio_fildes as aior_submit does.
 */
long aior_submit_files(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, const int32_t *files);

/*
 * aior_submit_files from the owner of the descriptors (a FileHandle): where
 * fd_flags[i] >= 0 it is iocbs[i]'s descriptor's status flags as its owner
 * knows them (only O_DIRECT is looked at, for the route) and the owner's
 * word that the descriptor is open: no fcntl is made for it. A descriptor
 * closed behind its owner's back then fails in the request's own read or
 * write (-EBADF in its event, or at once from an inline read) instead of
 * at the submit; a status flag changed behind its owner's back (F_SETFL
 * O_DIRECT) changes only where the request runs, not what it does.
 * fd_flags[i] -1: nothing known, as aior_submit_files.
 */
long aior_submit_owned(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, const int32_t *files,
		       const int32_t *fd_flags);

/*
 * The direct route, for an embedder whose program reaps only through it
 * (the drop-in's AIORING_RING=v2 contexts, whose programs cannot read a v2
 * ring): each of the program's iocbs goes as it is to the context's kernel
 * AIO context, in one io_submit, so the kernel itself reads and checks
 * them (EFAULT, EINVAL, EBADF, ...), runs them as for the program
 * (buffered ones inside io_submit, polls, syncs) and signals their own
 * IOCB_FLAG_RESFD. Their events are the kernel's, moved as they are into
 * the context's ring when its consumer looks (aior_service_ring) or
 * waits (aior_wait_direct); no eventfd of ours and no mover thread. The
 * ring's room is accounted as for the engine's own requests.
 *
 * aior_direct_start, before any request: makes the kernel context now
 * (io_setup of the setup's count) and takes the route for good; 0, or a
 * negative errno and the context stays as it was (auto only, and not
 * passthrough).
 */
int aior_direct_start(struct aior_ctx *ctx);
/* As io_submit on the kernel context, n > 0: how many it took, or a negative errno (-EAGAIN: no room). */
long aior_submit_direct(struct aior_ctx *ctx, struct iocb **iocbs, long n);
/*
 * Wait in io_getevents (io_pgetevents with a sigmask) on the kernel
 * context, its min_nr, nr, timeout and mask: the events it returns are
 * in events, and in the ring after what was there. The kernel's answer.
 */
long aior_wait_direct(struct aior_ctx *ctx, long min_nr, long nr, struct io_event *events,
		      const struct timespec *timeout, const sigset_t *sigmask);
/* io_cancel on the kernel context: the kernel's answer (-EINPROGRESS when it cancels). */
int aior_cancel_direct(struct aior_ctx *ctx, struct iocb *iocb, struct io_event *event);

/*
 * Cancel a request not yet started: it completes with -ECANCELED through
 * the ring and 0 is returned. -EAGAIN if it is running or with the
 * kernel, -EINVAL if no such request is in flight. In passthrough mode
 * this is io_cancel: 0 when the kernel cancels it (a poll: its event,
 * with no events in res, comes through the ring), else its errno.
 */
int aior_cancel(struct aior_ctx *ctx, const struct iocb *iocb);

/*
 * io_cancel as the kernel's (fs/aio.c): only a poll can be cancelled; it
 * completes through the ring with res 0, queued or already waiting, and 0
 * is returned (the system call's -EINPROGRESS). -EINVAL for anything
 * else, a read or a write included: the kernel lets them finish.
 */
int aior_cancel_kernel(struct aior_ctx *ctx, const struct iocb *iocb);

/*
 * The eventfd the kernel signals on each completion, or -1 without kernel
 * AIO (and on the direct route, whose iocbs name none of ours). A consumer about to sleep may wait on it itself (one wakeup, kernel
 * to consumer) and then call aior_service, which clears it and moves what
 * the kernel finished into the context's ring.
 */
int aior_kernel_fd(const struct aior_ctx *ctx);
int aior_service(struct aior_ctx *ctx);

/*
 * aior_service without its system call: moves what the kernel's ring
 * holds, if anything, and leaves the eventfd as it is. For a consumer that
 * comes often and waits on the eventfd only after aior_service (which
 * clears it) has found nothing more: a set eventfd then just means a look
 * that finds nothing new. The mover's epoll hears every signal either way.
 */
void aior_service_ring(struct aior_ctx *ctx);

/*
 * The aio-nr this process's auto contexts will charge at their first
 * O_DIRECT request (io_setup's count for each that has not made one): an
 * embedder that refuses a setup as io_setup would past aio-max-nr counts
 * it as charged.
 */
uint64_t aior_deferred_aio_nr(void);

/*
 * The caller's registered buffers, all of them each time: with io_uring,
 * reads and writes inside one run as fixed buffers. 0 or a negative errno
 * (then they run as ordinary reads and writes); 0 for other backends.
 */
int aior_register_buffers(struct aior_ctx *ctx, const struct iovec *iov, uint32_t n);

/*
 * io_uring fixed files, for a caller that knows a descriptor's lifetime
 * (the addon's FileHandles): aior_register_file registers the file fd
 * names now and returns its slot for aior_submit_files, or a negative
 * errno (-ENFILE: the context's table is full; -EAGAIN: try again;
 * -EOPNOTSUPP: not a uring context). The slot holds the file, not the
 * number: unregister it before closing the descriptor, or the file stays
 * open (and requests naming the slot keep reaching it) until then or until
 * destroy. Raw descriptors (aior_submit) are never looked up in the table.
 */
int aior_register_file(struct aior_ctx *ctx, int fd);
int aior_unregister_file(struct aior_ctx *ctx, int slot);

struct aior_file_stats {
	uint32_t registered;     /* slots holding a file */
	uint32_t capacity;       /* the table's slots (0: not a uring context) */
	uint64_t fixed_requests; /* requests that ran on a registered file */
	int error;               /* errno the table's registration failed with, 0 */
};

void aior_file_stats(struct aior_ctx *ctx, struct aior_file_stats *out);

/*
 * The uring backend's ring descriptor (readable while its CQ holds
 * events), or -1: a consumer about to sleep may poll it itself and then
 * call aior_uring_service, which moves the CQ into the ring on the
 * consumer's thread (no hop through the mover).
 */
int aior_uring_fd(const struct aior_ctx *ctx);
void aior_uring_service(struct aior_ctx *ctx);
/*
 * The caller of aior_uring_fd promises that while a waiter of its own is
 * announced (AIORING_V2_WAITER) it polls the descriptor and calls
 * aior_uring_service whenever it turns readable: the mover then leaves the
 * CQ to it while it waits (the submitter's thread posts the CQ anyway, in
 * its task work, so a mover that reaped too would be a second wakeup).
 */
void aior_uring_consumer_polls(struct aior_ctx *ctx);

/* Whether this build and process can use io_uring: 0, or a negative errno (ENOSYS: built without liburing). */
int aior_uring_available(void);
/*
 * What auto goes by: aior_uring_available's answer, probed once a process
 * where it is 0 or a policy's refusal (EPERM, EACCES, ENOSYS, EINVAL), and
 * again at the next call after a transient one (EMFILE, ENOMEM, ...).
 */
int aior_uring_allowed(void);

/*
 * Follow the ring to where move puts it (mremap: 0 and *to, or -errno),
 * called with every producer held off: no event, tail or waiter word is
 * written to the old address once move has returned. Only for a ring the
 * engine mapped whose waiter words are not in it (a legacy ring, or v2
 * with private_waiters): else -EINVAL. Returns move's result.
 */
int aior_ring_move(struct aior_ctx *ctx, int (*move)(void *arg, void **to), void *arg);

/*
 * Completions the v2 ring could not take because another party forged its
 * shared head (past tail, or more than entries behind it): 0 while none
 * was lost. Once it is not 0 the context is broken for good: aior_submit
 * says -EUCLEAN, and so should the embedder's reaping calls (the drop-in's
 * do). A submit that finds head forged with nothing lost says -EUCLEAN
 * too, and takes nothing.
 */
uint32_t aior_lost(const struct aior_ctx *ctx);

/*
 * Where the engine's next event goes in its ring (v2: a free-running
 * index; legacy: below nr): its own copy, which no write to the shared
 * ring changes (the kernel, too, keeps its tail to itself).
 */
uint32_t aior_produced(const struct aior_ctx *ctx);

/*
 * Whether a request made from the program's iocb is still in flight: its
 * event is in the ring once this says 0 (a slot is freed after its event
 * is produced). One look at every request slot.
 */
int aior_user_busy(struct aior_ctx *ctx, const struct iocb *iocb);

/* Requests submitted and not yet completed into the ring. */
uint32_t aior_inflight(const struct aior_ctx *ctx);

/*
 * Ask for one call of the setup's wake, from the producer that completes
 * the last request in flight: 1 if requests are in flight now (the call
 * comes when they have completed), 0 if none is (a call may still come).
 * Not for passthrough, whose completions the engine does not see.
 */
int aior_notify_idle(struct aior_ctx *ctx);

/* Reads the read helper thread has served so far (0 without one). */
uint64_t aior_helper_reads(const struct aior_ctx *ctx);

/*
 * The fsync and fdatasync calls the engine made itself (the pool runs
 * them, io_uring runs them for the uring backend, kernel AIO for backend
 * "kernel"; not in passthrough, where the caller reaps the kernel's
 * ring): how many of each, and the
 * last AIOR_SYNC_RECORDS of them with their start and end on
 * CLOCK_MONOTONIC, oldest first. A record is written before the request's
 * event is published. The pool times the call itself; for io_uring
 * and kernel AIO the record brackets it: start is when the sync was
 * queued for the kernel (it cannot begin before), end when its completion
 * was reaped (it had ended), so a sync recorded as starting after a write
 * did so.
 */
#define AIOR_SYNC_RECORDS 256

struct aior_sync_record {
	int32_t fd;
	uint16_t opcode;         /* IOCB_CMD_FSYNC or IOCB_CMD_FDSYNC */
	uint64_t start_ns, end_ns;
};

struct aior_sync_stats {
	uint64_t fsyncs, fdatasyncs;
	uint64_t delays;         /* grouped syncs whose start the pool held for callers to come back */
	uint32_t nrecords;
	struct aior_sync_record records[AIOR_SYNC_RECORDS];
};

void aior_syncs(struct aior_ctx *ctx, struct aior_sync_stats *out);
/* Count and record a sync of req's that ran from start_ns to end_ns; takes reqs.lock. */
void aior_record_sync(struct aior_ctx *ctx, const struct aior_req *req, uint64_t start_ns, uint64_t end_ns);
/* CLOCK_MONOTONIC in ns: the sync records' clock. */
uint64_t aior_monotonic_ns(void);
int aior_is_sync(uint16_t opcode);

/*
 * Stop taking requests, cancel queued ones (they complete with -ECANCELED)
 * and those with the kernel that it can cancel (polls), wait for the
 * running ones to complete into the ring and join every thread: nothing
 * waits for an event that may never come. The ring stays readable.
 * Idempotent. In passthrough mode the kernel's requests are the caller's
 * to cancel (aior_cancel) and reap before this (the engine does not see
 * their completions).
 */
void aior_quiesce(struct aior_ctx *ctx);

/*
 * aior_quiesce, then io_destroy (which waits for what the kernel still
 * holds, and an RCU grace period) and free everything, the ring memory we
 * mapped included. After aior_quiesce, any thread may call it. No
 * aior_submit may run at the same time as aior_quiesce or aior_destroy
 * (a submit that began before the stop could still hand requests to the
 * pool or the read helper after they stopped); the addon runs both on the
 * JavaScript thread.
 */
void aior_destroy(struct aior_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
