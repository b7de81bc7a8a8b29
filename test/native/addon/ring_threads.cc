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

// Every field of event i is derived from i, so a consumer checks the whole
// event, not only its data: a ring that tore or mixed up events fails.
static uint64_t ObjOf(uint64_t i) { return i + 1; }
static int64_t ResOf(uint64_t i) { return static_cast<int64_t>(i & 0xffff); }

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
	// how often each side looked at the other's index: the consumer's reap
	// calls (those that found events, and those that found none) and the
	// producer's waits for room
	uint64_t reaps = 0;
	uint64_t empty_reaps = 0;
	uint64_t full_waits = 0;
};

// The consumer's side: reap up to batch events a call, check the sequence.
// The reap's stamp is taken once for a batch holding a sampled event (every
// reap when stamp_every).
template <typename Reap>
void ConsumeLoop(uint64_t events, uint32_t batch, bool stamp_every, Reap reap, BenchResult &res)
{
	std::vector<struct io_event> buf(batch);
	uint64_t got = 0;
	Backoff idle;
	res.latencies.reserve(events / kSample + 1);
	while (got < events) {
		uint32_t n = reap(buf.data(), batch);
		if (n == 0) {
			res.empty_reaps++;
			idle.Wait();
			continue;
		}
		res.reaps++;
		idle.Reset();
		uint64_t now = stamp_every ? StampAfterLoads() : 0;
		for (uint32_t i = 0; i < n; i++) {
			// out of order, or any field not the one its producer wrote
			if (buf[i].data != got + i || buf[i].obj != ObjOf(got + i) || buf[i].res != ResOf(got + i))
				res.out_of_order++;
			if (buf[i].data % kSample != 0)
				continue;
			if (now == 0)
				now = StampAfterLoads();
			uint64_t stamp = static_cast<uint64_t>(buf[i].res2);
			res.latencies.push_back(now > stamp ? now - stamp : 0);
		}
		got += n;
	}
}

// One ring for a benchmark run, formatted for its layout. The legacy ring
// has entries slots; v2 binds head where the layout (or the variant) puts it.
class RingUnderTest {
public:
	RingUnderTest(Layout layout, uint32_t entries) : layout_(layout), entries_(entries)
	{
		bool legacy = layout == Layout::Legacy;
		bytes_ = legacy ? legacy_ring_bytes(entries, 4096) : v2_ring_bytes(entries);
		mem_ = AllocRing(bytes_);
		base_ = mem_.get();
		if (!mem_)
			return;
		if (legacy) {
			legacy_format(Legacy(), entries);
			return;
		}
		uint8_t *base = base_;
		v2_format(base, bytes_, entries, 0, 0);
		if (layout == Layout::V2Adjacent)
			v2_bind_spaced(&v2_, base, entries, reinterpret_cast<uint32_t *>(base + 128 + AIORING_CACHELINE));
		else if (layout == Layout::V2SameLine)
			v2_bind_spaced(&v2_, base, entries, reinterpret_cast<uint32_t *>(base + 128 + sizeof(uint32_t)));
		else
			v2_bind(&v2_, base, entries);
	}
	bool Ok() const { return base_ != nullptr; }
	bool IsLegacy() const { return layout_ == Layout::Legacy; }
	size_t Size() const { return bytes_; }
	uint32_t Entries() const { return entries_; }
	struct aio_ring *Legacy() const { return reinterpret_cast<struct aio_ring *>(base_); }
	const struct v2_ring *V2() const { return &v2_; }
	// Gives the memory away (to an external ArrayBuffer that frees it, and
	// outlives this ring).
	uint8_t *Release() { return mem_.release(); }

private:
	Layout layout_;
	uint32_t entries_;
	size_t bytes_ = 0;
	RingMemoryPtr mem_;
	uint8_t *base_ = nullptr;
	struct v2_ring v2_ = {};
};

// How the producer publishes and what the run stamps. publish 1 writes and
// publishes one event at a time, as the kernel's aio_complete does; more
// writes up to that many events into a local batch and hands the batch to
// legacy_produce_many / v2_produce_many, one store of tail for all of them,
// as the engine's aior_complete_many does. stamp_every stamps every event
// (and the consumer every reap), not only the one in kSample it samples: the
// instrumented variant that shows what the rdtsc calls cost the run.
struct ProducerShape {
	uint32_t publish = 1;
	bool stamp_every = false;
};

inline int64_t StampOf(uint64_t i, bool every)
{
	return every || i % kSample == 0 ? static_cast<int64_t>(Stamp()) : 0;
}

