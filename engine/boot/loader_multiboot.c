/* loader_multiboot: multiboot v1 kernels (the GRUB legacy protocol, see
 * https://www.gnu.org/software/grub/manual/multiboot/). The kernel is placed by
 * its header's address fields (the "a.out kludge", flags bit 16) or else as an
 * ELF32; modules follow it page-aligned; the boot information (memory sizes, a
 * BIOS-like memory map, command line, modules) is built in conventional memory
 * below the EBDA, where a PC's bootloader would leave it. The kernel starts in
 * flat 32-bit protected mode with EAX = 0x2BADB002 and EBX = the information. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/debug/elfsyms.h"
#include "util/err.h"
#include "util/le.h"
#include "engine/boot/loader_int.h"

#define MB_MAGIC        0x1BADB002u
#define MB_BOOT_MAGIC   0x2BADB002u
#define MB_SEARCH       8192
#define MB_HDR_MIN      12
#define MB_HDR_ADDR_END 32
#define MB_F_PAGE_ALIGN (1u << 0)
#define MB_F_MEMINFO    (1u << 1)
#define MB_F_VIDEO      (1u << 2)
#define MB_F_AOUT       (1u << 16)

#define MBI_MEM         (1u << 0)
#define MBI_CMDLINE     (1u << 2)
#define MBI_MODS        (1u << 3)
#define MBI_MMAP        (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

#define INFO_ADDR    0x9000ull    /* where the information goes when that is free */
#define INFO_LOW     0x7000ull    /* above the engine's boot area (GDT, page tables) */
#define INFO_LIMIT   0x9fc00ull   /* start of the EBDA on a PC */
#define INFO_STRUCT  128          /* the 116-byte structure, rounded */
#define MMAP_ENTRY   24           /* size field + base + length + type */
#define MMAP_COUNT   3
#define MOD_ENTRY    16
#define HIGH_MEM     0x100000ull
#define LOADER_NAME  "hvwb"


static uint64_t page_up(uint64_t x)
{
	return (x + 0xfff) & ~0xfffull;
}

long loader_multiboot_find(const uint8_t *buf, size_t len)
{
	size_t end = len < MB_SEARCH ? len : MB_SEARCH;
	for (size_t off = 0; off + MB_HDR_MIN <= end; off += 4)
		if (le_get32(buf + off) == MB_MAGIC)
			return (long)off;
	return -1;
}

