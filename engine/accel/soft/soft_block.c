/* soft_block: the decoded-block cache. A block is a run of instructions on
 * one guest page, decoded once and kept with the host address of its first
 * byte and the decoding mode as key. The first time, the block is built
 * while it executes (so faults happen exactly as without a cache); later runs
 * skip fetch and decode and do only the per-instruction minimum. A block
 * stops early when an instruction branches, changes the mode, the flags'
 * TF/IF, the translations, or asks for an exit (c->exit_block).
 *
 * Self-modifying code: the page of every block is marked in its slot's `code`
 * bitmap; guest writes never get a TLB write entry for a marked page, so the
 * first write takes the slow path, unmarks the page and bumps the VM's
 * code_gen, and every vCPU drops all its blocks before the next lookup. The
 * VMM's writes while the vCPU is out of vcpu_run are caught by comparing a
 * block's bytes the first time it runs in a new vcpu_run; writes by another
 * thread while it runs need soft_vm_ram_written (soft.h). */
#include <stdlib.h>
#include <string.h>

#include "engine/accel/soft/soft_cpu.h"

#define BHASH 8192
#define ARENA_SIZE (8u << 20)
#define CONTINUE 1

struct soft_block {
	uintptr_t key;               /* host address of the first byte */
	uint8_t mode;                /* mode64 | code32 << 1 | cpl << 2 */
	uint8_t n;
	uint16_t len;                /* bytes covered */
	/* the blocks that followed, found without a lookup while the TLB
	 * generation they were linked under lasts */
	struct soft_block *succ[2];
	uint64_t succ_rip[2];
	uint32_t succ_tlb[2];
	uint32_t epoch;              /* the vcpu_run in which the bytes were last checked */
	uint8_t *bytes;              /* the guest bytes it was decoded from */
	struct soft_insn insn[];
};

static uint8_t mode_key(const struct accel_vcpu *c)
{
	return c->mode64 | (c->code32 << 1) | (c->cpl << 2);
}

static void flush_blocks(struct accel_vcpu *c)
{
	if (c->bhash)
		memset(c->bhash, 0, BHASH * sizeof(*c->bhash));
	c->arena_used = 0;
}

void soft_blocks_free(struct accel_vcpu *c)
{
	free(c->bhash);
	free(c->arena);
	c->bhash = NULL;
	c->arena = NULL;
}

void soft_code_written(struct accel_vm *vm)
{
	atomic_fetch_add(&vm->code_gen, 1);
}

/* Blocks may run only when nothing needs a look after every instruction. */
bool soft_block_fast_ok(struct accel_vcpu *c)
{
	return !c->shadow && !(c->rflags & F_TF) && !c->watch && !(c->dr7 & 0xff) &&
	       !(c->dbg_control & (KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_USE_HW_BP)) &&
	       !c->resume_one;
}

static size_t hash(uintptr_t key, uint8_t mode)
{
	return ((key >> 0) ^ (key >> 13) ^ mode) % BHASH;
}

/* Marks the page at gpa as holding code; true if it was not marked. */
static bool mark_code(struct accel_vm *vm, uint64_t gpa)
{
	for (int s = 0; s < SOFT_SLOTS; s++) {
		struct soft_slot *sl = &vm->slots[s];
		if (sl->used && gpa - sl->gpa < sl->size && sl->code) {
			uint64_t pg = (gpa - sl->gpa) >> 12;
			uint64_t bit = 1ull << (pg % 64);
			return !(atomic_fetch_or(&sl->code[pg / 64], bit) & bit);
		}
	}
	return false;
}

static void publish(struct accel_vcpu *c, uintptr_t key, uint8_t mode, int n, int len)
{
	if (n == 0 || c->code_gen_seen != atomic_load(&c->vm->code_gen))
		return;
	size_t head = sizeof(struct soft_block) + n * sizeof(struct soft_insn);
	size_t sz = (head + len + 15) & ~(size_t)15;
	if (c->arena_used + sz > ARENA_SIZE)
		flush_blocks(c);
	struct soft_block *b = (struct soft_block *)(c->arena + c->arena_used);
	c->arena_used += sz;
	b->key = key;
	b->mode = mode;
	b->n = n;
	b->len = len;
	b->succ[0] = b->succ[1] = NULL;
	b->epoch = c->run_epoch;
	b->bytes = (uint8_t *)b + head;
	memcpy(b->bytes, (const void *)key, len);
	memcpy(b->insn, c->build, n * sizeof(struct soft_insn));
	c->bhash[hash(key, mode)] = b;
}

/* One instruction already decoded: the bookkeeping a fault needs, then run. */
static inline uint64_t run_one(struct accel_vcpu *c, struct soft_insn *i)
{
	uint64_t n = c->rip + i->len;
	if (!c->mode64)
		n = c->code32 ? (uint32_t)n : (uint16_t)n;
	c->insn_rip = c->rip;
	c->insn_rsp = c->r[R_SP];
	c->cur = i;
	c->rip = n;
	i->fn(c, i);
	return n;
}

static bool ends_block(const struct soft_insn *i)
{
	return i->fn == soft_exec_sys1 || i->fn == soft_exec_sys2 || i->fn == soft_exec_string;
}

