// A real kernel AIO context whose ring (mapped by the kernel at the context
// address) is handed to JavaScript as an external ArrayBuffer, no copy.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "addon.h"
extern "C" {
#include "system_info.h"
}

namespace aioring {

// The context lives until both the wrapper and the ring buffer are gone:
// io_destroy unmaps the ring, so it must not run while JavaScript can
// still read the buffer. The buffers of submitted reads are held here too,
// and let go only after io_destroy, which waits for the I/O into them.
struct KernelRing {
	aio_context_t ctx = 0;
	size_t ring_bytes = 0;
	std::vector<Napi::ObjectReference> held;
	void Destroy()
	{
		if (ctx)
			syscall(SYS_io_destroy, ctx);
		ctx = 0;
		held.clear();
	}
	~KernelRing() { Destroy(); }
};

class KernelContext : public Napi::ObjectWrap<KernelContext> {
public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "KernelContext",
				   {InstanceAccessor("id", &KernelContext::Id, nullptr),
				    InstanceAccessor("ring", &KernelContext::Ring, nullptr),
				    InstanceMethod("submitReads", &KernelContext::SubmitReads),
				    InstanceMethod("getEvents", &KernelContext::GetEvents),
				    InstanceMethod("destroy", &KernelContext::Destroy)});
	}

	// new KernelContext(nrEvents)
	KernelContext(const Napi::CallbackInfo &info) : Napi::ObjectWrap<KernelContext>(info)
	{
		Napi::Env env = info.Env();
		uint32_t nr_events = ArgU32(info, 0, "nrEvents");
		auto k = std::make_shared<KernelRing>();
		aio_context_t ctx = 0;
		if (syscall(SYS_io_setup, nr_events, &ctx) < 0)
			throw AioError(env, errno, "io_setup", strerror(errno));
		k->ctx = ctx;
		k->ring_bytes = system_mapping_length(static_cast<uintptr_t>(ctx));
		if (k->ring_bytes == 0)
			throw AioError(env, EFAULT, "io_setup", "the kernel's ring mapping was not found");
		auto *hold = new std::shared_ptr<KernelRing>(k);
		try {
			ring_ = Napi::Persistent(Napi::ArrayBuffer::New(
				env, reinterpret_cast<void *>(ctx), k->ring_bytes,
				[](Napi::Env, void *, std::shared_ptr<KernelRing> *h) { delete h; }, hold));
		} catch (...) {
			delete hold;
			throw;
		}
		k_ = k;
	}

private:
	aio_context_t Live(Napi::Env env)
	{
		if (!k_)
			throw AioError(env, EINVAL, "io_destroy", "context was destroyed");
		return k_->ctx;
	}
	Napi::Value Id(const Napi::CallbackInfo &info)
	{
		return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(Live(info.Env())));
	}
	Napi::Value Ring(const Napi::CallbackInfo &info)
	{
		Live(info.Env());
		return ring_.Value();
	}
	// submitReads(fd, buffers[], offsets[], cookies[]) -> number queued.
	// The buffers stay held until destroy: this is the raw kernel context,
	// which does not track completions.
	Napi::Value SubmitReads(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		aio_context_t ctx = Live(env);
		uint32_t fd = ArgU32(info, 0, "fd");
		if (!info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray())
			throw AioError(env, EINVAL, "io_submit", "buffers, offsets, cookies are arrays");
		auto bufs = info[1].As<Napi::Array>();
		auto offs = info[2].As<Napi::Array>();
		auto cookies = info[3].As<Napi::Array>();
		uint32_t n = bufs.Length();
		if (offs.Length() != n || cookies.Length() != n)
			throw AioError(env, EINVAL, "io_submit", "arrays differ in length");
		std::vector<struct iocb> cbs(n);
		std::vector<struct iocb *> ptrs(n);
		for (uint32_t i = 0; i < n; i++) {
			Napi::Value b = bufs[i];
			if (!b.IsTypedArray())
				throw AioError(env, EINVAL, "io_submit", "buffer must be a TypedArray");
			Bytes vb = ViewBytes(b.As<Napi::TypedArray>());
			memset(&cbs[i], 0, sizeof(cbs[i]));
			cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
			cbs[i].aio_fildes = fd;
			cbs[i].aio_buf = reinterpret_cast<uintptr_t>(vb.data);
			cbs[i].aio_nbytes = vb.length;
			Napi::Value off = offs[i];
			Napi::Value cookie = cookies[i];
			if (!off.IsNumber() || !cookie.IsNumber() || off.As<Napi::Number>().DoubleValue() < 0 ||
			    cookie.As<Napi::Number>().DoubleValue() < 0)
				throw AioError(env, EINVAL, "io_submit", "offsets and cookies are numbers >= 0");
			cbs[i].aio_offset = off.As<Napi::Number>().Int64Value();
			cbs[i].aio_data = static_cast<uint64_t>(cookie.As<Napi::Number>().Int64Value());
			ptrs[i] = &cbs[i];
		}
		for (uint32_t i = 0; i < n; i++) {
			Napi::Value b = bufs[i];
			k_->held.push_back(Napi::Persistent(b.As<Napi::Object>()));
		}
		long r = syscall(SYS_io_submit, ctx, static_cast<long>(n), ptrs.data());
		if (r < 0)
			throw AioError(env, errno, "io_submit", strerror(errno));
		return Napi::Number::New(env, static_cast<double>(r));
	}
	// getEvents(min, max, timeoutMs) -> Float64Array of [data, res] pairs
	Napi::Value GetEvents(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		aio_context_t ctx = Live(env);
		uint32_t min = ArgU32(info, 0, "min");
		uint32_t max = ArgU32(info, 1, "max");
		uint32_t ms = ArgU32(info, 2, "timeoutMs");
		std::vector<struct io_event> ev(max);
		struct timespec ts = {ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
		long r = syscall(SYS_io_getevents, ctx, static_cast<long>(min), static_cast<long>(max),
				 ev.data(), &ts);
		if (r < 0)
			throw AioError(env, errno, "io_getevents", strerror(errno));
		return EventPairs(env, ev.data(), static_cast<size_t>(r));
	}
	// Detach the ring buffer so no view can reach the mapping, then
	// io_destroy (it waits for in-flight I/O and unmaps the ring).
	Napi::Value Destroy(const Napi::CallbackInfo &info)
	{
		if (k_) {
			ring_.Value().Detach();
			k_->Destroy();
			k_.reset();
		}
		return info.Env().Undefined();
	}

	std::shared_ptr<KernelRing> k_;
	Napi::Reference<Napi::ArrayBuffer> ring_;
};

void InitKernelContext(Napi::Env env, Napi::Object exports)
{
	exports.Set("KernelContext", KernelContext::Define(env));
}

}  // namespace aioring
