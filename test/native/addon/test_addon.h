// The test-only addon (aioring_test.node): the C ring algorithms, the
// layout offsets and the guarded buffer, for tests and the ring benchmark.
// It reuses the product addon's glue (native/addon/addon.h) and is never
// built by an install.
#ifndef AIORING_TEST_ADDON_H
#define AIORING_TEST_ADDON_H

#include "addon.h"

namespace aioring {

void InitLayout(Napi::Env env, Napi::Object exports);
void InitRings(Napi::Env env, Napi::Object exports);
void InitGuardedBuffer(Napi::Env env, Napi::Object exports);
void InitRingThreads(Napi::Env env, Napi::Object exports);

}  // namespace aioring

#endif
