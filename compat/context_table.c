/*
 * An open-addressed table (linear probing, at most half full) read under a
 * sequence count: io_submit and io_getevents on any thread look up with a
 * few loads and never block, setup and destroy (rare) change it under a
 * mutex. A reader that overlapped a change sees the count move and looks
 * again; deletion shifts the entries that follow back into the hole
 * (Knuth's algorithm R), so the table never fills with tombstones.
 *
 * A table outgrown is kept, never freed: a reader may still be probing it
 * when the larger one is published (it will retry, but must not touch
 * unmapped memory). Doubling bounds what is kept to the live table's size.
 *
 * fork: the child has only the forking thread, so a writer another thread
 * was inside would never finish there: its mutex would stay locked (the
 * child's first io_setup or io_destroy waits for ever) and the count odd
 * (every lookup, the kernel's contexts' included, spins for ever). So fork
 * waits for the writer (pthread_atfork): the child gets the table whole,
 * with no change in progress. The parent's contexts stay in it; the
 * drop-in tells them apart by their generation (foreign: -EINVAL).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "atomics.h"
#include "context_table.h"

#define MIN_SLOTS 64

struct slot {
	const void *id;   /* NULL: free */
	void *value;
};

struct table {
	size_t mask;              /* slots - 1 */
	struct table *outgrown;   /* the smaller tables this one replaced */
	struct slot slots[];
};

static pthread_mutex_t writer = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_hooks = PTHREAD_ONCE_INIT;
static uint64_t seq;              /* odd while a writer changes the table */
static struct table *current;     /* NULL until the first insert */
static size_t used;               /* under writer */

static void fork_prepare(void)
{
	pthread_mutex_lock(&writer);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&writer);
}

/* The forking thread holds writer, taken in fork_prepare: the child's copy is made new. */
static void fork_child(void)
{
	pthread_mutex_init(&writer, NULL);
}

static void hook_fork(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Every writer first: before its first lock, fork learns to wait for it. */
static void lock_writer(void)
{
	pthread_once(&fork_hooks, hook_fork);
	pthread_mutex_lock(&writer);
}

static size_t home(const void *id, size_t mask)
{
	uint64_t h = (uint64_t)(uintptr_t)id * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32)) & mask;
}

void *context_table_find(const void *id)
{
	for (;;) {
		uint64_t before = aior_load_acquire(&seq);
		struct table *t;
		void *found = NULL;
		size_t i, probes;

		if (before & 1) {
			aior_cpu_relax();
			continue;
		}
		t = aior_load_acquire(&current);
		if (t == NULL)
			return NULL;
		/* bounded: mid-change a reader may see slots moving */
		for (i = home(id, t->mask), probes = 0; probes <= t->mask; i = (i + 1) & t->mask, probes++) {
			const void *at = aior_load_relaxed(&t->slots[i].id);

			if (at == NULL)
				break;
			if (at == id) {
				found = aior_load_relaxed(&t->slots[i].value);
				break;
			}
		}
		aior_fence_acquire();
		if (aior_load_relaxed(&seq) == before)
			return found;
	}
}

static void begin_change(void)
{
	aior_store_relaxed(&seq, aior_load_relaxed(&seq) + 1);
	aior_fence_release();
}

static void end_change(void)
{
	aior_store_release(&seq, aior_load_relaxed(&seq) + 1);
}

static void place(struct table *t, const void *id, void *value)
{
	size_t i = home(id, t->mask);

	while (t->slots[i].id != NULL)
		i = (i + 1) & t->mask;
	aior_store_relaxed(&t->slots[i].value, value);
	aior_store_relaxed(&t->slots[i].id, id);
}

/* A table twice the size holding everything the current one holds. */
static struct table *grown(void)
{
	size_t slots = current ? (current->mask + 1) * 2 : MIN_SLOTS, i;
	struct table *t = calloc(1, sizeof(*t) + slots * sizeof(struct slot));

	if (t == NULL)
		return NULL;
	t->mask = slots - 1;
	t->outgrown = current;
	for (i = 0; current && i <= current->mask; i++)
		if (current->slots[i].id != NULL)
			place(t, current->slots[i].id, current->slots[i].value);
	return t;
}

int context_table_insert(const void *id, void *value)
{
	struct table *t;

	lock_writer();
	t = current;
	if (t == NULL || (used + 1) * 2 > t->mask + 1) {
		t = grown();
		if (t == NULL) {
			pthread_mutex_unlock(&writer);
			return -ENOMEM;
		}
	}
	begin_change();
	place(t, id, value);
	aior_store_release(&current, t);
	end_change();
	used++;
	pthread_mutex_unlock(&writer);
	return 0;
}

/* Whether an entry whose home is k may sit at j with the hole at i (k, i, j cyclic). */
static int must_stay(size_t k, size_t i, size_t j)
{
	return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

void *context_table_remove(const void *id)
{
	struct table *t;
	void *value = NULL;
	size_t i, j;

	lock_writer();
	t = current;
	if (t == NULL || id == NULL)
		goto out;
	for (i = home(id, t->mask); t->slots[i].id != id; i = (i + 1) & t->mask)
		if (t->slots[i].id == NULL)
			goto out;
	value = t->slots[i].value;
	begin_change();
	for (j = (i + 1) & t->mask; t->slots[j].id != NULL; j = (j + 1) & t->mask) {
		if (must_stay(home(t->slots[j].id, t->mask), i, j))
			continue;
		aior_store_relaxed(&t->slots[i].value, t->slots[j].value);
		aior_store_relaxed(&t->slots[i].id, t->slots[j].id);
		i = j;
	}
	aior_store_relaxed(&t->slots[i].id, NULL);
	end_change();
	used--;
out:
	pthread_mutex_unlock(&writer);
	return value;
}
