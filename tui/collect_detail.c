/* collect_detail: what is read for the selected VM only, and only while a
 * panel shows it: the busiest ports and MMIO addresses, KVM's binary
 * statistics, the code around RIP with breakpoints marked, and the bytes of
 * the hexdump. Registers and code are read only from a VM that is not
 * running (they belong to the vCPU thread while it is in the guest). */
#include <stdio.h>
#include <string.h>

#include "engine/debug/debug.h"
#include "util/err.h"
#include "tui/tui_int.h"

#define BACK_BYTES 40     /* how far before RIP to look for instruction starts */
#define BEFORE_RIP 6      /* instructions shown before RIP when they can be found */

static void add_kstat(void *arg, const char *name, uint64_t value)
{
	struct tui_detail *d = arg;
	if (!value || d->nkstats == TUI_KSTATS)
		return;
	struct tui_kstat *k = &d->kstats[d->nkstats++];
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->value = value;
}

void tui_collect_stats_detail(struct tui *t, const struct vm_stats *st)
{
	struct tui_detail *d = &t->d;
	d->nports = stats_top(&st->total.io, d->ports, 16);
	d->nmmio = stats_top(&st->total.mmio, d->mmio, 16);
	d->nkstats = 0;
	struct tui_vm *v = tui_selected(t);
	if (!t->shown[P_STATS] || !v)
		return;
	vm_kvm_stats(v->vm, -1, add_kstat, d);
	vm_kvm_stats(v->vm, 0, add_kstat, d);
}

/* Instructions from `start`; the index of `rip` among them, or -1. */
static int decode_from(struct tui_vm *v, uint64_t start, uint64_t rip, struct tui_detail *d)
{
	d->ninsn = disasm_range(v->vm, v->cpu, start, TUI_DISASM, d->insn);
	if (d->ninsn < 0)
		d->ninsn = 0;
	for (int i = 0; i < d->ninsn; i++)
		if (d->insn[i].addr == rip)
			return i;
	return -1;
}

/* x86 cannot be decoded backwards: start at the symbol RIP is in when it is
 * near, else at the earliest of the last BACK_BYTES that decodes onto RIP. */
static int find_start(struct tui_vm *v, uint64_t rip, uint64_t *start)
{
	uint64_t off;
	const char *name = sym_lookup(vm_symbols(v->vm), rip, &off);
	if (name && off < 256) {
		*start = rip - off;
		return 0;
	}
	struct disasm_insn one;
	for (uint64_t back = BACK_BYTES; back > 0; back--) {
		uint64_t a = rip - back;
		int n = 0;
		while (a < rip && n < BEFORE_RIP * 3) {
			int len = disasm_one(v->vm, v->cpu, a, &one);
			if (len <= 0)
				break;
			a += (uint64_t)len;
			n++;
		}
		if (a == rip && n <= BEFORE_RIP) {
			*start = rip - back;
			return 0;
		}
	}
	*start = rip;
	return 0;
}

static void name_insns(struct tui_vm *v, struct tui_detail *d)
{
	for (int i = 0; i < d->ninsn; i++)
		disasm_symbolize(vm_symbols(v->vm), d->insn[i].addr, d->sym[i], sizeof(d->sym[i]));
}

static void mark_breakpoints(struct tui_vm *v, struct tui_detail *d)
{
	struct debug_point pts[DEBUG_MAX_BREAKPOINTS];
	int n = debug_list(v->vm, pts, DEBUG_MAX_BREAKPOINTS);
	for (int i = 0; i < d->ninsn; i++) {
		d->bp[i] = false;
		for (int k = 0; k < n; k++)
			if ((pts[k].kind == DBG_HW_EXEC || pts[k].kind == DBG_SW_EXEC) && pts[k].addr == d->insn[i].addr)
				d->bp[i] = true;
	}
}

static void collect_code(struct tui *t, struct tui_vm *v)
{
	struct tui_detail *d = &t->d;
	static uint64_t cached_rip, cached_stops;
	static struct vm *cached_vm;
	static int cached_cpu;
	d->cpu_msg[0] = '\0';
	if (v->state == VM_RUNNING || !v->regs.valid) {
		snprintf(d->cpu_msg, sizeof(d->cpu_msg), "%s: registers and code show when it stops (space pauses)",
			 v->state == VM_RUNNING ? "running" : "no registers");
		d->ninsn = 0;
		cached_vm = NULL;
		return;
	}
	uint64_t rip = v->regs.s.cs.base + v->regs.r.rip;
	if (cached_vm != v->vm || cached_cpu != v->cpu || cached_rip != rip || cached_stops != v->stop_count ||
	    !d->ninsn) {
		uint64_t start;
		find_start(v, rip, &start);
		d->rip_index = decode_from(v, start, rip, d);
		if (d->rip_index < 0)
			d->rip_index = decode_from(v, rip, rip, d);
		if (!d->ninsn)
			snprintf(d->cpu_msg, sizeof(d->cpu_msg), "no code at 0x%llx: %s", (unsigned long long)rip, err_msg());
		v->disasm_cursor = d->rip_index < 0 ? 0 : d->rip_index;
		name_insns(v, d);
		cached_vm = v->vm;
		cached_cpu = v->cpu;
		cached_rip = rip;
		cached_stops = v->stop_count;
	}
	mark_breakpoints(v, d);
}

static void collect_memory(struct tui *t, struct tui_vm *v)
{
	struct tui_detail *d = &t->d;
	if (!v->mem_addr_set && v->regs.valid) {  /* start where the code is */
		v->mem_addr = (v->regs.s.cs.base + v->regs.r.rip) & ~0xffull;
		v->mem_addr_set = true;
	}
	d->memlen = 0;
	d->mem_msg[0] = '\0';
	size_t len = TUI_MEM_BYTES;
	if (v->mem_addr >= v->mem_size)
		len = 0;
	else if (v->mem_size - v->mem_addr < len)
		len = (size_t)(v->mem_size - v->mem_addr);
	if (len && vm_mem_read(v->vm, v->mem_addr, d->mem, len) == 0)
		d->memlen = len;
	else
		snprintf(d->mem_msg, sizeof(d->mem_msg), "0x%llx is outside the VM's RAM (%llu bytes)",
			 (unsigned long long)v->mem_addr, (unsigned long long)v->mem_size);
}

void tui_collect_detail(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	if (!v)
		return;
	if (t->shown[P_CPU])
		collect_code(t, v);
	if (t->shown[P_MEM])
		collect_memory(t, v);
}
