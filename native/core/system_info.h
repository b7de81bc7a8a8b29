/*
 * Facts about this machine that the kernel's ring sizing depends on.
 */
#ifndef AIOR_SYSTEM_INFO_H
#define AIOR_SYSTEM_INFO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* num_possible_cpus(): parsed from /sys/devices/system/cpu/possible. */
uint32_t system_possible_cpus(void);
uint32_t system_page_size(void);
/* /proc/sys/fs/aio-max-nr, or 0 when unreadable. */
uint64_t system_aio_max_nr(void);
/* Length of the mapping that starts at addr (from /proc/self/maps), or 0. */
size_t system_mapping_length(uintptr_t addr);

#ifdef __cplusplus
}
#endif

#endif
