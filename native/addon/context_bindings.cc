// AioContext's native half: an engine context (native/core/engine.c), its
// ring and wait word handed to JavaScript as external ArrayBuffers, a slab
// of kernel-layout iocbs the engine sees, and a uv_async handle that
// producer threads ring when a JavaScript waiter announced itself.
//
// JavaScript describes requests in its own slab of struct iocb where
// aio_buf is an offset into a buffer and aio_reserved2 names the buffer
// (this call's buffers[k] as k + 1, or registered buffer j as
// AIORING_REGISTERED_BUFFER | j). Each is checked here and translated into the private
// slab, so nothing JavaScript writes later can change a queued request.
//
// Lifecycle. destroy() (or the collection of a context nobody destroyed,
// or its environment's teardown) quiesces the engine on the JavaScript
// thread: nothing is left in flight, the threads are joined, the buffers
// are detached. The rest, io_destroy (an RCU grace period, 30-40 ms) and
// the frees, runs on a thread of its own (Release), so the event loop never
// waits for it. The addon holds the context's onWake callback (and through
// it the context, and the buffers its requests use) strongly only while
// JavaScript waits for a wakeup or requests are running: an event waiting
// to be reaped needs nothing of the JavaScript object, so a dropped
// context whose I/O has ended can be collected.
//
// Buffer memory. A request's buffers are held here, natively, by their
// v8::BackingStore (a shared_ptr), from submit until nothing can write or
// read them any more: JavaScript's hold on the views (src/context/slots.ts)
// keeps the objects, not their memory, which a detach (a web stream's BYOB
// reader, napi_detach_arraybuffer) moves to another ArrayBuffer whose
// collection would free it under the I/O. A slot's stores go when the slot
// is reused, or as soon as the engine says nothing is in flight; on the
// kernel's own ring (whose completions the engine does not see) when the
// slot is reused or the context is released.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <vector>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>
#include <v8.h>
#include "addon.h"
extern "C" {
#include "atomics.h"
#include "engine.h"
#include "system_info.h"
}

namespace aioring {

class NativeContext;

namespace {

/* A promise request's aio_reserved2 high word (src/context/submit.ts writes it). */
constexpr uint32_t OWNED_SLOT_MASK = 0x3fffffffu; /* fixed-file slot + 1, 0: none */
constexpr uint32_t OWNED_FD = 1u << 31;            /* the owner vouches for the descriptor */
constexpr uint32_t OWNED_DIRECT = 1u << 30;        /* ... which is O_DIRECT */

/*
 * NODE_DEBUG names aioring, as node's util.debuglog reads it: a list
 * separated by commas or spaces, case-insensitive, '*' a wildcard.
 */
bool DebugEnabled()
{
	const char *env = getenv("NODE_DEBUG");
	std::string list = env ? env : "";
	for (size_t at = 0; at < list.size();) {
		size_t end = list.find_first_of(", ", at);
		if (end == std::string::npos)
			end = list.size();
		std::string name = list.substr(at, end - at);
		if (!name.empty() && fnmatch(name.c_str(), "aioring", FNM_CASEFOLD) == 0)
			return true;
		at = end + 1;
	}
	return false;
}

using Store = std::shared_ptr<v8::BackingStore>;

/*
 * The memory a TypedArray (or ArrayBuffer) views, and the store that keeps
 * it: the pointer comes from the store, so what is held is what the I/O
 * uses. Node-api exposes no BackingStore; a napi_value is a v8::Local in
 * every Node (node's own V8LocalValueFromJsValue is this copy). A detached
 * buffer yields an empty store and length 0.
 */
Bytes HeldBytes(napi_value value, Store *store)
{
	v8::Local<v8::Value> v;
	static_assert(sizeof(v) == sizeof(value), "a napi_value is a v8::Local");
	memcpy(static_cast<void *>(&v), &value, sizeof(value));
	v8::Local<v8::Value> buffer = v;
	size_t offset = 0, length = 0;
	if (v->IsArrayBufferView()) {
		auto view = v.As<v8::ArrayBufferView>();
		buffer = view->Buffer();  // an on-heap TypedArray moves off the heap here
		offset = view->ByteOffset();
		length = view->ByteLength();
	}
	if (buffer->IsSharedArrayBuffer())
		*store = buffer.As<v8::SharedArrayBuffer>()->GetBackingStore();
	else
		*store = buffer.As<v8::ArrayBuffer>()->GetBackingStore();
	if (!v->IsArrayBufferView())
		length = (*store)->ByteLength();
	if ((*store)->Data() == nullptr)
		return {nullptr, 0};
	return {static_cast<uint8_t *>((*store)->Data()) + offset, length};
}

struct Registered {
	uint8_t *data;
	size_t length;
	Napi::ObjectReference ref;
	Store store;
};

// What one slot's request holds: its buffer, or a vectored request's buffers.
struct Held {
	Store buffer;
	std::vector<Store> vector;
};

}  // namespace

/*
 * A quiesced context's release (aior_destroy, whose io_destroy waits) on
 * a thread of its own. The environment keeps it until the thread is
 * joined: when the thread says it is done (done, heard on the loop), at
 * the next release if the loop has not turned since (so a loop that never
 * yields leaves no threads behind), or at the environment's teardown.
 */
struct Release {
	napi_env env;
	struct aior_ctx *ctx;
	pthread_t thread;
	bool joined;
	uv_async_t done;
	napi_deferred closed;  // resolved once released; null when nobody can wait for it
	std::set<Release *> *pending;
	// memory the kernel may still write until io_destroy returns (the kernel's own ring)
	std::vector<Store> kept;

