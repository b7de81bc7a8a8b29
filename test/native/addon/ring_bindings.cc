// The C ring algorithms over JavaScript memory, so tests can hold them to
// the same reference model as the TypeScript ones.
#include <algorithm>
#include <cerrno>
#include <vector>
#include "test_addon.h"
extern "C" {
#include "atomics.h"
#include "legacy_ring.h"
#include "v2_ring.h"
}

namespace aioring {

// Memory a ring lives in, re-read before each call: a detached buffer gives
// EINVAL rather than a stale pointer.
class HeldBytes {
public:
	void Hold(const Napi::CallbackInfo &info, size_t i)
	{
		Bytes b = ArgBytes(info, i, "buffer");
		if (reinterpret_cast<uintptr_t>(b.data) % 8 != 0)
			throw AioError(info.Env(), EINVAL, "aioring", "ring memory must be 8-byte aligned",
				       "buffer");
		ref_ = Napi::Persistent(info[i].As<Napi::Object>());
		data_ = b.data;
		length_ = b.length;
	}
	uint8_t *Check(Napi::Env env) const
	{
		Napi::Value v = ref_.Value();
		size_t len = v.IsTypedArray() ? v.As<Napi::TypedArray>().ByteLength()
					      : v.As<Napi::ArrayBuffer>().ByteLength();
		if (len != length_)
			throw AioError(env, EINVAL, "aioring", "ring memory was detached", "buffer");
		return data_;
	}
	size_t Length() const { return length_; }

private:
	Napi::ObjectReference ref_;
	uint8_t *data_ = nullptr;
	size_t length_ = 0;
};

static void ThrowRingError(Napi::Env env, enum ring_field f)
{
	throw AioError(env, EINVAL, "aioring",
		       std::string("invalid ring header: bad ") + ring_field_name(f), ring_field_name(f));
}

// (firstData, n, res) -> events firstData .. firstData + n - 1, each with res
static std::vector<io_event> NumberedEvents(const Napi::CallbackInfo &info)
{
	uint64_t first = ArgU64(info, 0, "firstData");
	uint32_t n = ArgU32(info, 1, "n");
	int64_t res = ArgI64(info, 2, "res");
	if (n == 0 || n > (1u << 20))
		throw AioError(info.Env(), EINVAL, "aioring", "n must be 1 to 2^20", "n");
	std::vector<io_event> ev(n);
	for (uint32_t i = 0; i < n; i++)
		ev[i] = {first + i, 0, res, 0};
	return ev;
}

class NativeLegacyRing : public Napi::ObjectWrap<NativeLegacyRing> {
public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeLegacyRing",
				   {InstanceMethod("produce", &NativeLegacyRing::Produce),
				    InstanceMethod("space", &NativeLegacyRing::Space),
				    InstanceMethod("count", &NativeLegacyRing::Count),
				    InstanceMethod("produceMany", &NativeLegacyRing::ProduceMany),
				    InstanceMethod("reap", &NativeLegacyRing::Reap)});
	}

	// new NativeLegacyRing(buffer, formatNr?)
	NativeLegacyRing(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeLegacyRing>(info)
	{
		mem_.Hold(info, 0);
		auto *ring = reinterpret_cast<struct aio_ring *>(mem_.Check(info.Env()));
		if (info.Length() > 1 && !info[1].IsUndefined()) {
			uint32_t nr = ArgU32(info, 1, "nr");
			if (nr < 2 || legacy_ring_bytes(nr, 1) > mem_.Length())
				throw AioError(info.Env(), EINVAL, "aioring", "nr does not fit the buffer",
					       "nr");
			legacy_format(ring, nr);
		}
		uint32_t nr;
		enum ring_field f = legacy_validate(ring, mem_.Length(), &nr);
		if (f != RING_OK)
			ThrowRingError(info.Env(), f);
		legacy_producer_init(&prod_, ring, nr);
		legacy_consumer_init(&cons_, ring, nr);
	}

private:
	Napi::Value Produce(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		if (legacy_space(&prod_) == 0)
			return Napi::Number::New(info.Env(), -EAGAIN);
		struct io_event ev = {ArgU64(info, 0, "data"), 0, ArgI64(info, 1, "res"), 0};
		legacy_produce(&prod_, &ev);
		return Napi::Number::New(info.Env(), 0);
	}
	// produceMany(firstData, n, res): events firstData .. firstData + n - 1
	// with one publication of tail; -EAGAIN when fewer than n slots are free
	Napi::Value ProduceMany(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		std::vector<io_event> ev = NumberedEvents(info);
		if (legacy_space(&prod_) < ev.size())
			return Napi::Number::New(info.Env(), -EAGAIN);
		legacy_produce_many(&prod_, ev.data(), static_cast<uint32_t>(ev.size()));
		return Napi::Number::New(info.Env(), static_cast<double>(ev.size()));
	}
	Napi::Value Space(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		return Napi::Number::New(info.Env(), legacy_space(&prod_));
	}
	Napi::Value Count(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		return Napi::Number::New(info.Env(), legacy_count(&cons_));
	}
	Napi::Value Reap(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		uint32_t max = std::min(ArgU32(info, 0, "max"), cons_.nr);
		std::vector<io_event> ev(max);
		uint32_t n = legacy_reap(&cons_, ev.data(), max);
		return EventPairs(info.Env(), ev.data(), n);
	}

	HeldBytes mem_;
	struct legacy_producer prod_;
	struct legacy_consumer cons_;
};

