/* snap_cpu: taking and putting back the accelerator's part of a snapshot
 * (see snap_cpu.h). A record is tag, length, then the KVM struct's bytes. */
#include "engine/state/snap_cpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/vm_internal.h"
#include "util/err.h"

const size_t snap_vcpu_rec_size[REC_MAX] = {
	[REC_REGS] = sizeof(struct kvm_regs), [REC_XSAVE] = sizeof(struct kvm_xsave),
	[REC_FPU] = sizeof(struct kvm_fpu), [REC_XCRS] = sizeof(struct kvm_xcrs),
	[REC_SREGS] = sizeof(struct kvm_sregs), [REC_MP_STATE] = sizeof(struct kvm_mp_state),
	[REC_LAPIC] = sizeof(struct kvm_lapic_state), [REC_EVENTS] = sizeof(struct kvm_vcpu_events),
	[REC_DEBUGREGS] = sizeof(struct kvm_debugregs),
};

const size_t snap_platform_rec_size[PREC_MAX] = {
	[REC_PIC_MASTER] = sizeof(struct kvm_irqchip), [REC_PIC_SLAVE] = sizeof(struct kvm_irqchip),
	[REC_IOAPIC] = sizeof(struct kvm_irqchip), [REC_PIT2] = sizeof(struct kvm_pit_state2),
	[REC_CLOCK] = sizeof(struct kvm_clock_data),
};

static const char *const rec_names[REC_MAX] = {
	[REC_REGS] = "registers", [REC_XSAVE] = "XSAVE state", [REC_FPU] = "FPU state",
	[REC_XCRS] = "XCRs", [REC_SREGS] = "system registers (sregs)", [REC_MSRS] = "MSRs",
	[REC_MP_STATE] = "run state (mp_state)", [REC_LAPIC] = "LAPIC", [REC_EVENTS] = "pending events",
	[REC_DEBUGREGS] = "debug registers",
};

static void put_rec(struct snap_buf *b, uint32_t tag, const void *p, size_t size)
{
	snap_buf_u32(b, tag);
	snap_buf_u32(b, (uint32_t)size);
	snap_buf_put(b, p, size);
}

/* One vCPU record: read by the accelerator into a zeroed buffer, then kept. */
static int get_vcpu_rec(struct snap_buf *b, struct vcpu *v, uint32_t tag)
{
	size_t size = snap_vcpu_rec_size[tag];
	void *p = calloc(1, size);
	if (!p)
		return err_set(-ENOMEM, "out of memory");
	const struct accel_ops *a = v->acc;
	int r;
	switch (tag) {
	case REC_REGS: r = a->get_regs(v->av, p); break;
	case REC_XSAVE: r = a->get_xsave(v->av, p); break;
	case REC_FPU: r = a->get_fpu(v->av, p); break;
	case REC_XCRS: r = a->get_xcrs(v->av, p); break;
	case REC_SREGS: r = a->get_sregs(v->av, p); break;
	case REC_MP_STATE: r = a->get_mp_state(v->av, p); break;
	case REC_LAPIC: r = a->get_lapic(v->av, p); break;
	case REC_EVENTS: r = a->get_events(v->av, p); break;
	case REC_DEBUGREGS: r = a->get_debugregs(v->av, p); break;
	default: r = -EINVAL; break;
	}
	if (r >= 0)
		put_rec(b, tag, p, size);
	free(p);
	return r < 0 ? err_set(r, "reading vCPU %d's %s: %s", v->index, rec_names[tag], strerror(-r)) : 0;
}

static struct kvm_msrs *msrs_alloc(uint32_t n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	if (m)
		m->nmsrs = n;
	return m;
}

/* The MSRs an accelerator lists and also lets us read, probed one by one
 * once per accelerator and process, so a snapshot reads them all in one call. */
struct msr_set {
	const struct accel_ops *accel;
	uint32_t *list;
	uint32_t count;
};

static struct msr_set msr_sets[4];
static pthread_mutex_t msr_lock = PTHREAD_MUTEX_INITIALIZER;