	static void *Run(void *arg)
	{
		auto *self = static_cast<Release *>(arg);
		aior_destroy(self->ctx);
		uv_async_send(&self->done);
		return nullptr;
	}

	/*
	 * Release ctx, already quiesced; closed (if not null) resolves when it
	 * is gone. kept is dropped once it is, on this thread.
	 */
	static void Start(Napi::Env env, struct aior_ctx *ctx, napi_deferred closed, std::vector<Store> kept)
	{
		std::set<Release *> &pending = EnvData(env).releases;
		Sweep(pending);
		auto *self = new Release{env, ctx, {}, false, {}, closed, &pending, std::move(kept)};
		uv_loop_t *loop = nullptr;
		napi_get_uv_event_loop(env, &loop);
		uv_async_init(loop, &self->done, &Release::OnDone);
		self->done.data = self;
		// a promise someone may await keeps the process up for the few ms left
		if (!closed)
			uv_unref(reinterpret_cast<uv_handle_t *>(&self->done));
		pending.insert(self);
		if (pthread_create(&self->thread, nullptr, &Release::Run, self) != 0) {
			aior_destroy(ctx);
			self->joined = true;
			uv_async_send(&self->done);
		}
	}

	// The environment's teardown: every release ends before it returns (no JavaScript runs any more).
	static void JoinAll(std::set<Release *> &pending)
	{
		while (!pending.empty())
			(*pending.begin())->Finish(false);
	}

private:
	static void OnDone(uv_async_t *handle)
	{
		auto *self = static_cast<Release *>(handle->data);
		Napi::Env env(self->env);
		Napi::HandleScope scope(env);
		// a callback scope, so the promise's continuations run now
		Napi::AsyncContext context(env, "aioring.closed");
		Napi::CallbackScope callback(env, context);
		self->Finish(true);
	}

	static void Sweep(std::set<Release *> &pending)
	{
		std::vector<Release *> ended;
		for (Release *r : pending)
			if (!r->joined && pthread_tryjoin_np(r->thread, nullptr) == 0) {
				r->joined = true;
				ended.push_back(r);
			}
		for (Release *r : ended)
			r->Finish(true);
	}

	// Join, settle and forget; the handle's close frees this.
	void Finish(bool resolve)
	{
		if (!joined)
			pthread_join(thread, nullptr);
		joined = true;
		pending->erase(this);
		// on the JavaScript thread, with the environment alive: a store's deleter may need both
		std::vector<Store>().swap(kept);
		if (closed && resolve) {
			napi_value undefined;
			napi_get_undefined(env, &undefined);
			napi_resolve_deferred(env, closed, undefined);
		}
		uv_close(reinterpret_cast<uv_handle_t *>(&done),
			 [](uv_handle_t *h) { delete static_cast<Release *>(h->data); });
	}
};

class NativeContext : public Napi::ObjectWrap<NativeContext> {
public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(
			env, "NativeContext",
			{InstanceMethod("submit", &NativeContext::Submit),
			 InstanceMethod("cancel", &NativeContext::Cancel),
			 InstanceMethod("registerBuffers", &NativeContext::RegisterBuffers),
			 InstanceMethod("registerFile", &NativeContext::RegisterFile),
			 InstanceMethod("unregisterFile", &NativeContext::UnregisterFile),
			 InstanceMethod("fileStats", &NativeContext::FileStats),
			 InstanceMethod("holdLoop", &NativeContext::HoldLoop),
			 InstanceMethod("inflight", &NativeContext::Inflight),
			 InstanceMethod("helperReads", &NativeContext::HelperReads),
			 InstanceMethod("syncStats", &NativeContext::SyncStats),
			 InstanceMethod("quiesce", &NativeContext::Quiesce),
			 InstanceMethod("destroy", &NativeContext::Destroy),
			 InstanceAccessor("ring", &NativeContext::Ring, nullptr),
			 InstanceAccessor("waitBuffer", &NativeContext::WaitBuffer, nullptr),
			 InstanceAccessor("info", &NativeContext::Info, nullptr)});
	}

