/* kvm: the process-wide /dev/kvm handle, opened once, and the CPUID table that
 * every vCPU starts from (what this host's KVM supports, with the vCPU's own
 * APIC id filled in, and the features a script hid taken out). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/core/vm_internal.h"

#define CPUID_MAX_ENTRIES 256

static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;
static int kvm_dev_fd = -1;
static int kvm_open_errno;
static struct kvm_cpuid2 *kvm_cpuid;

static void kvm_open_once(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kvm_open_errno = errno;
		return;
	}
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(fd);
		kvm_open_errno = ENOTSUP;
		return;
	}
	kvm_cpuid = calloc(1, sizeof(*kvm_cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (kvm_cpuid) {
		kvm_cpuid->nent = CPUID_MAX_ENTRIES;
		if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, kvm_cpuid) < 0) {
			free(kvm_cpuid);
			kvm_cpuid = NULL;
		}
	}
	kvm_dev_fd = fd;
}

int kvm_fd(void)
{
	pthread_once(&kvm_once, kvm_open_once);
	if (kvm_dev_fd >= 0)
		return kvm_dev_fd;
	if (kvm_open_errno == ENOTSUP)
		return err_set(-ENOTSUP, "/dev/kvm speaks a KVM API other than version %d", KVM_API_VERSION);
	return err_set(-kvm_open_errno, "cannot open /dev/kvm: %s%s", strerror(kvm_open_errno),
		       kvm_open_errno == EACCES ? " (add yourself to the kvm group)" :
		       kvm_open_errno == ENOENT ? " (no KVM on this host: load kvm_intel or kvm_amd)" : "");
}

int kvm_check_cap(int cap)
{
	int fd = kvm_fd();
	if (fd < 0)
		return 0;
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

int kvm_vcpu_mmap_size(void)
{
	int fd = kvm_fd();
	if (fd < 0)
		return fd;
	int r = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	return r < 0 ? err_set(-errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno)) : r;
}

/* The APIC id lives in CPUID leaf 1 (EBX 31:24) and the x2APIC leaves 0xb/0x1f
 * (EDX); a guest that reads its own id must see its vCPU index. */
static void cpuid_set_apic_id(struct kvm_cpuid2 *c, int index)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)index << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)index;
	}
}

int kvm_set_cpuid(int vcpu_fd, int index, cpuid_hidden_t hidden)
{
	if (!kvm_cpuid)
		return err_set(-ENOTSUP, "KVM_GET_SUPPORTED_CPUID failed on this host");
	size_t sz = sizeof(*kvm_cpuid) + kvm_cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return err_set(-ENOMEM, "out of memory");
	memcpy(c, kvm_cpuid, sz);
	cpuid_set_apic_id(c, index);
	cpuid_apply(c, hidden);
	int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	int e = errno;
	free(c);
	return r < 0 ? err_set(-e, "KVM_SET_CPUID2: %s", strerror(e)) : 0;
}
