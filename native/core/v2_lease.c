#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "atomics.h"
#include "v2_lease.h"

#ifdef AIORING_TEST_HOOKS
void (*v2_lease_test_hook)(enum v2_lease_step step);

static void step(enum v2_lease_step s)
{
	if (v2_lease_test_hook)
		v2_lease_test_hook(s);
}
#else
static inline void step(enum v2_lease_step s)
{
	(void)s;
}
#endif

/*
 * /proc/PID/stat: state (field 3) and start time (field 22), which tells a
 * process from a later one that reuses its pid. -1 when there is no such
 * process; 1 when the file cannot be read for another reason.
 */
static int read_stat(pid_t pid, char *state, uint64_t *start_time)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -1 : 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n == 0 ? -1 : 1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return 1;
	*state = p[2];
	for (field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return 1;
	*start_time = strtoull(p + 1, NULL, 10);
	return 0;
}

uint64_t v2_lease_self(void)
{
	uint64_t start_time = 0;
	char state;

	read_stat(getpid(), &state, &start_time);
	return (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)start_time;
}

int v2_lease_alive(uint64_t owner)
{
	uint64_t start_time;
	char state;
	int r = read_stat((pid_t)(owner >> 32), &state, &start_time);

	if (r < 0)
		return 0;
	if (r > 0)
		return 1;  /* cannot tell: never take over a lease that may be live */
	return state != 'Z' && state != 'X' && (uint32_t)start_time == (uint32_t)owner;
}

int v2_lease_attach(struct v2_lease_ring *c, void *mem, size_t len)
{
	const struct v2_ring_header *hdr = mem;
	uint32_t entries, leases;

	if (v2_validate(mem, len, &entries) != RING_OK ||
	    !(aior_load_relaxed(&hdr->features) & AIORING_FEAT_LEASES))
		return -EINVAL;
	/*
	 * The validator read lease_count once; a peer may have written it
	 * since: read it once more and check this copy, the one kept.
	 */
	leases = aior_load_relaxed(&hdr->lease_count);
	if (leases == 0 || leases > AIORING_V2_MAX_LEASES || v2_ring_bytes_leased(entries, leases) > len)
		return -EINVAL;
	v2_bind(&c->ring, mem, entries);
	c->lease_count = leases;
	c->leases = (struct v2_lease *)((char *)mem + v2_lease_offset(entries));
	c->claim = &c->ring.hdr->claim;
	c->self = v2_lease_self();
	c->seen_head = aior_load_acquire(c->ring.head);
	c->seen_times = 0;
	return 0;
}

static void hold_init(struct v2_lease_hold *h, struct v2_lease *lease)
{
	h->lease = lease;
	h->start = h->end = h->done = 0;
	h->commits = (uint32_t)(aior_load_acquire(&lease->commit) >> 32);
}

int v2_lease_leave(struct v2_lease_ring *c, struct v2_lease_hold *h)
{
	(void)c;
	if (h->start != h->end)
		return -EINVAL;
	aior_store_release(&h->lease->state, AIORING_LEASE_IDLE);
	aior_store_release(&h->lease->owner, 0);
	h->lease = NULL;
	return 0;
}

static uint64_t commit_word(uint32_t done, uint32_t commits)
{
	return (uint64_t)commits << 32 | done;
}

int64_t v2_lease_claim(struct v2_lease_ring *c, struct v2_lease_hold *h, uint32_t max)
{
	struct v2_lease *l = h->lease;
	uint32_t claim = aior_load_acquire(c->claim);
	int stale = AIORING_CLAIM_RETRIES;

	if (h->start != h->end)
		return -EINVAL;
	for (;;) {
		uint32_t ready = aior_load_acquire(c->ring.tail) - claim;
		uint32_t n = ready < max ? ready : max;

		if (ready > c->ring.entries || n == 0) {
			/* an intent left by a failed CAS would make others wait on us */
			aior_store_release(&l->state, AIORING_LEASE_IDLE);
			if (n == 0 && ready <= c->ring.entries)
				return 0;
			if (--stale == 0)
				return -EUCLEAN;
			claim = aior_load_acquire(c->claim);
			continue;
		}
		/*
		 * The intent goes out before the claim: whoever sees the claim
		 * moved can find which lease moved it. IDLE first, so a lease
		 * caught between its words never shows a mixed intent.
		 */
		aior_store_release(&l->state, AIORING_LEASE_IDLE);
		aior_store_release(&l->start, claim);
		aior_store_release(&l->end, claim + n);
		aior_store_release(&l->commit, commit_word(claim, h->commits));
		aior_store_release(&l->state, AIORING_LEASE_INTENT);
		step(V2_LEASE_STEP_INTENT);
		if (aior_cas_u32(c->claim, &claim, claim + n)) {
			step(V2_LEASE_STEP_CLAIMED);
			aior_store_release(&l->state, AIORING_LEASE_HELD);
			h->start = h->done = claim;
			h->end = claim + n;
			return n;
		}
	}
}