// Free slots for the producer once the ring had none: at least refill of
// them, waiting (with the shared back-off) until there are.
class Room {
public:
	explicit Room(uint32_t entries) : refill_(Refill(entries)) {}
	template <typename Free>
	uint32_t Wait(Free free)
	{
		uint32_t space;
		full_.Reset();
		while ((space = free(refill_)) < refill_) {
			waits++;
			full_.Wait();
		}
		return space;
	}
	uint64_t waits = 0;

private:
	uint32_t refill_;
	Backoff full_;
};

// The producer's side, flat out (period 0) or paced: events numbered from 0.
// Returns how often it waited for room.
uint64_t Produce(const RingUnderTest &ring, uint64_t events, uint64_t period, ProducerShape shape)
{
	Room room(ring.Entries());
	Pacer pace(period);
	uint32_t space = 0;
	struct legacy_producer lp;
	struct v2_producer vp;
	bool legacy = ring.IsLegacy();
	auto free = [&](uint32_t want) -> uint32_t {
		if (legacy)
			return legacy_space(&lp);
		int64_t got = v2_reserve(&vp, want);
		return got > 0 ? static_cast<uint32_t>(got) : 0;
	};
	if (legacy)
		legacy_producer_init(&lp, ring.Legacy(), ring.Entries());
	else
		v2_producer_init(&vp, ring.V2());
	if (shape.publish > 1) {
		std::vector<struct io_event> batch(shape.publish);
		for (uint64_t i = 0; i < events;) {
			if (space == 0)
				space = room.Wait(free);
			uint32_t n = static_cast<uint32_t>(std::min<uint64_t>({shape.publish, space, events - i}));
			for (uint32_t k = 0; k < n; k++)
				batch[k] = {i + k, ObjOf(i + k), ResOf(i + k), StampOf(i + k, shape.stamp_every)};
			if (legacy)
				legacy_produce_many(&lp, batch.data(), n);
			else
				v2_produce_many(&vp, batch.data(), n);
			space -= n;
			i += n;
		}
		return room.waits;
	}
	for (uint64_t i = 0; i < events; i++) {
		pace.Wait();
		if (space == 0)
			space = room.Wait(free);
		space--;
		int64_t stamp = StampOf(i, shape.stamp_every);
		if (legacy) {
			struct io_event ev = {i, ObjOf(i), ResOf(i), stamp};
			legacy_produce(&lp, &ev);
			continue;
		}
		struct io_event *slot = v2_slot(&vp.ring, vp.tail);
		slot->data = i;
		slot->obj = ObjOf(i);
		slot->res = ResOf(i);
		slot->res2 = stamp;
		v2_publish(&vp, 1);
	}
	return room.waits;
}

