/*
 * Facts about this machine that the kernel's ring sizing depends on.
 */
#ifndef AIORING_SYSTEM_INFO_H
#define AIORING_SYSTEM_INFO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* num_possible_cpus(): parsed from /sys/devices/system/cpu/possible. */
uint32_t system_possible_cpus(void);
uint32_t system_page_size(void);
/* /proc/sys/fs/aio-max-nr, or 0 when unreadable. */
uint64_t system_aio_max_nr(void);

#ifdef __cplusplus
}
#endif

#endif
