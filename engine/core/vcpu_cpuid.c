/* vcpu_cpuid: the CPUID table a new vCPU starts from: what its accelerator
 * supports (the host's KVM, or what the soft CPU implements), with the vCPU's
 * own APIC id filled in and the features a script hid taken out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/boot/cpuid.h"
#include "engine/core/vm_internal.h"
#include "util/err.h"

#define CPUID_MAX_ENTRIES 256

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

int vcpu_set_cpuid(struct vcpu *v, cpuid_hidden_t hidden)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return err_set(-ENOMEM, "out of memory");
	c->nent = CPUID_MAX_ENTRIES;
	int r = v->acc->supported_cpuid(c);
	if (r < 0) {
		free(c);
		return err_set(r, "the %s accelerator gives no CPUID table: %s", v->acc->name, strerror(-r));
	}
	cpuid_set_apic_id(c, v->index);
	cpuid_apply(c, hidden);
	r = v->acc->set_cpuid(v->av, c);
	free(c);
	return r < 0 ? err_set(r, "setting vCPU %d's CPUID: %s", v->index, strerror(-r)) : 0;
}
