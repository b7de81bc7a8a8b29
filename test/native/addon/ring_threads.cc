// Native threads on both sides of a ring: the cross-thread benchmark
// (tools/bench-ring) and the multi-producer/multi-consumer stress that
// tests use to prove exactly-once delivery of the C algorithms.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <vector>
#include "test_addon.h"
extern "C" {
#include "atomics.h"
#include "legacy_ring.h"
#include "v2_ring.h"
}

namespace aioring {

namespace {

struct FreeDeleter {
	void operator()(void *p) const { free(p); }
};
using RingMemoryPtr = std::unique_ptr<uint8_t, FreeDeleter>;

RingMemoryPtr AllocRing(size_t bytes)
{
	size_t len = (bytes + 4095) / 4096 * 4096;
	void *p = aligned_alloc(4096, len);
	if (p)
		memset(p, 0, len);
	return RingMemoryPtr(static_cast<uint8_t *>(p));
}

void PinTo(unsigned cpu)
{
	unsigned n = std::thread::hardware_concurrency();
	if (n < 2)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % n, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

uint64_t NowNs()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// A cheap cycle stamp for publish-to-reap latency, calibrated to ns.
// The reaper's stamp waits for the loads before it (rdtscp), so it is never
// taken ahead of the event it times.
#if defined(__x86_64__)
inline uint64_t Stamp() { return __builtin_ia32_rdtsc(); }
inline uint64_t StampAfterLoads()
{
	unsigned aux;
	return __builtin_ia32_rdtscp(&aux);
}
#else
inline uint64_t Stamp() { return NowNs(); }
inline uint64_t StampAfterLoads() { return NowNs(); }
#endif

// A paced producer publishes one event every period stamps (0: flat out).
class Pacer {
public:
	explicit Pacer(uint64_t period) : period_(period), next_(Stamp()) {}
	void Wait()
	{
		if (period_ == 0)
			return;
		while (Stamp() < next_)
			aior_cpu_relax();
		next_ += period_;
	}

private:
	uint64_t period_;
	uint64_t next_;
};

double StampsPerNs()
{
	uint64_t t0 = NowNs(), s0 = Stamp();
	while (NowNs() - t0 < 20000000ull)
		;
	uint64_t t1 = NowNs(), s1 = Stamp();
	return static_cast<double>(s1 - s0) / static_cast<double>(t1 - t0);
}

// V2: head 128 bytes after tail (the layout); V2Adjacent: 64 bytes (the
// next line); V2SameLine: 4 bytes, as the legacy header has them (flaw F1),
// in the word multi-producer rings reserve with, which a single producer
// never touches.
enum class Layout { Legacy, V2, V2Adjacent, V2SameLine };

// The wait policy both layouts share: when a side finds nothing to do it
// backs off with doubling runs of pause, up to kMaxBackoff, before it looks
// at the other side's index again, so an idle side does not keep pulling
// the busy side's cache line away from it.
constexpr unsigned kMaxBackoff = 8;

class Backoff {
public:
	void Wait()
	{
		for (unsigned i = 0; i < spins_; i++)
			aior_cpu_relax();
		if (spins_ < kMaxBackoff)
			spins_ *= 2;
	}
	void Reset() { spins_ = 1; }

private:
	unsigned spins_ = 1;
};

// A producer that found the ring full waits for this many free slots before
// it goes on (both layouts), so it does not re-read the consumer's index for
// every slot the consumer frees one at a time.
uint32_t Refill(uint32_t entries)
{
	return std::max<uint32_t>(1, std::min<uint32_t>(32, entries / 4));
}

// Latency is sampled on one event in kSample to keep the bookkeeping small.
constexpr uint64_t kSample = 8;

struct BenchResult {
	double seconds = 0;
	std::vector<uint64_t> latencies;
	uint64_t out_of_order = 0;
};

// The consumer's side: reap up to batch events a call, check the sequence.
template <typename Reap>
void ConsumeLoop(uint64_t events, uint32_t batch, Reap reap, BenchResult &res)
{
	std::vector<struct io_event> buf(batch);
	uint64_t got = 0;
	Backoff idle;
	res.latencies.reserve(events / kSample + 1);
	while (got < events) {
		uint32_t n = reap(buf.data(), batch);
		if (n == 0) {
			idle.Wait();
			continue;
		}
		idle.Reset();
		uint64_t now = StampAfterLoads();
		for (uint32_t i = 0; i < n; i++) {
			uint64_t stamp = static_cast<uint64_t>(buf[i].res2);
			if (buf[i].data != got + i)
				res.out_of_order++;
			if (buf[i].data % kSample == 0)
				res.latencies.push_back(now > stamp ? now - stamp : 0);
		}
		got += n;
	}
}

BenchResult RunBench(Layout layout, uint32_t batch, uint32_t entries, uint64_t events,
		     uint64_t period)
{
	BenchResult res;
	bool legacy = layout == Layout::Legacy;
	RingMemoryPtr mem = AllocRing(legacy ? legacy_ring_bytes(entries, 4096) : v2_ring_bytes(entries));
	if (!mem)
		return res;
	std::atomic<int> ready{0};
	auto start_together = [&ready]() {
		ready.fetch_add(1);
		while (ready.load() < 2)
			aior_cpu_relax();
	};
	uint64_t t0 = 0;

	if (legacy) {
		auto *ring = reinterpret_cast<struct aio_ring *>(mem.get());
		legacy_format(ring, entries);
		std::thread producer([&]() {
			PinTo(0);
			struct legacy_producer p;
			legacy_producer_init(&p, ring, entries);
			uint32_t space = 0, refill = Refill(entries);
			Backoff full;
			start_together();
			Pacer pace(period);
			for (uint64_t i = 0; i < events; i++) {
				pace.Wait();
				if (space == 0) {
					full.Reset();
					while ((space = legacy_space(&p)) < refill)
						full.Wait();
				}
				struct io_event ev = {i, 0, 0, static_cast<int64_t>(Stamp())};
				legacy_produce(&p, &ev);
				space--;
			}
		});
		PinTo(1);
		struct legacy_consumer c;
		legacy_consumer_init(&c, ring, entries);
		start_together();
		t0 = NowNs();
		ConsumeLoop(events, batch,
			    [&c](struct io_event *out, uint32_t max) { return legacy_reap(&c, out, max); },
			    res);
		res.seconds = (NowNs() - t0) / 1e9;
		producer.join();
	} else {
		v2_format(mem.get(), v2_ring_bytes(entries), entries, 0, 0);
		struct v2_ring r;
		if (layout == Layout::V2Adjacent)
			v2_bind_spaced(&r, mem.get(), entries,
				       reinterpret_cast<uint32_t *>(mem.get() + 128 + AIORING_CACHELINE));
		else if (layout == Layout::V2SameLine)
			v2_bind_spaced(&r, mem.get(), entries,
				       reinterpret_cast<uint32_t *>(mem.get() + 128 + sizeof(uint32_t)));
		else
			v2_bind(&r, mem.get(), entries);
		std::thread producer([&]() {
			PinTo(0);
			struct v2_producer p;
			v2_producer_init(&p, &r);
			uint32_t space = 0, refill = Refill(entries);
			Backoff full;
			start_together();
			Pacer pace(period);
			for (uint64_t i = 0; i < events; i++) {
				pace.Wait();
				if (space == 0) {
					full.Reset();
					int64_t got;
					while ((got = v2_reserve(&p, refill)) < refill)
						full.Wait();
					space = static_cast<uint32_t>(got);
				}
				space--;
				struct io_event *slot = v2_slot(&p.ring, p.tail);
				slot->data = i;
				slot->obj = 0;
				slot->res = 0;
				slot->res2 = static_cast<int64_t>(Stamp());
				v2_publish(&p, 1);
			}
		});
		PinTo(1);
		struct v2_consumer c;
		v2_consumer_init(&c, &r);
		start_together();
		t0 = NowNs();
		ConsumeLoop(events, batch,
			    [&c](struct io_event *out, uint32_t max) {
				    int64_t n = v2_reap(&c, out, max);
				    return n > 0 ? static_cast<uint32_t>(n) : 0u;
			    },
			    res);
		res.seconds = (NowNs() - t0) / 1e9;
		producer.join();
	}
	return res;
}

uint64_t Percentile(std::vector<uint64_t> &v, double q)
{
	if (v.empty())
		return 0;
	size_t k = static_cast<size_t>(q * (v.size() - 1));
	std::nth_element(v.begin(), v.begin() + k, v.end());
	return v[k];
}

}  // namespace

// benchRing(layout, batch, entries, events, periodNs = 0)
//   -> {eventsPerSec, p50Ns, p99Ns, outOfOrder}
// periodNs 0 runs the producer flat out (throughput); otherwise it publishes
// one event per period, so latency is the ring's and not a full queue's.
static Napi::Value BenchRing(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
	Layout layout;
	if (name == "legacy")
		layout = Layout::Legacy;
	else if (name == "v2")
		layout = Layout::V2;
	else if (name == "v2-adjacent")
		layout = Layout::V2Adjacent;
	else if (name == "v2-same-line")
		layout = Layout::V2SameLine;
	else
		throw AioError(env, EINVAL, "aioring", "layout is legacy, v2, v2-adjacent or v2-same-line",
			       "layout");
	uint32_t batch = ArgU32(info, 1, "batch");
	uint32_t entries = ArgU32(info, 2, "entries");
	uint64_t events = ArgU64(info, 3, "events");
	bool pow2 = entries && !(entries & (entries - 1));
	if (batch == 0 || batch > 65536 || entries < 2 || entries > (1u << 20) || !pow2 || events == 0)
		throw AioError(env, EINVAL, "aioring", "bad benchmark cell");
	uint64_t period_ns = info.Length() > 4 ? ArgU64(info, 4, "periodNs") : 0;
	double per_ns = StampsPerNs();
	BenchResult r;
	// on threads of its own: the consumer pins itself, and must not pin Node's
	// The consumer runs on this thread, pinned for the run; Node's thread gets
	// its own affinity back afterwards. (On a fresh std::thread the same
	// consumer ran at half the speed on this machine.)
	cpu_set_t saved;
	bool restore = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	r = RunBench(layout, batch, entries, events, static_cast<uint64_t>(period_ns * per_ns));
	if (restore)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	Napi::Object o = Napi::Object::New(env);
	o.Set("eventsPerSec", events / r.seconds);
	o.Set("p50Ns", Percentile(r.latencies, 0.50) / per_ns);
	o.Set("p99Ns", Percentile(r.latencies, 0.99) / per_ns);
	o.Set("outOfOrder", static_cast<double>(r.out_of_order));
	return o;
}

// stressV2(entries, producers, consumers, eventsPerProducer)
//   -> {delivered, duplicates, missing}
// Several producers reserve with CAS and publish in order; several
// consumers copy and CAS head. Every event must arrive exactly once.
static Napi::Value StressV2(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t entries = ArgU32(info, 0, "entries");
	uint32_t producers = ArgU32(info, 1, "producers");
	uint32_t consumers = ArgU32(info, 2, "consumers");
	uint64_t per = ArgU64(info, 3, "eventsPerProducer");
	bool pow2 = entries && !(entries & (entries - 1));
	if (producers < 1 || producers > 16 || consumers < 1 || consumers > 16 || !pow2 ||
	    entries > (1u << 20) || per * producers > (1ull << 28))
		throw AioError(env, EINVAL, "aioring", "bad stress shape");
	bool mp = producers > 1, mc = consumers > 1;
	uint32_t features = (mp ? AIORING_FEAT_MULTI_PRODUCER : 0) | (mc ? AIORING_FEAT_MULTI_CONSUMER : 0);
	RingMemoryPtr mem = AllocRing(v2_ring_bytes(entries));
	if (!mem || v2_format(mem.get(), v2_ring_bytes(entries), entries, features, 0) < 0)
		throw AioError(env, ENOMEM, "aioring", "no memory for the ring");
	struct v2_ring r;
	v2_bind(&r, mem.get(), entries);
	uint64_t total = per * producers;
	std::unique_ptr<std::atomic<uint8_t>[]> seen(new std::atomic<uint8_t>[total]());
	std::atomic<uint64_t> delivered{0}, duplicates{0}, corrupt{0};
	std::atomic<bool> failed{false};

	std::vector<std::thread> threads;
	for (uint32_t id = 0; id < producers; id++) {
		threads.emplace_back([&, id]() {
			struct v2_producer p;
			v2_producer_init(&p, &r);
			for (uint64_t i = 0; i < per && !failed;) {
				uint64_t seq = id * per + i;
				int64_t got;
				if (mp) {
					uint32_t start;
					got = v2_mp_reserve(&r, 1, &start);
					if (got == 1) {
						v2_slot(&r, start)->data = seq;
						got = v2_mp_publish(&r, start, 1) < 0 ? -EUCLEAN : 1;
					}
				} else {
					struct io_event ev = {seq, 0, 0, 0};
					got = v2_produce(&p, &ev);
					got = got == 0 ? 1 : got == -EAGAIN ? 0 : got;
				}
				if (got < 0) {
					corrupt++;
					failed = true;
				} else if (got == 0) {
					sched_yield();
				} else {
					i++;
				}
			}
		});
	}
	for (uint32_t id = 0; id < consumers; id++) {
		threads.emplace_back([&]() {
			struct v2_consumer c;
			v2_consumer_init(&c, &r);
			struct io_event buf[16];
			while (delivered.load(std::memory_order_relaxed) < total && !failed) {
				int64_t n = mc ? v2_claim_reap(&r, buf, 16) : v2_reap(&c, buf, 16);
				if (n < 0) {
					corrupt++;
					failed = true;
					break;
				}
				if (n == 0) {
					sched_yield();
					continue;
				}
				for (int64_t i = 0; i < n; i++) {
					uint64_t seq = buf[i].data;
					if (seq >= total || seen[seq].fetch_add(1) != 0)
						duplicates++;
				}
				delivered += n;
			}
		});
	}
	for (auto &t : threads)
		t.join();
	uint64_t missing = 0;
	for (uint64_t i = 0; i < total; i++)
		missing += seen[i].load() == 0;
	Napi::Object o = Napi::Object::New(env);
	o.Set("delivered", static_cast<double>(delivered.load()));
	o.Set("duplicates", static_cast<double>(duplicates.load()));
	o.Set("missing", static_cast<double>(missing));
	o.Set("corrupt", static_cast<double>(corrupt.load()));
	return o;
}

void InitRingThreads(Napi::Env env, Napi::Object exports)
{
	exports.Set("benchRing", Napi::Function::New(env, BenchRing));
	exports.Set("stressV2", Napi::Function::New(env, StressV2));
}

}  // namespace aioring
