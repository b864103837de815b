/* test_linux: the Linux boot protocol on a plain 64 MiB buffer, no KVM. A
 * synthetic bzImage is built byte by byte (setup header, a protected-mode part
 * that is not xz, so the decompressor path is taken), loaded, and the zero page,
 * command line, e820 map and initrd placement are read back. Broken variants
 * (truncated, too old, corrupt, oversized inputs) must be refused with a message
 * and without one byte written. Also the CPUID feature table and the names of
 * the features behind instructions a host may fail to emulate. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/boot/cpuid.h"
#include "util/err.h"
#include "engine/boot/linux.h"
#include "engine/debug/symbols.h"
#include "tap.h"

#define MiB (1ull << 20)
#define RAM_SIZE (64 * MiB)
#define SETUP_SECTS 2
#define PM_SIZE 8192
#define IMG_SIZE ((SETUP_SECTS + 1) * 512 + PM_SIZE)

static uint8_t img[IMG_SIZE];

static void p16(size_t o, uint16_t v) { memcpy(img + o, &v, 2); }
static void p32(size_t o, uint32_t v) { memcpy(img + o, &v, 4); }
static void p64(size_t o, uint64_t v) { memcpy(img + o, &v, 8); }
static uint32_t r32(const uint8_t *b, size_t o) { uint32_t v; memcpy(&v, b + o, 4); return v; }
static uint64_t r64(const uint8_t *b, size_t o) { uint64_t v; memcpy(&v, b + o, 8); return v; }

/* A bzImage as boot.rst lays it out: protocol 2.15, 64-bit entry, relocatable. */
static void make_image(void)
{
	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	p32(0x1f4, PM_SIZE / 16);              /* syssize */
	p16(0x1fe, 0xaa55);
	img[0x200] = 0xeb;                     /* jmp over the header */
	img[0x201] = 0x6a;                     /* header ends at 0x26c */
	p32(0x202, 0x53726448);
	p16(0x206, 0x020f);
	p16(0x20e, 0x300);                     /* kernel_version string at 0x500 */
	memcpy(img + 0x500, "6.1.0-test (someone@somewhere) #1", 34);
	img[0x211] = 0x01;
	p32(0x22c, 0x7fffffff);                /* initrd_addr_max */
	p32(0x230, 0x200000);                  /* kernel_alignment */
	img[0x234] = 1;
	p16(0x236, 0x1);                       /* XLF_KERNEL_64 */
	p32(0x238, 255);                       /* cmdline_size */
	p32(0x248, 0x100);                     /* payload at pm+0x100 ... */
	p32(0x24c, 0x200);                     /* ... not xz */
	p64(0x258, 0x200000);                  /* pref_address */
	p32(0x260, 0x400000);                  /* init_size */
	memset(img + (SETUP_SECTS + 1) * 512, 0x90, PM_SIZE);
}

static struct guest_ram ram;

static int ram_is_zero(void)
{
	for (uint64_t i = 0; i < ram.size; i++)
		if (ram.host[i])
			return 0;
	return 1;
}

static int load(size_t len, const char *cmdline, const uint8_t *initrd, size_t ilen,
		enum linux_how how, struct boot_plan *plan, struct linux_info *info)
{
	struct linux_opts o = { .cmdline = cmdline, .initrd = initrd, .initrd_len = ilen, .how = how };
	memset(ram.host, 0, ram.size);
	return linux_load_buffer(&ram, img, len, &o, plan, NULL, info);
}

static void test_valid(void)
{
	static uint8_t initrd[10000];
	struct boot_plan plan;
	struct linux_info info;
	memset(initrd, 0xab, sizeof(initrd));
	make_image();
	int rc = load(IMG_SIZE, "console=ttyS0 root=/dev/ram", initrd, sizeof(initrd), LINUX_AUTO, &plan, &info);
	if (!ok(rc == 0, "a valid bzImage with an initrd loads"))
		printf("#   %s\n", err_msg());
	is_int(plan.mode, MODE_LONG64, "entered in long mode");
	is_int(plan.entry, 0x200200, "at pref_address + 0x200 (the 64-bit entry)");
	is_int(plan.rsi, LINUX_PARAMS_ADDR, "RSI = the zero page");
	ok(plan.linux_selectors, "with the boot protocol's __BOOT_CS/__BOOT_DS");
	ok(info.guest_decompresses, "a non-xz payload is left to the kernel's decompressor");
	is_str(info.kernel_version, "6.1.0-test", "the version word from kernel_version");
	is_int(info.kernel_hi, 0x600000, "the kernel needs init_size from its load address");
	ok(memcmp(ram.host + 0x200000, img + 3 * 512, PM_SIZE) == 0, "the protected-mode part is at 0x200000");
	const uint8_t *zp = ram.host + LINUX_PARAMS_ADDR;
	is_int(r32(zp, 0x202), 0x53726448, "the zero page has the image's header");
	is_int(zp[0x210], 0xff, "type_of_loader 0xff");
	ok(zp[0x211] & 1, "loadflags LOADED_HIGH");
	is_int(r32(zp, 0x228), LINUX_CMDLINE_ADDR, "cmd_line_ptr");
	is_str((const char *)ram.host + LINUX_CMDLINE_ADDR, "console=ttyS0 root=/dev/ram", "the command line, NUL-terminated");
	is_int(r32(zp, 0x218), RAM_SIZE - 12288, "ramdisk_image: page aligned, as high as RAM allows");
	is_int(r32(zp, 0x21c), sizeof(initrd), "ramdisk_size");
	ok(memcmp(ram.host + RAM_SIZE - 12288, initrd, sizeof(initrd)) == 0, "the initrd bytes are there");
	is_int(zp[0x1e8], 4, "four e820 entries for 64 MiB");
	is_int(r64(zp, 0x2d0 + 8), 0x9fc00, "e820 0: 0 - 0x9fc00 ...");
	is_int(r32(zp, 0x2d0 + 16), E820_RAM, "... RAM");
	is_int(r32(zp, 0x2d0 + 20 + 16), E820_RESERVED, "e820 1: the EBDA is reserved");
	is_int(r64(zp, 0x2d0 + 60), 0x100000, "e820 3 starts at 1 MiB ...");
	is_int(r64(zp, 0x2d0 + 68), RAM_SIZE - 0x100000, "... and runs to the end of RAM");
}

