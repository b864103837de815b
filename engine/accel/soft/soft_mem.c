/* soft_mem: how the soft CPU reaches memory. Guest-physical addresses map to
 * the VM's RAM slots (anything else is the irqchip's MMIO or an MMIO exit);
 * linear addresses go through the guest's page tables (32-bit, PAE, 4-level)
 * with a soft TLB in front; segment-relative accesses get their limit and
 * type checks here. Accessed/dirty bits are set with atomic OR because other
 * vCPUs walk the same tables. */
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

void soft_mark_dirty(struct accel_vm *vm, uint64_t gpa)
{
	for (int s = 0; s < SOFT_SLOTS; s++) {
		struct soft_slot *sl = &vm->slots[s];
		if (sl->used && gpa - sl->gpa < sl->size && sl->dirty) {
			uint64_t pg = (gpa - sl->gpa) >> 12;
			atomic_fetch_or(&sl->dirty[pg / 64], 1ull << (pg % 64));
			return;
		}
	}
}

/* Host pointer of a guest-physical byte in RAM, NULL if no slot holds it (or
 * it is read-only and we write). A write marks the page dirty when logged. */
uint8_t *soft_phys_ptr(struct accel_vm *vm, uint64_t gpa, bool write)
{
	for (int s = 0; s < SOFT_SLOTS; s++) {
		struct soft_slot *sl = &vm->slots[s];
		if (!sl->used || gpa - sl->gpa >= sl->size)
			continue;
		if (write && (sl->flags & KVM_MEM_READONLY))
			return NULL;
		if (write && sl->code) {
			uint64_t pg = (gpa - sl->gpa) >> 12, bit = 1ull << (pg % 64);
			if (atomic_load_explicit(&sl->code[pg / 64], memory_order_relaxed) & bit) {
				atomic_fetch_and(&sl->code[pg / 64], ~bit);
				soft_code_written(vm);
			}
		}
		if (write && sl->dirty) {
			uint64_t pg = (gpa - sl->gpa) >> 12;
			atomic_fetch_or(&sl->dirty[pg / 64], 1ull << (pg % 64));
		}
		return sl->hva + (gpa - sl->gpa);
	}
	return NULL;
}

/* A physical access of up to 8 bytes: RAM, else the irqchip or the VMM. */
bool soft_phys_access(struct accel_vcpu *c, uint64_t gpa, void *data, int len, bool write)
{
	uint8_t *p = soft_phys_ptr(c->vm, gpa, write);
	if (p && ((gpa & 0xfff) + len <= 0x1000)) {
		if (write)
			memcpy(p, data, len);
		else
			memcpy(data, p, len);
		return true;
	}
	/* not RAM, or a write to a read-only slot: an MMIO access, as in KVM */
	return soft_io_access(c, false, gpa, data, len, write);
}

/* May a TLB write entry map this page: writable RAM holding no decoded code
 * (writes to code pages must take the slow path that drops the blocks). */
static bool page_writable(struct accel_vm *vm, uint64_t gpa)
{
	for (int s = 0; s < SOFT_SLOTS; s++) {
		struct soft_slot *sl = &vm->slots[s];
		if (!sl->used || gpa - sl->gpa >= sl->size)
			continue;
		if (sl->flags & KVM_MEM_READONLY)
			return false;
		uint64_t pg = (gpa - sl->gpa) >> 12;
		return !sl->code || !(atomic_load(&sl->code[pg / 64]) & (1ull << (pg % 64)));
	}
	return false;
}

void soft_tlb_flush(struct accel_vcpu *c, bool keep_global)
{
	c->exit_block = true; /* the block's page may map elsewhere now */
	c->tlb_gen++;        /* and block links made under the old mappings die */
	for (int i = 0; i < TLB_SIZE; i++) {
		struct soft_tlb_entry *e = &c->tlb[i];
		if (keep_global && e->global)
			continue;
		for (int k = 0; k < 2 * ACC_KINDS; k++)
			e->tag[k] = 1;
		e->global = false;
	}
}

void soft_tlb_flush_page(struct accel_vcpu *c, uint64_t lin)
{
	c->exit_block = true;
	c->tlb_gen++;
	struct soft_tlb_entry *e = &c->tlb[(lin >> 12) % TLB_SIZE];
	for (int k = 0; k < 2 * ACC_KINDS; k++)
		e->tag[k] = 1;
	e->global = false;
}

static _Noreturn void page_fault(struct accel_vcpu *c, uint64_t lin, uint32_t err)
{
	c->cr2 = lin;
	soft_raise(c, EXC_PF, true, err);
}

