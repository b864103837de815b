/*
 * bare_kvm.c: the floor for the port-I/O exit benchmark. It runs the counter guest
 * (samples/build/counter.bin) on the same platform as hvwb -- in-kernel IRQ chip and PIT,
 * one 2 MiB memory slot, one vCPU with the host's supported CPUID -- with the least
 * userspace work per exit there can be: a KVM_RUN loop that ignores port 0x600 and stops
 * at the debug-exit write. Whatever hvwb spends beyond this loop is its own overhead.
 * Usage: bare_kvm COUNTER.BIN N; prints one line with the exits/s measured around the loop.
 * It is a program, not library code, so it reports a failure and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bare_vm.h"

const char *bare_name = "bare_kvm";

#define COUNT_OFFSET	8u
#define COUNTER_PORT	0x600
#define EXIT_PORT	0xf4

/* The counter image: its tag checked, N patched in at COUNT_OFFSET. */
static void load_counter(struct bare *b, const char *path, uint32_t n)
{
	bare_load_image(b, path);
	if (memcmp(b->mem + IMAGE_ADDR, "hvwbcntr", 8) != 0)
		fail("not a 64 KiB counter image (tag \"hvwbcntr\" missing)");
	memcpy(b->mem + IMAGE_ADDR + COUNT_OFFSET, &n, sizeof(n));	/* x86: little-endian */
}

/* Returns the number of writes to the counter port once the guest writes the debug-exit. */
static uint64_t run_loop(struct bare *b)
{
	uint64_t count = 0;

	for (;;) {
		if (ioctl(b->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		struct kvm_run *r = b->run;
		if (r->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "bare_kvm: unexpected exit reason %u\n", r->exit_reason);
			exit(1);
		}
		if (r->io.port == COUNTER_PORT && r->io.direction == KVM_EXIT_IO_OUT)
			count += r->io.count;
		else if (r->io.port == EXIT_PORT && r->io.direction == KVM_EXIT_IO_OUT)
			return count;
	}
}

int main(int argc, char **argv)
{
	struct bare b;
	struct timespec t0, t1;

	if (argc != 3) {
		fprintf(stderr, "usage: bare_kvm COUNTER.BIN N\n");
		return 2;
	}
	char *end;
	unsigned long n = strtoul(argv[2], &end, 0);
	if (end == argv[2] || *end || n > UINT32_MAX)
		fail("N must be a 32-bit number");

	bare_create_vm(&b);
	bare_add_memory(&b);
	load_counter(&b, argv[1], (uint32_t)n);
	bare_create_vcpu(&b);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t count = run_loop(&b);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (count != n) {
		fprintf(stderr, "bare_kvm: expected %lu counter writes, saw %llu\n", n,
			(unsigned long long)count);
		return 1;
	}
	double s = bare_seconds(&t0, &t1);
	printf("bare_kvm: N=%lu time=%.6f s rate=%.0f exits/s\n", n, s, s > 0 ? (double)n / s : 0.0);
	return 0;
}
