/* soft_state: the vCPU register get/set calls of accel_soft (soft_state.c). */
#ifndef HVWB_SOFT_STATE_H
#define HVWB_SOFT_STATE_H

#include <linux/kvm.h>

struct accel_vcpu;

int soft_get_regs(struct accel_vcpu *c, struct kvm_regs *r);
int soft_set_regs(struct accel_vcpu *c, const struct kvm_regs *r);
int soft_get_sregs(struct accel_vcpu *c, struct kvm_sregs *s);
int soft_set_sregs(struct accel_vcpu *c, const struct kvm_sregs *s);
int soft_get_fpu(struct accel_vcpu *c, struct kvm_fpu *f);
int soft_set_fpu(struct accel_vcpu *c, const struct kvm_fpu *f);
int soft_get_xsave(struct accel_vcpu *c, struct kvm_xsave *x);
int soft_set_xsave(struct accel_vcpu *c, const struct kvm_xsave *x);
int soft_get_xcrs(struct accel_vcpu *c, struct kvm_xcrs *x);
int soft_set_xcrs(struct accel_vcpu *c, const struct kvm_xcrs *x);
int soft_get_msrs(struct accel_vcpu *c, struct kvm_msrs *m);
int soft_set_msrs(struct accel_vcpu *c, const struct kvm_msrs *m);
int soft_get_events(struct accel_vcpu *c, struct kvm_vcpu_events *e);
int soft_set_events(struct accel_vcpu *c, const struct kvm_vcpu_events *e);
int soft_get_mp_state(struct accel_vcpu *c, struct kvm_mp_state *mp);
int soft_set_mp_state(struct accel_vcpu *c, const struct kvm_mp_state *mp);
int soft_get_lapic(struct accel_vcpu *c, struct kvm_lapic_state *l);
int soft_set_lapic(struct accel_vcpu *c, const struct kvm_lapic_state *l);
int soft_get_debugregs(struct accel_vcpu *c, struct kvm_debugregs *d);
int soft_set_debugregs(struct accel_vcpu *c, const struct kvm_debugregs *d);
int soft_set_guest_debug(struct accel_vcpu *c, const struct kvm_guest_debug *g);
int soft_set_cpuid(struct accel_vcpu *c, const struct kvm_cpuid2 *cpuid);
int soft_get_cpuid(struct accel_vcpu *c, struct kvm_cpuid2 *cpuid);

#endif