	// new NativeContext(nrEvents, flags, backend, threads, memory | undefined, onWake, attach, preferUring)
	NativeContext(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeContext>(info)
	{
		Napi::Env env = info.Env();
		struct aior_setup s = {};
		s.nr_events = ArgU32(info, 0, "nrEvents");
		s.flags = ArgU32(info, 1, "flags");
		std::string backend = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
		if (backend == AIORING_BACKEND_AUTO)
			s.backend = AIOR_BACKEND_AUTO;
		else if (backend == AIORING_BACKEND_KERNEL)
			s.backend = AIOR_BACKEND_KERNEL;
		else if (backend == AIORING_BACKEND_THREADPOOL)
			s.backend = AIOR_BACKEND_THREADPOOL;
		else if (backend == AIORING_BACKEND_URING)
			s.backend = AIOR_BACKEND_URING;
		else
			throw AioError(env, EINVAL, "io_setup",
				       "backend is " AIORING_BACKEND_AUTO ", " AIORING_BACKEND_KERNEL ", "
				       AIORING_BACKEND_THREADPOOL " or " AIORING_BACKEND_URING,
				       "backend");
		s.threads = ArgU32(info, 3, "threads");
		if (info.Length() > 4 && !info[4].IsUndefined()) {
			if (!info[4].IsTypedArray() && !info[4].IsArrayBuffer())
				throw AioError(env, EINVAL, "io_setup", "memory must be a TypedArray or ArrayBuffer",
					       "memory");
			Bytes mem = HeldBytes(info[4], &memory_store_);
			if (mem.data == nullptr)
				throw AioError(env, EINVAL, "io_setup", "memory is detached", "memory");
			s.memory = mem.data;
			s.memory_len = mem.length;
			memory_ref_ = Napi::Persistent(info[4].As<Napi::Object>());
		}
		s.attach = info.Length() > 6 && info[6].ToBoolean();
		// auto on io_uring where it works, unless the caller says not (AIORING_AUTO_URING=0)
		s.prefer_uring = info.Length() <= 7 || info[7].IsUndefined() || info[7].ToBoolean();
		if (s.memory) {
			if (reinterpret_cast<uintptr_t>(s.memory) % AIORING_MEMORY_ALIGN)
				throw AioError(env, EINVAL, "io_setup", "ring memory must be 8-byte aligned",
					       "memory");
			size_t need = aior_ring_bytes(&s);
			if (!s.attach && s.memory_len < need)
				throw AioError(env, EINVAL, "io_setup",
					       "ring memory too small: " + std::to_string(need) + " bytes needed",
					       "memory");
		}
		if (info.Length() < 6 || !info[5].IsFunction())
			throw AioError(env, EINVAL, "io_setup", "onWake must be a function");
		// weak until a waiter holds the loop: the callback references its context
		on_wake_ = Napi::Weak(info[5].As<Napi::Function>());

		async_ = new uv_async_t;
		uv_loop_t *loop = nullptr;
		napi_get_uv_event_loop(env, &loop);
		uv_async_init(loop, async_, &NativeContext::OnAsync);
		async_->data = this;
		uv_unref(reinterpret_cast<uv_handle_t *>(async_));
		s.wake = &NativeContext::Wake;
		s.wake_arg = async_;
		// a waiter polls the kernel's eventfd itself (kpoll_ below)
		s.waits_on_kernel_fd = 1;

		passthrough_ = s.flags & AIORING_SETUP_KERNEL_RING;
		int r = aior_setup(&s, &ctx_);
		if (r < 0) {
			CloseAsync();
			throw AioError(env, -r, "io_setup", strerror(-r));
		}
		aior_info(ctx_, &info_);
		AttachKernelPoll(loop);
		if (passthrough_)
			kernel_tail_ = aior_load_acquire(&static_cast<struct aio_ring *>(info_.ring)->tail) % info_.nr;
		slab_.assign(info_.capacity, iocb{});
		stores_.resize(info_.capacity);
		storing_.assign(info_.capacity, 0);
		stored_.reserve(info_.capacity);
		ring_ = Napi::Persistent(Napi::ArrayBuffer::New(env, info_.ring, info_.ring_len));
		// the wait word: in the v2 header, or in the engine's control page
		uint8_t *page = reinterpret_cast<uint8_t *>(
			reinterpret_cast<uintptr_t>(info_.wait_flags) & ~uintptr_t(system_page_size() - 1));
		wait_ = Napi::Persistent(Napi::ArrayBuffer::New(env, page, system_page_size()));
		wait_index_ = static_cast<uint32_t>((reinterpret_cast<uint8_t *>(info_.wait_flags) - page) / 4);
		external_ = static_cast<int64_t>(info_.memory + slab_.size() * sizeof(iocb));
		Napi::MemoryManagement::AdjustExternalMemory(env, external_);
		// last: a constructor that throws leaves nothing registered
		live_ = &EnvData(env).contexts;
		live_->insert(this);
	}

	/*
	 * Collected without destroy(): the ring and wait buffers a caller may
	 * still hold are detached first, as destroy does, so nothing reads the
	 * memory the release unmaps. Runs after the collection, where
	 * JavaScript objects may be touched (node-api defers such finalizers).
	 */
	void Finalize(Napi::Env env) override
	{
		if (!ctx_)
			return;
		if (DebugEnabled())
			fprintf(stderr, "AIORING %d: a context was collected without destroy(); it was destroyed now\n",
				static_cast<int>(getpid()));
		ring_.Value().Detach();
		wait_.Value().Detach();
		Shutdown(env, nullptr);
	}

	/*
	 * An environment's teardown (a worker's exit, the process's): the
	 * contexts it made and nobody destroyed still join their threads, and
	 * every release ends (in parallel: one grace period for all). No
	 * JavaScript runs in it any more, so their buffers are left attached.
	 */
	static void DestroyAll(Napi::Env env)
	{
		AddonData &data = EnvData(env);
		// first the releases destroy() started: no promise is resolved from here
		Release::JoinAll(data.releases);
		while (!data.contexts.empty())
			(*data.contexts.begin())->Shutdown(env, nullptr);
		Release::JoinAll(data.releases);
	}

private:
	/*
	 * The producer's ring. A reap this thread makes in OnKernelPoll, which
	 * serves JavaScript itself right after, needs none: its own async would
	 * only cost a write, a read and a second pass through the loop.
	 */
	static void Wake(void *arg)
	{
		if (arg != serving_here_)
			uv_async_send(static_cast<uv_async_t *>(arg));
	}
	static inline thread_local void *serving_here_ = nullptr;

	/*
	 * Into JavaScript from a libuv callback: MakeCallback, so the promise
	 * continuations and nextTicks run before the callback returns. What they
	 * throw goes to the process's uncaught-exception handling, as from any
	 * other callback, instead of unwinding through libuv.
	 */
	void Wake()
	{
		Napi::Env env = Env();
		Napi::HandleScope scope(env);
		napi_value fn = on_wake_.Value();
		// collected with its context: nobody is left to wake
		if (fn == nullptr)
			return;
		napi_value result;
		if (napi_make_callback(env, nullptr, env.Global(), fn, 0, nullptr, &result) == napi_ok)
			return;
		// what the callback threw goes to the uncaught-exception handling;
		// a failure with nothing pending is an environment being torn down
		// (a terminated worker) that can run no JavaScript: nothing to do
		bool pending = false;
		napi_value error;
		if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
		    napi_get_and_clear_last_exception(env, &error) == napi_ok)
			napi_fatal_exception(env, error);
	}

