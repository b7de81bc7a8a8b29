/*
 * The kernel AIO backend. Every request carries IOCB_FLAG_RESFD with the
 * context's eventfd; the process's one mover thread waits on all of them
 * (one epoll, edge-triggered), then reaps each ready context's kernel
 * ring in userspace (legacy_reap: no syscall per event) and completes
 * each event into the context's ring. In passthrough mode the kernel's
 * ring is the context's ring, and the mover only wakes waiters. The
 * uring backend's contexts join the same epoll (aior_mover_join).
 */
#ifndef AIOR_ENGINE_KERNEL_H
#define AIOR_ENGINE_KERNEL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <linux/aio_abi.h>
#include "legacy_ring.h"

struct aior_ctx;
struct aior_req;

/*
 * A descriptor in the process's one mover's epoll (edge-triggered): a
 * kernel AIO context's eventfd (serve NULL: the kernel backend's own
 * path, with its grace for waiting consumers and its lingering), or
 * another backend's, whose serve the mover calls when it is readable.
 * Written by aior_mover_join and aior_mover_leave only, detached aside.
 */
struct aior_mover_link {
	struct aior_ctx *ctx;
	void (*serve)(struct aior_ctx *ctx);
	int fd;
	int registered;            /* in the epoll */
	uint32_t generation;       /* the mover's (see fork) when it joined */
	int detached;              /* atomic: set by leave before it leaves the epoll */
};

/* Join the mover's epoll, starting the mover with the first: 0 or a negative errno. */
int aior_mover_join(struct aior_mover_link *link);
/*
 * Leave it; when this returns the mover is past any event it held for the
 * link and calls its serve no more. The last out joins the mover.
 */
void aior_mover_leave(struct aior_mover_link *link);

/*
 * io_submit plugs the block queue for the whole batch it is given, so the
 * device sees nothing until the last iocb is prepared. Runs of 4 keep it
 * fed while the rest are prepared (bench:io O_DIRECT: runs of 16 or more
 * lost about a quarter of the IOPS on this machine class).
 */
#define KERNEL_RUN 4

/*
 * Owned by engine_kernel.c. eventfd and ring are set by aior_kernel_start
 * before it publishes kctx (release: readers without reqs.lock acquire
 * it), and read-only from then until aior_kernel_release. An auto context
 * starts it at its first O_DIRECT request (aior_kernel_ready, under
 * reqs.lock), so a context that never makes one holds no kernel context.
 */
struct aior_kernel {
	aio_context_t kctx;        /* 0: no kernel AIO (yet) */
	int error;                 /* errno io_setup failed with, 0 if it did not */
	uint32_t deferred_events;  /* auto: io_setup's count at the first O_DIRECT request, 0 once tried */
	int eventfd;               /* the kernel signals it per completion (RESFD) */
	int waits_on_fd;           /* aior_setup's waits_on_kernel_fd: no mover in passthrough */
	pthread_mutex_t ring_lock; /* one reaper of the kernel's ring at a time */
	/*
	 * Direct route: threads inside io_getevents on kctx (under ring_lock).
	 * The kernel reaps its ring then, so userspace leaves it alone: two
	 * reapers of one ring that do not share a lock would hand out an event
	 * twice.
	 */
	uint32_t kernel_waiters;
	struct legacy_consumer ring;  /* the kernel's ring, under ring_lock */
	struct aior_mover_link link;  /* the eventfd in the mover's epoll */
	/* the mover's own: a context whose consumer waits is left to it a little */
	int deferred;
	uint64_t defer_until;      /* CLOCK_MONOTONIC ns */
	struct aior_ctx *defer_next;
	uint32_t service_calls;    /* consumers' aior_service calls (atomic) */
	uint32_t service_seen;     /* the mover's own: its last look at service_calls */
	/*
	 * The kernel's context is io_setup(nr_events), as the caller asked, so
	 * it charges the aio-nr io_setup would; its room is the ring's, but
	 * part of it can sit in other CPUs' request caches (fs/aio.c's
	 * reqs_available). Requests accepted for which io_submit found no room
	 * wait here, in order, and go to the kernel as its others complete.
	 * Under reqs.lock (backlog is also peeked without it, so stored atomically).
	 */
	struct aior_req *backlog, *backlog_tail;
	uint32_t with_kernel;      /* atomic: requests io_submit took, not yet moved */
};

/*
 * io_setup(nr_events), and the context's eventfd joins the mover's epoll
 * (the mover starts with the first); 0 or a negative errno (then error says why).
 */
int aior_kernel_start(struct aior_ctx *ctx, uint32_t nr_events, int waits_on_fd);
/* Auto: no kernel context yet; aior_kernel_ready makes it, io_setup(nr_events), when first needed. */
void aior_kernel_defer(struct aior_ctx *ctx, uint32_t nr_events, int waits_on_fd);
/*
 * With reqs.lock held: whether the kernel context is there, made now if it
 * was deferred. Where io_setup fails (error says why) it is not tried
 * again and the answer stays 0: the caller sends the request elsewhere.
 */
int aior_kernel_ready(struct aior_ctx *ctx);
/*
 * io_submit a run of at most 64 requests, with reqs.lock held: how many
 * were taken (by the kernel, or into the backlog when the kernel had no
 * room for them yet), or a negative errno.
 */
long aior_kernel_submit(struct aior_ctx *ctx, struct aior_req **reqs, long n);
/* Passthrough: the caller's iocbs straight to io_submit, in runs of KERNEL_RUN. */
long aior_kernel_submit_passthrough(struct aior_ctx *ctx, struct iocb *const *iocbs, long n);
/* Move what the kernel's ring holds into the context's ring now (after any reaper already at it). */
void aior_kernel_move(struct aior_ctx *ctx);
/*
 * The direct route: the caller's iocbs to io_submit as they are (n at
 * most the room requests_charge found): how many the kernel took, or its
 * negative errno.
 */
long aior_kernel_submit_direct(struct aior_ctx *ctx, struct iocb **iocbs, long n);
/*
 * The direct route's wait: io_getevents (io_pgetevents with a mask) on the
 * kernel context into the caller's events, which then go into the
 * context's ring too; the kernel's answer.
 */
long aior_kernel_wait_direct(struct aior_ctx *ctx, long min_nr, long nr, struct io_event *events,
			     const struct timespec *timeout, const sigset_t *sigmask);
/* Passthrough: io_cancel one of the caller's iocbs (a poll's event then comes through the ring). */
int aior_kernel_cancel(struct aior_ctx *ctx, const struct iocb *iocb);
/*
 * Moved mode, with reqs.lock held: io_cancel the request the kernel holds
 * for the caller's iocb. Only a poll is the kernel's to cancel: 0, and its
 * event (res 0, reported -ECANCELED) comes through the ring; a read or
 * write is -EINVAL (it completes on its own), as is an iocb not there;
 * -EALREADY for a poll the kernel no longer holds (cancelled before, or
 * completed, its event not yet delivered).
 */
int aior_kernel_cancel_request(struct aior_ctx *ctx, const struct iocb *user);
/*
 * Moved mode: the backlog completes with -ECANCELED, everything with the
 * kernel is io_cancel'ed (polls can be: their events come through the
 * ring) and waited for. Then the context leaves the mover, which does not
 * touch it after this returns; the last context out joins the mover.
 */
void aior_kernel_stop(struct aior_ctx *ctx);
/* Then io_destroy: the kernel's ring is unmapped. */
void aior_kernel_release(struct aior_ctx *ctx);

#endif