static uint64_t pte_read(struct accel_vcpu *c, uint64_t gpa, int size, uint8_t **where)
{
	uint8_t *p = soft_phys_ptr(c->vm, gpa, false);
	if (!p)
		soft_emul_fail(c); /* page tables outside RAM: not supported */
	*where = p;
	return soft_ram_load(p, size);
}

static void pte_set(uint8_t *p, int size, uint64_t bits)
{
	if (size == 8)
		__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_SEQ_CST);
}

/* Bits that must be 0 in a present paging entry of level `lvl` (1 = PTE):
 * physical-address bits above MAXPHYADDR (40, as CPUID 0x80000008 says), NX
 * without EFER.NXE, PS in a PML4E, the low address bits of large pages. */
static uint64_t rsvd_bits(const struct accel_vcpu *c, uint64_t e, int lvl, bool pae, bool lm,
			  bool nxe)
{
	(void)c;
	if (!pae) /* 32-bit paging: 4-MiB pages without PSE-36 */
		return (lvl == 2 && (e & 0x80)) ? 0x3fe000 : 0;
	uint64_t m = 0x000fff0000000000ull | (nxe ? 0 : 1ull << 63);
	if (lm && lvl == 4)
		m |= 0x80;
	else if (e & 0x80) {
		if (lvl == 3 && lm)
			m |= 0x3fffe000;
		else if (lvl == 2)
			m |= 0x1fe000;
	}
	return m;
}

struct walk {
	uint64_t pa;
	bool us, rw, nx, global, dirty;
};

/* Walks the page tables for `lin`. Faults (#PF) if the access is refused;
 * otherwise sets A (and D for writes) and fills *w. */
static void walk(struct accel_vcpu *c, uint64_t lin, int kind, bool user, struct walk *w)
{
	bool pae = c->cr4 & CR4_PAE, lm = c->efer & EFER_LMA;
	bool nxe = (c->efer & EFER_NXE) && pae;
	int esz = pae ? 8 : 4;
	uint8_t *where[5];
	int levels, n = 0;
	uint64_t table, e = 0, pa = 0;
	uint32_t err = (kind == ACC_W ? 2 : 0) | (user ? 4 : 0) | (kind == ACC_X && nxe ? 16 : 0);
	w->us = w->rw = true;
	w->nx = false;
	if (lm) {
		levels = 4;
		table = c->cr3 & 0x000ffffffffff000ull;
	} else if (pae) {
		uint64_t pdpte = pte_read(c, (c->cr3 & 0xffffffe0u) + ((lin >> 30) & 3) * 8, 8,
					  &where[0]);
		if (!(pdpte & 1))
			page_fault(c, lin, err);
		if (pdpte & (0xfff00000000001e6ull | 0x000fff0000000000ull))
			page_fault(c, lin, err | 1 | 8);
		levels = 2;
		table = pdpte & 0x000ffffffffff000ull;
	} else {
		levels = 2;
		table = c->cr3 & 0xfffff000u;
	}
	for (int lvl = levels; lvl >= 1; lvl--) {
		int shift = 12 + (lvl - 1) * (pae ? 9 : 10);
		uint64_t idx = (lin >> shift) & (pae ? 511 : 1023);
		e = pte_read(c, table + idx * esz, esz, &where[n]);
		n++;
		if (!(e & 1))
			page_fault(c, lin, err);
		if (nxe && (e >> 63))
			w->nx = true;
		if (e & rsvd_bits(c, e, lvl, pae, lm, nxe))
			page_fault(c, lin, err | 1 | 8);
		w->us &= (e >> 2) & 1;
		w->rw &= (e >> 1) & 1;
		bool big = (e & 0x80) && (lvl == 2 || (lvl == 3 && lm)) && (pae || (c->cr4 & CR4_PSE));
		if (big) {
			uint64_t off_mask = (1ull << shift) - 1;
			if (pae)
				pa = (e & 0x000fffffffffe000ull & ~off_mask) | (lin & off_mask);
			else
				pa = (((e >> 13) & 0xff) << 32 | (e & 0xffc00000u)) | (lin & off_mask);
			break;
		}
		if (lvl == 1)
			pa = (e & (pae ? 0x000ffffffffff000ull : 0xfffff000u)) | (lin & 0xfff);
		table = e & (pae ? 0x000ffffffffff000ull : 0xfffff000u);
	}
	bool ok = true;
	if (user && !w->us)
		ok = false;
	if (kind == ACC_W && !w->rw && (user || (c->cr0 & CR0_WP)))
		ok = false;
	if (kind == ACC_X && w->nx)
		ok = false;
	if (!ok)
		page_fault(c, lin, err | 1);
	for (int k = 0; k < n; k++)
		if (!(k == n - 1 && (e & 0x20)))
			pte_set(where[k], esz, 0x20);
	w->dirty = e & 0x40;
	if (kind == ACC_W && !w->dirty) {
		pte_set(where[n - 1], esz, 0x40);
		w->dirty = true;
	}
	w->global = (e & 0x100) && (c->cr4 & CR4_PGE);
	w->pa = pa;
}