	/*
	 * A producer rang: for a waiter that announced itself, or because the
	 * last running request completed (aior_notify_idle) and the context
	 * may now be held weakly. JavaScript hears only the first kind: with
	 * no waiter it has nothing to serve.
	 */
	static void OnAsync(uv_async_t *handle)
	{
		auto *self = static_cast<NativeContext *>(handle->data);
		if (self == nullptr || self->ctx_ == nullptr)
			return;
		self->UpdateStrength();
		if (self->held_)
			self->Wake();
	}

	/*
	 * A waiter hears the kernel's (or io_uring's) eventfd directly: one
	 * wakeup, not two. An auto context makes its kernel context at its
	 * first O_DIRECT request, so this is tried again at each wait.
	 */
	void AttachKernelPoll(uv_loop_t *loop)
	{
		int kfd = aior_kernel_fd(ctx_);
		bool uring = false;
		if (kfd < 0) {
			kfd = aior_uring_fd(ctx_);
			uring = kfd >= 0;
		}
		if (kfd < 0 || kpoll_)
			return;
		// OnKernelPoll reaps io_uring's CQ at every readable, held or not
		if (uring)
			aior_uring_consumer_polls(ctx_);
		kpoll_ = new uv_poll_t;
		uv_poll_init(loop, kpoll_, kfd);
		kpoll_->data = this;
		uv_unref(reinterpret_cast<uv_handle_t *>(kpoll_));
	}

	static void OnKernelPoll(uv_poll_t *handle, int status, int)
	{
		auto *self = static_cast<NativeContext *>(handle->data);
		if (self == nullptr || self->ctx_ == nullptr || status < 0)
			return;
		/*
		 * Nobody waits (holdLoop(false) left the poll running, to spare a
		 * stop and a start between two waits): stop it now and leave the
		 * eventfd to the next wait (which services it first) or the mover.
		 * held_ is this thread's own word, not the ring's shared one.
		 */
		if (!self->held_) {
			// on the kernel's own ring a completion may end what held the context
			if (self->passthrough_ && self->strong_) {
				aior_service(self->ctx_);
				self->UpdateStrength();
				if (self->strong_)
					return;
			}
			// the mover left io_uring's CQ to a waiter that has just gone
			aior_uring_service(self->ctx_);
			uv_poll_stop(handle);
			return;
		}
		serving_here_ = self->async_;
		aior_service(self->ctx_);
		aior_uring_service(self->ctx_);
		serving_here_ = nullptr;
		// what the async would have done: the strength (the last request may have completed), then JavaScript
		self->UpdateStrength();
		self->Wake();
	}

