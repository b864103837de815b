/* linux: the Linux x86 boot protocol, as Documentation/x86/boot.rst and
 * zero-page.rst describe it. A bzImage is a real-mode setup part, then the
 * protected-mode kernel, which is a decompressor around the compressed vmlinux
 * (the "payload"). Two ways in, both through the 64-bit boot protocol (long
 * mode, identity-mapped page tables, __BOOT_CS 0x10 / __BOOT_DS 0x18, RSI =
 * zero page): at the decompressor's 64-bit entry (load address + 0x200), or,
 * since that decompressor runs instruction by instruction where ring 0 is
 * emulated, at the vmlinux ELF the host took out of the payload (startup_64 at
 * its physical entry). Everything to write (kernel, zero page, command line,
 * initrd) becomes pieces of one loader_set, checked together before any byte
 * is written. */
#include "engine/boot/linux.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/le.h"
#include "engine/boot/loader_int.h"

#define HDRS_MAGIC 0x53726448u     /* "HdrS" */
#define XLF_KERNEL_64 0x1
#define LOADED_HIGH 0x1
#define MIN_VERSION 0x0206
#define LOW_RAM_END 0x9fc00ull      /* conventional memory below the EBDA */
#define BIOS_START 0xf0000ull
#define ONE_MIB 0x100000ull
#define FOUR_GIB 0x100000000ull
#define DEFAULT_INITRD_MAX 0x37ffffffu  /* boot.rst: for protocols before 2.03 */
#define ELF_CMDLINE_SIZE 2047u          /* COMMAND_LINE_SIZE - 1 on x86 */

static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };


static void version_word(const uint8_t *buf, size_t len, size_t at, char *out, size_t cap)
{
	size_t n = 0;
	while (at + n < len && n + 1 < cap && buf[at + n] > ' ' && buf[at + n] < 0x7f)
		n++;
	memcpy(out, buf + at, n);
	out[n] = '\0';
}