/* Linear address to host pointer for one access kind; NULL if the page is
 * not RAM (c->xlat_gpa then holds the physical address). */
uint8_t *soft_translate(struct accel_vcpu *c, uint64_t lin, int kind, bool user)
{
	struct soft_tlb_entry *e = &c->tlb[(lin >> 12) % TLB_SIZE];
	uint64_t page = lin & ~0xfffull;
	if (e->tag[kind + (user ? ACC_KINDS : 0)] == page)
		return (uint8_t *)(e->addend + lin);
	struct walk w;
	if (c->cr0 & CR0_PG) {
		walk(c, lin, kind, user, &w);
	} else {
		w.pa = lin;
		w.us = w.rw = w.dirty = true;
		w.nx = w.global = false;
	}
	c->xlat_gpa = w.pa;
	uint8_t *hp = soft_phys_ptr(c->vm, w.pa & ~0xfffull, kind == ACC_W);
	if (kind == ACC_W && c->code_gen_seen != atomic_load(&c->vm->code_gen))
		c->exit_block = true; /* we wrote code: the running block may be stale */
	if (!hp)
		return NULL;
	bool wp = c->cr0 & CR0_WP;
	bool can_w = w.dirty && page_writable(c->vm, w.pa);
	for (int k = 0; k < 2 * ACC_KINDS; k++)
		e->tag[k] = 1;
	e->addend = (uintptr_t)hp - page;
	e->global = w.global;
	e->tag[ACC_R] = page;
	e->tag[ACC_W] = can_w && (w.rw || !wp) ? page : 1;
	e->tag[ACC_X] = !w.nx ? page : 1;
	e->tag[ACC_KINDS + ACC_R] = w.us ? page : 1;
	e->tag[ACC_KINDS + ACC_W] = w.us && w.rw && can_w ? page : 1;
	e->tag[ACC_KINDS + ACC_X] = w.us && !w.nx ? page : 1;
	return hp + (lin & 0xfff);
}

static uint64_t read_split(struct accel_vcpu *c, uint64_t lin, int size, int kind, bool user)
{
	uint8_t b[8];
	for (int k = 0; k < size; k++) {
		uint8_t *p = soft_translate(c, lin + k, kind, user);
		if (p)
			b[k] = (uint8_t)soft_ram_load(p, 1);
		else
			soft_phys_access(c, c->xlat_gpa, &b[k], 1, false);
	}
	uint64_t v = 0;
	memcpy(&v, b, size);
	return v;
}

static uint64_t lin_read(struct accel_vcpu *c, uint64_t lin, int size, int kind, bool user)
{
	if (!c->mode64)
		lin = (uint32_t)lin;
	if ((lin & 0xfff) + size > 0x1000)
		return read_split(c, lin, size, kind, user);
	uint8_t *p = soft_translate(c, lin, kind, user);
	uint64_t v = 0;
	if (p)
		return soft_ram_load(p, size);
	soft_phys_access(c, c->xlat_gpa, &v, size, false);
	return v;
}

static void lin_write(struct accel_vcpu *c, uint64_t lin, int size, uint64_t v, bool user)
{
	if (!c->mode64)
		lin = (uint32_t)lin;
	if ((lin & 0xfff) + size > 0x1000) {
		/* translate both pages first: a fault on the second writes nothing */
		soft_translate(c, lin, ACC_W, user);
		soft_translate(c, (lin | 0xfff) + 1, ACC_W, user);
		for (int k = 0; k < size; k++) {
			uint8_t b = v >> (8 * k);
			uint8_t *p = soft_translate(c, lin + k, ACC_W, user);
			if (p)
				soft_ram_store(p, 1, b);
			else
				soft_phys_access(c, c->xlat_gpa, &b, 1, true);
		}
		return;
	}
	uint8_t *p = soft_translate(c, lin, ACC_W, user);
	if (p) {
		soft_ram_store(p, size, v);
		return;
	}
	soft_phys_access(c, c->xlat_gpa, &v, size, true);
}

uint64_t soft_lin_read(struct accel_vcpu *c, uint64_t lin, int size, int kind)
{
	return lin_read(c, lin, size, kind, c->cpl == 3);
}

void soft_lin_write(struct accel_vcpu *c, uint64_t lin, int size, uint64_t v)
{
	lin_write(c, lin, size, v, c->cpl == 3);
}

/* Implicit supervisor accesses: descriptor tables, TSS, IDT. */
uint64_t soft_lin_read_sys(struct accel_vcpu *c, uint64_t lin, int size)
{
	return lin_read(c, lin, size, ACC_R, false);
}