static int build(struct accel_vcpu *c, uint64_t lin, uintptr_t key, uint8_t mode)
{
	/* the physical page, for the code mark: walk it again */
	soft_tlb_flush_page(c, lin);
	soft_translate(c, lin, ACC_X, c->cpl == 3);
	if (mark_code(c->vm, c->xlat_gpa)) {
		/* no vCPU may keep a TLB write entry to this page */
		soft_tlb_flush(c, false);
		atomic_fetch_add(&c->vm->mem_gen, 1);
		for (int k = 0; k < IRQCHIP_MAX_VCPUS; k++)
			if (c->vm->vcpus[k] && c->vm->vcpus[k] != c)
				atomic_store(&c->vm->vcpus[k]->work, 1);
	}
	c->exit_block = false;
	int room = 0x1000 - (lin & 0xfff), n = 0, len = 0;
	for (;;) {
		struct soft_insn *i = &c->build[n];
		c->insn_rip = c->rip;
		c->insn_rsp = c->r[R_SP];
		c->io_pos = 0;
		c->repeat = false;
		c->cur = NULL;
		soft_decode(c, i);
		bool crosses = len + i->len > room;
		uint64_t next = run_one(c, i);
		if (crosses) {
			publish(c, key, mode, n, len);
			return soft_retire(c, false);
		}
		n++;
		len += i->len;
		if (c->rip != next || c->exit_block || ends_block(i) || n == SOFT_BLOCK_MAX ||
		    len == room) {
			publish(c, key, mode, n, len);
			return soft_retire(c, false);
		}
		c->insn_count++;
		c->poll_countdown--;
	}
}

/* The VMM may have written guest RAM while the vCPU was out of vcpu_run (a
 * breakpoint planted, a device's DMA, a restore): the first time a block runs
 * in a new vcpu_run its bytes are compared with memory. */
static bool fresh(struct accel_vcpu *c, struct soft_block *b)
{
	if (b->epoch == c->run_epoch)
		return true;
	if (memcmp(b->bytes, (const void *)b->key, b->len))
		return false;
	b->epoch = c->run_epoch;
	return true;
}

static struct soft_block *lookup(struct accel_vcpu *c, uint64_t lin, uintptr_t *key,
				 uint8_t *mode)
{
	uint8_t *p = soft_translate(c, lin, ACC_X, c->cpl == 3);
	if (!p)
		soft_emul_fail(c); /* executing MMIO */
	*key = (uintptr_t)p;
	*mode = mode_key(c);
	struct soft_block *b = c->bhash[hash(*key, *mode)];
	if (!b || b->key != *key || b->mode != *mode ||
	    (!c->mode64 && c->rip + b->len - 1 > c->seg[S_CS].limit) || !fresh(c, b))
		return NULL;
	return b;
}

static uint64_t linear_rip(struct accel_vcpu *c)
{
	if (c->mode64)
		return c->seg[S_CS].base + c->rip;
	if (c->rip > c->seg[S_CS].limit)
		soft_gp(c, 0);
	return (uint32_t)(c->seg[S_CS].base + c->rip);
}

/* The block that comes after `b` at c->rip: its link, or a lookup (then
 * linked). NULL: not built yet, or anything that needs the main loop. */
static struct soft_block *next_block(struct accel_vcpu *c, struct soft_block *b)
{
	for (int k = 0; k < 2; k++) {
		if (!b->succ[k] || b->succ_rip[k] != c->rip || b->succ_tlb[k] != c->tlb_gen)
			continue;
		if (fresh(c, b->succ[k]))
			return b->succ[k];
		b->succ[k] = NULL; /* rewritten: find or build it again */
	}
	uintptr_t key;
	uint8_t mode;
	c->insn_rip = c->rip;
	c->insn_rsp = c->r[R_SP];
	c->cur = NULL;
	struct soft_block *n = lookup(c, linear_rip(c), &key, &mode);
	if (!n)
		return NULL;
	int k = b->succ[0] ? 1 : 0;
	b->succ[k] = n;
	b->succ_rip[k] = c->rip;
	b->succ_tlb[k] = c->tlb_gen;
	return n;
}

/* Runs blocks from c->rip (building one if needed) while nothing needs the
 * main loop. Returns CONTINUE or what vcpu_run returns. */
int soft_exec_block(struct accel_vcpu *c)
{
	if (!c->bhash) {
		c->bhash = calloc(BHASH, sizeof(*c->bhash));
		c->arena = malloc(ARENA_SIZE);
		if (!c->bhash || !c->arena)
			soft_emul_fail(c);
	}
	uint32_t gen = atomic_load_explicit(&c->vm->code_gen, memory_order_relaxed);
	if (gen != c->code_gen_seen) {
		c->code_gen_seen = gen;
		flush_blocks(c);
	}
	uint64_t lin = linear_rip(c);
	c->insn_rip = c->rip;
	c->insn_rsp = c->r[R_SP];
	c->cur = NULL;
	uintptr_t key;
	uint8_t mode;
	struct soft_block *b = lookup(c, lin, &key, &mode);
	if (!b)
		return build(c, lin, key, mode);
	c->exit_block = false;
	c->rflags &= ~(uint64_t)F_RF;
	for (;;) {
		int last = b->n - 1;
		for (int k = 0; k < last; k++) {
			uint64_t next = run_one(c, &b->insn[k]);
			if (__builtin_expect(c->rip != next || c->exit_block, 0))
				return soft_retire(c, false);
			c->insn_count++;
		}
		c->io_pos = 0;
		run_one(c, &b->insn[last]);
		if (c->exit_block)
			return soft_retire(c, false);
		c->insn_count++;
		c->poll_countdown -= b->n;
		if (c->poll_countdown <= 0) {
			soft_poll_timers(c);
			return 1;
		}
		if (atomic_load_explicit(&c->work, memory_order_relaxed) ||
		    atomic_load_explicit(&c->vm->code_gen, memory_order_relaxed) != c->code_gen_seen)
			return 1;
		b = next_block(c, b);
		if (!b)
			return 1;
	}
}