class NativeV2Ring : public Napi::ObjectWrap<NativeV2Ring> {
public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeV2Ring",
				   {InstanceMethod("produce", &NativeV2Ring::Produce),
				    InstanceMethod("produceMany", &NativeV2Ring::ProduceMany),
				    InstanceMethod("reserve", &NativeV2Ring::Reserve),
				    InstanceMethod("write", &NativeV2Ring::Write),
				    InstanceMethod("publish", &NativeV2Ring::Publish),
				    InstanceMethod("mpReserve", &NativeV2Ring::MpReserve),
				    InstanceMethod("mpPublish", &NativeV2Ring::MpPublish),
				    InstanceMethod("count", &NativeV2Ring::Count),
				    InstanceMethod("peek", &NativeV2Ring::Peek),
				    InstanceMethod("advance", &NativeV2Ring::Advance),
				    InstanceMethod("reap", &NativeV2Ring::Reap),
				    InstanceMethod("claimReap", &NativeV2Ring::ClaimReap)});
	}

	// new NativeV2Ring(buffer, formatEntries?, features?)
	NativeV2Ring(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeV2Ring>(info)
	{
		mem_.Hold(info, 0);
		uint8_t *mem = mem_.Check(info.Env());
		if (info.Length() > 1 && !info[1].IsUndefined()) {
			uint32_t entries = ArgU32(info, 1, "entries");
			uint32_t features = info.Length() > 2 ? ArgU32(info, 2, "features") : 0;
			if (v2_format(mem, mem_.Length(), entries, features, 0) < 0)
				throw AioError(info.Env(), EINVAL, "aioring",
					       "entries must be a power of two that fits the buffer",
					       "entries");
		}
		uint32_t entries;
		enum ring_field f = v2_validate(mem, mem_.Length(), &entries);
		if (f != RING_OK)
			ThrowRingError(info.Env(), f);
		v2_bind(&ring_, mem, entries);
		features_ = reinterpret_cast<struct v2_ring_header *>(mem)->features;
		v2_producer_init(&prod_, &ring_);
		v2_consumer_init(&cons_, &ring_);
	}

private:
	static Napi::Value Result(Napi::Env env, int64_t r)
	{
		return Napi::Number::New(env, static_cast<double>(r));
	}
	Napi::Value Produce(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		struct io_event ev = {ArgU64(info, 0, "data"), 0, ArgI64(info, 1, "res"), 0};
		return Result(info.Env(), v2_produce(&prod_, &ev));
	}
	// produceMany(firstData, n, res) -> how many were published, or -EUCLEAN
	Napi::Value ProduceMany(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		std::vector<io_event> ev = NumberedEvents(info);
		return Result(info.Env(), v2_produce_many(&prod_, ev.data(), static_cast<uint32_t>(ev.size())));
	}
	Napi::Value Reserve(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		return Result(info.Env(), v2_reserve(&prod_, ArgU32(info, 0, "want")));
	}
	// write(index, data, res): fill a reserved slot (index is free-running)
	Napi::Value Write(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		struct io_event *slot = v2_slot(&ring_, ArgU32(info, 0, "index"));
		slot->data = ArgU64(info, 1, "data");
		slot->obj = 0;
		slot->res = ArgI64(info, 2, "res");
		slot->res2 = 0;
		return info.Env().Undefined();
	}
	Napi::Value Publish(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		v2_publish(&prod_, ArgU32(info, 0, "n"));
		return Result(info.Env(), prod_.tail);
	}
	Napi::Value MpReserve(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		uint32_t start = 0;
		int64_t n = v2_mp_reserve(&ring_, ArgU32(info, 0, "want"), &start);
		auto out = Napi::Array::New(info.Env(), 2);
		out.Set(0u, Result(info.Env(), start));
		out.Set(1u, Result(info.Env(), n));
		return out;
	}
	Napi::Value MpPublish(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		uint32_t start = ArgU32(info, 0, "start");
		uint32_t n = ArgU32(info, 1, "n");
		uint32_t timeout_ms = info.Length() > 2 ? ArgU32(info, 2, "timeoutMs") : AIORING_PUBLISH_TIMEOUT_MS;
		int r;

		// tail past start: as V2Ring.mpPublish, the call is wrong
		if (start - aior_load_acquire(ring_.tail) > ring_.entries)
			throw AioError(info.Env(), EINVAL, "aioring",
				       "publish out of reservation order", "start");
		r = v2_mp_publish_within(&ring_, start, n, timeout_ms);
		if (r == -ETIMEDOUT)
			throw AioError(info.Env(), ETIMEDOUT, "aioring",
				       "the reservations before start were not published in time", "start");
		if (r < 0)
			throw AioError(info.Env(), EUCLEAN, "aioring", "ring indices are corrupt", "tail");
		return info.Env().Undefined();
	}
	Napi::Value Count(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		return Result(info.Env(), v2_count(&ring_));
	}
	// a leased ring's consumers go through the lease protocol (v2_lease.h)
	void NotLeased(Napi::Env env)
	{
		if (features_ & AIORING_FEAT_LEASES)
			throw AioError(env, EINVAL, "aioring",
				       "a leased ring is reaped with the lease protocol", "features");
	}
	Napi::Value Peek(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		NotLeased(info.Env());
		return Result(info.Env(), v2_peek(&cons_, ArgU32(info, 0, "max")));
	}
	Napi::Value Advance(const Napi::CallbackInfo &info)
	{
		mem_.Check(info.Env());
		v2_advance(&cons_, ArgU32(info, 0, "n"));
		return info.Env().Undefined();
	}
	Napi::Value ReapWith(const Napi::CallbackInfo &info, bool claim)
	{
		mem_.Check(info.Env());
		NotLeased(info.Env());
		uint32_t max = std::min(ArgU32(info, 0, "max"), ring_.entries);
		std::vector<io_event> ev(max);
		int64_t n = claim ? v2_claim_reap(&ring_, ev.data(), max)
				  : v2_reap(&cons_, ev.data(), max);
		if (n < 0)
			throw AioError(info.Env(), static_cast<int>(-n), "aioring",
				       "ring indices are corrupt", "tail");
		return EventPairs(info.Env(), ev.data(), static_cast<size_t>(n));
	}
	Napi::Value Reap(const Napi::CallbackInfo &info) { return ReapWith(info, false); }
	Napi::Value ClaimReap(const Napi::CallbackInfo &info) { return ReapWith(info, true); }

	HeldBytes mem_;
	struct v2_ring ring_;
	struct v2_producer prod_;
	struct v2_consumer cons_;
	uint32_t features_;  /* as validated at attach */
};

static Napi::Value ValidateWith(const Napi::CallbackInfo &info,
				enum ring_field (*validate)(const void *, size_t, uint32_t *))
{
	Bytes b = ArgBytes(info, 0, "buffer");
	if (reinterpret_cast<uintptr_t>(b.data) % 8 != 0)
		throw AioError(info.Env(), EINVAL, "aioring", "ring memory must be 8-byte aligned",
			       "buffer");
	return Napi::String::New(info.Env(), ring_field_name(validate(b.data, b.length, nullptr)));
}

void InitRings(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeLegacyRing", NativeLegacyRing::Define(env));
	exports.Set("NativeV2Ring", NativeV2Ring::Define(env));
	exports.Set("validateLegacy", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
			    return ValidateWith(info, legacy_validate);
		    }));
	exports.Set("validateV2", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
			    return ValidateWith(info, v2_validate);
		    }));
}

}  // namespace aioring