struct mb_header {
	size_t off;
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static int read_header(const uint8_t *buf, size_t len, struct mb_header *h)
{
	long off = loader_multiboot_find(buf, len);
	if (off < 0)
		return err_set(-ENOEXEC, "no multiboot header (magic 0x%08x, 4-byte aligned) in the "
			       "first %d bytes", MB_MAGIC, MB_SEARCH);
	const uint8_t *p = buf + off;
	h->off = (size_t)off;
	h->flags = le_get32(p + 4);
	if (le_get32(p) + h->flags + le_get32(p + 8) != 0)
		return err_set(-ENOEXEC, "multiboot header at offset 0x%zx has a bad checksum "
			       "(magic + flags + checksum must be 0 modulo 2^32)", h->off);
	if (h->flags & MB_F_VIDEO)
		return err_set(-ENOTSUP, "the kernel requires a video mode (multiboot flags bit 2): "
			       "this machine has no framebuffer, only a serial port");
	uint32_t unknown = h->flags & 0xfff8u;
	if (unknown)
		return err_set(-ENOTSUP, "the kernel requires multiboot features this loader does not "
			       "know (flags bits 0x%04x)", unknown);
	if (!(h->flags & MB_F_AOUT))
		return 0;
	if (h->off + MB_HDR_ADDR_END > len)
		return err_set(-ENOEXEC, "multiboot header at offset 0x%zx is cut off by the end of "
			       "the file before its address fields", h->off);
	h->header_addr = le_get32(p + 12);
	h->load_addr = le_get32(p + 16);
	h->load_end_addr = le_get32(p + 20);
	h->bss_end_addr = le_get32(p + 24);
	h->entry_addr = le_get32(p + 28);
	return 0;
}

/* Flags bit 16: the header says where the file goes, whatever its format. */
static int aout_kludge(const uint8_t *buf, size_t len, const struct mb_header *h,
		       struct loader_set *set, uint64_t *entry)
{
	if (h->load_addr > h->header_addr)
		return err_set(-ENOEXEC, "multiboot load_addr 0x%x is above header_addr 0x%x",
			       h->load_addr, h->header_addr);
	uint64_t lead = h->header_addr - h->load_addr;
	if (lead > h->off)
		return err_set(-ENOEXEC, "multiboot header_addr - load_addr (0x%llx) puts the start of "
			       "the image before the start of the file", (unsigned long long)lead);
	uint64_t file_off = h->off - lead, filesz = len - file_off;
	if (h->load_end_addr) {
		if (h->load_end_addr < h->load_addr)
			return err_set(-ENOEXEC, "multiboot load_end_addr 0x%x is below load_addr 0x%x",
				       h->load_end_addr, h->load_addr);
		filesz = h->load_end_addr - h->load_addr;
		if (filesz > len - file_off)
			return err_set(-ENOEXEC, "multiboot load_end_addr 0x%x asks for %llu bytes, "
				       "the file has only %llu after offset 0x%llx", h->load_end_addr,
				       (unsigned long long)filesz, (unsigned long long)(len - file_off),
				       (unsigned long long)file_off);
	}
	uint64_t memsz = filesz;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + filesz)
			return err_set(-ENOEXEC, "multiboot bss_end_addr 0x%x is below the end of the "
				       "loaded data 0x%llx", h->bss_end_addr,
				       (unsigned long long)(h->load_addr + filesz));
		memsz = h->bss_end_addr - h->load_addr;
	}
	if (!(h->entry_addr >= h->load_addr && h->entry_addr - h->load_addr < memsz))
		return err_set(-ENOEXEC, "multiboot entry_addr 0x%x is outside the loaded image "
			       "0x%x - 0x%llx", h->entry_addr, h->load_addr,
			       (unsigned long long)(h->load_addr + memsz));
	*entry = h->entry_addr;
	return loader_set_add(set, h->load_addr, buf + file_off, filesz, memsz, "kernel image");
}

struct mb_modules {
	uint8_t **data;
	size_t *len;
	uint64_t *addr;
	int n;
};

static void free_modules(struct mb_modules *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->data[i]);
	free(m->data);
	free(m->len);
	free(m->addr);
}

/* Reads every module before anything is written, placing each on the next
 * page after the kernel (or the previous module). */
static int read_modules(const struct guest_ram *ram, const struct load_opts *opts,
			uint64_t kernel_end, struct mb_modules *m, struct loader_set *set)
{
	int n = opts->nmodules > 0 ? opts->nmodules : 0;
	uint64_t next = page_up(kernel_end);

	memset(m, 0, sizeof(*m));
	if (n == 0)
		return 0;
	if (!opts->modules)
		return err_set(-EINVAL, "%d modules announced but none given", n);
	m->data = calloc((size_t)n, sizeof(*m->data));
	m->len = calloc((size_t)n, sizeof(*m->len));
	m->addr = calloc((size_t)n, sizeof(*m->addr));
	if (!m->data || !m->len || !m->addr)
		return err_set(-ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *path = opts->modules[i].path;
		if (!path)
			return err_set(-EINVAL, "module %d has no file", i + 1);
		int rc = loader_read_file(path, ram->size, &m->data[i], &m->len[i]);
		if (rc < 0)
			return err_wrap(rc, "module %d", i + 1);
		m->n = i + 1;
		if (next + m->len[i] > 0x100000000ull)
			return err_set(-ERANGE, "module %d (%s) would end above 4 GiB, out of reach "
				       "of 32-bit multiboot addresses", i + 1, path);
		m->addr[i] = next;
		rc = loader_set_add(set, next, m->data[i], m->len[i], m->len[i], "module %d (%s)",
				    i + 1, path);
		if (rc < 0)
			return rc;
		next = page_up(next + m->len[i]);
	}
	return 0;
}

