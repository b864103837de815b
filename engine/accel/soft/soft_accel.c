/* soft_accel: the `accel_soft` table: VM and vCPU life cycle, RAM slots and
 * their dirty logs, the VM-level irqchip/PIT/clock calls, run and kick, and
 * the accelerator-level queries (CPUID, MSR list, capabilities). The
 * register get/set calls are soft_state.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"
#include "engine/accel/soft/soft_state.h"

static void chip_kick(void *opaque, int vcpu)
{
	struct accel_vm *vm = opaque;
	if (vcpu >= 0 && vcpu < IRQCHIP_MAX_VCPUS) {
		struct accel_vcpu *c = __atomic_load_n(&vm->vcpus[vcpu], __ATOMIC_ACQUIRE);
		if (c)
			soft_wake(c);
	}
}

static int vm_create(struct accel_vm **out)
{
	struct accel_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	pthread_mutex_init(&vm->lock, NULL);
	vm->host.opaque = vm;
	vm->host.kick = chip_kick;
	vm->chip = irqchip_new(&vm->host);
	if (!vm->chip) {
		free(vm);
		return -ENOMEM;
	}
	*out = vm;
	return 0;
}

static void vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	irqchip_free(vm->chip);
	for (int s = 0; s < SOFT_SLOTS; s++)
		free((void *)vm->slots[s].dirty), free((void *)vm->slots[s].code);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

/* Every vCPU drops its translations before its next instruction. */
static void mem_changed(struct accel_vm *vm)
{
	atomic_fetch_add(&vm->mem_gen, 1);
	for (int k = 0; k < IRQCHIP_MAX_VCPUS; k++)
		if (vm->vcpus[k])
			atomic_store(&vm->vcpus[k]->work, 1);
}

