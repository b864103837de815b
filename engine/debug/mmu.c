/* mmu: guest page-table walks. Every paging mode is described by a small
 * table of levels (name, which address bits index it, entry size, whether a
 * large page may end the walk there), so one loop walks them all and records
 * each step for the teaching view. Reserved-bit faults are not modelled: the
 * walk follows what the hardware would follow on a well-formed table and says
 * where a non-present entry stops it. */
#include "engine/debug/mmu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "engine/core/vm.h"

#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define ADDR_MASK64 0x000ffffffffff000ull
#define PAGE_4K 0x1000ull

struct level_geom {
	const char *name;
	unsigned shift;       /* lowest address bit the index uses */
	unsigned bits;        /* index width */
	bool large_ok;        /* PS may end the walk here */
	bool rights;          /* RW/US/NX count (not in a PAE PDPTE) */
};

struct mode_geom {
	unsigned nlevels;
	unsigned entry_size;
	struct level_geom lv[MMU_MAX_LEVELS];
};

static const struct mode_geom geom_32 = { 2, 4, {
	{ "PD", 22, 10, true, true }, { "PT", 12, 10, false, true } } };
static const struct mode_geom geom_pae = { 3, 8, {
	{ "PDPT", 30, 2, false, false }, { "PD", 21, 9, true, true }, { "PT", 12, 9, false, true } } };
static const struct mode_geom geom_long4 = { 4, 8, {
	{ "PML4", 39, 9, false, true }, { "PDPT", 30, 9, true, true },
	{ "PD", 21, 9, true, true }, { "PT", 12, 9, false, true } } };
static const struct mode_geom geom_long5 = { 5, 8, {
	{ "PML5", 48, 9, false, true }, { "PML4", 39, 9, false, true },
	{ "PDPT", 30, 9, true, true }, { "PD", 21, 9, true, true }, { "PT", 12, 9, false, true } } };

enum mmu_mode mmu_mode_of(const struct mmu_ctx *ctx)
{
	if (!(ctx->cr0 & CR0_PG))
		return MMU_NONE;
	if (ctx->efer & EFER_LMA)
		return (ctx->cr4 & CR4_LA57) ? MMU_LONG5 : MMU_LONG4;
	return (ctx->cr4 & CR4_PAE) ? MMU_PAE : MMU_32;
}

const char *mmu_mode_name(enum mmu_mode mode)
{
	switch (mode) {
	case MMU_NONE: return "paging off";
	case MMU_32: return "32-bit";
	case MMU_PAE: return "PAE";
	case MMU_LONG4: return "4-level";
	case MMU_LONG5: return "5-level";
	}
	return "?";
}

void mmu_flags_str(unsigned flags, char *buf, size_t cap)
{
	static const char *const names[] = { "P", "RW", "US", "PWT", "PCD", "A", "D", "PS", "G", "NX" };
	size_t used = 0;
	if (cap)
		buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & (1u << i)) || used >= cap)
			continue;
		int n = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", names[i]);
		if (n > 0)
			used += (size_t)n;
	}
}

static const struct mode_geom *geom_of(enum mmu_mode mode)
{
	switch (mode) {
	case MMU_32: return &geom_32;
	case MMU_PAE: return &geom_pae;
	case MMU_LONG4: return &geom_long4;
	case MMU_LONG5: return &geom_long5;
	case MMU_NONE: break;
	}
	return NULL;
}

static unsigned decode_flags(uint64_t e, const struct level_geom *g, unsigned entry_size)
{
	unsigned f = (unsigned)(e & 0x7f);   /* P RW US PWT PCD A D: same bits as MMU_F_* */
	if (g->large_ok && (e & 0x80))
		f |= MMU_F_PS;
	if (e & 0x100)
		f |= MMU_F_G;
	if (entry_size == 8 && (e >> 63))
		f |= MMU_F_NX;
	return f;
}

static uint64_t table_base(const struct mmu_ctx *ctx, enum mmu_mode mode)
{
	switch (mode) {
	case MMU_32: return ctx->cr3 & 0xfffff000ull;
	case MMU_PAE: return ctx->cr3 & 0xffffffe0ull;
	default: return ctx->cr3 & ADDR_MASK64;
	}
}

