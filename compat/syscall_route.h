/*
 * Raw io_* system calls on the drop-in's own (engine) contexts. The kernel
 * does not know an engine context's id, so a program that sets up and
 * submits through libaio but reaps with the raw system call (InnoDB does)
 * would get EINVAL. Two routes bring those calls to the drop-in:
 *
 *   - the libc route: the drop-in exports syscall(), and a call with an
 *     io_* number on an engine context runs through the drop-in, with the
 *     raw system call's result convention (-1 and errno); every other
 *     call goes to libc's syscall() unchanged;
 *   - the dispatch route: syscall instructions in a loaded object other
 *     than libc, ld.so, libaio and the drop-in (inline asm, static code)
 *     are caught with Linux's syscall user dispatch over that object's
 *     text (PR_SYS_DISPATCH_INCLUSIVE_ON, so syscalls from everywhere else
 *     cost nothing), in every thread (pthread_create and fork re-arm it:
 *     clone does not inherit it); the SIGSYS handler runs io_* calls on
 *     engine contexts through the drop-in and re-issues every other call
 *     from the drop-in's own text. A program's own SIGSYS handler keeps
 *     every SIGSYS that is not a dispatch.
 *
 * A raw io_setup always makes the kernel's context: a program that calls
 * the system call asked for the kernel, and every libaio entry point works
 * on a kernel context.
 */
#ifndef AIORING_SYSCALL_ROUTE_H
#define AIORING_SYSCALL_ROUTE_H

#include <signal.h>
#include <time.h>
#include <linux/aio_abi.h>

/*
 * The drop-in's calls for engine contexts, each with the kernel's contract
 * and a negative errno result; is_engine says whether an id is one.
 * getevents takes libaio's mask (a sigset_t, or NULL) and makes no
 * userspace look at the ring first, as the system call makes none.
 */
struct raw_io_ops {
	int (*is_engine)(void *id);
	int (*destroy)(void *id);
	int (*submit)(void *id, long nr, struct iocb **iocbs);
	int (*cancel)(void *id, struct iocb *iocb, struct io_event *event);
	int (*getevents)(void *id, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout, const sigset_t *sigmask);
};

/*
 * Route the process's raw io_* calls to ops from now on (the first call
 * wins; later ones only arm the calling thread). 0 when every raw io_*
 * call of the process reaches ops. -1 when some object makes raw system
 * calls and the dispatch route cannot be had (the reason then goes to
 * stderr in one line when switch names the opt-in being refused, as
 * "AIORING_RING=v2"; with switch NULL nothing is printed).
 */
int syscall_route_start(const struct raw_io_ops *ops, const char *opt_in);

#endif
