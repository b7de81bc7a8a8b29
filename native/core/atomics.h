/*
 * Memory ordering for the ring algorithms, in one place.
 *
 * The algorithms never spell out fences: a producer publishes an index with
 * store_release after writing the entries it covers, a consumer reads the
 * other side's index with load_acquire before touching entries. Everything
 * else is relaxed.
 */
#ifndef AIORING_ATOMICS_H
#define AIORING_ATOMICS_H

#include <stdint.h>

#define aior_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define aior_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define aior_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define aior_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

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