	void CloseAsync()
	{
		if (kpoll_) {
			kpoll_->data = nullptr;
			uv_poll_stop(kpoll_);
			uv_close(reinterpret_cast<uv_handle_t *>(kpoll_),
				 [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
			kpoll_ = nullptr;
		}
		if (async_) {
			async_->data = nullptr;
			uv_close(reinterpret_cast<uv_handle_t *>(async_),
				 [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
			async_ = nullptr;
		}
	}

	/*
	 * Quiesce the engine here (what is in flight completes or is cancelled,
	 * threads are joined), leave this environment's registry and give the
	 * rest to a Release; closed, if not null, resolves when it is done.
	 */
	void Shutdown(Napi::Env env, napi_deferred closed)
	{
		if (!ctx_)
			return;
		live_->erase(this);
		struct aior_ctx *ctx = ctx_;
		ctx_ = nullptr;
		if (kpoll_)
			uv_poll_stop(kpoll_);  // before the release closes the eventfd
		aior_info(ctx, &info_);    // whether a kernel context was made since setup
		// a waiter going with its environment (a terminated worker) reaps no more: the mover takes io_uring's CQ again
		if (held_ && info_.wait_flags)
			aior_and_seq_cst(info_.wait_flags, ~AIORING_V2_WAITER);
		aior_quiesce(ctx);
		CloseAsync();
		held_ = false;
		UpdateStrength();
		std::vector<iocb>().swap(slab_);
		std::vector<std::vector<struct iovec>>().swap(iovecs_);
		Napi::MemoryManagement::AdjustExternalMemory(env, -external_);
		external_ = 0;
		/*
		 * Quiesced, nothing the engine runs touches a buffer any more; on
		 * the kernel's own ring what the kernel still holds ends in
		 * io_destroy, so the release keeps its memory until then, and the
		 * caller's ring memory in any case.
		 */
		std::vector<Store> kept = TakeStores();
		if (!passthrough_)
			kept.clear();
		if (memory_store_)
			kept.push_back(std::move(memory_store_));
		// without a kernel context nothing in the release waits: no thread for it
		if (info_.kernel) {
			Release::Start(env, ctx, closed, std::move(kept));
			return;
		}
		aior_destroy(ctx);
		kept.clear();
		if (closed)
			napi_resolve_deferred(env, closed, env.Undefined());
	}

	/*
	 * The stores of this context's requests and registered buffers, given
	 * to the caller. The registered buffers stay listed (their objects
	 * held) until destroy() forgets them.
	 */
	std::vector<Store> TakeStores()
	{
		std::vector<Store> all;
		for (Held &h : stores_) {
			if (h.buffer)
				all.push_back(std::move(h.buffer));
			for (Store &v : h.vector)
				all.push_back(std::move(v));
		}
		std::vector<Held>().swap(stores_);
		std::vector<Held>().swap(staged_);
		std::vector<uint8_t>().swap(storing_);
		std::vector<uint32_t>().swap(stored_);
		for (Registered &r : registered_)
			if (r.store)
				all.push_back(std::move(r.store));
		return all;
	}

	/*
	 * Nothing is in flight (the engine's count, whose producers publish
	 * after the I/O): no request's buffer needs holding. The kernel's own
	 * ring's completions are counted from a tail this process can write,
	 * so there the stores wait for their slot's reuse or the release.
	 */
	void DropStoresIfIdle()
	{
		if (stored_.empty() || passthrough_ || !ctx_ || aior_inflight(ctx_) != 0)
			return;
		for (uint32_t slot : stored_) {
			stores_[slot].buffer.reset();
			stores_[slot].vector.clear();
			storing_[slot] = 0;
		}
		stored_.clear();
	}

	/*
	 * Strong while a waiter holds the loop or requests are running (a
	 * collection then would free the buffers they write into before the
	 * finalizer could quiesce); weak otherwise, so a dropped context can be
	 * collected. Looked at again on every submit, wait and inflight(), and
	 * when the last running request completes (RunningAndHeard).
	 */
	void UpdateStrength()
	{
		DropStoresIfIdle();
		bool strong = ctx_ && (held_ || RunningAndHeard());
		if (strong == strong_)
			return;
		if (strong)
			on_wake_.Ref();
		else
			on_wake_.Unref();
		strong_ = strong;
	}

	/*
	 * Whether requests are running, and if so, that this context hears when
	 * the last one completes. The engine's in-flight count drops as each
	 * event is published, and the producer that brings it to 0 rings the
	 * async (aior_notify_idle). On the kernel's own ring the engine sees no
	 * completion: what runs is what was submitted less what the kernel's
	 * tail says it produced, and the kernel's eventfd (kpoll_, left running
	 * unreferenced) says when to look again. A request given an eventfd of
	 * its own (IOCB_FLAG_RESFD) does not ring that one: its context is held
	 * until the next submit, wait or inflight() looks.
	 */
	bool RunningAndHeard()
	{
		if (!passthrough_)
			return aior_inflight(ctx_) > 0 && aior_notify_idle(ctx_);
		CountKernelCompletions();
		if (kernel_running_ == 0 || !kpoll_)
			return kernel_running_ > 0;
		if (!uv_is_active(reinterpret_cast<uv_handle_t *>(kpoll_))) {
			if (!held_)
				uv_unref(reinterpret_cast<uv_handle_t *>(kpoll_));
			uv_poll_start(kpoll_, UV_READABLE, &NativeContext::OnKernelPoll);
		}
		return true;
	}

	/*
	 * The events the kernel produced since the last look, from its ring's
	 * tail (a word this process can write: one past nr is ignored, which
	 * only keeps the context held). Every submit looks first, so fewer than
	 * nr completions lie between two looks and the tail's distance mod nr
	 * counts them.
	 */
	void CountKernelCompletions()
	{
		uint32_t tail = aior_load_acquire(&static_cast<struct aio_ring *>(info_.ring)->tail);
		if (tail >= info_.nr)
			return;
		uint32_t produced = (tail + info_.nr - kernel_tail_) % info_.nr;
		kernel_running_ -= std::min(produced, kernel_running_);
		kernel_tail_ = tail;
	}

	struct aior_ctx *Live(Napi::Env env)
	{
		if (!ctx_)
			throw AioError(env, EINVAL, "io_submit", "context was destroyed");
		return ctx_;
	}

	// submit(jsSlab: Uint8Array, slots: Int32Array, n, buffers: Array) -> queued
	Napi::Value Submit(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct aior_ctx *ctx = Live(env);
		Bytes js = ArgBytes(info, 0, "iocbs");
		if (!info[1].IsTypedArray() ||
		    info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
			throw AioError(env, EINVAL, "io_submit", "slots must be an Int32Array", "slots");
		auto slots = info[1].As<Napi::Int32Array>();
		uint32_t n = ArgU32(info, 2, "n");
		if (n > slots.ElementLength() || static_cast<uint64_t>(n) * sizeof(iocb) > js.length)
			throw AioError(env, EINVAL, "io_submit", "n exceeds the iocbs given", "n");
		Napi::Array buffers = info[3].IsArray() ? info[3].As<Napi::Array>() : Napi::Array::New(env);
		iovecs_.resize(n);
		if (staged_.size() < n)
			staged_.resize(n);
		if (ptrs_.size() < n) {
			ptrs_.resize(n);
			files_.resize(n);
			fd_flags_.resize(n);
		}
		for (uint32_t k = 0; k < n; k++) {
			int32_t slot = slots[k];
			if (slot < 0 || static_cast<uint32_t>(slot) >= slab_.size()) {
				Unstage(n);
				throw AioError(env, EINVAL, "io_submit", "slot out of range", "slots");
			}
			iocb cb;
			memcpy(&cb, js.data + static_cast<size_t>(k) * sizeof(iocb), sizeof(cb));
			// aio_reserved2's high word, a FileHandle's: its fixed-file slot + 1 (0:
			// none), which the engine uses only if the slot holds this descriptor's
			// file, and whether the handle vouches for its descriptor (OWNED_FD:
			// open, and O_DIRECT or not), so the engine asks the kernel nothing
			uint32_t high = static_cast<uint32_t>(cb.aio_reserved2 >> 32);
			files_[k] = static_cast<int32_t>(high & OWNED_SLOT_MASK) - 1;
			fd_flags_[k] = !(high & OWNED_FD) ? -1 : (high & OWNED_DIRECT) ? O_DIRECT : 0;
			cb.aio_reserved2 &= 0xffffffffu;
			try {
				Translate(env, cb, buffers, k, staged_[k]);
			} catch (...) {
				Unstage(n);
				throw;
			}
			slab_[slot] = cb;
			ptrs_[k] = &slab_[slot];
		}
		if (passthrough_)
			CountKernelCompletions();
		long r = aior_submit_owned(ctx, ptrs_.data(), n, files_.data(), fd_flags_.data());
		if (passthrough_ && r > 0)
			kernel_running_ += static_cast<uint32_t>(r);
		// the queued requests' memory is held by their slots (what a slot held before is done)
		for (long k = 0; k < r; k++) {
			uint32_t slot = static_cast<uint32_t>(slots[static_cast<uint32_t>(k)]);
			stores_[slot].buffer = std::move(staged_[k].buffer);
			stores_[slot].vector.swap(staged_[k].vector);
			if (!storing_[slot] && (stores_[slot].buffer || !stores_[slot].vector.empty())) {
				storing_[slot] = 1;
				stored_.push_back(slot);
			}
		}
		Unstage(n);
		UpdateStrength();
		if (r < 0)
			throw AioError(env, static_cast<int>(-r), "io_submit", strerror(static_cast<int>(-r)));
		return Napi::Number::New(env, static_cast<double>(r));
	}

	// What the first n staged requests hold and were not queued with, dropped.
	void Unstage(uint32_t n)
	{
		for (uint32_t k = 0; k < n; k++) {
			staged_[k].buffer.reset();
			staged_[k].vector.clear();
		}
	}

	/*
	 * Turn a JavaScript iocb's buffer reference into an address,
	 * bounds-checked; held gets the memory's stores.
	 */
	void Translate(Napi::Env env, iocb &cb, Napi::Array &buffers, uint32_t k, Held &held)
	{
		uint64_t ref = cb.aio_reserved2;
		cb.aio_reserved2 = 0;
		bool vectored = cb.aio_lio_opcode == IOCB_CMD_PREADV || cb.aio_lio_opcode == IOCB_CMD_PWRITEV;
		bool data_op = vectored || cb.aio_lio_opcode == IOCB_CMD_PREAD ||
			       cb.aio_lio_opcode == IOCB_CMD_PWRITE;
		if (!data_op) {
			if (ref != 0)
				throw AioError(env, EINVAL, "io_submit", "this opcode takes no buffer", "buffer");
			return;
		}
		if (ref == 0)
			throw AioError(env, EFAULT, "io_submit", "a read or write needs a buffer", "buffer");
		if (vectored) {
			Napi::Value v = ref <= buffers.Length() ? buffers.Get(static_cast<uint32_t>(ref - 1))
								 : env.Undefined();
			if (!v.IsArray() || cb.aio_nbytes != v.As<Napi::Array>().Length())
				throw AioError(env, EINVAL, "io_submit", "vectored iocbs need an array of buffers",
					       "buffers");
			auto list = v.As<Napi::Array>();
			auto &iov = iovecs_[k];
			iov.resize(list.Length());
			held.vector.resize(list.Length());
			for (uint32_t i = 0; i < list.Length(); i++) {
				Napi::Value b = list.Get(i);
				if (!b.IsTypedArray())
					throw AioError(env, EINVAL, "io_submit", "buffers must be TypedArrays",
						       "buffers");
				Bytes vb = HeldBytes(b, &held.vector[i]);
				iov[i].iov_base = vb.data;
				iov[i].iov_len = vb.length;
			}
			cb.aio_buf = reinterpret_cast<uintptr_t>(iov.data());
			return;
		}
		uint8_t *base;
		size_t length;
		if (ref & AIORING_REGISTERED_BUFFER) {
			// held by the registration until destroy
			uint64_t j = ref & ~static_cast<uint64_t>(AIORING_REGISTERED_BUFFER);
			if (j >= registered_.size())
				throw AioError(env, EINVAL, "io_submit", "no such registered buffer", "buffer");
			base = registered_[j].data;
			length = registered_[j].length;
		} else {
			Napi::Value b = ref <= buffers.Length() ? buffers.Get(static_cast<uint32_t>(ref - 1))
								 : env.Undefined();
			if (!b.IsTypedArray())
				throw AioError(env, EINVAL, "io_submit", "buffer must be a TypedArray", "buffer");
			Bytes vb = HeldBytes(b, &held.buffer);
			base = vb.data;
			length = vb.length;
		}
		if (cb.aio_buf > length || cb.aio_nbytes > length - cb.aio_buf)
			throw AioError(env, EINVAL, "io_submit", "the request runs past its buffer", "length");
		cb.aio_buf = reinterpret_cast<uintptr_t>(base + cb.aio_buf);
	}

	// cancel(slot) -> 0, or throws EAGAIN / EINVAL
	Napi::Value Cancel(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct aior_ctx *ctx = Live(env);
		uint32_t slot = ArgU32(info, 0, "slot");
		if (slot >= slab_.size())
			throw AioError(env, EINVAL, "io_cancel", "slot out of range", "slot");
		int r = aior_cancel(ctx, &slab_[slot]);
		if (r < 0)
			throw AioError(env, -r, "io_cancel", strerror(-r));
		return Napi::Number::New(env, 0);
	}

	// registerBuffers(list) -> index of the first
	Napi::Value RegisterBuffers(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct aior_ctx *ctx = Live(env);
		if (!info[0].IsArray())
			throw AioError(env, EINVAL, "aioring", "registerBuffers takes an array", "buffers");
		auto list = info[0].As<Napi::Array>();
		size_t first = registered_.size();
		for (uint32_t i = 0; i < list.Length(); i++) {
			Napi::Value b = list.Get(i);
			if (!b.IsTypedArray())
				throw AioError(env, EINVAL, "aioring", "buffers must be TypedArrays", "buffers");
			Store store;
			Bytes vb = HeldBytes(b, &store);
			registered_.push_back({vb.data, vb.length, Napi::Persistent(b.As<Napi::Object>()), std::move(store)});
		}
		// io_uring's fixed buffers; where they cannot be pinned, ordinary reads and writes
		std::vector<struct iovec> iov;
		for (const Registered &r : registered_)
			iov.push_back({r.data, r.length});
		aior_register_buffers(ctx, iov.data(), static_cast<uint32_t>(iov.size()));
		return Napi::Number::New(env, static_cast<double>(first));
	}

	// registerFile(fd) -> its fixed-file slot, or a negative errno (then the
	// descriptor's requests run unregistered): a FileHandle's, at its first use
	Napi::Value RegisterFile(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct aior_ctx *ctx = Live(env);
		if (!info[0].IsNumber())
			throw AioError(env, EINVAL, "aioring", "registerFile takes a descriptor", "fd");
		int fd = info[0].As<Napi::Number>().Int32Value();
		return Napi::Number::New(env, aior_register_file(ctx, fd));
	}

	// unregisterFile(slot) -> 0 or a negative errno; a destroyed context's table is gone already
	Napi::Value UnregisterFile(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!ctx_)
			return Napi::Number::New(env, 0);
		if (!info[0].IsNumber())
			throw AioError(env, EINVAL, "aioring", "unregisterFile takes a slot", "slot");
		return Napi::Number::New(env, aior_unregister_file(ctx_, info[0].As<Napi::Number>().Int32Value()));
	}

	// { registered, capacity, requests, error }: the context's io_uring file table
	Napi::Value FileStats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct aior_file_stats f = {0, 0, 0, 0};
		Napi::Object out = Napi::Object::New(env);

		if (ctx_)
			aior_file_stats(ctx_, &f);
		out.Set("registered", Napi::Number::New(env, f.registered));
		out.Set("capacity", Napi::Number::New(env, f.capacity));
		out.Set("requests", Napi::Number::New(env, static_cast<double>(f.fixed_requests)));
		out.Set("error", Napi::Number::New(env, f.error));
		return out;
	}

	// holdLoop(true) while JavaScript waits for a wakeup, so the process stays up
	// (and the context with it: its onWake is held strongly meanwhile)
	Napi::Value HoldLoop(const Napi::CallbackInfo &info)
	{
		bool hold = info[0].ToBoolean();
		held_ = hold;
		UpdateStrength();
		if (async_) {
			if (hold)
				uv_ref(reinterpret_cast<uv_handle_t *>(async_));
			else
				uv_unref(reinterpret_cast<uv_handle_t *>(async_));
		}
		if (hold && ctx_ && !kpoll_) {
			uv_loop_t *loop = nullptr;
			napi_get_uv_event_loop(info.Env(), &loop);
			AttachKernelPoll(loop);
		}
		if (kpoll_ && ctx_) {
			/*
			 * Released, the poll keeps running, unreferenced: a consumer
			 * that waits again soon (one wait per burst of completions)
			 * finds it armed; the first wakeup nobody waits for stops it.
			 */
			if (hold) {
				uv_ref(reinterpret_cast<uv_handle_t *>(kpoll_));
				if (!uv_is_active(reinterpret_cast<uv_handle_t *>(kpoll_)))
					uv_poll_start(kpoll_, UV_READABLE, &NativeContext::OnKernelPoll);
			} else {
				uv_unref(reinterpret_cast<uv_handle_t *>(kpoll_));
			}
		}
		return info.Env().Undefined();
	}

	Napi::Value Inflight(const Napi::CallbackInfo &info)
	{
		UpdateStrength();
		return Napi::Number::New(info.Env(), ctx_ ? aior_inflight(ctx_) : 0);
	}

	Napi::Value HelperReads(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), ctx_ ? static_cast<double>(aior_helper_reads(ctx_)) : 0);
	}

	// { fsyncs, fdatasyncs, delays, records: [{ fd, op, start, end }] }, times as
	// bigint nanoseconds of CLOCK_MONOTONIC (process.hrtime.bigint()'s clock).
	Napi::Value SyncStats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		auto stats = std::make_unique<aior_sync_stats>();
		Napi::Object out = Napi::Object::New(env);
		Napi::Array records = Napi::Array::New(env);

		if (ctx_)
			aior_syncs(ctx_, stats.get());
		out.Set("fsyncs", Napi::Number::New(env, static_cast<double>(stats->fsyncs)));
		out.Set("fdatasyncs", Napi::Number::New(env, static_cast<double>(stats->fdatasyncs)));
		out.Set("delays", Napi::Number::New(env, static_cast<double>(stats->delays)));
		for (uint32_t i = 0; i < stats->nrecords; i++) {
			const aior_sync_record &r = stats->records[i];
			Napi::Object o = Napi::Object::New(env);
			o.Set("fd", Napi::Number::New(env, r.fd));
			o.Set("op", Napi::String::New(env, r.opcode == IOCB_CMD_FSYNC ? "fsync" : "fdatasync"));
			o.Set("start", Napi::BigInt::New(env, r.start_ns));
			o.Set("end", Napi::BigInt::New(env, r.end_ns));
			records.Set(i, o);
		}
		out.Set("records", records);
		return out;
	}

