/* fuzz_bzimage: the Linux boot protocol on a buffer, no VM: linux_parse_header,
 * then linux_load_buffer (setup header, zero page, command line, e820 map,
 * initrd placement, kallsyms) into guest RAM allocated at exactly its size,
 * plus linux_e820 and linux_place_initrd on numbers taken from the input.
 * Input: 4 control bytes, then the kernel image.
 *   byte 0  bits 0-1: guest RAM 1, 2, 4 or 8 MiB; bit 2: collect symbols;
 *           bits 3-4: how (auto, vmlinux, bzimage, auto); bit 5: high RAM
 *   byte 1  command line length (0: none), taken from the image's first bytes
 *   byte 2  initrd length in KiB (0: none)
 *   byte 3  seed for the e820 / initrd placement numbers */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/boot/linux.h"
#include "engine/debug/symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t pick(uint8_t seed, int k)
{
	static const uint64_t v[8] = { 0, 1, 0xfff, 0x9fc00, 1u << 20, 0x7fffffff,
				       0xffffffffull, UINT64_MAX };
	return v[(seed >> (k * 2)) & 7] + (uint64_t)((seed >> k) & 1) * 0x1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint8_t c0 = data[0], clen = data[1], ikib = data[2], seed = data[3];
	const uint8_t *img = data + 4;
	size_t len = size - 4;

	struct linux_header h;
	linux_parse_header(img, len, &h);

	struct e820_entry e[BP_E820_MAX];
	linux_e820(pick(seed, 0), pick(seed, 1), e, (seed & 7) + 1);
	uint64_t at;
	linux_place_initrd(pick(seed, 2), pick(seed, 3), pick(seed, 1), pick(seed, 0), &at);

	uint64_t ram_size = (1ull << 20) << (c0 & 3);
	struct guest_ram ram = { calloc(1, ram_size), ram_size };
	char *cmdline = NULL;
	uint8_t *initrd = NULL;
	if (!ram.host)
		return 0;
	if (clen) {
		cmdline = malloc(clen + 1u);
		size_t n = clen < len ? clen : len;
		memcpy(cmdline, img, n);
		cmdline[n] = '\0';
	}
	size_t ilen = (size_t)ikib << 10;
	if (ilen) {
		initrd = malloc(ilen);
		memset(initrd, 0xab, ilen);
	}
	static const enum linux_how hows[4] = { LINUX_AUTO, LINUX_VMLINUX, LINUX_BZIMAGE, LINUX_AUTO };
	struct linux_opts o = {
		.cmdline = cmdline, .initrd = initrd, .initrd_len = ilen,
		.how = hows[(c0 >> 3) & 3], .high_size = (c0 & 0x20) ? (1ull << 30) : 0,
	};
	struct symtab *syms = (c0 & 4) ? sym_create() : NULL;
	struct boot_plan plan;
	struct linux_info info;
	linux_load_buffer(&ram, img, len, &o, &plan, syms, &info);
	sym_destroy(syms);
	free(initrd);
	free(cmdline);
	free(ram.host);
	return 0;
}
