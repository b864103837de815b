/* test_loader: the program loaders on a plain 64 MiB buffer, no KVM. ELF and
 * multiboot images are built byte by byte here, then loaded, then checked in
 * guest RAM; broken variants must be refused with a message naming the problem
 * and without a single byte written. Run under ASan, the truncation sweep also
 * proves no read goes past the end of a file. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "engine/boot/loader.h"
#include "tap.h"

#define MiB (1ull << 20)
#define RAM_SIZE (64 * MiB)

static struct guest_ram ram_new(uint64_t size)
{
	struct guest_ram r = { calloc(1, size), size };
	if (!r.host) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return r;
}

static void rc_ok(int rc, const char *what)
{
	if (!ok(rc == 0, "%s", what))
		printf("#   rc %d: %s\n", rc, err_msg());
}

static int ram_is_zero(const struct guest_ram *r)
{
	for (uint64_t i = 0; i < r->size; i += 8) {
		uint64_t v;
		memcpy(&v, r->host + i, 8);
		if (v)
			return 0;
	}
	return 1;
}

static uint32_t rd32(const struct guest_ram *r, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, r->host + gpa, 4);
	return v;
}

static uint64_t rd64(const struct guest_ram *r, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, r->host + gpa, 8);
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint8_t pat(int seg, uint64_t k)
{
	return (uint8_t)((seg * 37 + k * 7) | 1);
}

struct seg {
	uint32_t type;
	uint64_t off, vaddr, paddr, filesz, memsz;
};

/* An ELF executable with the given program headers; each segment's file bytes
 * are filled with pat(i, k). Returns the file length. */
static size_t make_elf(uint8_t *b, size_t cap, int cls, uint16_t mach, uint16_t etype,
		       uint64_t entry, const struct seg *s, int n)
{
	size_t len = 0;
	memset(b, 0, cap);
	unsigned char ident[EI_NIDENT] = { 0x7f, 'E', 'L', 'F', cls == 64 ? ELFCLASS64 : ELFCLASS32,
					   ELFDATA2LSB, EV_CURRENT };
	if (cls == 64) {
		Elf64_Ehdr e = { 0 };
		memcpy(e.e_ident, ident, EI_NIDENT);
		e.e_type = etype; e.e_machine = mach; e.e_version = EV_CURRENT;
		e.e_entry = entry; e.e_phoff = sizeof(e); e.e_ehsize = sizeof(e);
		e.e_phentsize = sizeof(Elf64_Phdr); e.e_phnum = (uint16_t)n;
		memcpy(b, &e, sizeof(e));
		for (int i = 0; i < n; i++) {
			Elf64_Phdr p = { s[i].type, PF_R | PF_W | PF_X, s[i].off, s[i].vaddr,
					 s[i].paddr, s[i].filesz, s[i].memsz, 0x1000 };
			memcpy(b + sizeof(e) + i * sizeof(p), &p, sizeof(p));
		}
		len = sizeof(e) + n * sizeof(Elf64_Phdr);
	} else {
		Elf32_Ehdr e = { 0 };
		memcpy(e.e_ident, ident, EI_NIDENT);
		e.e_type = etype; e.e_machine = mach; e.e_version = EV_CURRENT;
		e.e_entry = (uint32_t)entry; e.e_phoff = sizeof(e); e.e_ehsize = sizeof(e);
		e.e_phentsize = sizeof(Elf32_Phdr); e.e_phnum = (uint16_t)n;
		memcpy(b, &e, sizeof(e));
		for (int i = 0; i < n; i++) {
			Elf32_Phdr p = { s[i].type, (uint32_t)s[i].off, (uint32_t)s[i].vaddr,
					 (uint32_t)s[i].paddr, (uint32_t)s[i].filesz,
					 (uint32_t)s[i].memsz, PF_R | PF_W | PF_X, 0x1000 };
			memcpy(b + sizeof(e) + i * sizeof(p), &p, sizeof(p));
		}
		len = sizeof(e) + n * sizeof(Elf32_Phdr);
	}
	for (int i = 0; i < n; i++) {
		for (uint64_t k = 0; k < s[i].filesz && s[i].off + k < cap; k++)
			b[s[i].off + k] = pat(i, k);
		if (s[i].off + s[i].filesz > len && s[i].off + s[i].filesz <= cap)
			len = s[i].off + s[i].filesz;
	}
	return len;
}