static int check_sizes(size_t len, struct linux_header *h)
{
	h->pm_offset = ((size_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	if (h->pm_offset >= len)
		return err_set(-EINVAL, "truncated bzImage: %zu bytes, not more than its %zu-byte setup "
			       "part", len, h->pm_offset);
	h->pm_size = len - h->pm_offset;
	if ((uint64_t)h->syssize * 16 > h->pm_size)
		return err_set(-EINVAL, "truncated bzImage: the header says the kernel has %llu bytes, "
			       "the file holds %zu after the setup part",
			       (unsigned long long)h->syssize * 16, h->pm_size);
	if (h->version >= 0x0208 && h->payload_length &&
	    ((uint64_t)h->payload_offset + h->payload_length > h->pm_size))
		return err_set(-EINVAL, "corrupt bzImage: the payload (offset 0x%x, %u bytes) runs past "
			       "the end of the file", h->payload_offset, h->payload_length);
	return 0;
}

int linux_parse_header(const uint8_t *buf, size_t len, struct linux_header *h)
{
	memset(h, 0, sizeof(*h));
	if (len < HDR_MAGIC + 4 || le_get32(buf + HDR_MAGIC) != HDRS_MAGIC)
		return err_set(-ENOEXEC, "not a Linux kernel: no \"HdrS\" boot header at 0x202 and no ELF magic");
	h->version = le_get16(buf + HDR_VERSION);
	if (h->version < MIN_VERSION)
		return err_set(-EINVAL, "boot protocol %u.%02u is older than 2.06, which hvwb needs",
			       h->version >> 8, h->version & 0xff);
	if (len < 0x268)
		return err_set(-EINVAL, "truncated bzImage: %zu bytes, not even the whole setup header", len);
	if (le_get16(buf + HDR_BOOT_FLAG) != 0xaa55)
		return err_set(-EINVAL, "corrupt bzImage: boot_flag at 0x1fe is 0x%04x, not 0xaa55",
			       le_get16(buf + HDR_BOOT_FLAG));
	h->setup_sects = buf[HDR_SETUP_SECTS];
	h->syssize = le_get32(buf + 0x1f4);
	h->loadflags = buf[HDR_LOADFLAGS];
	h->initrd_addr_max = h->version >= 0x0203 ? le_get32(buf + 0x22c) : DEFAULT_INITRD_MAX;
	h->kernel_alignment = le_get32(buf + 0x230);
	h->relocatable = buf[0x234];
	h->xloadflags = h->version >= 0x020c ? le_get16(buf + 0x236) : 0;
	h->cmdline_size = le_get32(buf + 0x238);
	h->payload_offset = le_get32(buf + 0x248);
	h->payload_length = le_get32(buf + 0x24c);
	h->pref_address = h->version >= 0x020a ? le_get64(buf + 0x258) : ONE_MIB;
	h->init_size = h->version >= 0x020a ? le_get32(buf + 0x260) : 0;
	h->hdr_len = (size_t)0x202 + buf[0x201] - BP_HDR;   /* the jump at 0x200 skips the header */
	if (h->hdr_len > HDR_END - BP_HDR)
		h->hdr_len = HDR_END - BP_HDR;
	size_t kv = (size_t)le_get16(buf + HDR_KERNEL_VERSION) + 0x200;
	if (le_get16(buf + HDR_KERNEL_VERSION) && kv < len)
		version_word(buf, len, kv, h->kernel_version, sizeof(h->kernel_version));
	return check_sizes(len, h);
}

int linux_e820(uint64_t low, uint64_t high, struct e820_entry *out, int max)
{
	struct e820_entry all[5];
	int n = 0;
	all[n++] = (struct e820_entry){ 0, low < LOW_RAM_END ? low : LOW_RAM_END, E820_RAM };
	all[n++] = (struct e820_entry){ LOW_RAM_END, 0xa0000 - LOW_RAM_END, E820_RESERVED };
	all[n++] = (struct e820_entry){ BIOS_START, ONE_MIB - BIOS_START, E820_RESERVED };
	if (low > ONE_MIB)
		all[n++] = (struct e820_entry){ ONE_MIB, low - ONE_MIB, E820_RAM };
	if (high)
		all[n++] = (struct e820_entry){ FOUR_GIB, high, E820_RAM };
	if (n > max)
		n = max;
	memcpy(out, all, (size_t)n * sizeof(*out));
	return n;
}

int linux_place_initrd(uint64_t ram_end, uint64_t limit, uint64_t kernel_hi, uint64_t size,
		       uint64_t *addr)
{
	char sz[32];
	uint64_t top = limit < ram_end ? limit : ram_end;
	uint64_t at = size <= top ? (top - size) & ~0xfffull : 0;
	if (size > top || at < kernel_hi)
		return err_set(-E2BIG, "the initrd (%s) does not fit between the kernel's end 0x%llx and "
			       "0x%llx (the end of RAM below 4 GiB or the kernel's initrd_addr_max): give "
			       "the VM more memory", loader_size_str(size, sz, sizeof(sz)),
			       (unsigned long long)kernel_hi, (unsigned long long)top);
	*addr = at;
	return 0;
}

/* The zero page: the image's setup header (or a made-up one for a bare ELF),
 * what the loader fills in, and the e820 map. */
static void build_params(uint8_t *zp, const uint8_t *image, const struct linux_header *h,
			 const struct linux_info *info,
			 const struct guest_ram *ram, uint64_t high)
{
	memset(zp, 0, 4096);
	if (h->version) {
		memcpy(zp + BP_HDR, image + BP_HDR, h->hdr_len);
	} else {
		le_put16(zp + HDR_BOOT_FLAG, 0xaa55);
		le_put32(zp + HDR_MAGIC, HDRS_MAGIC);
		le_put16(zp + HDR_VERSION, 0x020f);
		le_put32(zp + 0x22c, 0x7fffffff);
	}
	zp[HDR_TYPE_OF_LOADER] = 0xff;               /* "undefined" boot loader */
	zp[HDR_LOADFLAGS] |= LOADED_HIGH;
	le_put16(zp + 0x1fa, 0xffff);                    /* vid_mode: normal */
	le_put32(zp + HDR_CMD_LINE_PTR, (uint32_t)LINUX_CMDLINE_ADDR);
	le_put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)info->initrd_addr);
	le_put32(zp + HDR_RAMDISK_SIZE, (uint32_t)info->initrd_size);
	le_put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(info->initrd_addr >> 32));
	le_put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(info->initrd_size >> 32));
	struct e820_entry e[BP_E820_MAX];
	int n = linux_e820(ram->size, high, e, BP_E820_MAX);
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		le_put64(zp + BP_E820_TABLE + 20 * (size_t)i, e[i].addr);
		le_put64(zp + BP_E820_TABLE + 20 * (size_t)i + 8, e[i].size);
		le_put32(zp + BP_E820_TABLE + 20 * (size_t)i + 16, e[i].type);
	}
}

