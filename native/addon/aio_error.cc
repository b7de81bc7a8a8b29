#include <cerrno>
#include <cmath>
#include "addon.h"

namespace aioring {

AddonData &EnvData(Napi::Env env)
{
	auto *data = env.GetInstanceData<AddonData>();
	if (data == nullptr) {
		data = new AddonData();
		env.SetInstanceData<AddonData>(data);
	}
	return *data;
}

void SetErrorClass(const Napi::CallbackInfo &info)
{
	if (!info[0].IsFunction())
		throw Napi::TypeError::New(info.Env(), "setErrorClass needs a constructor");
	EnvData(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

Napi::Error AioError(Napi::Env env, int err, const char *syscall, const std::string &message,
		     const char *field)
{
	auto *data = env.GetInstanceData<AddonData>();
	if (data == nullptr || data->error_class.IsEmpty())
		return Napi::Error::New(env, message);
	Napi::Value field_value = field ? Napi::String::New(env, field) : env.Undefined();
	Napi::Object e = data->error_class.New({Napi::Number::New(env, err),
						Napi::String::New(env, syscall),
						Napi::String::New(env, message), field_value});
	return Napi::Error(env, e);
}

static double ArgNumber(const Napi::CallbackInfo &info, size_t i, const char *name, double max)
{
	if (i >= info.Length() || !(info[i].IsNumber() || info[i].IsBigInt()))
		throw AioError(info.Env(), EINVAL, "aioring", std::string(name) + " must be a number",
			       name);
	double v;
	if (info[i].IsBigInt()) {
		bool lossless;
		v = static_cast<double>(info[i].As<Napi::BigInt>().Uint64Value(&lossless));
		if (!lossless)
			v = -1;
	} else {
		v = info[i].As<Napi::Number>().DoubleValue();
	}
	if (!std::isfinite(v) || v < 0 || v > max || v != std::floor(v))
		throw AioError(info.Env(), EINVAL, "aioring",
			       std::string(name) + " must be an integer in [0, " +
				       std::to_string(static_cast<uint64_t>(max)) + "]",
			       name);
	return v;
}

uint32_t ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	return static_cast<uint32_t>(ArgNumber(info, i, name, 4294967295.0));
}

uint64_t ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	return static_cast<uint64_t>(ArgNumber(info, i, name, 9007199254740991.0));
}

int64_t ArgI64(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i < info.Length() && info[i].IsNumber()) {
		double v = info[i].As<Napi::Number>().DoubleValue();
		if (std::isfinite(v) && v < 0 && v >= -9007199254740991.0 && v == std::floor(v))
			return static_cast<int64_t>(v);
	}
	return static_cast<int64_t>(ArgU64(info, i, name));
}

Bytes ViewBytes(const Napi::TypedArray &ta)
{
	void *data = nullptr;
	size_t length = 0;
	napi_typedarray_type type;
	napi_value ab;
	size_t offset;
	napi_get_typedarray_info(ta.Env(), ta, &type, &length, &data, &ab, &offset);
	return {static_cast<uint8_t *>(data), ta.ByteLength()};
}

Bytes ArgBytes(const Napi::CallbackInfo &info, size_t i, const char *name)
{
	if (i < info.Length() && info[i].IsTypedArray())
		return ViewBytes(info[i].As<Napi::TypedArray>());
	if (i < info.Length() && info[i].IsArrayBuffer()) {
		auto ab = info[i].As<Napi::ArrayBuffer>();
		return {static_cast<uint8_t *>(ab.Data()), ab.ByteLength()};
	}
	throw AioError(info.Env(), EINVAL, "aioring",
		       std::string(name) + " must be a TypedArray or ArrayBuffer", name);
}

Napi::Float64Array EventPairs(Napi::Env env, const struct io_event *ev, size_t n)
{
	auto out = Napi::Float64Array::New(env, n * 2);
	for (size_t i = 0; i < n; i++) {
		out[i * 2] = static_cast<double>(ev[i].data);
		out[i * 2 + 1] = static_cast<double>(ev[i].res);
	}
	return out;
}

}  // namespace aioring
