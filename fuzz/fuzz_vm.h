/* fuzz_vm.h: an engine VM on the soft accelerator for the fuzz targets that
 * drive the whole engine (fuzz_guest, fuzz_gdbstub): 1 MiB of RAM holding
 * `code` at gpa 0, vCPU 0 at `entry` in real mode (CS base 0) or in 32-bit
 * flat protected mode without descriptor tables (the first segment load or
 * fault ends it). */
#ifndef FUZZ_VM_H
#define FUZZ_VM_H

#include <stdbool.h>
#include <stdlib.h>

#include "engine/core/vm.h"

static inline struct kvm_segment fuzz_flat(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				     .present = 1, .db = 1, .s = 1, .g = 1 };
}

static inline struct vm *fuzz_vm_new(int vcpus, const void *code, size_t len, uint64_t entry, bool prot32)
{
	struct vm_config cfg = { .name = "fuzz", .mem_size = 1u << 20, .vcpus = vcpus, .accel = "soft" };
	struct vm *vm;
	struct kvm_regs r;
	struct kvm_sregs s;
	if (vm_create(&cfg, &vm) < 0 || vm_mem_write(vm, 0, code, len) < 0 ||
	    vm_get_regs(vm, 0, &r) < 0 || vm_get_sregs(vm, 0, &s) < 0)
		abort();
	r.rip = entry;
	r.rsp = 0x8000;
	if (prot32) {
		s.cr0 |= 1;
		s.cs = fuzz_flat(0x08, 0xb);
		s.ds = s.es = s.fs = s.gs = s.ss = fuzz_flat(0x10, 0x3);
		s.gdt.limit = 0;
	} else {
		s.cs.base = 0;
		s.cs.selector = 0;
	}
	if (vm_set_sregs(vm, 0, &s) < 0 || vm_set_regs(vm, 0, &r) < 0)
		abort();
	return vm;
}

#endif
