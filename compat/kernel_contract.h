/*
 * The kernel's argument contract for the drop-in's own contexts (the
 * opt-ins): what the io_* system calls check before they act, checked
 * here before the engine is called, with the kernel's errno for each
 * failure and never a signal. A pointer the kernel would reject is found
 * by a probe system call that faults exactly where copy_from_user or
 * put_user would (kernel_contract.c); the kernel's own contexts never come
 * here.
 */
#ifndef AIORING_KERNEL_CONTRACT_H
#define AIORING_KERNEL_CONTRACT_H

#include <stddef.h>
#include <linux/aio_abi.h>

/* 0 if the kernel could read len (>= 8) bytes at p, else -EFAULT. */
int user_readable(const void *p, size_t len);

/*
 * 0 if the kernel could write len (>= 4) bytes at p, else -EFAULT. It
 * writes 4 bytes inside the range on each page: only for memory the caller
 * writes next (or restores).
 */
int user_writable(void *p, size_t len);

/* io_setup's checks of the count nr against its limits: 0 or -errno. */
int contract_setup_count(unsigned nr);

/*
 * What one io_submit call has checked so far: the pages of iocb arrays and
 * iocbs already probed and the last descriptor's flags (a batch mostly
 * names one file).
 */
struct submit_checks {
	uintptr_t pages[32];
	unsigned npages;
	unsigned next;             /* where the next page goes, round robin */
	int fd;
	int fd_flags;
};

void submit_checks_init(struct submit_checks *k);

/*
 * The iocb pointer at iocbs[i] read as the kernel reads it, and that iocb
 * checked as io_submit checks it before it queues: 0 with *out set, or the
 * errno io_submit gives. Its aio_key is set to 0, as the kernel does, once
 * the iocb is found writable (the kernel writes it only when the iocb's
 * other checks pass: a program that set aio_key and then submits a bad
 * iocb sees 0 there; io_prep_* leave 0 there anyway).
 */
int contract_iocb(struct submit_checks *k, struct iocb *const *iocbs, long i, struct iocb **out);

#endif