static int msr_probe(struct vcpu *v, struct msr_set *s)
{
	const struct accel_ops *a = v->acc;
	struct kvm_msr_list probe = { .nmsrs = 0 };
	a->msr_index_list(&probe);
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	uint32_t *list = calloc(probe.nmsrs + 1, sizeof(uint32_t));
	struct kvm_msrs *one = msrs_alloc(1);
	int r = 0;
	if (!l || !list || !one) {
		r = err_set(-ENOMEM, "out of memory");
	} else {
		l->nmsrs = probe.nmsrs;
		r = a->msr_index_list(l);
		if (r < 0)
			r = err_set(r, "listing the %s accelerator's MSRs: %s", a->name, strerror(-r));
		for (uint32_t i = 0; r >= 0 && i < l->nmsrs; i++) {
			one->entries[0].index = l->indices[i];
			if (a->get_msrs(v->av, one) == 1)
				list[s->count++] = l->indices[i];
		}
	}
	free(l);
	free(one);
	if (r < 0) {
		free(list);
		s->count = 0;
		return r;
	}
	s->list = list;
	s->accel = a;
	return 0;
}

static const struct msr_set *msr_set_of(struct vcpu *v)
{
	pthread_mutex_lock(&msr_lock);
	struct msr_set *s = NULL;
	for (size_t i = 0; i < sizeof(msr_sets) / sizeof(msr_sets[0]) && !s; i++)
		if (msr_sets[i].accel == v->acc || (!msr_sets[i].accel && msr_probe(v, &msr_sets[i]) == 0))
			s = &msr_sets[i];
	pthread_mutex_unlock(&msr_lock);
	return s;
}

static int get_msrs(struct snap_buf *b, struct vcpu *v)
{
	const struct msr_set *s = msr_set_of(v);
	if (!s)
		return -EIO;
	struct kvm_msrs *m = msrs_alloc(s->count);
	if (!m)
		return err_set(-ENOMEM, "out of memory");
	for (uint32_t i = 0; i < s->count; i++)
		m->entries[i].index = s->list[i];
	int n = v->acc->get_msrs(v->av, m);
	if (n < 0) {
		free(m);
		return err_set(n, "reading the MSRs of vCPU %d: %s", v->index, strerror(-n));
	}
	snap_buf_u32(b, REC_MSRS);
	snap_buf_u32(b, 4 + 12 * (uint32_t)n);
	snap_buf_u32(b, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		snap_buf_u32(b, m->entries[i].index);
		snap_buf_u64(b, m->entries[i].data);
	}
	free(m);
	return 0;
}

int snap_put_vcpu(struct snap_buf *b, struct vcpu *v)
{
	size_t at = snap_section_begin(b, SNAP_SEC_VCPU);
	snap_buf_u32(b, (uint32_t)v->index);
	const struct accel_ops *a = v->acc;
	int r = get_vcpu_rec(b, v, REC_REGS);
	if (r == 0)
		r = get_vcpu_rec(b, v, a->check_cap(KVM_CAP_XSAVE) ? REC_XSAVE : REC_FPU);
	if (r == 0 && a->check_cap(KVM_CAP_XCRS))
		r = get_vcpu_rec(b, v, REC_XCRS);
	if (r == 0)
		r = get_vcpu_rec(b, v, REC_SREGS);
	if (r == 0)
		r = get_msrs(b, v);
	if (r == 0 && a->check_cap(KVM_CAP_MP_STATE))
		r = get_vcpu_rec(b, v, REC_MP_STATE);
	if (r == 0)
		r = get_vcpu_rec(b, v, REC_LAPIC);
	if (r == 0 && a->check_cap(KVM_CAP_VCPU_EVENTS))
		r = get_vcpu_rec(b, v, REC_EVENTS);
	if (r == 0 && a->check_cap(KVM_CAP_DEBUGREGS))
		r = get_vcpu_rec(b, v, REC_DEBUGREGS);
	snap_section_end(b, at);
	return r;
}

int snap_put_platform(struct snap_buf *b, struct vm *vm)
{
	size_t at = snap_section_begin(b, SNAP_SEC_PLATFORM);
	const struct accel_ops *a = vm->accel;
	int r = 0;
	for (uint32_t chip = 0; r >= 0 && chip < 3; chip++) {
		struct kvm_irqchip c;
		memset(&c, 0, sizeof(c));
		c.chip_id = chip;
		if ((r = a->get_irqchip(vm->avm, &c)) >= 0)
			put_rec(b, REC_PIC_MASTER + chip, &c, sizeof(c));
	}
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	memset(&pit, 0, sizeof(pit));
	memset(&clock, 0, sizeof(clock));
	if (r >= 0 && (r = a->get_pit(vm->avm, &pit)) >= 0)
		put_rec(b, REC_PIT2, &pit, sizeof(pit));
	if (r >= 0 && (r = a->get_clock(vm->avm, &clock)) >= 0)
		put_rec(b, REC_CLOCK, &clock, sizeof(clock));
	snap_section_end(b, at);
	return r < 0 ? err_set(r, "reading the interrupt controllers and clock: %s", strerror(-r)) : 0;
}

