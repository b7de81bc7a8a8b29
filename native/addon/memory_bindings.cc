// Ring memory the caller chooses (F7), handed to JavaScript as an external
// ArrayBuffer over the mapping: no copy, and unmapped only when both the
// buffer is gone and release() has not already done it.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <v8.h>
#include "addon.h"
extern "C" {
#include "ring_memory.h"
}

namespace aioring {

struct Region {
	struct ring_memory mem = {nullptr, 0, -1};
	~Region() { ring_memory_release(&mem); }
};

class RingMemory : public Napi::ObjectWrap<RingMemory> {
public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "RingMemory",
				   {InstanceAccessor("buffer", &RingMemory::Buffer, nullptr),
				    InstanceAccessor("length", &RingMemory::Length, nullptr),
				    InstanceAccessor("fd", &RingMemory::Fd, nullptr),
				    InstanceMethod("release", &RingMemory::Release)});
	}

	// new RingMemory(kind, size, path?, huge?) where kind is
	// "anonymous" | "memfd" | "create" | "attach"
	RingMemory(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingMemory>(info)
	{
		Napi::Env env = info.Env();
		if (!info[0].IsString())
			throw AioError(env, EINVAL, "mmap", "memory kind must be a string", "kind");
		std::string kind = info[0].As<Napi::String>();
		size_t size = kind == "attach" ? 0 : ArgU64(info, 1, "size");
		bool huge = info.Length() > 3 && info[3].ToBoolean();
		std::string path;
		if (kind == "create" || kind == "attach") {
			if (!info[2].IsString())
				throw AioError(env, EINVAL, "open", "path must be a string", "path");
			path = info[2].As<Napi::String>();
			if (path.empty() || path.find('\0') != std::string::npos)
				throw AioError(env, EINVAL, "open", "path must be a non-empty string",
					       "path");
		}
		auto region = std::make_shared<Region>();
		int r;
		const char *syscall = "mmap";
		if (kind == "anonymous") {
			r = ring_memory_anonymous(&region->mem, size, huge);
		} else if (kind == "memfd") {
			syscall = "memfd_create";
			r = ring_memory_memfd(&region->mem, size, huge);
		} else if (kind == "create") {
			syscall = "open";
			r = ring_memory_create_file(&region->mem, path.c_str(), size);
		} else if (kind == "attach") {
			syscall = "open";
			r = ring_memory_attach_file(&region->mem, path.c_str());
		} else {
			throw AioError(env, EINVAL, "mmap", "unknown memory kind " + kind, "kind");
		}
		if (r < 0)
			throw AioError(env, -r, syscall, std::string(strerror(-r)) + ", " + kind +
							  (path.empty() ? "" : " '" + path + "'"));
		auto *hold = new std::shared_ptr<Region>(region);
		try {
			buffer_ = Napi::Persistent(Napi::ArrayBuffer::New(
				env, region->mem.addr, region->mem.len,
				[](Napi::Env, void *, std::shared_ptr<Region> *h) { delete h; }, hold));
		} catch (...) {
			delete hold;
			throw;
		}
		region_ = region;
	}

private:
	Napi::Value Buffer(const Napi::CallbackInfo &info)
	{
		if (!region_)
			throw AioError(info.Env(), EINVAL, "munmap", "ring memory was released");
		return buffer_.Value();
	}
	Napi::Value Length(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), region_ ? static_cast<double>(region_->mem.len) : 0);
	}
	Napi::Value Fd(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), region_ ? region_->mem.fd : -1);
	}
	// Detach the buffer (its views read as empty from now on), then unmap.
	Napi::Value Release(const Napi::CallbackInfo &info)
	{
		if (region_) {
			buffer_.Value().Detach();
			ring_memory_release(&region_->mem);
			region_.reset();
		}
		return info.Env().Undefined();
	}

	std::shared_ptr<Region> region_;
	Napi::Reference<Napi::ArrayBuffer> buffer_;
};

static Napi::Value HugePageSize(const Napi::CallbackInfo &info)
{
	return Napi::Number::New(info.Env(), static_cast<double>(ring_memory_huge_page_size()));
}

// alignedBuffer(size, alignment) -> ArrayBuffer whose memory starts on an
// alignment boundary (O_DIRECT needs it); freed with the buffer.
static Napi::Value AlignedBuffer(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t size = ArgU64(info, 0, "size");
	uint64_t alignment = ArgU64(info, 1, "alignment");
	if (alignment < sizeof(void *) || (alignment & (alignment - 1)) || alignment > (1u << 30))
		throw AioError(env, EINVAL, "posix_memalign",
			       "alignment must be a power of two from 8 to 2^30", "alignment");
	if (size == 0 || size > (1ull << 40))
		throw AioError(env, EINVAL, "posix_memalign", "size must be in [1, 2^40]", "size");
	void *p = nullptr;
	int r = posix_memalign(&p, alignment, size);
	if (r)
		throw AioError(env, r, "posix_memalign", strerror(r));
	memset(p, 0, size);
	/*
	 * On a V8 backing store with its own deleter, not a node-api external
	 * buffer: node-api runs an external buffer's finalizer when its
	 * environment is torn down (a terminated worker) even while a request
	 * still holds the store, and the I/O then lands in freed memory. The
	 * store is freed when its last holder lets it go: the buffer, and every
	 * request in flight into it (context_bindings.cc holds each one's).
	 */
	std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
		p, size, [](void *data, size_t, void *) { free(data); }, nullptr);
	v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(v8::Isolate::GetCurrent(), std::move(store));
	napi_value value;
	static_assert(sizeof(value) == sizeof(ab), "a napi_value is a v8::Local");
	memcpy(static_cast<void *>(&value), &ab, sizeof(value));
	return Napi::ArrayBuffer(env, value);
}

// addressLowBits(view) -> the address of the view's first byte modulo 2^20:
// enough to check it against any O_DIRECT alignment
static Napi::Value AddressLowBits(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (!info[0].IsTypedArray())
		throw AioError(env, EINVAL, "aioring", "addressLowBits takes a TypedArray", "buffer");
	uintptr_t address = reinterpret_cast<uintptr_t>(ViewBytes(info[0].As<Napi::TypedArray>()).data);
	return Napi::Number::New(env, static_cast<double>(address & ((1u << 20) - 1)));
}

void InitMemory(Napi::Env env, Napi::Object exports)
{
	exports.Set("alignedBuffer", Napi::Function::New(env, AlignedBuffer));
	exports.Set("addressLowBits", Napi::Function::New(env, AddressLowBits));
	exports.Set("RingMemory", RingMemory::Define(env));
	exports.Set("hugePageSize", Napi::Function::New(env, HugePageSize));
}

}  // namespace aioring
