// Memory that ends at a PROT_NONE page, for the bad-input tests: a validator
// or reader that looks one byte past a ring header faults instead of reading
// whatever follows.
#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include "test_addon.h"
extern "C" {
#include "system_info.h"
}

namespace aioring {

struct GuardedMapping {
	void *base;
	size_t len;
};

// guardedBuffer(size) -> ArrayBuffer of size bytes (a multiple of 8, so it
// starts 8-aligned) that ends where a PROT_NONE page begins: any read past
// its end faults. The bad-input tests place ring headers at its end.
static Napi::Value GuardedBuffer(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint64_t size = ArgU64(info, 0, "size");
	size_t page = system_page_size();
	if (size == 0 || size % 8 || size > (1ull << 30))
		throw AioError(env, EINVAL, "mmap", "size must be a multiple of 8 in [8, 2^30]", "size");
	size_t span = (size + page - 1) / page * page;
	auto *base = static_cast<uint8_t *>(
		mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	if (base == MAP_FAILED)
		throw AioError(env, errno, "mmap", strerror(errno));
	if (mprotect(base + span, page, PROT_NONE) < 0) {
		int err = errno;
		munmap(base, span + page);
		throw AioError(env, err, "mprotect", strerror(err));
	}
	auto *hold = new GuardedMapping{base, span + page};
	try {
		return Napi::ArrayBuffer::New(
			env, base + span - size, size,
			[](Napi::Env, void *, GuardedMapping *m) {
				munmap(m->base, m->len);
				delete m;
			},
			hold);
	} catch (...) {
		munmap(base, span + page);
		delete hold;
		throw;
	}
}

void InitGuardedBuffer(Napi::Env env, Napi::Object exports)
{
	exports.Set("guardedBuffer", Napi::Function::New(env, GuardedBuffer));
}

}  // namespace aioring
