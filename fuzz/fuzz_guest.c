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

#include "fuzz/fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CODE 0x1000u

static uint8_t image[0x10000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const uint8_t *code = data + 1;
	size_t n = size - 1;
	for (size_t at = 0; at < sizeof(image); at += n)
		memcpy(image + at, code, n < sizeof(image) - at ? n : sizeof(image) - at);
	memcpy(image + CODE, code, n < sizeof(image) - CODE ? n : sizeof(image) - CODE);
	struct vm *vm = fuzz_vm_new(1, image, sizeof(image), CODE, data[0] & 1);
	struct vm_stop stop;
	if (vm_run(vm, 5, &stop) < 0 || vm_state(vm) == VM_RUNNING)
		__builtin_trap();
	vm_destroy(vm);
	return 0;
}
