/* fuzz_loader: the raw/ELF/multiboot loader on a buffer (loader_load_buffer),
 * into guest RAM allocated at exactly its size so ASan sees any write past it,
 * then boot_prepare on the plan it made. Input: one control byte, then the file.
 *   bits 0-1  format: auto, raw, ELF, multiboot
 *   bits 2-3  guest RAM: 64 KiB, 1 MiB, 2 MiB, 4 MiB
 *   bit  4    collect ELF symbols into a symtab
 *   bit  5    raw: load at 0x10000, entry 0x10010 (else the defaults)
 *   bits 6-7  mode: from the format, real, protected, long */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/boot/boot.h"
#include "engine/boot/loader.h"
#include "engine/debug/symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t ram_sizes[4] = { 64u << 10, 1u << 20, 2u << 20, 4u << 20 };
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	struct guest_ram ram = { calloc(1, ram_sizes[(ctl >> 2) & 3]), ram_sizes[(ctl >> 2) & 3] };
	if (!ram.host)
		return 0;
	struct load_opts o;
	load_opts_init(&o);
	o.format = (enum loader_format)(ctl & 3);
	if (ctl & 0x20) {
		o.addr = 0x10000;
		o.entry = 0x10010;
	}
	o.mode = (ctl >> 6) == 0 ? -1 : (int)(ctl >> 6) - 1;
	o.cmdline = (ctl & 0x10) ? "fuzz cmdline" : NULL;
	struct symtab *syms = (ctl & 0x10) ? sym_create() : NULL;
	struct boot_plan plan;
	memset(&plan, 0, sizeof(plan));
	int rc = loader_load_buffer(&ram, data + 1, size - 1, "fuzz.bin", &o, &plan, syms);
	if (rc == 0) {
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		memset(&regs, 0, sizeof(regs));
		memset(&sregs, 0, sizeof(sregs));
		boot_prepare(&ram, &plan, &regs, &sregs);
		if (syms && sym_count(syms)) {
			uint64_t off, addr;
			const char *n = sym_name_at(syms, 0, &addr);
			sym_lookup(syms, plan.entry, &off);
			if (n)
				sym_resolve(syms, n, &addr);
		}
	}
	sym_destroy(syms);
	free(ram.host);
	return 0;
}