static int seg_bytes_ok(const struct guest_ram *r, uint64_t gpa, int seg, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		if (r->host[gpa + k] != pat(seg, k))
			return 0;
	return 1;
}

static int all_zero(const struct guest_ram *r, uint64_t gpa, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		if (r->host[gpa + k])
			return 0;
	return 1;
}

/* The standard good image: code+bss at 1 MiB, a note that must be ignored
 * (it sits in the boot area), and a segment linked high at physical 2 MiB. */
static const struct seg good_segs[] = {
	{ PT_LOAD, 0x200, 0x100000, 0x100000, 0x40, 0x1000 },
	{ PT_NOTE, 0x240, 0, 0, 8, 8 },
	{ PT_LOAD, 0x260, 0xffffffff80200000ull, 0x200000, 0x20, 0x20 },
};

static uint8_t img[16384];

static int load(struct guest_ram *r, const void *buf, size_t len, enum loader_format f,
		struct boot_plan *plan)
{
	struct load_opts o;
	load_opts_init(&o);
	o.format = f;
	return loader_load_buffer(r, buf, len, "test.elf", &o, plan, NULL);
}

static void test_elf64(struct guest_ram *r)
{
	struct boot_plan plan;
	memset(r->host, 0xaa, r->size);
	size_t len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0x100010, good_segs, 3);
	int rc = load(r, img, len, LOAD_AUTO, &plan);
	rc_ok(rc, "ELF64 loads");
	is_int(plan.mode, MODE_LONG64, "ELF64 -> long mode");
	is_int(plan.entry, 0x100010, "ELF64 entry");
	ok(seg_bytes_ok(r, 0x100000, 0, 0x40), "segment 0 bytes at p_paddr");
	ok(all_zero(r, 0x100040, 0x1000 - 0x40), "segment 0 bss zeroed");
	ok(r->host[0x101000] == 0xaa, "nothing written after segment 0's p_memsz");
	ok(seg_bytes_ok(r, 0x200000, 2, 0x20), "high-linked segment at its physical address");
	ok(r->host[0x500] == 0xaa, "PT_NOTE segment not loaded");
	is_int(plan.load_lo, 0x100000, "load_lo");
	is_int(plan.load_hi, 0x200020, "load_hi");

	len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0xffffffff80200004ull, good_segs, 3);
	rc = load(r, img, len, LOAD_ELF, &plan);
	rc_ok(rc, "ELF64 with a virtual entry loads");
	is_int(plan.entry, 0x200004, "virtual entry translated to physical");

	struct load_opts o;
	load_opts_init(&o);
	o.mode = MODE_PROT32;
	rc = loader_load_buffer(r, img, len, "x", &o, &plan, NULL);
	is_int(plan.mode, MODE_PROT32, "opts.mode overrides the ELF class");
}

static void test_elf32(struct guest_ram *r)
{
	struct boot_plan plan;
	const struct seg segs[] = {
		{ PT_LOAD, 0x100, 0x400000, 0x400000, 0x30, 0x30 },
		{ PT_LOAD, 0x130, 0x401000, 0x401000, 0x10, 0x200 },
	};
	memset(r->host, 0xaa, r->size);
	size_t len = make_elf(img, sizeof(img), 32, EM_386, ET_EXEC, 0x400004, segs, 2);
	int rc = load(r, img, len, LOAD_AUTO, &plan);
	rc_ok(rc, "ELF32 loads");
	is_int(plan.mode, MODE_PROT32, "ELF32 -> protected mode");
	is_int(plan.entry, 0x400004, "ELF32 entry");
	ok(seg_bytes_ok(r, 0x400000, 0, 0x30) && seg_bytes_ok(r, 0x401000, 1, 0x10),
	   "ELF32 segment bytes");
	ok(all_zero(r, 0x401010, 0x1f0), "ELF32 bss zeroed");
}