/* The physical frame a leaf entry maps, for a page of `size` bytes. */
static uint64_t leaf_frame(uint64_t e, unsigned entry_size, uint64_t size)
{
	if (entry_size == 4 && size > PAGE_4K)   /* PSE-36: bits 20:13 are PA 39:32 */
		return (e & 0xffc00000ull) | (((e >> 13) & 0xff) << 32);
	if (entry_size == 4)
		return e & 0xfffff000ull;
	return e & ADDR_MASK64 & ~(size - 1);
}

static bool canonical(uint64_t va, unsigned bits)
{
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == va;
}

static int walk_fail(struct mmu_walk *w, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int walk_fail(struct mmu_walk *w, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
	w->fail_level = level;
	return err_set(-EFAULT, "0x%llx is not mapped: %s", (unsigned long long)w->va, w->reason);
}

static void finish_mapped(struct mmu_walk *w, uint64_t frame, uint64_t size)
{
	w->mapped = true;
	w->page_size = size;
	w->pa = frame | (w->va & (size - 1));
}

/* Reads one entry into level i of the walk; false (walk failed) if unreadable. */
static int read_entry(const struct mmu_ctx *ctx, const struct mode_geom *g, struct mmu_walk *w,
		      int i, uint64_t table, uint64_t va)
{
	const struct level_geom *lg = &g->lv[i];
	struct mmu_level *l = &w->level[i];
	l->name = lg->name;
	l->table = table;
	l->index = (unsigned)((va >> lg->shift) & ((1u << lg->bits) - 1));
	l->entry_addr = table + (uint64_t)l->index * g->entry_size;
	w->nlevels = i + 1;
	uint64_t e = 0;
	if (ctx->read_phys(ctx->opaque, l->entry_addr, &e, g->entry_size) < 0)
		return walk_fail(w, i, "the %s entry at 0x%llx is outside guest RAM", lg->name,
				 (unsigned long long)l->entry_addr);
	l->entry = e;
	l->flags = decode_flags(e, lg, g->entry_size);
	return 0;
}

static int walk_tables(const struct mmu_ctx *ctx, const struct mode_geom *g, struct mmu_walk *w)
{
	uint64_t va = w->va;
	uint64_t table = table_base(ctx, w->mode);
	bool nxe = ctx->efer & EFER_NXE;
	w->writable = w->user = true;
	for (unsigned i = 0; i < g->nlevels; i++) {
		const struct level_geom *lg = &g->lv[i];
		int r = read_entry(ctx, g, w, (int)i, table, va);
		if (r < 0)
			return r;
		struct mmu_level *l = &w->level[i];
		if (!(l->flags & MMU_F_P))
			return walk_fail(w, (int)i, "%s entry %u (at 0x%llx) is not present", lg->name,
					 l->index, (unsigned long long)l->entry_addr);
		if (lg->rights) {
			w->writable = w->writable && (l->flags & MMU_F_RW);
			w->user = w->user && (l->flags & MMU_F_US);
			w->nx = w->nx || (nxe && (l->flags & MMU_F_NX));
		}
		bool large = lg->large_ok && (l->flags & MMU_F_PS) &&
			     (w->mode != MMU_32 || (ctx->cr4 & CR4_PSE));
		if (large || i + 1 == g->nlevels) {
			uint64_t size = 1ull << lg->shift;
			l->leaf = true;
			finish_mapped(w, leaf_frame(l->entry, g->entry_size, size), size);
			return 0;
		}
		table = g->entry_size == 4 ? (l->entry & 0xfffff000ull) : (l->entry & ADDR_MASK64);
	}
	return walk_fail(w, -1, "the walk did not end");   /* unreachable with the tables above */
}

int mmu_walk_va(const struct mmu_ctx *ctx, uint64_t va, struct mmu_walk *w)
{
	memset(w, 0, sizeof(*w));
	w->va = va;
	w->fail_level = -1;
	w->mode = mmu_mode_of(ctx);
	const struct mode_geom *g = geom_of(w->mode);
	if (!g) {
		w->writable = w->user = true;
		finish_mapped(w, va & ~(PAGE_4K - 1), PAGE_4K);
		w->page_size = 0;
		return 0;
	}
	if (w->mode == MMU_32 || w->mode == MMU_PAE) {
		if (va > 0xffffffffull)
			return walk_fail(w, -1, "32-bit paging has 32-bit linear addresses");
	} else if (!canonical(va, w->mode == MMU_LONG5 ? 57 : 48)) {
		return walk_fail(w, -1, "not canonical: bits 63..%d must all equal bit %d",
				 w->mode == MMU_LONG5 ? 57 : 48, w->mode == MMU_LONG5 ? 56 : 47);
	}
	return walk_tables(ctx, g, w);
}

/* Bytes from va to the end of its page (4 KiB steps are always safe). */
static size_t chunk_len(uint64_t va, size_t left)
{
	size_t room = (size_t)(PAGE_4K - (va & (PAGE_4K - 1)));
	return left < room ? left : room;
}

int mmu_read(const struct mmu_ctx *ctx, uint64_t va, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		struct mmu_walk w;
		size_t n = chunk_len(va, len);
		int r = mmu_walk_va(ctx, va, &w);
		if (r < 0)
			return r;
		if ((r = ctx->read_phys(ctx->opaque, w.pa, p, n)) < 0)
			return r;
		p += n;
		va += n;
		len -= n;
	}
	return 0;
}

