/*
 * What a header validator found wrong, by field, so an error can name it.
 */
#ifndef AIOR_RING_ERROR_H
#define AIOR_RING_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum ring_field {
	RING_OK = 0,
	RING_BAD_SIZE,          /* mapping too small for even the header */
	RING_BAD_MAGIC,
	RING_BAD_INCOMPAT,      /* unknown incompat_features bits */
	RING_BAD_COMPAT,
	RING_BAD_HEADER_LENGTH,
	RING_BAD_NR,            /* nr / entries 0, not a power of two, or not the mapping's */
	RING_BAD_MASK,
	RING_BAD_HEAD,
	RING_BAD_TAIL,
	RING_BAD_ENTRIES_OFFSET,
	RING_BAD_FEATURES,
	RING_BAD_VERSION,
	RING_BAD_LEASES,        /* lease_count / lease_offset */
	RING_BAD_CLAIM,         /* leases: claim outside head .. tail */
};

/* The field's name as the header spells it ("magic", "nr", ...). */
const char *ring_field_name(enum ring_field f);

#ifdef __cplusplus
}
#endif

#endif