	// Finish all I/O into the ring (queued requests cancelled) and stop the
	// threads; the ring stays readable until destroy(). On the kernel's own
	// ring, the polls JavaScript submitted are io_cancel'ed first: their
	// events come through that ring, for JavaScript to reap.
	Napi::Value Quiesce(const Napi::CallbackInfo &info)
	{
		if (ctx_ && passthrough_) {
			for (iocb &cb : slab_)
				if (cb.aio_lio_opcode == IOCB_CMD_POLL)
					aior_cancel(ctx_, &cb);
		}
		if (ctx_)
			aior_quiesce(ctx_);
		DropStoresIfIdle();
		return info.Env().Undefined();
	}

	/*
	 * The ring and wait buffers are detached before the engine unmaps what
	 * they view, so every view of them reads as empty from now on. Keeping
	 * the mapping until the buffers are collected is not an option: the
	 * kernel ring is unmapped by io_destroy itself, which destroy must not
	 * put off (it ends the requests and gives back the aio-nr). Returns a
	 * promise that resolves once the context's kernel context, memory and
	 * threads are gone.
	 */
	Napi::Value Destroy(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		napi_deferred closed;
		napi_value promise;
		napi_create_promise(env, &closed, &promise);
		if (ctx_) {
			ring_.Value().Detach();
			wait_.Value().Detach();
			Shutdown(env, closed);
			registered_.clear();
		} else {
			napi_resolve_deferred(env, closed, env.Undefined());
		}
		return Napi::Value(env, promise);
	}