int mmu_write(const struct mmu_ctx *ctx, uint64_t va, const void *buf, size_t len)
{
	if (!ctx->write_phys)
		return err_set(-EINVAL, "this context cannot write memory");
	struct mmu_walk w;
	for (uint64_t a = va; a < va + len; a = (a | (PAGE_4K - 1)) + 1)
		if (mmu_walk_va(ctx, a, &w) < 0)
			return -EFAULT;
	const uint8_t *p = buf;
	while (len) {
		size_t n = chunk_len(va, len);
		int r = mmu_walk_va(ctx, va, &w);
		if (r < 0 || (r = ctx->write_phys(ctx->opaque, w.pa, p, n)) < 0)
			return r;
		p += n;
		va += n;
		len -= n;
	}
	return 0;
}

/* ---- a stopped VM ---- */

static int vm_read_phys(void *opaque, uint64_t pa, void *buf, size_t len)
{
	return vm_mem_read(opaque, pa, buf, len);
}

static int vm_write_phys(void *opaque, uint64_t pa, const void *buf, size_t len)
{
	return vm_mem_write(opaque, pa, buf, len);
}

void mmu_sregs_ctx(struct vm *vm, const struct kvm_sregs *s, struct mmu_ctx *ctx)
{
	*ctx = (struct mmu_ctx){ s->cr0, s->cr3, s->cr4, s->efer, vm_read_phys, vm_write_phys, vm };
}

int mmu_vm_ctx(struct vm *vm, int vcpu, struct mmu_ctx *ctx)
{
	struct kvm_sregs s;
	int r = vm_get_sregs(vm, vcpu, &s);
	if (r < 0)
		return r;
	mmu_sregs_ctx(vm, &s, ctx);
	return 0;
}

int mmu_translate(struct vm *vm, int vcpu, uint64_t va, struct mmu_walk *walk)
{
	struct mmu_ctx ctx;
	int r = mmu_vm_ctx(vm, vcpu, &ctx);
	if (r < 0)
		return r;
	return mmu_walk_va(&ctx, va, walk);
}

int mmu_read_virt(struct vm *vm, int vcpu, uint64_t va, void *buf, size_t len)
{
	struct mmu_ctx ctx;
	int r = mmu_vm_ctx(vm, vcpu, &ctx);
	return r < 0 ? r : mmu_read(&ctx, va, buf, len);
}

int mmu_write_virt(struct vm *vm, int vcpu, uint64_t va, const void *buf, size_t len)
{
	struct mmu_ctx ctx;
	int r = mmu_vm_ctx(vm, vcpu, &ctx);
	return r < 0 ? r : mmu_write(&ctx, va, buf, len);
}

int mmu_seg_linear(struct vm *vm, int vcpu, const char *seg, uint64_t off, uint64_t *linear)
{
	static const char *const names[] = { "cs", "ds", "es", "fs", "gs", "ss" };
	struct kvm_sregs s;
	int r = vm_get_sregs(vm, vcpu, &s);
	if (r < 0)
		return r;
	const struct kvm_segment *segs[] = { &s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(seg, names[i]) != 0)
			continue;
		bool real = !(s.cr0 & 1);
		bool flat = (s.efer & EFER_LMA) && i != 3 && i != 4;   /* long mode ignores cs/ds/es/ss bases */
		uint64_t base = real ? (uint64_t)segs[i]->selector << 4 : flat ? 0 : segs[i]->base;
		*linear = base + off;
		if (real || !(s.efer & EFER_LMA))
			*linear &= 0xffffffffull;
		return 0;
	}
	return err_set(-EINVAL, "no segment register '%s' (cs, ds, es, fs, gs, ss)", seg);
}