static int set_memory(struct accel_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa,
		      uint64_t size, void *hva)
{
	if (slot >= SOFT_SLOTS || (gpa & 0xfff) || (size & 0xfff))
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	struct soft_slot *s = &vm->slots[slot];
	s->used = false;
	mem_changed(vm);
	free((void *)s->dirty);
	free((void *)s->code);
	s->dirty = NULL;
	s->code = NULL;
	soft_code_written(vm);
	if (size) {
		s->code = calloc((size / 4096 + 63) / 64, 8);
		if (!s->code) {
			pthread_mutex_unlock(&vm->lock);
			return -ENOMEM;
		}
		if (flags & KVM_MEM_LOG_DIRTY_PAGES) {
			s->dirty = calloc((size / 4096 + 63) / 64, 8);
			if (!s->dirty) {
				pthread_mutex_unlock(&vm->lock);
				return -ENOMEM;
			}
		}
		s->flags = flags;
		s->gpa = gpa;
		s->size = size;
		s->hva = hva;
		s->used = true;
	}
	mem_changed(vm);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int get_dirty_log(struct accel_vm *vm, uint32_t slot, void *bitmap)
{
	if (slot >= SOFT_SLOTS || !vm->slots[slot].used || !vm->slots[slot].dirty)
		return -ENOENT;
	struct soft_slot *s = &vm->slots[slot];
	uint64_t words = (s->size / 4096 + 63) / 64;
	for (uint64_t w = 0; w < words; w++) {
		uint64_t v = atomic_exchange(&s->dirty[w], 0);
		memcpy((uint8_t *)bitmap + w * 8, &v, 8);
	}
	mem_changed(vm); /* writes must mark pages again */
	return 0;
}

static int irq_line(struct accel_vm *vm, uint32_t gsi, int level)
{
	return irqchip_set_irq(vm->chip, gsi, level);
}

static int get_irqchip(struct accel_vm *vm, struct kvm_irqchip *chip)
{
	return irqchip_get_chip(vm->chip, chip);
}

static int set_irqchip(struct accel_vm *vm, const struct kvm_irqchip *chip)
{
	return irqchip_set_chip(vm->chip, chip);
}

static int get_pit(struct accel_vm *vm, struct kvm_pit_state2 *pit)
{
	return irqchip_get_pit(vm->chip, pit);
}

static int set_pit(struct accel_vm *vm, const struct kvm_pit_state2 *pit)
{
	return irqchip_set_pit(vm->chip, pit);
}

static int get_clock(struct accel_vm *vm, struct kvm_clock_data *clock)
{
	memset(clock, 0, sizeof(*clock));
	clock->clock = soft_now_ns() + vm->clock_offset;
	return 0;
}

static int set_clock(struct accel_vm *vm, const struct kvm_clock_data *clock)
{
	vm->clock_offset = (int64_t)(clock->clock - soft_now_ns());
	return 0;
}

static int no_stats(struct accel_vm *vm)
{
	(void)vm;
	return -ENOTSUP;
}

static int vcpu_create(struct accel_vm *vm, int index, struct accel_vcpu **out,
		       struct kvm_run **run)
{
	if (index < 0 || index >= IRQCHIP_MAX_VCPUS || vm->vcpus[index])
		return -EINVAL;
	struct accel_vcpu *c = aligned_alloc(64, (sizeof(*c) + 63) & ~63ul);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->run = aligned_alloc(4096, SOFT_RUN_SIZE);
	if (!c->run) {
		free(c);
		return -ENOMEM;
	}
	memset(c->run, 0, SOFT_RUN_SIZE);
	c->vm = vm;
	c->index = index;
	soft_reset(c);
	c->misc_enable = 1;
	c->mp_state = index == 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
	c->mem_gen_seen = atomic_load(&vm->mem_gen);
	int r = irqchip_add_vcpu(vm->chip, index);
	if (r < 0) {
		free(c->run);
		free(c);
		return r;
	}
	__atomic_store_n(&vm->vcpus[index], c, __ATOMIC_RELEASE);
	*out = c;
	*run = c->run;
	return 0;
}

static void vcpu_destroy(struct accel_vcpu *c)
{
	if (!c)
		return;
	__atomic_store_n(&c->vm->vcpus[c->index], NULL, __ATOMIC_RELEASE);
	free(c->cpuid);
	soft_blocks_free(c);
	free(c->run);
	free(c);
}

static void vcpu_kick(struct accel_vcpu *c)
{
	atomic_store(&c->kicked, 1);
	soft_wake(c);
}

uint64_t soft_vcpu_insn_count(struct accel_vcpu *c)
{
	return c->insn_count;
}

void soft_vm_ram_written(struct accel_vm *vm, uint64_t gpa, uint64_t len)
{
	(void)gpa;
	(void)len;
	soft_code_written(vm); /* every vCPU drops its decoded blocks */
}

static int msr_index_list(struct kvm_msr_list *list)
{
	if (list->nmsrs < (uint32_t)soft_msr_count) {
		list->nmsrs = soft_msr_count;
		return -E2BIG;
	}
	list->nmsrs = soft_msr_count;
	memcpy(list->indices, soft_msr_list, soft_msr_count * sizeof(uint32_t));
	return 0;
}

static int check_cap(long cap)
{
	switch (cap) {
	case KVM_CAP_IRQCHIP: case KVM_CAP_PIT2: case KVM_CAP_SET_GUEST_DEBUG:
	case KVM_CAP_DEBUGREGS: case KVM_CAP_XSAVE: case KVM_CAP_XCRS: case KVM_CAP_VCPU_EVENTS:
	case KVM_CAP_MP_STATE: case KVM_CAP_IMMEDIATE_EXIT:
		return 1;
	case KVM_CAP_NR_VCPUS: case KVM_CAP_MAX_VCPUS:
		return IRQCHIP_MAX_VCPUS;
	case KVM_CAP_SET_GUEST_DEBUG2: /* which KVM_GUESTDBG_* flags work */
		return KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_SW_BP |
		       KVM_GUESTDBG_USE_HW_BP | KVM_GUESTDBG_BLOCKIRQ;
	default:
		return 0;
	}
}

static int vcpu_no_stats(struct accel_vcpu *c)
{
	(void)c;
	return -ENOTSUP;
}

const struct accel_ops accel_soft = {
	.name = "soft",
	.vm_create = vm_create,
	.vm_destroy = vm_destroy,
	.set_memory = set_memory,
	.get_dirty_log = get_dirty_log,
	.irq_line = irq_line,
	.get_irqchip = get_irqchip,
	.set_irqchip = set_irqchip,
	.get_pit = get_pit,
	.set_pit = set_pit,
	.get_clock = get_clock,
	.set_clock = set_clock,
	.vm_stats_fd = no_stats,
	.vcpu_create = vcpu_create,
	.vcpu_destroy = vcpu_destroy,
	.vcpu_run = soft_vcpu_run,
	.vcpu_kick = vcpu_kick, .vcpu_interrupted = vcpu_kick,
	.get_regs = soft_get_regs,
	.set_regs = soft_set_regs,
	.get_sregs = soft_get_sregs,
	.set_sregs = soft_set_sregs,
	.get_fpu = soft_get_fpu,
	.set_fpu = soft_set_fpu,
	.get_xsave = soft_get_xsave,
	.set_xsave = soft_set_xsave,
	.get_xcrs = soft_get_xcrs,
	.set_xcrs = soft_set_xcrs,
	.get_msrs = soft_get_msrs,
	.set_msrs = soft_set_msrs,
	.get_events = soft_get_events,
	.set_events = soft_set_events,
	.get_mp_state = soft_get_mp_state,
	.set_mp_state = soft_set_mp_state,
	.get_lapic = soft_get_lapic,
	.set_lapic = soft_set_lapic,
	.get_debugregs = soft_get_debugregs,
	.set_debugregs = soft_set_debugregs,
	.set_guest_debug = soft_set_guest_debug,
	.set_cpuid = soft_set_cpuid,
	.get_cpuid = soft_get_cpuid,
	.vcpu_stats_fd = vcpu_no_stats,
	.supported_cpuid = soft_supported_cpuid,
	.msr_index_list = msr_index_list,
	.check_cap = check_cap,
	.ram_written = soft_vm_ram_written,
	.insn_count = soft_vcpu_insn_count,
};