/* ---- putting back ---- */

static int set_vcpu_rec(struct vcpu *v, const struct recs *rc, int tag)
{
	if (!rc->p[tag])
		return 0;
	void *p = malloc(rc->len[tag]);
	if (!p)
		return err_set(-ENOMEM, "out of memory");
	memcpy(p, rc->p[tag], rc->len[tag]);
	const struct accel_ops *a = v->acc;
	int r;
	switch (tag) {
	case REC_REGS: r = a->set_regs(v->av, p); break;
	case REC_XSAVE: r = a->set_xsave(v->av, p); break;
	case REC_FPU: r = a->set_fpu(v->av, p); break;
	case REC_XCRS: r = a->set_xcrs(v->av, p); break;
	case REC_SREGS: r = a->set_sregs(v->av, p); break;
	case REC_MP_STATE: r = a->set_mp_state(v->av, p); break;
	case REC_LAPIC: r = a->set_lapic(v->av, p); break;
	case REC_EVENTS:
		/* GET does not claim these as valid, but they are part of the state. */
		((struct kvm_vcpu_events *)p)->flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
							KVM_VCPUEVENT_VALID_SIPI_VECTOR;
		r = a->set_events(v->av, p);
		break;
	case REC_DEBUGREGS: r = a->set_debugregs(v->av, p); break;
	default: r = -EINVAL; break;
	}
	free(p);
	return r < 0 ? err_set(r, "the %s accelerator refuses vCPU %d's %s: %s", a->name, v->index,
			       rec_names[tag], strerror(-r)) : 0;
}

/* SET_MSRS stops at the first MSR it refuses; skip that one and go on, so one
 * MSR this accelerator will not take back does not lose the others. */
static int set_msrs(struct vcpu *v, const struct recs *rc)
{
	if (!rc->p[REC_MSRS])
		return 0;
	uint32_t n;
	memcpy(&n, rc->p[REC_MSRS], 4);
	struct kvm_msrs *m = msrs_alloc(n);
	if (!m)
		return err_set(-ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = rc->p[REC_MSRS] + 4 + 12 * i;
		memcpy(&m->entries[i].index, e, 4);
		memcpy(&m->entries[i].data, e + 4, 8);
	}
	uint32_t done = 0;
	while (done < n) {
		struct kvm_msrs *rest = msrs_alloc(n - done);
		if (!rest)
			break;
		memcpy(rest->entries, m->entries + done, (n - done) * sizeof(struct kvm_msr_entry));
		int got = v->acc->set_msrs(v->av, rest);
		free(rest);
		if (got < 0)
			break;
		done += (uint32_t)got + 1;
	}
	free(m);
	return 0;
}

int snap_apply_vcpu(struct vcpu *v, const struct recs *rc)
{
	int r = 0;
	for (int tag = REC_REGS; r == 0 && tag < REC_MAX; tag++)
		r = tag == REC_MSRS ? set_msrs(v, rc) : set_vcpu_rec(v, rc, tag);
	return r;
}

/* Records point into the file, unaligned: each goes back from an aligned copy. */
static int set_platform_rec(struct vm *vm, const struct recs *rc, int tag)
{
	if (!rc->p[tag])
		return 0;
	union {
		struct kvm_irqchip chip;
		struct kvm_pit_state2 pit;
		struct kvm_clock_data clock;
	} u;
	memset(&u, 0, sizeof(u));
	memcpy(&u, rc->p[tag], rc->len[tag] < sizeof(u) ? rc->len[tag] : sizeof(u));
	const struct accel_ops *a = vm->accel;
	if (tag == REC_PIT2)
		return a->set_pit(vm->avm, &u.pit);
	if (tag == REC_CLOCK) {
		u.clock.flags = 0;
		return a->set_clock(vm->avm, &u.clock);
	}
	return a->set_irqchip(vm->avm, &u.chip);
}

int snap_apply_platform(struct vm *vm, const struct recs *rc)
{
	int r = 0;
	for (int tag = REC_PIC_MASTER; r >= 0 && tag < PREC_MAX; tag++)
		r = set_platform_rec(vm, rc, tag);
	return r < 0 ? err_set(r, "putting back the interrupt controllers and clock: %s", strerror(-r)) : 0;
}
