#include "ring_error.h"

const char *ring_field_name(enum ring_field f)
{
	switch (f) {
	case RING_OK:                 return "ok";
	case RING_BAD_SIZE:           return "size";
	case RING_BAD_MAGIC:          return "magic";
	case RING_BAD_INCOMPAT:       return "incompat_features";
	case RING_BAD_COMPAT:         return "compat_features";
	case RING_BAD_HEADER_LENGTH:  return "header_length";
	case RING_BAD_NR:             return "nr";
	case RING_BAD_MASK:           return "mask";
	case RING_BAD_HEAD:           return "head";
	case RING_BAD_TAIL:           return "tail";
	case RING_BAD_ENTRIES_OFFSET: return "entries_offset";
	case RING_BAD_FEATURES:       return "features";
	case RING_BAD_VERSION:        return "version";
	case RING_BAD_LEASES:         return "lease_count";
	case RING_BAD_CLAIM:          return "claim";
	}
	return "unknown";
}
