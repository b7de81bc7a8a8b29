#include "test_addon.h"

namespace aioring {

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
	InitLayout(env, exports);
	InitRings(env, exports);
	InitGuardedBuffer(env, exports);
	InitRingThreads(env, exports);
	return exports;
}

NODE_API_MODULE(aioring_test, Init)

}  // namespace aioring