struct bad_case {
	const char *what, *want;
	int cls;
	uint16_t mach, type;
	uint64_t entry;
	struct seg segs[3];
	int n;
};

static const struct bad_case bad_cases[] = {
	{ "wrong machine", "ARM", 64, EM_ARM, ET_EXEC, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x10 } }, 1 },
	{ "ET_DYN", "ET_DYN", 64, EM_X86_64, ET_DYN, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x10 } }, 1 },
	{ "segment beyond RAM",
	  "segment 1 at 0x3fff000 - 0x4001000 does not fit in 64 MiB of guest RAM",
	  64, EM_X86_64, ET_EXEC, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x10 },
	    { PT_LOAD, 0x210, 0x3fff000, 0x3fff000, 0x10, 0x2000 } }, 2 },
	{ "overlapping segments", "overlaps", 64, EM_X86_64, ET_EXEC, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x1000 },
	    { PT_LOAD, 0x210, 0x100800, 0x100800, 0x10, 0x10 } }, 2 },
	{ "p_filesz > p_memsz", "larger than p_memsz", 32, EM_386, ET_EXEC, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x20, 0x10 } }, 1 },
	{ "p_offset beyond EOF", "beyond the end of the file", 32, EM_386, ET_EXEC, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x10 },
	    { PT_LOAD, 0x100000, 0x200000, 0x200000, 0x10, 0x10 } }, 2 },
	{ "segment in the boot area", "boot area", 64, EM_X86_64, ET_EXEC, 0x1000,
	  { { PT_LOAD, 0x200, 0x1000, 0x1000, 0x10, 0x10 } }, 1 },
	{ "entry outside segments", "entry point", 64, EM_X86_64, ET_EXEC, 0x300000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x10 } }, 1 },
	{ "no PT_LOAD", "no loadable", 64, EM_X86_64, ET_EXEC, 0x100000,
	  { { PT_NOTE, 0x200, 0x100000, 0x100000, 0x10, 0x10 } }, 1 },
	{ "segment wrapping 2^64", "does not fit", 64, EM_X86_64, ET_EXEC, 0x100000,
	  { { PT_LOAD, 0x200, 0x100000, 0x100000, 0x10, 0x10 },
	    { PT_LOAD, 0x210, 0xfffffffffffff000ull, 0xfffffffffffff000ull, 0x10, 0x2000 } }, 2 },
};

static void test_bad_elves(struct guest_ram *r)
{
	struct boot_plan plan;
	memset(r->host, 0, r->size);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = make_elf(img, sizeof(img), c->cls, c->mach, c->type, c->entry, c->segs, c->n);
		int rc = load(r, img, len, LOAD_ELF, &plan);
		ok(rc < 0 && strstr(err_msg(), c->want), "%s refused: %s", c->what, err_msg());
		ok(ram_is_zero(r), "%s: RAM untouched", c->what);
	}

	size_t len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0x100010, good_segs, 3);
	img[1] = 'X';
	int rc = load(r, img, len, LOAD_ELF, &plan);
	ok(rc < 0 && strstr(err_msg(), "bad magic"), "bad magic refused: %s", err_msg());

	len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0x100010, good_segs, 3);
	uint64_t phoff = 0x10000;
	memcpy(img + offsetof(Elf64_Ehdr, e_phoff), &phoff, 8);
	rc = load(r, img, len, LOAD_ELF, &plan);
	ok(rc < 0 && strstr(err_msg(), "program headers"), "e_phoff beyond EOF refused: %s", err_msg());

	len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0x100010, good_segs, 3);
	uint16_t phnum = 200;
	memcpy(img + offsetof(Elf64_Ehdr, e_phnum), &phnum, 2);
	rc = load(r, img, len, LOAD_ELF, &plan);
	ok(rc < 0 && strstr(err_msg(), "program headers"), "e_phnum too large refused: %s", err_msg());

	len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0x100010, good_segs, 3);
	rc = load(r, img, 40, LOAD_ELF, &plan);
	ok(rc < 0 && strstr(err_msg(), "truncated ELF header"), "truncated header refused: %s",
	   err_msg());
	ok(ram_is_zero(r), "malformed headers: RAM untouched");
}

