/* kvm_host: the process-wide /dev/kvm handle and its capabilities. */
#ifndef HVWB_KVM_HOST_H
#define HVWB_KVM_HOST_H

#include <linux/kvm.h>

/* The /dev/kvm fd, or a negative errno with a message saying why not. */
int kvm_host_fd(void);
/* KVM_CHECK_EXTENSION on /dev/kvm; 0 when there is no KVM. */
int kvm_host_check_cap(long cap);

#endif
