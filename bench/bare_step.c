/*
 * bare_step.c: the floor for the single-step benchmark. It runs a 64 KiB real-mode image
 * (the step loop that run.sh writes: `inc ax; jmp short -3` at F000:FFF0) on the same
 * platform as hvwb -- in-kernel IRQ chip and PIT, one 2 MiB memory slot, one vCPU with the
 * host's supported CPUID -- with KVM_SET_GUEST_DEBUG(ENABLE | SINGLESTEP | BLOCKIRQ as
 * hvwb does) and the least a debugger can do per instruction: one KVM_RUN that must end
 * in KVM_EXIT_DEBUG, then KVM_GET_REGS to see where the guest is. Whatever hvwb's
 * vm:step() spends beyond this is its own overhead.
 * Usage: bare_step IMAGE.BIN S; prints one line with the steps/s measured around the loop.
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

const char *bare_name = "bare_step";

#ifndef KVM_GUESTDBG_BLOCKIRQ
#define KVM_GUESTDBG_BLOCKIRQ	0x00100000	/* Linux 5.15; headers before lack it */
#endif

/* BLOCKIRQ as hvwb's vm:step() uses it by default; a kernel without it refuses the flag. */
static void enable_singlestep(int vcpu)
{
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_BLOCKIRQ,
	};
	if (ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg) == 0)
		return;
	dbg.control &= ~(uint32_t)KVM_GUESTDBG_BLOCKIRQ;
	if (ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg) < 0)
		die("KVM_SET_GUEST_DEBUG");
}

/* One instruction per KVM_RUN; returns the final registers. Any exit but a debug exit
 * means the guest did not do what the benchmark expects. */
static struct kvm_regs step_loop(struct bare *b, uint64_t steps)
{
	struct kvm_regs regs;

	memset(&regs, 0, sizeof(regs));
	for (uint64_t i = 0; i < steps; i++) {
		if (ioctl(b->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				i--;
				continue;
			}
			die("KVM_RUN");
		}
		if (b->run->exit_reason != KVM_EXIT_DEBUG) {
			fprintf(stderr, "bare_step: exit reason %u at step %llu, expected KVM_EXIT_DEBUG\n",
				b->run->exit_reason, (unsigned long long)i);
			exit(1);
		}
		if (ioctl(b->vcpu, KVM_GET_REGS, &regs) < 0)
			die("KVM_GET_REGS");
	}
	return regs;
}

int main(int argc, char **argv)
{
	struct bare b;
	struct timespec t0, t1;

	if (argc != 3) {
		fprintf(stderr, "usage: bare_step IMAGE.BIN S\n");
		return 2;
	}
	char *end;
	unsigned long long s = strtoull(argv[2], &end, 0);
	if (end == argv[2] || *end || s == 0)
		fail("S must be a number of steps >= 1");

	bare_create_vm(&b);
	bare_add_memory(&b);
	bare_load_image(&b, argv[1]);
	bare_create_vcpu(&b);
	if (ioctl(b.kvm, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) <= 0)
		fail("this KVM has no KVM_CAP_SET_GUEST_DEBUG");
	enable_singlestep(b.vcpu);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct kvm_regs regs = step_loop(&b, s);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	double t = bare_seconds(&t0, &t1);
	printf("bare_step: S=%llu time=%.6f s rate=%.0f steps/s ax=0x%llx rip=0x%llx\n", s, t,
	       t > 0 ? (double)s / t : 0.0, (unsigned long long)(regs.rax & 0xffff),
	       (unsigned long long)regs.rip);
	return 0;
}