/* Every prefix of a good image must be refused (its last bytes are segment
 * data) and must never write RAM or read past its own end. */
static void test_truncation(void)
{
	struct guest_ram small = ram_new(4 * MiB);
	struct boot_plan plan;
	int cls[2] = { 32, 64 };
	for (int c = 0; c < 2; c++) {
		size_t len = make_elf(img, sizeof(img), cls[c], cls[c] == 64 ? EM_X86_64 : EM_386,
				      ET_EXEC, 0x100010, good_segs, 3);
		int refused = 0, dirty = 0;
		for (size_t l = 0; l < len; l++) {
			uint8_t *copy = malloc(l ? l : 1);
			memcpy(copy, img, l);
			if (load(&small, copy, l, LOAD_ELF, &plan) < 0)
				refused++;
			free(copy);
			if (!ram_is_zero(&small)) {
				dirty++;
				memset(small.host, 0, small.size);
			}
		}
		is_int(refused, len, "ELF%d: all %zu truncated prefixes refused", cls[c], len);
		is_int(dirty, 0, "ELF%d: no truncated prefix wrote RAM", cls[c]);
		uint8_t *copy = malloc(len);
		memcpy(copy, img, len);
		is_int(load(&small, copy, len, LOAD_ELF, &plan), 0, "ELF%d: the full file loads", cls[c]);
		free(copy);
		memset(small.host, 0, small.size);
	}
	free(small.host);
}

static void test_raw(struct guest_ram *r)
{
	struct boot_plan plan;
	struct load_opts o;
	uint8_t code[] = { 0xb0, 0x42, 0xe6, 0xf4, 0xf4 };

	memset(r->host, 0, r->size);
	int rc = load(r, code, sizeof(code), LOAD_AUTO, &plan);
	rc_ok(rc, "raw loads");
	ok(memcmp(r->host + 0x7c00, code, sizeof(code)) == 0, "raw bytes at 0x7c00");
	is_int(plan.entry, 0x7c00, "raw entry defaults to 0x7c00");
	is_int(plan.mode, MODE_REAL16, "raw -> real mode");
	ok(plan.load_lo == 0x7c00 && plan.load_hi == 0x7c00 + sizeof(code), "raw extent");

	load_opts_init(&o);
	o.addr = 0x20000;
	o.entry = 0x20002;
	rc = loader_load_buffer(r, code, sizeof(code), "raw", &o, &plan, NULL);
	ok(rc == 0 && plan.entry == 0x20002 && r->host[0x20000] == 0xb0, "raw at opts.addr, opts.entry");

	memset(r->host, 0, r->size);
	load_opts_init(&o);
	o.format = LOAD_RAW;
	o.addr = 0x1000;
	o.mode = MODE_LONG64;
	rc = loader_load_buffer(r, code, sizeof(code), "raw", &o, &plan, NULL);
	ok(rc < 0 && strstr(err_msg(), "boot area"), "raw in long mode over the boot area refused: %s",
	   err_msg());
	o.mode = MODE_PROT32;
	o.addr = RAM_SIZE - 2;
	rc = loader_load_buffer(r, code, sizeof(code), "raw", &o, &plan, NULL);
	ok(rc < 0 && strstr(err_msg(), "does not fit"), "raw past the end of RAM refused: %s", err_msg());
	ok(ram_is_zero(r), "refused raw images wrote nothing");
}

/* --- multiboot -------------------------------------------------------------- */

#define MB_MAGIC 0x1BADB002u

