/* vm_cpuid: the CPUID a VM's vCPUs present, and the features a script hides
 * from them. KVM accepts a new CPUID only until a vCPU first runs (since Linux
 * 5.16 KVM_SET_CPUID2 then fails unless nothing changes), so the filter is set
 * between creating a VM and running it; it is kept in the VM, so loading
 * another guest or restoring a snapshot keeps it, and clones inherit it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "engine/core/vm_internal.h"

#define CPUID_GET_MAX 256

int vm_cpuid_hide(struct vm *vm, cpuid_hidden_t hidden)
{
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm_stopped_vcpu(vm, i);
		if (!v)
			return -EBUSY;
		int r = vcpu_set_cpuid(v, hidden);
		if (r == -EINVAL || r == -EFAULT)
			return err_set(r, "VM %s has already run: KVM takes a new CPUID only before a "
				       "vCPU's first run (make a new VM and set it first)", vm->name);
		if (r < 0)
			return r;
	}
	vm->cpuid_hidden = hidden;
	return 0;
}

cpuid_hidden_t vm_cpuid_hidden(const struct vm *vm)
{
	return vm->cpuid_hidden;
}

int vm_cpuid_get(struct vm *vm, int vcpu, struct kvm_cpuid2 **out)
{
	struct vcpu *v = vm_stopped_vcpu(vm, vcpu);
	if (!v)
		return -EBUSY;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_GET_MAX * sizeof(c->entries[0]));
	if (!c)
		return err_set(-ENOMEM, "out of memory");
	c->nent = CPUID_GET_MAX;
	int r = vcpu_result(v, v->acc->get_cpuid(v->av, c), "reading the CPUID table");
	if (r < 0) {
		free(c);
		return r;
	}
	*out = c;
	return 0;
}