/* What one load keeps between its steps. */
struct linux_load {
	struct loader_set set;
	struct loader_elf_info elf;
	struct linux_header hdr;
	uint8_t *vmlinux;               /* extracted from the payload, or NULL */
	size_t vmlinux_len;
	uint8_t zp[4096];
	uint64_t entry;
	int nkernel;                    /* pieces of the kernel itself */
};

static bool payload_is_xz(const uint8_t *buf, const struct linux_header *h)
{
	return h->version >= 0x0208 && h->payload_length >= sizeof(xz_magic) &&
	       memcmp(buf + h->pm_offset + h->payload_offset, xz_magic, sizeof(xz_magic)) == 0;
}

static int extract(const uint8_t *buf, struct linux_load *l)
{
	const uint8_t *p = buf + l->hdr.pm_offset + l->hdr.payload_offset;
	int r = linux_xz_extract(p, l->hdr.payload_length, &l->vmlinux, &l->vmlinux_len);
	return r < 0 ? err_wrap(r, "the bzImage's payload") : 0;
}

static int add_elf_kernel(const uint8_t *elf, size_t len, bool want_syms, struct linux_load *l)
{
	int r = loader_elf_parse(elf, len, want_syms, &l->set, &l->elf);
	if (r == 0 && l->elf.elfclass != ELFCLASS64)
		r = err_set(-ENOEXEC, "a 32-bit ELF: only x86-64 kernels (vmlinux) boot this way");
	l->entry = l->elf.entry;
	l->nkernel = l->set.n;
	return r;
}

static int add_bzimage_kernel(const uint8_t *buf, struct linux_load *l)
{
	const struct linux_header *h = &l->hdr;
	if (!(h->xloadflags & XLF_KERNEL_64))
		return err_set(-EINVAL, "this bzImage has no 64-bit entry point (xloadflags 0x%x, "
			       "protocol %u.%02u): hvwb enters kernels in long mode", h->xloadflags,
			       h->version >> 8, h->version & 0xff);
	uint64_t at = h->pref_address;
	if (h->kernel_alignment && at % h->kernel_alignment)
		return err_set(-EINVAL, "corrupt bzImage: pref_address 0x%llx is not aligned to "
			       "kernel_alignment 0x%x", (unsigned long long)at, h->kernel_alignment);
	uint64_t memsz = h->init_size > h->pm_size ? h->init_size : h->pm_size;
	l->entry = at + 0x200;
	l->nkernel = 1;
	return loader_set_add(&l->set, at, buf + h->pm_offset, h->pm_size, memsz,
			      "kernel (init_size)");
}

/* Which way in, and the kernel's pieces. */
static int add_kernel(const uint8_t *buf, size_t len, const struct linux_opts *o, bool want_syms,
		      struct linux_load *l, struct linux_info *info)
{
	if (len >= 4 && memcmp(buf, "\177ELF", 4) == 0)
		return add_elf_kernel(buf, len, want_syms, l);
	int r = linux_parse_header(buf, len, &l->hdr);
	if (r < 0)
		return r;
	info->version = l->hdr.version;
	snprintf(info->kernel_version, sizeof(info->kernel_version), "%s", l->hdr.kernel_version);
	bool xz = payload_is_xz(buf, &l->hdr);
	if (o->how == LINUX_VMLINUX && !xz)
		return err_set(-ENOTSUP, "the bzImage's payload is not xz-compressed: hvwb can only "
			       "take the vmlinux out of xz payloads; use how = \"bzimage\"");
	/* Symbols need the ELF even when the guest decompresses. */
	if (xz && (o->how != LINUX_BZIMAGE || want_syms) && (r = extract(buf, l)) < 0)
		return r;
	if (o->how == LINUX_BZIMAGE || !xz) {
		info->guest_decompresses = true;
		return add_bzimage_kernel(buf, l);
	}
	return add_elf_kernel(l->vmlinux, l->vmlinux_len, want_syms, l);
}