static void mb_header(uint8_t *p, uint32_t flags)
{
	wr32(p, MB_MAGIC);
	wr32(p + 4, flags);
	wr32(p + 8, (uint32_t)(0u - MB_MAGIC - flags));
}

static size_t make_aout(uint8_t *b, uint32_t flags)
{
	size_t len = 0x80;
	for (size_t k = 0; k < len; k++)
		b[k] = pat(5, k);
	mb_header(b + 4, flags);
	wr32(b + 16, 0x100004);   /* header_addr */
	wr32(b + 20, 0x100000);   /* load_addr */
	wr32(b + 24, 0x100080);   /* load_end_addr */
	wr32(b + 28, 0x102000);   /* bss_end_addr */
	wr32(b + 32, 0x100040);   /* entry_addr */
	return len;
}

static const char *str_at(const struct guest_ram *r, uint32_t gpa)
{
	return gpa && gpa < r->size ? (const char *)r->host + gpa : NULL;
}

static char *write_temp(const void *data, size_t len)
{
	static char path[64];
	strcpy(path, "/tmp/hvwb-test-loader-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	close(fd);
	return path;
}

static void test_multiboot_aout(struct guest_ram *r)
{
	struct boot_plan plan;
	struct load_opts o;
	uint8_t modbytes[5000];
	for (size_t k = 0; k < sizeof(modbytes); k++)
		modbytes[k] = pat(9, k);
	char *modpath = write_temp(modbytes, sizeof(modbytes));
	struct loader_module mod = { modpath, "initrd arg=1" };

	memset(r->host, 0xaa, r->size);
	size_t len = make_aout(img, 0x10003);
	load_opts_init(&o);
	o.cmdline = "kernel.bin console=ttyS0";
	o.modules = &mod;
	o.nmodules = 1;
	int rc = loader_load_buffer(r, img, len, "kernel.bin", &o, &plan, NULL);
	rc_ok(rc, "a.out kludge multiboot loads");
	is_int(plan.mode, MODE_PROT32, "multiboot -> protected mode");
	is_int(plan.entry, 0x100040, "multiboot entry_addr");
	is_int(plan.rax, 0x2BADB002, "EAX = multiboot boot magic");
	uint32_t mbi = (uint32_t)plan.rbx;
	ok(mbi >= 0x7000 && mbi < 0x9fc00, "EBX = info address 0x%x in low memory", mbi);
	ok(memcmp(r->host + 0x100000, img, len) == 0, "kernel image at load_addr");
	ok(all_zero(r, 0x100080, 0x2000 - 0x80), "bss up to bss_end_addr zeroed");

	uint32_t flags = rd32(r, mbi);
	is_int(flags, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9),
	       "info flags: MEM, CMDLINE, MODS, MMAP, LOADER_NAME");
	is_int(rd32(r, mbi + 4), 639, "mem_lower = 639 KiB");
	is_int(rd32(r, mbi + 8), (RAM_SIZE - MiB) / 1024, "mem_upper = RAM above 1 MiB in KiB");
	is_str(str_at(r, rd32(r, mbi + 16)), "kernel.bin console=ttyS0", "command line");
	is_str(str_at(r, rd32(r, mbi + 64)), "hvwb", "boot loader name");

	uint32_t mlen = rd32(r, mbi + 44), maddr = rd32(r, mbi + 48);
	is_int(mlen, 72, "mmap_length: three 24-byte entries");
	const uint64_t want[3][3] = { { 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 },
				      { MiB, RAM_SIZE - MiB, 1 } };
	int mm_ok = 1;
	for (int i = 0; i < 3; i++) {
		uint32_t e = maddr + 24 * i;
		if (rd32(r, e) != 20 || rd64(r, e + 4) != want[i][0] || rd64(r, e + 12) != want[i][1] ||
		    rd32(r, e + 20) != want[i][2])
			mm_ok = 0;
	}
	ok(mm_ok, "mmap: available 0-0x9fc00, reserved to 1 MiB, available to the end");

	is_int(rd32(r, mbi + 20), 1, "mods_count");
	uint32_t m = rd32(r, mbi + 24), mstart = rd32(r, m), mend = rd32(r, m + 4);
	is_int(mstart, 0x102000, "module on the first page after bss_end_addr");
	is_int(mend, mstart + sizeof(modbytes), "mod_end");
	ok(memcmp(r->host + mstart, modbytes, sizeof(modbytes)) == 0, "module bytes");
	is_str(str_at(r, rd32(r, m + 8)), "initrd arg=1", "module string");

	/* Same kernel through LOAD_AUTO, default command line = the name. */
	o.cmdline = NULL;
	o.nmodules = 0;
	rc = loader_load_buffer(r, img, len, "kernel.bin", &o, &plan, NULL);
	ok(rc == 0 && plan.rax == 0x2BADB002, "auto-detected as multiboot");
	is_str(str_at(r, rd32(r, (uint32_t)plan.rbx + 16)), "kernel.bin", "default command line is the name");
	is_int(rd32(r, (uint32_t)plan.rbx) & (1 << 3), 0, "no MODS flag without modules");

	memset(r->host, 0, r->size);
	struct loader_module missing = { "/nonexistent/hvwb-module", NULL };
	o.modules = &missing;
	o.nmodules = 1;
	rc = loader_load_buffer(r, img, len, "kernel.bin", &o, &plan, NULL);
	ok(rc < 0 && strstr(err_msg(), "No such file"), "missing module refused: %s", err_msg());
	ok(ram_is_zero(r), "missing module: RAM untouched");
	unlink(modpath);
}

