/* soft: what the engine may call on the soft accelerator besides the
 * `accel_soft` table of accel.h. Kept tiny on purpose: everything else goes
 * through the seam. */
#ifndef HVWB_SOFT_H
#define HVWB_SOFT_H

#include <stdint.h>

struct accel_vm;
struct accel_vcpu;

/* Instructions the vCPU has retired since it was created (a `rep` string
 * instruction counts once, when it completes). Exact and deterministic: the
 * basis of reverse execution. Call it from the vCPU's thread or while the
 * vCPU is stopped. */
uint64_t soft_vcpu_insn_count(struct accel_vcpu *v);

/* The VMM wrote guest RAM [gpa, gpa + len) through its own pointer. Writes
 * made while a vCPU is out of vcpu_run (a planted breakpoint, a device's DMA
 * answering an exit, a snapshot restore) are found without this call: a
 * decoded block compares its bytes with memory the first time it runs in a
 * new vcpu_run. Call it for writes made while vCPUs run (another thread's
 * DMA); it drops every vCPU's decoded blocks. Safe from any thread. */
void soft_vm_ram_written(struct accel_vm *vm, uint64_t gpa, uint64_t len);

#endif
