/* bare_vm: see bare_vm.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bare_vm.h"

void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", bare_name, what, strerror(errno));
	exit(1);
}

void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", bare_name, what);
	exit(1);
}

void bare_load_image(struct bare *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	ssize_t got = read(fd, b->mem + IMAGE_ADDR, IMAGE_MAX);
	if (got < 0)
		die(path);
	close(fd);
	if (got != IMAGE_MAX)
		fail("not a 64 KiB real-mode image");
}

double bare_seconds(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void bare_create_vm(struct bare *b)
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

void bare_add_memory(struct bare *b)
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

void bare_create_vcpu(struct bare *b)
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