static void test_multiboot_elf(struct guest_ram *r)
{
	struct boot_plan plan;
	const struct seg segs[] = { { PT_LOAD, 0x100, 0x100000, 0x100000, 0x60, 0x100 } };
	memset(r->host, 0xaa, r->size);
	size_t len = make_elf(img, sizeof(img), 32, EM_386, ET_EXEC, 0x10000c, segs, 1);
	mb_header(img + 0x100, 0x3);
	int rc = load(r, img, len, LOAD_AUTO, &plan);
	rc_ok(rc, "ELF32 multiboot loads");
	ok(plan.mode == MODE_PROT32 && plan.rax == 0x2BADB002 && plan.entry == 0x10000c,
	   "ELF32 multiboot: protected mode, EAX magic, ELF entry");
	ok(memcmp(r->host + 0x100000, img + 0x100, 0x60) == 0 && all_zero(r, 0x100060, 0xa0),
	   "ELF32 multiboot segment and bss");
	is_int(rd32(r, (uint32_t)plan.rbx), (1 << 0) | (1 << 2) | (1 << 6) | (1 << 9),
	       "info flags without modules");

	memset(r->host, 0, r->size);
	len = make_elf(img, sizeof(img), 64, EM_X86_64, ET_EXEC, 0x10000c, segs, 1);
	mb_header(img + 0x100, 0x3);
	rc = load(r, img, len, LOAD_MULTIBOOT, &plan);
	ok(rc < 0 && strstr(err_msg(), "ELF32"), "ELF64 multiboot without address fields refused: %s",
	   err_msg());

	len = make_aout(img, 0x10003);
	wr32(img + 12, 0x12345678);
	rc = load(r, img, len, LOAD_MULTIBOOT, &plan);
	ok(rc < 0 && strstr(err_msg(), "checksum"), "bad checksum refused: %s", err_msg());
	rc = load(r, img, len, LOAD_AUTO, &plan);
	ok(rc < 0 && strstr(err_msg(), "checksum"), "bad checksum refused in auto mode too");

	len = make_aout(img, 0x10007);
	rc = load(r, img, len, LOAD_MULTIBOOT, &plan);
	ok(rc < 0 && strstr(err_msg(), "video"), "video mode flag refused: %s", err_msg());

	len = make_aout(img, 0x10003);
	wr32(img + 28, 0x100010);  /* bss_end below load_end */
	mb_header(img + 4, 0x10003);
	rc = load(r, img, len, LOAD_MULTIBOOT, &plan);
	ok(rc < 0 && strstr(err_msg(), "bss_end_addr"), "bss_end below load_end refused: %s", err_msg());
	ok(ram_is_zero(r), "refused multiboot kernels wrote nothing");
}

