// Glue between the C core and JavaScript. Each file registers one concept.
#ifndef AIORING_ADDON_H
#define AIORING_ADDON_H

#include <napi.h>
#include <cstdint>
#include <set>
#include <string>
#include <linux/aio_abi.h>

namespace aioring {

class NativeContext;
struct Release;

/*
 * What the addon keeps for one environment (the main thread and each worker
 * load it separately): its node-api instance data, made on first use and
 * freed with the environment. Only that environment's JavaScript thread
 * touches it, so it needs no lock.
 */
struct AddonData {
	Napi::FunctionReference error_class;
	// the contexts this environment made and has not destroyed
	std::set<NativeContext *> contexts;
	// destroyed contexts whose release has not been joined yet (context_bindings.cc)
	std::set<Release *> releases;
};
AddonData &EnvData(Napi::Env env);

// AioError: the JavaScript class from src/errors.ts, handed over at load.
void SetErrorClass(const Napi::CallbackInfo &info);
Napi::Error AioError(Napi::Env env, int err, const char *syscall, const std::string &message,
		     const char *field = nullptr);

// Argument readers that throw AioError(EINVAL) instead of crashing.
uint32_t ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name);
uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name);
int64_t ArgI64(const Napi::CallbackInfo &info, size_t i, const char *name);
// [data, res] pairs of n events, as the bindings return them.
Napi::Float64Array EventPairs(Napi::Env env, const struct io_event *ev, size_t n);
// The bytes of a TypedArray or ArrayBuffer argument.
struct Bytes {
	uint8_t *data;
	size_t length;
};
Bytes ArgBytes(const Napi::CallbackInfo &info, size_t i, const char *name);
// The bytes a TypedArray views, also over a SharedArrayBuffer.
Bytes ViewBytes(const Napi::TypedArray &ta);

void InitSystem(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitKernelContext(Napi::Env env, Napi::Object exports);
void InitContexts(Napi::Env env, Napi::Object exports);

}  // namespace aioring

#endif
