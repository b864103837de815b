/* fuzz_guest: a hostile guest on the whole engine: a soft VM made by
 * vm_create, with hvwb's own devices (the UART, the debug exit) on its bus
 * and the run loop's exit handling, statistics and idle checks, run by
 * vm_run with a 5 ms limit. Whatever the guest does, vm_run must come back
 * with a stop (exit, hlt, crash, timeout...), the VM must not be running
 * after it, and the engine must neither crash nor leak.
 *
 * Input: byte 0 bit 0 picks real mode or 32-bit flat protected mode (no
 * paging, no IDT: the first exception is a triple fault); the rest is the
 * code, at 0x1000 and repeated through the first 64 KiB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CODE 0x1000u

static uint8_t image[0x10000];

static struct kvm_segment flat(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				     .present = 1, .db = 1, .s = 1, .g = 1 };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const uint8_t *code = data + 1;
	size_t n = size - 1;
	for (size_t at = 0; at < sizeof(image); at += n)
		memcpy(image + at, code, n < sizeof(image) - at ? n : sizeof(image) - at);
	struct vm_config cfg = { .name = "fuzz", .mem_size = 1u << 20, .vcpus = 1, .accel = "soft" };
	struct vm *vm;
	if (vm_create(&cfg, &vm) < 0)
		abort();
	struct kvm_regs r;
	struct kvm_sregs s;
	vm_mem_write(vm, 0, image, sizeof(image));
	vm_get_regs(vm, 0, &r);
	vm_get_sregs(vm, 0, &s);
	r.rip = CODE;
	r.rsp = 0x8000;
	if (data[0] & 1) {
		s.cr0 |= 1;
		s.cs = flat(0x08, 0xb);
		s.ds = s.es = s.fs = s.gs = s.ss = flat(0x10, 0x3);
		s.gdt.limit = 0;    /* no descriptor tables: the first reload or fault ends it */
	} else {
		s.cs.base = 0;
		s.cs.selector = 0;
	}
	if (vm_set_sregs(vm, 0, &s) < 0 || vm_set_regs(vm, 0, &r) < 0)
		abort();
	struct vm_stop stop;
	if (vm_run(vm, 5, &stop) < 0 || vm_state(vm) == VM_RUNNING)
		__builtin_trap();
	vm_destroy(vm);
	return 0;
}