/* The information goes where the kernel is not (issue: a kernel linked at
 * 0x8000 was refused because 0x9000 was taken). */
static void test_multiboot_info_place(struct guest_ram *r)
{
	struct boot_plan plan;
	const struct seg low[] = { { PT_LOAD, 0x100, 0x8000, 0x8000, 0x60, 0x3000 } };
	memset(r->host, 0, r->size);
	size_t len = make_elf(img, sizeof(img), 32, EM_386, ET_EXEC, 0x800c, low, 1);
	mb_header(img + 0x100, 0x3);
	int rc = load(r, img, len, LOAD_MULTIBOOT, &plan);
	rc_ok(rc, "a multiboot kernel at 0x8000-0xb000 loads");
	ok(rc == 0 && (plan.rbx + 128 <= 0x8000 || plan.rbx >= 0xb000),
	   "its information is placed outside the kernel (0x%llx)", (unsigned long long)plan.rbx);
	ok(rc == 0 && memcmp(r->host + 0x8000, img + 0x100, 0x60) == 0 && all_zero(r, 0x8060, 0x2fa0),
	   "and the kernel's bytes and bss are intact");
	ok(rc == 0 && rd32(r, (uint32_t)plan.rbx) == ((1 << 0) | (1 << 2) | (1 << 6) | (1 << 9)),
	   "EBX points at the information (its flags)");

	const struct seg full[] = { { PT_LOAD, 0x100, 0x7000, 0x7000, 0x60, 0x98c00 } };
	memset(r->host, 0, r->size);
	len = make_elf(img, sizeof(img), 32, EM_386, ET_EXEC, 0x700c, full, 1);
	mb_header(img + 0x100, 0x3);
	rc = load(r, img, len, LOAD_MULTIBOOT, &plan);
	rc_ok(rc, "a multiboot kernel filling low memory (0x7000-0x9fc00) loads");
	ok(rc == 0 && plan.rbx >= 0x100000 && rd32(r, (uint32_t)plan.rbx + 16) > plan.rbx,
	   "its information goes above 1 MiB (0x%llx), the command line after it",
	   (unsigned long long)plan.rbx);
}

static void test_files(void)
{
	struct guest_ram tiny = ram_new(4096);
	struct boot_plan plan;
	uint8_t big[8192] = { 1 };
	char *path = write_temp(big, sizeof(big));
	int rc = loader_load(&tiny, path, NULL, &plan, NULL);
	ok(rc == -EFBIG && strstr(err_msg(), "larger than"), "file larger than RAM refused: %s",
	   err_msg());
	unlink(path);
	rc = loader_load(&tiny, "/nonexistent/hvwb.elf", NULL, &plan, NULL);
	ok(rc == -ENOENT && strstr(err_msg(), "No such file"), "missing file: %s", err_msg());
	free(tiny.host);

	struct guest_ram r = ram_new(MiB);
	uint8_t code[3] = { 0xf4, 0xf4, 0xf4 };
	path = write_temp(code, sizeof(code));
	rc = loader_load(&r, path, NULL, &plan, NULL);
	ok(rc == 0 && r.host[0x7c00] == 0xf4 && plan.mode == MODE_REAL16, "loader_load of a raw file");
	unlink(path);
	free(r.host);
	is_str(loader_format_name(LOAD_MULTIBOOT), "multiboot", "format name");
}

int main(void)
{
	struct guest_ram r = ram_new(RAM_SIZE);
	tap_plan(102);
	test_elf64(&r);
	test_elf32(&r);
	test_bad_elves(&r);
	test_truncation();
	test_raw(&r);
	test_multiboot_aout(&r);
	test_multiboot_elf(&r);
	test_multiboot_info_place(&r);
	test_files();
	free(r.host);
	return tap_done();
}