void soft_lin_write_sys(struct accel_vcpu *c, uint64_t lin, int size, uint64_t v)
{
	lin_write(c, lin, size, v, false);
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static void check_watch(struct accel_vcpu *c, uint64_t lin, int size, int kind)
{
	uint64_t dr7 = (c->dbg_control & KVM_GUESTDBG_USE_HW_BP) ? c->dbg_reg[7] : c->dr7;
	const uint64_t *dr = (c->dbg_control & KVM_GUESTDBG_USE_HW_BP) ? c->dbg_reg : c->dr;
	for (int n = 0; n < 4; n++) {
		if (!((dr7 >> (n * 2)) & 3))
			continue;
		unsigned rw = (dr7 >> (16 + n * 4)) & 3, ln = (dr7 >> (18 + n * 4)) & 3;
		if (rw == 0 || rw == 2 || (rw == 1 && kind != ACC_W))
			continue;
		uint64_t blen = ln == 0 ? 1 : ln == 1 ? 2 : ln == 3 ? 4 : 8;
		uint64_t start = dr[n] & ~(blen - 1);
		if (lin < start + blen && start < lin + size)
			c->data_bp_hit |= 1 << n;
	}
}

/* Segment `seg` : offset to a linear address, with the limit and type
 * checks of the current mode (#GP(0), or #SS(0) for the stack segment). */
uint64_t soft_linear(struct accel_vcpu *c, int seg, uint64_t off, int size, int kind)
{
	uint64_t lin;
	int vec = seg == S_SS ? EXC_SS : EXC_GP;
	if (c->mode64) {
		lin = off + (seg >= S_FS ? c->seg[seg].base : 0);
		if (!canonical(lin) || !canonical(lin + size - 1))
			soft_raise(c, vec, true, 0);
	} else {
		const struct kvm_segment *s = &c->seg[seg];
		if (c->cr0 & CR0_PE) {
			if (s->unusable)
				soft_raise(c, vec, true, 0);
			if (kind == ACC_W && ((s->type & 8) || !(s->type & 2)))
				soft_raise(c, vec, true, 0);
			if (kind == ACC_R && (s->type & 0xa) == 8)
				soft_raise(c, vec, true, 0);
		}
		uint64_t last = off + size - 1;
		if (!(s->type & 8) && (s->type & 4)) {
			uint64_t upper = s->db ? 0xffffffffull : 0xffff;
			if (off <= s->limit || last > upper)
				soft_raise(c, vec, true, 0);
		} else if (last > s->limit) {
			soft_raise(c, vec, true, 0);
		}
		lin = (uint32_t)(s->base + off);
	}
	if (c->watch)
		check_watch(c, lin, size, kind);
	return lin;
}

uint64_t soft_read(struct accel_vcpu *c, int seg, uint64_t off, int size)
{
	return soft_lin_read(c, soft_linear(c, seg, off, size, ACC_R), size, ACC_R);
}

void soft_write(struct accel_vcpu *c, int seg, uint64_t off, int size, uint64_t v)
{
	soft_lin_write(c, soft_linear(c, seg, off, size, ACC_W), size, v);
}

/* Instruction bytes at CS:rip, at most `max`, stopping quietly at a page
 * that faults or an end of the CS limit after the first byte (the decoder
 * faults only if it needs those bytes). Returns how many were fetched. */
int soft_fetch(struct accel_vcpu *c, uint64_t rip, uint8_t *buf, int max)
{
	uint64_t lin = c->mode64 ? rip : (uint32_t)(c->seg[S_CS].base + rip);
	bool user = c->cpl == 3;
	int n = 0;
	if (!c->mode64 && rip + max - 1 > c->seg[S_CS].limit) {
		if (rip > c->seg[S_CS].limit)
			soft_gp(c, 0);
		max = c->seg[S_CS].limit - rip + 1;
	}
	while (n < max) {
		uint64_t a = lin + n;
		if (!c->mode64)
			a = (uint32_t)a;
		int chunk = 0x1000 - (a & 0xfff);
		if (chunk > max - n)
			chunk = max - n;
		uint8_t *p;
		if (n == 0) {
			p = soft_translate(c, a, ACC_X, user);
		} else {
			/* the next page may fault: only if the decoder needs it */
			struct soft_tlb_entry *e = &c->tlb[(a >> 12) % TLB_SIZE];
			if (e->tag[ACC_X + (user ? ACC_KINDS : 0)] != (a & ~0xfffull))
				break;
			p = (uint8_t *)(e->addend + a);
		}
		if (!p)
			soft_emul_fail(c); /* executing from MMIO */
		memcpy(buf + n, p, chunk);
		n += chunk;
	}
	return n;
}
