#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "system_info.h"

/* The file lists ranges such as "0-3,8-11"; count the CPUs in them. */
uint32_t system_possible_cpus(void)
{
	char buf[4096];
	uint32_t count = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char *p;

	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			for (p = buf; *p && *p != '\n';) {
				unsigned long lo = strtoul(p, &p, 10), hi = lo;

				if (*p == '-')
					hi = strtoul(p + 1, &p, 10);
				if (hi >= lo)
					count += (uint32_t)(hi - lo + 1);
				if (*p != ',')
					break;
				p++;
			}
		}
		fclose(f);
	}
	if (count == 0) {
		long online = sysconf(_SC_NPROCESSORS_CONF);

		count = online > 0 ? (uint32_t)online : 1;
	}
	return count;
}

uint32_t system_page_size(void)
{
	return (uint32_t)sysconf(_SC_PAGESIZE);
}

uint64_t system_aio_max_nr(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/fs/aio-max-nr", "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

size_t system_mapping_length(uintptr_t addr)
{
	char line[512];
	size_t len = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && lo == addr) {
			len = hi - lo;
			break;
		}
	}
	fclose(f);
	return len;
}