void v2_lease_commit(struct v2_lease_hold *h, uint32_t n)
{
	h->done += n;
	h->commits += n;
	aior_store_release(&h->lease->commit, commit_word(h->done, h->commits));
	step(V2_LEASE_STEP_COMMITTED);
}

int v2_lease_release(struct v2_lease_ring *c, struct v2_lease_hold *h)
{
	uint32_t head;

	if (h->done != h->end)
		return -EINVAL;
	if (h->start == h->end)
		return 0;
	head = aior_load_acquire(c->ring.head);
	if (head != h->start)
		return h->start - head > c->ring.entries ? -EUCLEAN : -EBUSY;
	aior_store_release(c->ring.head, h->end);
	step(V2_LEASE_STEP_RELEASED);
	aior_store_release(&h->lease->state, AIORING_LEASE_IDLE);
	h->start = h->end;
	return 0;
}

/*
 * head and claim as they were at one moment: claim read between two equal
 * reads of head. Other consumers move both meanwhile, so a pair from two
 * moments can look like more than entries claimed; only a pair that stays
 * impossible over and over is corrupt.
 */
static int snapshot(struct v2_lease_ring *c, uint32_t *head, uint32_t *pending)
{
	for (int tries = AIORING_CLAIM_RETRIES; tries > 0; tries--) {
		uint32_t h = aior_load_acquire(c->ring.head);
		uint32_t claim = aior_load_acquire(c->claim);

		if (aior_load_acquire(c->ring.head) == h && claim - h <= c->ring.entries) {
			*head = h;
			*pending = claim - h;
			return 0;
		}
	}
	return -EUCLEAN;
}

/* Take a dead consumer's lease; 1 when this process now owns it. */
static int take_over(struct v2_lease_ring *c, struct v2_lease *l, uint64_t dead)
{
	return aior_cas_u64(&l->owner, &dead, c->self);
}

/*
 * Free dead consumers' leases that hold no claim: idle, or a claim outside
 * head .. claim (released, or an intent whose CAS never happened). The
 * owner is found dead first: from then on its words cannot change, and
 * head and claim are read after that, so a claim made just before the
 * death is seen. Every change is made only by taking the lease over with a
 * CAS on the owner found dead.
 */
static void free_dead(struct v2_lease_ring *c)
{
	uint32_t i, head, pending;

	for (i = 0; i < c->lease_count; i++) {
		struct v2_lease *l = &c->leases[i];
		uint64_t owner = aior_load_acquire(&l->owner);

		if (owner == 0 || owner == c->self || v2_lease_alive(owner))
			continue;
		if (snapshot(c, &head, &pending) < 0)
			return;
		if (aior_load_acquire(&l->state) != AIORING_LEASE_IDLE &&
		    aior_load_acquire(&l->start) - head < pending)
			continue;
		if (take_over(c, l, owner)) {
			aior_store_release(&l->state, AIORING_LEASE_IDLE);
			aior_store_release(&l->owner, 0);
		}
	}
}

/*
 * The lease whose claim starts at head, if its owner is dead; NULL while
 * a live consumer may hold it (wait for that one) or when it is unclear.
 *
 * A HELD lease starting at head is the owner. Otherwise the owner died
 * between its CAS and marking the lease HELD, and is among the dead
 * INTENT leases starting at head; those whose CAS failed intended other
 * runs. Every start any lease shows was once the claim index, so the
 * smallest start past head (or the claim index itself) is where the owner's
 * run ends, and the owner is the dead intent that ends there.
 */
