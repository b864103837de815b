/* kvm_host: the process-wide /dev/kvm handle, opened once, and what this
 * host's KVM can do. Only the kvm accelerator and the host probes use it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine/accel/kvm_host.h"
#include "util/err.h"

static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;
static int kvm_dev_fd = -1;
static int kvm_open_errno;

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
	kvm_dev_fd = fd;
}

int kvm_host_fd(void)
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

int kvm_host_check_cap(long cap)
{
	pthread_once(&kvm_once, kvm_open_once);
	if (kvm_dev_fd < 0)
		return 0;
	int r = ioctl(kvm_dev_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}
