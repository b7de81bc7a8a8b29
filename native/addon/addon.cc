#include "addon.h"

namespace aioring {

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
	InitSystem(env, exports);
	InitMemory(env, exports);
	InitKernelContext(env, exports);
	InitContexts(env, exports);
	return exports;
}

NODE_API_MODULE(aioring, Init)

}  // namespace aioring
