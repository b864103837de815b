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

#define MEM_SIZE	(2u << 20)
#define IMAGE_ADDR	0xF0000u
#define IMAGE_MAX	0x10000u
#define COUNT_OFFSET	8u
#define COUNTER_PORT	0x600
#define EXIT_PORT	0xf4
#define TSS_ADDR	0xfffbd000ul	/* where hvwb puts it: below the 4 GiB BIOS area */

struct bare {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static void die(const char *what)
{
	fprintf(stderr, "bare_kvm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "bare_kvm: %s\n", what);
	exit(1);
}

static void load_image(uint8_t *mem, const char *path, uint32_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	ssize_t got = read(fd, mem + IMAGE_ADDR, IMAGE_MAX);
	if (got < 0)
		die(path);
	close(fd);
	if (got != IMAGE_MAX || memcmp(mem + IMAGE_ADDR, "hvwbcntr", 8) != 0)
		fail("not a 64 KiB counter image (tag \"hvwbcntr\" missing)");
	memcpy(mem + IMAGE_ADDR + COUNT_OFFSET, &n, sizeof(n));	/* x86: little-endian */
}

static void create_vm(struct bare *b)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		die("/dev/kvm");
	if (ioctl(b->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		fail("unexpected KVM API version");
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

static double seconds(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
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

	create_vm(&b);
	add_memory(&b);
	load_image(b.mem, argv[1], (uint32_t)n);
	create_vcpu(&b);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t count = run_loop(&b);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (count != n) {
		fprintf(stderr, "bare_kvm: expected %lu counter writes, saw %llu\n", n,
			(unsigned long long)count);
		return 1;
	}
	double s = seconds(&t0, &t1);
	printf("bare_kvm: N=%lu time=%.6f s rate=%.0f exits/s\n", n, s, s > 0 ? (double)n / s : 0.0);
	return 0;
}
