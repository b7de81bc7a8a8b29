// Offsets and sizes straight from native/core/layout.h, so tests can hold
// src/layout.ts to them.
#include <cstddef>
#include "test_addon.h"
extern "C" {
#include "layout.h"
}

namespace aioring {

#define PUT(obj, name, value) obj.Set(name, Napi::Number::New(env, static_cast<double>(value)))

void InitLayout(Napi::Env env, Napi::Object exports)
{
	Napi::Object l = Napi::Object::New(env);
	PUT(l, "AIO_RING_MAGIC", AIO_RING_MAGIC);
	PUT(l, "AIO_RING_COMPAT_FEATURES", AIO_RING_COMPAT_FEATURES);
	PUT(l, "AIO_RING_INCOMPAT_FEATURES", AIO_RING_INCOMPAT_FEATURES);
	PUT(l, "aio_ring.size", sizeof(struct aio_ring));
	PUT(l, "aio_ring.id", offsetof(struct aio_ring, id));
	PUT(l, "aio_ring.nr", offsetof(struct aio_ring, nr));
	PUT(l, "aio_ring.head", offsetof(struct aio_ring, head));
	PUT(l, "aio_ring.tail", offsetof(struct aio_ring, tail));
	PUT(l, "aio_ring.magic", offsetof(struct aio_ring, magic));
	PUT(l, "aio_ring.compat_features", offsetof(struct aio_ring, compat_features));
	PUT(l, "aio_ring.incompat_features", offsetof(struct aio_ring, incompat_features));
	PUT(l, "aio_ring.header_length", offsetof(struct aio_ring, header_length));
	PUT(l, "aio_ring.io_events", offsetof(struct aio_ring, io_events));
	PUT(l, "io_event.size", sizeof(struct io_event));
	PUT(l, "io_event.data", offsetof(struct io_event, data));
	PUT(l, "io_event.obj", offsetof(struct io_event, obj));
	PUT(l, "io_event.res", offsetof(struct io_event, res));
	PUT(l, "io_event.res2", offsetof(struct io_event, res2));
	PUT(l, "iocb.size", sizeof(struct iocb));
	PUT(l, "iocb.aio_data", offsetof(struct iocb, aio_data));
	PUT(l, "iocb.aio_key", offsetof(struct iocb, aio_key));
	PUT(l, "iocb.aio_rw_flags", offsetof(struct iocb, aio_rw_flags));
	PUT(l, "iocb.aio_lio_opcode", offsetof(struct iocb, aio_lio_opcode));
	PUT(l, "iocb.aio_reqprio", offsetof(struct iocb, aio_reqprio));
	PUT(l, "iocb.aio_fildes", offsetof(struct iocb, aio_fildes));
	PUT(l, "iocb.aio_buf", offsetof(struct iocb, aio_buf));
	PUT(l, "iocb.aio_nbytes", offsetof(struct iocb, aio_nbytes));
	PUT(l, "iocb.aio_offset", offsetof(struct iocb, aio_offset));
	PUT(l, "iocb.aio_reserved2", offsetof(struct iocb, aio_reserved2));
	PUT(l, "iocb.aio_flags", offsetof(struct iocb, aio_flags));
	PUT(l, "iocb.aio_resfd", offsetof(struct iocb, aio_resfd));
	PUT(l, "AIORING_V2_MAGIC", AIORING_V2_MAGIC);
	PUT(l, "AIORING_INCOMPAT_V2", AIORING_INCOMPAT_V2);
	PUT(l, "AIORING_V2_VERSION", AIORING_V2_VERSION);
	PUT(l, "AIORING_FEAT_MULTI_PRODUCER", AIORING_FEAT_MULTI_PRODUCER);
	PUT(l, "AIORING_FEAT_MULTI_CONSUMER", AIORING_FEAT_MULTI_CONSUMER);
	PUT(l, "AIORING_FEAT_USER_REAP", AIORING_FEAT_USER_REAP);
	PUT(l, "AIORING_FEAT_LEASES", AIORING_FEAT_LEASES);
	PUT(l, "AIORING_FEAT_ALL", AIORING_FEAT_ALL);
	PUT(l, "AIORING_V2_MAX_LEASES", AIORING_V2_MAX_LEASES);
	PUT(l, "AIORING_LEASE_IDLE", AIORING_LEASE_IDLE);
	PUT(l, "AIORING_LEASE_INTENT", AIORING_LEASE_INTENT);
	PUT(l, "AIORING_LEASE_HELD", AIORING_LEASE_HELD);
	PUT(l, "AIORING_V2_MAX_ENTRIES", AIORING_V2_MAX_ENTRIES);
	PUT(l, "AIORING_V2_WAITER", AIORING_V2_WAITER);
	PUT(l, "v2.size", sizeof(struct v2_ring_header));
#define V2(field) PUT(l, "v2." #field, offsetof(struct v2_ring_header, field))
	V2(id);
	V2(nr);
	V2(legacy_head);
	V2(legacy_tail);
	V2(magic);
	V2(compat_features);
	V2(incompat_features);
	V2(header_length);
	V2(version);
	V2(entries);
	V2(mask);
	V2(features);
	V2(setup_flags);
	V2(entries_offset);
	V2(ring_bytes_lo);
	V2(ring_bytes_hi);
	V2(lease_offset);
	V2(lease_count);
	V2(tail);
	V2(prod_reserve);
	V2(head);
	V2(claim);
	V2(wait_flags);
	V2(wakeups);
#undef V2
	PUT(l, "v2_lease.size", sizeof(struct v2_lease));
#define LEASE(field) PUT(l, "v2_lease." #field, offsetof(struct v2_lease, field))
	LEASE(owner);
	LEASE(state);
	LEASE(start);
	LEASE(end);
	LEASE(commit);
#undef LEASE
	exports.Set("layout", l);
}

}  // namespace aioring