BenchResult RunBench(Layout layout, uint32_t batch, uint32_t entries, uint64_t events,
		     uint64_t period, ProducerShape shape)
{
	BenchResult res;
	RingUnderTest ring(layout, entries);
	if (!ring.Ok())
		return res;
	std::atomic<int> ready{0};
	auto start_together = [&ready]() {
		ready.fetch_add(1);
		while (ready.load() < 2)
			aior_cpu_relax();
	};
	std::thread producer([&]() {
		PinTo(0);
		start_together();
		res.full_waits = Produce(ring, events, period, shape);
	});
	PinTo(1);
	start_together();
	uint64_t t0 = NowNs();
	if (ring.IsLegacy()) {
		struct legacy_consumer c;
		legacy_consumer_init(&c, ring.Legacy(), entries);
		ConsumeLoop(events, batch, shape.stamp_every,
			    [&c](struct io_event *out, uint32_t max) { return legacy_reap(&c, out, max); },
			    res);
	} else {
		struct v2_consumer c;
		v2_consumer_init(&c, ring.V2());
		ConsumeLoop(events, batch, shape.stamp_every,
			    [&c](struct io_event *out, uint32_t max) {
				    int64_t n = v2_reap(&c, out, max);
				    return n > 0 ? static_cast<uint32_t>(n) : 0u;
			    },
			    res);
	}
	res.seconds = (NowNs() - t0) / 1e9;
	producer.join();
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

Layout ParseLayout(const Napi::CallbackInfo &info, size_t at)
{
	std::string name = info[at].IsString() ? info[at].As<Napi::String>().Utf8Value() : "";
	if (name == "legacy")
		return Layout::Legacy;
	if (name == "v2")
		return Layout::V2;
	if (name == "v2-adjacent")
		return Layout::V2Adjacent;
	if (name == "v2-same-line")
		return Layout::V2SameLine;
	throw AioError(info.Env(), EINVAL, "aioring", "layout is legacy, v2, v2-adjacent or v2-same-line",
		       "layout");
}

// {publish = 1, stampEvery = false} at info[at], if given.
ProducerShape ParseShape(const Napi::CallbackInfo &info, size_t at)
{
	ProducerShape shape;
	if (info.Length() <= at || info[at].IsUndefined())
		return shape;
	if (!info[at].IsObject())
		throw AioError(info.Env(), EINVAL, "aioring", "options must be an object", "options");
	Napi::Object o = info[at].As<Napi::Object>();
	Napi::Value publish = o.Get("publish");
	if (!publish.IsUndefined()) {
		double n = publish.IsNumber() ? publish.As<Napi::Number>().DoubleValue() : 0;
		if (n < 1 || n > 4096 || n != static_cast<uint32_t>(n))
			throw AioError(info.Env(), EINVAL, "aioring", "publish must be 1 to 4096", "publish");
		shape.publish = static_cast<uint32_t>(n);
	}
	shape.stamp_every = o.Get("stampEvery").ToBoolean().Value();
	return shape;
}

bool BadShape(uint32_t entries, uint64_t events)
{
	bool pow2 = entries && !(entries & (entries - 1));
	return entries < 2 || entries > (1u << 20) || !pow2 || events == 0;
}

// Runs fn with the calling thread pinned to cpu, then gives the thread its
// own affinity back. (A consumer on a fresh std::thread ran at half the
// speed of one on Node's own thread on this machine.)
template <typename Fn>
void Pinned(unsigned cpu, Fn fn)
{
	cpu_set_t saved;
	bool restore = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	PinTo(cpu);
	fn();
	if (restore)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
}

// A C producer thread for a consumer written in JavaScript: the ring's
// memory is an ArrayBuffer JS reads with LegacyRing / V2Ring while the
// thread publishes events numbered from 0, flat out, pinned to CPU 0.
// new RingProducer(layout, entries, events, {publish, stampEvery} = {}).
class RingProducer : public Napi::ObjectWrap<RingProducer> {
public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "RingProducer",
				   {InstanceMethod<&RingProducer::Start>("start"),
				    InstanceMethod<&RingProducer::Join>("join"),
				    InstanceAccessor<&RingProducer::Memory>("memory")});
	}

	explicit RingProducer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingProducer>(info)
	{
		Napi::Env env = info.Env();
		Layout layout = ParseLayout(info, 0);
		uint32_t entries = ArgU32(info, 1, "entries");
		events_ = ArgU64(info, 2, "events");
		shape_ = ParseShape(info, 3);
		if (BadShape(entries, events_))
			throw AioError(env, EINVAL, "aioring", "bad benchmark cell");
		ring_ = std::make_unique<RingUnderTest>(layout, entries);
		if (!ring_->Ok())
			throw AioError(env, ENOMEM, "aioring", "no memory for the ring");
		size_t size = ring_->Size();
		Napi::ArrayBuffer memory = Napi::ArrayBuffer::New(
			env, ring_->Release(), size, [](Napi::Env, void *data) { free(data); });
		memory_ = Napi::Persistent(memory);
	}

	~RingProducer() override { Stop(); }

private:
	Napi::Value Memory(const Napi::CallbackInfo &) { return memory_.Value(); }

	Napi::Value Start(const Napi::CallbackInfo &info)
	{
		if (thread_.joinable() || done_)
			throw AioError(info.Env(), EINVAL, "aioring", "a producer runs once");
		thread_ = std::thread([this]() {
			PinTo(0);
			uint64_t t0 = NowNs();
			full_waits_ = Produce(*ring_, events_, 0, shape_);
			seconds_ = (NowNs() - t0) / 1e9;
		});
		return info.Env().Undefined();
	}

	// -> {seconds, fullWaits}: the producer's own time and waits for room
	Napi::Value Join(const Napi::CallbackInfo &info)
	{
		Stop();
		Napi::Object o = Napi::Object::New(info.Env());
		o.Set("seconds", seconds_);
		o.Set("fullWaits", static_cast<double>(full_waits_));
		return o;
	}

	void Stop()
	{
		if (thread_.joinable()) {
			thread_.join();
			done_ = true;
		}
	}

	std::unique_ptr<RingUnderTest> ring_;
	Napi::Reference<Napi::ArrayBuffer> memory_;
	std::thread thread_;
	uint64_t events_ = 0;
	ProducerShape shape_;
	bool done_ = false;
	double seconds_ = 0;
	uint64_t full_waits_ = 0;
};

