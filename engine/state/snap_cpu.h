/* snap_cpu: the records of a snapshot that the accelerator holds, for each
 * vCPU (registers, FPU, MSRs, LAPIC, events...) and for the platform (PIC,
 * IOAPIC, PIT, clock), taken and put back through the accelerator seam in
 * KVM's layouts, so a snapshot is the same file whichever CPU wrote it. */
#ifndef HVWB_SNAP_CPU_H
#define HVWB_SNAP_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "engine/state/snapshot.h"

struct vm;
struct vcpu;

/* Records of a VCPU section, in the order they are put back (QEMU's order:
 * registers before the special registers, MSRs before the LAPIC, events last). */
enum {
	REC_REGS = 1, REC_XSAVE, REC_FPU, REC_XCRS, REC_SREGS, REC_MSRS, REC_MP_STATE,
	REC_LAPIC, REC_EVENTS, REC_DEBUGREGS, REC_MAX,
};
/* Records of the PLATFORM section. */
enum { REC_PIC_MASTER = 1, REC_PIC_SLAVE, REC_IOAPIC, REC_PIT2, REC_CLOCK, PREC_MAX };

/* The records of one section, as found in a file (pointers into it). */
struct recs {
	const uint8_t *p[REC_MAX];
	uint32_t len[REC_MAX];
};

/* The size each record has (0: variable), for checking a file. */
extern const size_t snap_vcpu_rec_size[REC_MAX];
extern const size_t snap_platform_rec_size[PREC_MAX];

int snap_put_vcpu(struct snap_buf *b, struct vcpu *v);
int snap_put_platform(struct snap_buf *b, struct vm *vm);
int snap_apply_vcpu(struct vcpu *v, const struct recs *rc);
int snap_apply_platform(struct vm *vm, const struct recs *rc);

#endif
