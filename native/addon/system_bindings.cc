// What the sizing rule and the doctor ask of this machine: the legacy ring's
// nr for a request, and the CPU count, page size and aio-max-nr it uses;
// and IOV_MAX, where the vectored promise calls split as node:fs does.
#include <unistd.h>
#include "addon.h"
extern "C" {
#include "engine.h"
#include "legacy_ring.h"
#include "system_info.h"
}

namespace aioring {

static Napi::Value LegacyNr(const Napi::CallbackInfo &info)
{
	uint32_t n = ArgU32(info, 0, "nrEvents");
	uint32_t cpus = ArgU32(info, 1, "cpus");
	uint32_t page = ArgU32(info, 2, "pageSize");
	uint64_t max_nr = ArgU64(info, 3, "aioMaxNr");
	return Napi::Number::New(info.Env(), static_cast<double>(legacy_nr(n, cpus, page, max_nr)));
}

static Napi::Value SystemInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = Napi::Object::New(env);
	o.Set("possibleCpus", static_cast<double>(system_possible_cpus()));
	o.Set("pageSize", static_cast<double>(system_page_size()));
	o.Set("aioMaxNr", static_cast<double>(system_aio_max_nr()));
	o.Set("iovMax", static_cast<double>(sysconf(_SC_IOV_MAX)));
	return o;
}

// 0 where io_uring works in this process, else the errno (ENOSYS: built without liburing)
static Napi::Value UringProbe(const Napi::CallbackInfo &info)
{
	return Napi::Number::New(info.Env(), -aior_uring_available());
}

void InitSystem(Napi::Env env, Napi::Object exports)
{
	exports.Set("legacyNr", Napi::Function::New(env, LegacyNr));
	exports.Set("systemInfo", Napi::Function::New(env, SystemInfo));
	exports.Set("uringProbe", Napi::Function::New(env, UringProbe));
}

}  // namespace aioring
