// What the sizing rule and the doctor ask of this machine: the legacy ring's
// nr for a request, and the CPU count, page size and aio-max-nr it uses;
// and IOV_MAX, where the vectored promise calls split as node:fs does;
// and what statx says of a file's O_DIRECT alignment.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
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

/*
 * dioAlignment(fd) -> [memory, offset]: statx's STATX_DIOALIGN (Linux 6.1+)
 * for fd's file, the alignment O_DIRECT needs of a buffer's address and of
 * a file offset and length; null where the kernel or the filesystem says
 * nothing (an older kernel, a file without direct I/O).
 */
static Napi::Value DioAlignment(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = static_cast<int>(ArgU32(info, 0, "fd"));
	struct statx st;

	memset(&st, 0, sizeof(st));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) < 0) {
		if (errno == ENOSYS || errno == EINVAL)
			return env.Null();
		throw AioError(env, errno, "statx", strerror(errno));
	}
	if (!(st.stx_mask & STATX_DIOALIGN) || st.stx_dio_mem_align == 0 || st.stx_dio_offset_align == 0)
		return env.Null();
	Napi::Array out = Napi::Array::New(env, 2);
	out.Set(0u, static_cast<double>(st.stx_dio_mem_align));
	out.Set(1u, static_cast<double>(st.stx_dio_offset_align));
	return out;
}

// seek(fd, offset, whence) -> lseek's new offset: a stream without start reads or writes at the descriptor's
static Napi::Value Seek(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = static_cast<int>(ArgU32(info, 0, "fd"));
	off_t offset = static_cast<off_t>(ArgU64(info, 1, "offset"));
	int whence = static_cast<int>(ArgU32(info, 2, "whence"));
	off_t r = lseek(fd, offset, whence);

	if (r < 0)
		throw AioError(env, errno, "lseek", strerror(errno));
	return Napi::Number::New(env, static_cast<double>(r));
}

void InitSystem(Napi::Env env, Napi::Object exports)
{
	exports.Set("seek", Napi::Function::New(env, Seek));
	exports.Set("dioAlignment", Napi::Function::New(env, DioAlignment));
	exports.Set("legacyNr", Napi::Function::New(env, LegacyNr));
	exports.Set("systemInfo", Napi::Function::New(env, SystemInfo));
	exports.Set("uringProbe", Napi::Function::New(env, UringProbe));
}

}  // namespace aioring