/* Lays out [struct][mmap][module list][strings] and fills it in. */
static size_t info_size(const char *cmdline, const struct load_opts *opts, const struct mb_modules *m)
{
	size_t size = INFO_STRUCT + MMAP_COUNT * MMAP_ENTRY + (size_t)m->n * MOD_ENTRY;
	size += strlen(cmdline) + 1 + sizeof(LOADER_NAME);
	for (int i = 0; i < m->n; i++) {
		const char *s = opts->modules[i].string;
		size += strlen(s ? s : opts->modules[i].path) + 1;
	}
	return size;
}

static bool overlaps(const struct loader_set *set, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < set->n; i++)
		if (gpa < set->v[i].gpa + set->v[i].memsz && set->v[i].gpa < gpa + len)
			return true;
	return false;
}

/* The specification lets the loader put the information anywhere free: at
 * 0x9000 when nothing is there, else the first free page in low memory, else
 * the first page after everything loaded (below 4 GiB: the fields are 32-bit). */
static int place_info(const struct guest_ram *ram, const struct loader_set *set, size_t size,
		      uint64_t *out)
{
	if (INFO_ADDR + size <= INFO_LIMIT && !overlaps(set, INFO_ADDR, size)) {
		*out = INFO_ADDR;
		return 0;
	}
	for (uint64_t a = INFO_LOW; a + size <= INFO_LIMIT; a += 0x1000)
		if (!overlaps(set, a, size)) {
			*out = a;
			return 0;
		}
	uint64_t lo, hi;
	loader_set_extent(set, set->n, &lo, &hi);
	hi = page_up(hi > HIGH_MEM ? hi : HIGH_MEM);
	uint64_t top = ram->size < 0xffffffffull ? ram->size : 0xffffffffull;
	if (hi + size > top)
		return err_set(-E2BIG, "no free guest RAM for the multiboot information (%zu bytes): "
			       "the kernel and its modules fill low memory and RAM up to 0x%llx",
			       size, (unsigned long long)hi);
	*out = hi;
	return 0;
}

static int build_info(const struct guest_ram *ram, const char *cmdline,
		      const struct load_opts *opts, const struct mb_modules *m, uint64_t base,
		      uint8_t **out, size_t *outlen)
{
	size_t mmap_off = INFO_STRUCT, mods_off = mmap_off + MMAP_COUNT * MMAP_ENTRY;
	size_t str_off = mods_off + (size_t)m->n * MOD_ENTRY, size = info_size(cmdline, opts, m);
	uint8_t *b = calloc(1, size);
	if (!b)
		return err_set(-ENOMEM, "out of memory");

	uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
	le_put32(b + 4, (uint32_t)(INFO_LIMIT >> 10));                  /* mem_lower, KiB */
	le_put32(b + 8, (uint32_t)((ram->size - HIGH_MEM) >> 10));       /* mem_upper, KiB */

	const uint64_t mmap[MMAP_COUNT][3] = {
		{ 0, INFO_LIMIT, 1 },
		{ INFO_LIMIT, HIGH_MEM - INFO_LIMIT, 2 },
		{ HIGH_MEM, ram->size - HIGH_MEM, 1 },
	};
	for (int i = 0; i < MMAP_COUNT; i++) {
		uint8_t *e = b + mmap_off + (size_t)i * MMAP_ENTRY;
		le_put32(e, MMAP_ENTRY - 4);
		le_put64(e + 4, mmap[i][0]);
		le_put64(e + 12, mmap[i][1]);
		le_put32(e + 20, (uint32_t)mmap[i][2]);
	}
	le_put32(b + 44, MMAP_COUNT * MMAP_ENTRY);
	le_put32(b + 48, (uint32_t)(base + mmap_off));

	size_t s = str_off;
	le_put32(b + 16, (uint32_t)(base + s));
	strcpy((char *)b + s, cmdline);
	s += strlen(cmdline) + 1;
	le_put32(b + 64, (uint32_t)(base + s));
	strcpy((char *)b + s, LOADER_NAME);
	s += sizeof(LOADER_NAME);
	if (m->n) {
		flags |= MBI_MODS;
		le_put32(b + 20, (uint32_t)m->n);
		le_put32(b + 24, (uint32_t)(base + mods_off));
	}
	for (int i = 0; i < m->n; i++) {
		uint8_t *e = b + mods_off + (size_t)i * MOD_ENTRY;
		const char *str = opts->modules[i].string ? opts->modules[i].string
							  : opts->modules[i].path;
		le_put32(e, (uint32_t)m->addr[i]);
		le_put32(e + 4, (uint32_t)(m->addr[i] + m->len[i]));
		le_put32(e + 8, (uint32_t)(base + s));
		strcpy((char *)b + s, str);
		s += strlen(str) + 1;
	}
	le_put32(b, flags);
	*out = b;
	*outlen = size;
	return 0;
}