// lineRoundTrip(rounds) -> ns: one cache line passed back and forth between
// a thread on CPU 0 and one on CPU 1, each waiting for the other's write:
// what a line costs to move between the two CPUs the ring benchmark uses (a
// few ns when they share a core's caches, 50-200 ns across cores).
static Napi::Value LineRoundTrip(const Napi::CallbackInfo &info)
{
	uint32_t rounds = ArgU32(info, 0, "rounds");
	if (rounds == 0)
		throw AioError(info.Env(), EINVAL, "aioring", "rounds must be positive", "rounds");
	alignas(AIORING_CACHELINE) static uint32_t line[AIORING_CACHELINE / sizeof(uint32_t)];
	aior_store_relaxed(&line[0], 0u);
	double seconds = 0;
	std::thread echo([rounds]() {
		PinTo(0);
		for (uint32_t i = 0; i < rounds; i++) {
			while (aior_load_acquire(&line[0]) != 2 * i + 1)
				aior_cpu_relax();
			aior_store_release(&line[0], 2 * i + 2);
		}
	});
	Pinned(1, [&]() {
		uint64_t t0 = NowNs();
		for (uint32_t i = 0; i < rounds; i++) {
			aior_store_release(&line[0], 2 * i + 1);
			while (aior_load_acquire(&line[0]) != 2 * i + 2)
				aior_cpu_relax();
		}
		seconds = (NowNs() - t0) / 1e9;
	});
	echo.join();
	return Napi::Number::New(info.Env(), seconds * 1e9 / rounds);
}

// runPinned(cpu, fn): calls fn with Node's thread pinned to cpu.
static Napi::Value RunPinned(const Napi::CallbackInfo &info)
{
	uint32_t cpu = ArgU32(info, 0, "cpu");
	if (!info[1].IsFunction())
		throw AioError(info.Env(), EINVAL, "aioring", "fn must be a function", "fn");
	Napi::Function fn = info[1].As<Napi::Function>();
	Napi::Value result;
	Pinned(cpu, [&]() { result = fn.Call({}); });
	return result;
}

}  // namespace

// benchRing(layout, batch, entries, events, periodNs = 0, {publish, stampEvery} = {})
//   -> {eventsPerSec, p50Ns, p99Ns, outOfOrder, reapsPerEvent,
//       emptyReapsPerEvent, fullWaitsPerEvent}
// periodNs 0 runs the producer flat out (throughput); otherwise it publishes
// one event per period, so latency is the ring's and not a full queue's
// (and publish is 1). publish and stampEvery: ProducerShape.
// The consumer runs on Node's thread, pinned to CPU 1 for the run.
static Napi::Value BenchRing(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Layout layout = ParseLayout(info, 0);
	uint32_t batch = ArgU32(info, 1, "batch");
	uint32_t entries = ArgU32(info, 2, "entries");
	uint64_t events = ArgU64(info, 3, "events");
	if (batch == 0 || batch > 65536 || BadShape(entries, events))
		throw AioError(env, EINVAL, "aioring", "bad benchmark cell");
	uint64_t period_ns = info.Length() > 4 && !info[4].IsUndefined() ? ArgU64(info, 4, "periodNs") : 0;
	ProducerShape shape = ParseShape(info, 5);
	if (period_ns != 0)
		shape.publish = 1;
	double per_ns = StampsPerNs();
	BenchResult r;
	Pinned(1, [&]() { r = RunBench(layout, batch, entries, events, static_cast<uint64_t>(period_ns * per_ns), shape); });
	double n = static_cast<double>(events);
	Napi::Object o = Napi::Object::New(env);
	o.Set("eventsPerSec", n / r.seconds);
	o.Set("p50Ns", Percentile(r.latencies, 0.50) / per_ns);
	o.Set("p99Ns", Percentile(r.latencies, 0.99) / per_ns);
	o.Set("outOfOrder", static_cast<double>(r.out_of_order));
	o.Set("reapsPerEvent", r.reaps / n);
	o.Set("emptyReapsPerEvent", r.empty_reaps / n);
	o.Set("fullWaitsPerEvent", r.full_waits / n);
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
	exports.Set("RingProducer", RingProducer::Define(env));
	exports.Set("runPinned", Napi::Function::New(env, RunPinned));
	exports.Set("lineRoundTrip", Napi::Function::New(env, LineRoundTrip));
}

}  // namespace aioring
