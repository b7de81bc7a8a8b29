/* Drop-in, AIORING_RING=v2: a program that writes the v2 ring's shared head
 * past tail (a bad reaper), then calls io_getevents and io_submit. */
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#define HEAD_OFF 256   /* V2Header.head */
#define TAIL_OFF 128   /* V2Header.tail */
static uint32_t *word(io_context_t ctx, int off) { return (uint32_t *)((char *)ctx + off); }
int main(int argc, char **argv)
{
	io_context_t ctx = 0;
	struct iocb cb, *cbs[1] = {&cb};
	struct io_event ev;
	char buf[512];
	int fd = open("/proc/self/exe", O_RDONLY), r;
	uint32_t forged_delta = argc > 1 ? (uint32_t)strtoul(argv[1], 0, 0) : 5;
	r = io_setup(8, &ctx);
	printf("io_setup %d magic %#x\n", r, *word(ctx, 16));
	io_prep_pread(&cb, fd, buf, sizeof buf, 0);
	printf("io_submit %d\n", io_submit(ctx, 1, cbs));
	usleep(100000);
	printf("head %u tail %u\n", *word(ctx, HEAD_OFF), *word(ctx, TAIL_OFF));
	__atomic_store_n(word(ctx, HEAD_OFF), *word(ctx, TAIL_OFF) + forged_delta, __ATOMIC_RELEASE);
	struct timespec ts = {1, 0}, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = io_getevents(ctx, 1, 1, &ev, &ts);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("io_getevents -> %d (%s) after %.2f s\n", r, r < 0 ? strerror(-r) : "", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	r = io_submit(ctx, 1, cbs);
	printf("io_submit -> %d (%s)\n", r, r < 0 ? strerror(-r) : "");
	printf("io_destroy %d\n", io_destroy(ctx));
	return 0;
}
