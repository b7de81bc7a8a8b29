/*
 * Memory ordering for the C core and the drop-in libaio, in one place: no
 * other file spells out an __atomic builtin.
 *
 * The ring algorithms never spell out fences: a producer publishes an index
 * with store_release after writing the entries it covers, a consumer reads
 * the other side's index with load_acquire before touching entries. The one
 * full fence is the waiter's handshake: a waiter announces itself, fences,
 * and looks at the ring again; a producer publishes, fences, and looks at
 * the announcement (aior_fence), so one of the two always sees the other.
 * Counters are read-modify-writes with the ordering their name says.
 * Everything else is relaxed.
 */
#ifndef AIOR_ATOMICS_H
#define AIOR_ATOMICS_H

#include <stdint.h>

#define aior_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define aior_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define aior_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define aior_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* a store ordered against every other sequentially consistent access */
#define aior_store_seq_cst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
/* Swap in v, returning what was there (relaxed: a once-only flag, orders nothing). */
#define aior_exchange_relaxed(p, v) __atomic_exchange_n((p), (v), __ATOMIC_RELAXED)

/* Counters: statistics are relaxed; counts others wait on are acq_rel. */
#define aior_add_relaxed(p, v)   ((void)__atomic_fetch_add((p), (v), __ATOMIC_RELAXED))
#define aior_add_acq_rel(p, v)   ((void)__atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL))
#define aior_sub_acq_rel(p, v)   ((void)__atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL))
/* a futex word's change: ordered like aior_fence against the sleeper's announcement */
#define aior_add_seq_cst(p, v)   ((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))

/* Set and clear bits of a waiter word (the waiter's half of the handshake). */
#define aior_or_seq_cst(p, v)    ((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#define aior_and_seq_cst(p, v)   ((void)__atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST))

/*
 * Sequence-count fences (a seqlock): a reader's acquire fence keeps its
 * relaxed reads of the protected data before its second read of the count;
 * a writer's release fence keeps its odd count before the data it changes.
 */
static inline void aior_fence_acquire(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static inline void aior_fence_release(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* The full fence of the waiter handshake. */
static inline void aior_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Compare-and-swap on a shared u32; on failure *expected holds the value seen. */
static inline int aior_cas_u32(uint32_t *p, uint32_t *expected, uint32_t desired)
{
	return __atomic_compare_exchange_n(p, expected, desired, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static inline int aior_cas_u64(uint64_t *p, uint64_t *expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(p, expected, desired, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static inline void aior_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif
