/* fuzz_snaprestore: a hostile snapshot file loaded the way wb.load loads one
 * (snap_load: file checks, a new VM of the size the file gives, memory, the
 * vCPU and platform records handed to the accelerator, devices), into a
 * soft VM, which then runs for 5 ms. A file is refused with a message or
 * loaded; a loaded VM must run and stop; nothing may crash, leak or hang.
 * Input: one control byte (bit 1: recompute the section CRCs first, see
 * fuzz_snap.h), then the file, which reaches snap_load through a memfd. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/core/vm.h"
#include "engine/state/snapshot.h"
#include "fuzz/fuzz_snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len = size - 1;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if (data[0] & 2)
		fix_crcs(buf, len);
	int fd = memfd_create("snap", MFD_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		abort();
	free(buf);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct vm *vm;
	if (snap_load(path, "fuzz", "soft", &vm) == 0) {
		struct vm_stop stop;
		if (vm_run(vm, 5, &stop) == 0 && vm_state(vm) == VM_RUNNING)
			__builtin_trap();
		vm_destroy(vm);
	}
	close(fd);
	return 0;
}
