#include "test_addon.h"

namespace aioring {

/*
 * The isolate's count of native memory reported to V8 (every addon's
 * AdjustExternalMemory): an adjustment of 0 returns it. Node's
 * process.memoryUsage().external does not include it.
 */
static Napi::Value ReportedExternalMemory(const Napi::CallbackInfo &info)
{
	return Napi::Number::New(info.Env(),
				 static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 0)));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
	InitLayout(env, exports);
	InitRings(env, exports);
	InitGuardedBuffer(env, exports);
	InitRingThreads(env, exports);
	exports.Set("reportedExternalMemory", Napi::Function::New(env, ReportedExternalMemory));
	return exports;
}

NODE_API_MODULE(aioring_test, Init)

}  // namespace aioring
