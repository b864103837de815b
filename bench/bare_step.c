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

#define MEM_SIZE	(2u << 20)
#define IMAGE_ADDR	0xF0000u
#define IMAGE_MAX	0x10000u
#define TSS_ADDR	0xfffbd000ul	/* where hvwb puts it: below the 4 GiB BIOS area */

#ifndef KVM_GUESTDBG_BLOCKIRQ
#define KVM_GUESTDBG_BLOCKIRQ	0x00100000	/* Linux 5.15; headers before lack it */
#endif

struct bare {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static void die(const char *what)
{
	fprintf(stderr, "bare_step: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "bare_step: %s\n", what);
	exit(1);
}

static void load_image(uint8_t *mem, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	ssize_t got = read(fd, mem + IMAGE_ADDR, IMAGE_MAX);
	if (got < 0)
		die(path);
	close(fd);
	if (got != IMAGE_MAX)
		fail("not a 64 KiB real-mode image");
}

static void create_vm(struct bare *b)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		die("/dev/kvm");
	if (ioctl(b->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		fail("unexpected KVM API version");
	if (ioctl(b->kvm, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) <= 0)
		fail("this KVM has no KVM_CAP_SET_GUEST_DEBUG");
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0);
	if (b->vm < 0)
		die("KVM_CREATE_VM");
	if (ioctl(b->vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
		die("KVM_SET_TSS_ADDR");
	if (ioctl(b->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		die("KVM_CREATE_IRQCHIP");
	if (ioctl(b->vm, KVM_CREATE_PIT2, &pit) < 0)
		die("KVM_CREATE_PIT2");
}

static void add_memory(struct bare *b)
{
	b->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->mem == MAP_FAILED)
		die("mmap guest memory");
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)b->mem,
	};
	if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
}

/* The kernel says how many entries it needs only by failing with E2BIG. */
static struct kvm_cpuid2 *supported_cpuid(int kvm)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			die("calloc");
		c->nent = nent;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			die("KVM_GET_SUPPORTED_CPUID");
	}
	fail("KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

static void set_reset_state(int vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0xFFF0, .rflags = 0x2 };

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs.selector = 0xF000;
	sregs.cs.base = IMAGE_ADDR;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
}

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

static void create_vcpu(struct bare *b)
{
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	if (b->vcpu < 0)
		die("KVM_CREATE_VCPU");
	struct kvm_cpuid2 *cpuid = supported_cpuid(b->kvm);
	if (ioctl(b->vcpu, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");
	free(cpuid);
	int size = ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	b->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (b->run == MAP_FAILED)
		die("mmap kvm_run");
	set_reset_state(b->vcpu);
	enable_singlestep(b->vcpu);
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

static double seconds(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
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

	create_vm(&b);
	add_memory(&b);
	load_image(b.mem, argv[1]);
	create_vcpu(&b);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct kvm_regs regs = step_loop(&b, s);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	double t = seconds(&t0, &t1);
	printf("bare_step: S=%llu time=%.6f s rate=%.0f steps/s ax=0x%llx rip=0x%llx\n", s, t,
	       t > 0 ? (double)s / t : 0.0, (unsigned long long)(regs.rax & 0xffff),
	       (unsigned long long)regs.rip);
	return 0;
}