static void refused(size_t len, const char *cmdline, size_t ilen, enum linux_how how,
		    int want, const char *pattern, const char *what)
{
	static uint8_t initrd[2000000];
	struct boot_plan plan;
	struct linux_info info;
	int rc = load(len, cmdline, ilen ? initrd : NULL, ilen, how, &plan, &info);
	ok(rc == want && strstr(err_msg(), pattern), "%s: refused (%s)", what, err_msg());
	ok(ram_is_zero(), "%s: nothing written", what);
}

static void test_refused(void)
{
	char longcmd[300];
	memset(longcmd, 'x', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = 0;
	make_image();
	refused(IMG_SIZE, longcmd, 0, LINUX_AUTO, -E2BIG, "at most 255", "a command line over cmdline_size");
	refused(IMG_SIZE - 4096, NULL, 0, LINUX_AUTO, -EINVAL, "truncated", "a truncated protected-mode part");
	refused(0x400, NULL, 0, LINUX_AUTO, -EINVAL, "truncated", "an image cut inside its setup part");
	refused(0x100, NULL, 0, LINUX_AUTO, -ENOEXEC, "HdrS", "an image cut before its header");
	refused(IMG_SIZE, NULL, 0, LINUX_VMLINUX, -ENOTSUP, "not xz", "how = vmlinux on a non-xz payload");
	{
		struct boot_plan plan;
		struct linux_info info;
		static uint8_t mb[1000000];
		ok(load(IMG_SIZE, NULL, mb, sizeof(mb), LINUX_AUTO, &plan, &info) == 0 &&
		   info.initrd_addr >= 0x600000, "a 1 MB initrd fits above the kernel");
	}
	make_image();
	p32(0x22c, 0x5fffff);                    /* initrd_addr_max just above the kernel */
	refused(IMG_SIZE, NULL, 1000000, LINUX_AUTO, -E2BIG, "does not fit", "an initrd above initrd_addr_max");
	make_image();
	p16(0x206, 0x0205);
	refused(IMG_SIZE, NULL, 0, LINUX_AUTO, -EINVAL, "older than 2.06", "boot protocol 2.05");
	make_image();
	p16(0x1fe, 0x1234);
	refused(IMG_SIZE, NULL, 0, LINUX_AUTO, -EINVAL, "boot_flag", "a corrupt boot_flag");
	make_image();
	p16(0x236, 0);
	refused(IMG_SIZE, NULL, 0, LINUX_AUTO, -EINVAL, "64-bit entry", "no XLF_KERNEL_64");
	make_image();
	p32(0x24c, 0x100000);
	refused(IMG_SIZE, NULL, 0, LINUX_AUTO, -EINVAL, "payload", "a payload running past the file");
	make_image();
	p64(0x258, 0x3e00000);                   /* init_size runs past 64 MiB */
	refused(IMG_SIZE, NULL, 0, LINUX_AUTO, -ERANGE, "does not fit", "a kernel larger than RAM");
}

static void test_e820_initrd(void)
{
	struct e820_entry e[8];
	int n = linux_e820(3ull << 30, 1ull << 30, e, 8);
	is_int(n, 5, "3 GiB low + 1 GiB high: five entries");
	is_int(e[4].addr, 1ull << 32, "RAM above 4 GiB starts at 4 GiB");
	is_int(e[4].size, 1ull << 30, "with the rest of the RAM");
	uint64_t at = 0;
	ok(linux_place_initrd(64 * MiB, 0x80000000ull, 16 * MiB, 4097, &at) == 0 && at == 64 * MiB - 8192,
	   "an initrd of 4097 bytes ends below RAM's end, page aligned");
	ok(linux_place_initrd(64 * MiB, 32 * MiB, 16 * MiB, 100, &at) == 0 && at == 32 * MiB - 4096,
	   "and below the kernel's limit when that is lower");
	ok(linux_place_initrd(64 * MiB, 0x80000000ull, 60 * MiB, 8 * MiB, &at) == -E2BIG,
	   "one that would overlap the kernel is refused");
}

static void test_cpuid(void)
{
	is_str(cpuid_feature_of_insn("cmpxchg16b xmmword ptr [rdi]"), "cx16", "cmpxchg16b needs cx16");
	is_str(cpuid_feature_of_insn("lock cmpxchg16b xmmword ptr [rsi]"), "cx16", "also behind lock");
	is_str(cpuid_feature_of_insn("xrstor64 ptr [rdi]"), "xsave", "xrstor64 needs xsave");
	is_str(cpuid_feature_of_insn("xsaves64 ptr [rdi]"), "xsaves", "xsaves64 needs xsaves");
	is_str(cpuid_feature_of_insn("vmovdqu ymm0, ymmword ptr [rax]"), "avx", "VEX code needs avx");
	ok(cpuid_feature_of_insn("vmcall") == NULL, "vmcall is not avx");
	ok(cpuid_feature_of_insn("mov eax, 1") == NULL, "mov needs nothing");
	ok(cpuid_feature_index("la57") >= 0 && cpuid_feature_index("warp") < 0, "names are looked up");
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 2 * sizeof(c->entries[0]));
	c->nent = 2;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 0xffffffff };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0xffffffff };
	cpuid_apply(c, (1ull << cpuid_feature_index("cx16")) | (1ull << cpuid_feature_index("smap")));
	is_int(c->entries[0].ecx, 0xffffffffu & ~(1u << 13), "hiding cx16 clears leaf 1 ECX bit 13 only");
	is_int(c->entries[1].ebx, 0xffffffffu & ~(1u << 20), "hiding smap clears leaf 7 EBX bit 20 only");
	free(c);
}