static int add_boot_data(const uint8_t *buf, const struct guest_ram *ram,
			 const struct linux_opts *o, struct linux_load *l, struct linux_info *info)
{
	const char *cmd = o->cmdline ? o->cmdline : "";
	size_t clen = strlen(cmd);
	uint32_t max = l->hdr.version >= 0x0206 ? l->hdr.cmdline_size : ELF_CMDLINE_SIZE;
	if (clen > max || clen > LINUX_CMDLINE_MAX)
		return err_set(-E2BIG, "the command line has %zu bytes; this kernel takes at most %u",
			       clen, max);
	loader_set_extent(&l->set, l->nkernel, &info->kernel_lo, &info->kernel_hi);
	int r = 0;
	if (o->initrd) {
		uint64_t limit = (l->hdr.version ? l->hdr.initrd_addr_max : 0x7fffffffu) + 1ull;
		info->initrd_size = o->initrd_len;
		r = linux_place_initrd(ram->size, limit, info->kernel_hi, o->initrd_len, &info->initrd_addr);
		if (r == 0)
			r = loader_set_add(&l->set, info->initrd_addr, o->initrd, o->initrd_len,
					   o->initrd_len, "initrd");
	}
	build_params(l->zp, buf, &l->hdr, info, ram, o->high_size);
	if (r == 0)
		r = loader_set_add(&l->set, LINUX_PARAMS_ADDR, l->zp, sizeof(l->zp), sizeof(l->zp),
				   "zero page (boot_params)");
	if (r == 0)
		r = loader_set_add(&l->set, LINUX_CMDLINE_ADDR, cmd, clen, clen + 1, "command line");
	return r;
}

/* ELF symbols when the file has them, else the kernel's own kallsyms. */
static int add_symbols(const uint8_t *buf, size_t len, struct linux_load *l,
		       struct symtab *syms, struct linux_info *info)
{
	const uint8_t *elf = l->vmlinux ? l->vmlinux : buf;
	size_t elen = l->vmlinux ? l->vmlinux_len : len;
	int r = 0;
	if (l->elf.syms && sym_count(l->elf.syms) > 0)
		info->nsyms = (int)sym_count(l->elf.syms);
	else if (elen >= 4 && memcmp(elf, "\177ELF", 4) == 0 &&
		 (r = sym_load_kallsyms(syms, elf, elen)) > 0)
		info->nsyms = r;
	if (!info->kernel_version[0]) {
		const uint8_t *v = memmem(elf, elen, "Linux version ", 14);
		if (v)
			version_word(elf, elen, (size_t)(v - elf) + 14, info->kernel_version,
				     sizeof(info->kernel_version));
	}
	return r < 0 && r != -ENOENT ? r : 0;
}

static void fill_plan(const struct linux_load *l, struct boot_plan *plan, const struct linux_info *info)
{
	memset(plan, 0, sizeof(*plan));
	plan->mode = MODE_LONG64;
	plan->entry = l->entry;
	plan->rsi = LINUX_PARAMS_ADDR;
	plan->linux_selectors = true;
	plan->load_lo = info->kernel_lo;
	plan->load_hi = info->kernel_hi;
}

int linux_load_buffer(struct guest_ram *ram, const uint8_t *kernel, size_t len,
		      const struct linux_opts *o, struct boot_plan *plan,
		      struct symtab *syms, struct linux_info *info)
{
	if (!ram || !kernel || !o || !plan || !info)
		return err_set(-EINVAL, "linux_load_buffer: missing argument");
	struct linux_load *l = calloc(1, sizeof(*l));
	if (!l)
		return err_set(-ENOMEM, "out of memory");
	memset(info, 0, sizeof(*info));
	int r = add_kernel(kernel, len, o, syms != NULL, l, info);
	if (r == 0)
		r = add_boot_data(kernel, ram, o, l, info);
	if (r == 0)
		r = loader_set_check(ram, &l->set, true);
	if (r == 0 && syms)
		r = add_symbols(kernel, len, l, syms, info);
	if (r == 0) {
		r = loader_finish(ram, &l->set, &l->elf, syms);
		fill_plan(l, plan, info);
	}
	sym_destroy(l->elf.syms);
	loader_set_free(&l->set);
	free(l->vmlinux);
	free(l);
	return r;
}