	Napi::Value Ring(const Napi::CallbackInfo &info)
	{
		Live(info.Env());
		return ring_.Value();
	}
	Napi::Value WaitBuffer(const Napi::CallbackInfo &info)
	{
		Live(info.Env());
		return wait_.Value();
	}
	Napi::Value Info(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		Napi::Object o = Napi::Object::New(env);
		if (ctx_)
			aior_info(ctx_, &info_);  // an auto context's kernel context comes with its first O_DIRECT request
		o.Set("nr", info_.nr);
		o.Set("capacity", info_.capacity);
		o.Set("kernel", info_.kernel != 0);
		o.Set("threads", info_.threads);
		o.Set("kernelError", info_.kernel_error);
		o.Set("readHelper", info_.read_helper != 0);
		o.Set("uring", info_.uring != 0);
		o.Set("uringError", info_.uring_error);
		o.Set("uringAuto", info_.uring_auto != 0);
		o.Set("uringRefused", info_.uring_refused);
		o.Set("waitIndex", wait_index_);
		o.Set("slabBase", static_cast<double>(reinterpret_cast<uintptr_t>(slab_.data())));
		return o;
	}

	struct aior_ctx *ctx_ = nullptr;
	struct aior_info info_ = {};
	uv_async_t *async_ = nullptr;
	uv_poll_t *kpoll_ = nullptr;
	std::vector<iocb> slab_;
	std::vector<std::vector<struct iovec>> iovecs_;
	std::vector<Registered> registered_;
	std::vector<Held> stores_;     /* per slot: the memory its request uses (see the top) */
	std::vector<uint8_t> storing_; /* per slot: 1 while listed in stored_ */
	std::vector<uint32_t> stored_; /* the slots whose stores may be set */
	std::vector<Held> staged_;     /* the submit in progress, per request */
	std::vector<iocb *> ptrs_;     /* the submit in progress: its iocbs, */
	std::vector<int32_t> files_;   /* their fixed-file slots, */
	std::vector<int32_t> fd_flags_; /* and what their owners know of their descriptors */
	Store memory_store_;           /* the caller's ring memory, when it gave one */
	Napi::FunctionReference on_wake_;
	Napi::ObjectReference memory_ref_;
	Napi::Reference<Napi::ArrayBuffer> ring_;
	Napi::Reference<Napi::ArrayBuffer> wait_;
	uint32_t wait_index_ = 0;
	std::set<NativeContext *> *live_ = nullptr;  // EnvData(env).contexts of the env that made it
	bool held_ = false;           /* a JavaScript waiter holds the loop (holdLoop) */
	bool strong_ = false;         /* on_wake_ is held strongly (UpdateStrength) */
	int64_t external_ = 0;        /* native bytes reported to V8 (AdjustExternalMemory) */
	bool passthrough_ = false;    /* AIORING_SETUP_KERNEL_RING: the slab's iocbs go to the kernel as they are */
	uint32_t kernel_running_ = 0; /* passthrough: submitted, not yet produced into the kernel's ring */
	uint32_t kernel_tail_ = 0;    /* passthrough: the kernel ring's tail at the last look */
};

// ringBytes(nrEvents, flags): the memory a context's ring needs
static Napi::Value RingBytes(const Napi::CallbackInfo &info)
{
	struct aior_setup s = {};
	s.nr_events = ArgU32(info, 0, "nrEvents");
	s.flags = ArgU32(info, 1, "flags");
	size_t bytes = aior_ring_bytes(&s);
	if (bytes == 0)
		throw AioError(info.Env(), EINVAL, "io_setup", "no ring has that many events", "nrEvents");
	return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

void InitContexts(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeContext", NativeContext::Define(env));
	exports.Set("ringBytes", Napi::Function::New(env, RingBytes));
	// runs before node-api finalizes this environment's objects and data
	env.AddCleanupHook([env] { NativeContext::DestroyAll(env); });
}

}  // namespace aioring