/* A kallsyms layout as Linux 6.1 writes it (scripts/kallsyms.c): offsets,
 * relative base, count, compressed names, markers, token table, token index.
 * Token i is the character i (printable) or "~", so a name is its own bytes. */
static size_t put_kallsyms(uint8_t *b, const char *const *names, const int32_t *offs, int n)
{
	size_t p = 64;
	for (int i = 0; i < n; i++, p += 4)
		memcpy(b + p, &offs[i], 4);
	p = (p + 7) & ~(size_t)7;
	uint64_t base = 0xffffffff81000000ull;
	uint32_t count = (uint32_t)n;
	memcpy(b + p, &base, 8);
	memcpy(b + p + 8, &count, 4);
	p += 16;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		b[p++] = (uint8_t)len;
		memcpy(b + p, names[i], len);
		p += len;
	}
	p = (p + 7) & ~(size_t)7;
	p += 8;                                  /* markers: one, 0 */
	size_t tokens = p;
	uint16_t index[256];
	for (int t = 0; t < 256; t++) {
		index[t] = (uint16_t)(p - tokens);
		b[p++] = t > 0x20 && t < 0x7f ? (uint8_t)t : '~';
		b[p++] = 0;
	}
	p = (p + 7) & ~(size_t)7;
	memcpy(b + p, index, sizeof(index));
	return p + sizeof(index) + 64;
}

static void test_kallsyms(void)
{
	static uint8_t image[8192];
	static char fill[20][16];
	const char *names[23] = { "Afixed_percpu_data", "Tstart_kernel", "Dlinux_banner" };
	int32_t offs[23] = { 0, -0x1001, -0x2001 };
	for (int i = 0; i < 20; i++) {     /* the reader wants a plausible count */
		snprintf(fill[i], sizeof(fill[i]), "tf%02d", i);
		names[3 + i] = fill[i];
		offs[3 + i] = -0x3001 - 16 * i;
	}
	size_t len = put_kallsyms(image, names, offs, 23);
	struct symtab *t = sym_create();
	uint64_t a = 0;
	is_int(sym_load_kallsyms(t, image, len), 22, "kallsyms: every symbol but the per-CPU one");
	ok(sym_resolve(t, "start_kernel", &a) == 0 && a == 0xffffffff81001000ull,
	   "start_kernel at base + 0x1000 (offsets count down from the base)");
	ok(sym_resolve(t, "linux_banner", &a) == 0 && a == 0xffffffff81002000ull, "linux_banner too");
	sym_destroy(t);
	t = sym_create();
	ok(sym_load_kallsyms(t, image, 1000) == -ENOENT, "a cut image: no kallsyms, -ENOENT");
	sym_destroy(t);
}

int main(void)
{
	ram.host = calloc(1, RAM_SIZE);
	ram.size = RAM_SIZE;
	tap_plan(66);
	test_valid();
	test_refused();
	test_e820_initrd();
	test_cpuid();
	test_kallsyms();
	free(ram.host);
	return tap_done();
}