static int load_kernel(const uint8_t *buf, size_t len, const struct mb_header *h, bool want_syms,
		       struct loader_set *set, struct loader_elf_info *info)
{
	memset(info, 0, sizeof(*info));
	if (h->flags & MB_F_AOUT)
		return aout_kludge(buf, len, h, set, &info->entry);
	if (len < 4 || memcmp(buf, "\177ELF", 4) != 0)
		return err_set(-ENOEXEC, "the multiboot header has no address fields (flags bit 16) "
			       "and the file is not ELF, so there is no way to know where it goes");
	int rc = loader_elf_parse(buf, len, want_syms, set, info);
	if (rc == 0 && info->elfclass != ELFCLASS32)
		rc = err_set(-ENOEXEC, "a multiboot kernel without address fields must be ELF32; "
			     "this is ELF64 (load it with format \"elf\" to start it in long mode)");
	if (rc == 0 && info->entry > 0xffffffffull)
		rc = err_set(-ENOEXEC, "entry 0x%llx is above 4 GiB", (unsigned long long)info->entry);
	return rc;
}

int loader_multiboot(struct guest_ram *ram, const uint8_t *buf, size_t len, const char *name,
		     const struct load_opts *opts, struct boot_plan *plan, struct symtab *syms)
{
	struct mb_header h = { 0 };
	struct loader_set set = { 0 };
	struct loader_elf_info info = { 0 };
	struct mb_modules mods = { 0 };
	uint8_t *mbi = NULL;
	size_t mbi_len = 0;
	uint64_t lo, hi;
	int nkernel, rc;

	if (ram->size <= HIGH_MEM)
		return err_set(-EINVAL, "multiboot needs more than 1 MiB of guest RAM");
	if ((rc = read_header(buf, len, &h)) < 0)
		return rc;
	rc = load_kernel(buf, len, &h, syms != NULL, &set, &info);
	nkernel = set.n;
	loader_set_extent(&set, nkernel, &lo, &hi);
	if (rc == 0)
		rc = read_modules(ram, opts, hi, &mods, &set);
	const char *cmdline = opts->cmdline ? opts->cmdline : name;
	uint64_t info_at = 0;
	if (rc == 0)
		rc = place_info(ram, &set, info_size(cmdline, opts, &mods), &info_at);
	if (rc == 0)
		rc = build_info(ram, cmdline, opts, &mods, info_at, &mbi, &mbi_len);
	if (rc == 0)
		rc = loader_set_add(&set, info_at, mbi, mbi_len, mbi_len, "multiboot information");
	if (rc == 0)
		rc = loader_set_check(ram, &set, true);
	if (rc == 0) {
		plan->mode = MODE_PROT32;
		plan->entry = info.entry;
		plan->rax = MB_BOOT_MAGIC;
		plan->rbx = info_at;
		loader_set_extent(&set, set.n - 1, &plan->load_lo, &plan->load_hi);
		rc = loader_finish(ram, &set, &info, syms);
	}
	sym_destroy(info.syms);
	free(mbi);
	free_modules(&mods);
	loader_set_free(&set);
	return rc;
}