static struct v2_lease *dead_owner(struct v2_lease_ring *c, uint32_t head, uint32_t pending,
				   uint64_t *owner_out)
{
	struct v2_lease *intents[AIORING_V2_MAX_LEASES];
	uint64_t intent_owners[AIORING_V2_MAX_LEASES];
	uint32_t n_intents = 0, boundary = pending, i;

	for (i = 0; i < c->lease_count; i++) {
		struct v2_lease *l = &c->leases[i];
		uint64_t owner = aior_load_acquire(&l->owner);
		/* a dead owner's words are final: read them after finding it dead */
		int alive = owner != 0 && (owner == c->self || v2_lease_alive(owner));
		uint32_t state = aior_load_acquire(&l->state);
		uint32_t at = aior_load_acquire(&l->start) - head;

		if (owner == 0 || state == AIORING_LEASE_IDLE || at >= pending)
			continue;
		if (at > 0) {
			if (at < boundary)
				boundary = at;
			continue;
		}
		if (alive)
			return NULL;
		if (state == AIORING_LEASE_HELD) {
			*owner_out = owner;
			return l;
		}
		intents[n_intents] = l;
		intent_owners[n_intents++] = owner;
	}
	for (i = 0; i < n_intents; i++) {
		if (aior_load_acquire(&intents[i]->end) - head == boundary) {
			*owner_out = intent_owners[i];
			return intents[i];
		}
	}
	return NULL;
}

static int take_free(struct v2_lease_ring *c, struct v2_lease_hold *h)
{
	uint32_t i;

	for (i = 0; i < c->lease_count; i++) {
		struct v2_lease *l = &c->leases[i];
		uint64_t free_owner = 0;

		if (aior_load_relaxed(&l->owner) == 0 && aior_cas_u64(&l->owner, &free_owner, c->self)) {
			aior_store_release(&l->state, AIORING_LEASE_IDLE);
			hold_init(h, l);
			return 0;
		}
	}
	return -EBUSY;
}

int v2_lease_join(struct v2_lease_ring *c, struct v2_lease_hold *h)
{
	if (take_free(c, h) == 0)
		return 0;
	/* all owned: free those of dead consumers that hold nothing, and look again */
	free_dead(c);
	return take_free(c, h);
}

int v2_lease_recover(struct v2_lease_ring *c, struct v2_lease_hold *out)
{
	uint32_t head, pending, end, done;
	struct v2_lease *l;
	uint64_t owner, commit;

	if (snapshot(c, &head, &pending) < 0)
		return -EUCLEAN;
	/* a head that moves is a ring that works: nobody to recover */
	if (head != c->seen_head) {
		c->seen_head = head;
		c->seen_times = 0;
		return 0;
	}
	if (++c->seen_times < V2_LEASE_PATIENCE)
		return 0;
	c->seen_times = 0;
	free_dead(c);
	/* the scan below starts from head and claim read after that */
	if (snapshot(c, &head, &pending) < 0)
		return -EUCLEAN;
	if (pending == 0 || head != c->seen_head)
		return 0;
	l = dead_owner(c, head, pending, &owner);
	/*
	 * head unchanged since before the scan: whoever held the run at head
	 * held it through the whole scan, so the scan saw the true owner.
	 */
	if (l == NULL || aior_load_acquire(c->ring.head) != head || !take_over(c, l, owner))
		return 0;
	step(V2_LEASE_STEP_ADOPTED);
	end = aior_load_acquire(&l->end);
	commit = aior_load_acquire(&l->commit);
	done = (uint32_t)commit;
	if (end - head == 0 || end - head > pending || done - head > end - head) {
		/* the dead consumer's words are corrupt: keep the lease, report */
		return -EUCLEAN;
	}
	aior_store_release(&l->state, AIORING_LEASE_HELD);
	out->lease = l;
	out->start = head;
	out->end = end;
	out->done = done;
	out->commits = (uint32_t)(commit >> 32);
	return 1;
}
