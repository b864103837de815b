/* test_dirty: snap_mem_dirty, the "dirtied since the last snapshot" figure of
 * the dashboard: none before a snapshot, the pages written after one, and
 * nothing again right after the next, on the accelerator of HVWB_ACCEL. */
#include "util/err.h"
#include "engine/state/snapshot.h"
#include "engine/core/vm.h"
#include <errno.h>
#include <stdlib.h>

#include "tap.h"

int main(void)
{
	tap_plan(5);
	struct vm_config cfg = { .name = "dirty", .mem_size = 4u << 20, .vcpus = 1, .accel = getenv("HVWB_ACCEL") };
	struct vm *vm;
	if (vm_create(&cfg, &vm) < 0) {
		ok(0, "vm_create: %s", err_msg());
		return tap_done();
	}
	uint64_t bytes = 0;
	ok(snap_mem_dirty(vm, &bytes) == -ENOENT, "no figure before the first snapshot: %s", err_msg());
	struct snap *s;
	ok(snap_take(vm, "s", &s) == 0, "a snapshot");
	int r = snap_mem_dirty(vm, &bytes);
	ok(r == 0 && bytes == 0, "nothing dirty right after it (%llu)", (unsigned long long)bytes);
	char page[4096] = "written";
	vm_mem_write(vm, 0x10000, page, sizeof(page));
	vm_mem_write(vm, 0x30000, page, 8);
	r = snap_mem_dirty(vm, &bytes);
	ok(r == 0 && bytes == 2 * 4096, "two pages written: 8 KiB dirty (%llu)",
	   (unsigned long long)bytes);
	snap_take(vm, "t", &s);
	r = snap_mem_dirty(vm, &bytes);
	ok(r == 0 && bytes == 0, "the next snapshot starts from zero (%llu)",
	   (unsigned long long)bytes);
	vm_destroy(vm);
	return tap_done();
}
