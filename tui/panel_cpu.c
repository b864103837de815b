/* panel_cpu: a vCPU's registers (vCPU 0 unless `v` picked another), those changed since the previous stop
 * highlighted (and marked '*' for monochrome eyes), and the code around RIP
 * with symbols: '>' marks RIP, 'B' a breakpoint, and the highlighted line is
 * the one F9 toggles a breakpoint on (Up/Down move it). */
#include <stdio.h>
#include <string.h>

#include "engine/debug/disasm.h"
#include "tui/tui_int.h"

struct reg_cell { const char *name; uint64_t now, before; };

static int reg_cells(const struct tui_regs *g, struct reg_cell *c)
{
	const struct kvm_regs *r = &g->r, *p = g->has_prev ? &g->rprev : &g->r;
	const struct kvm_sregs *s = &g->s, *q = g->has_prev ? &g->sprev : &g->s;
	struct reg_cell all[] = {
		{ "rax", r->rax, p->rax }, { "rbx", r->rbx, p->rbx }, { "rcx", r->rcx, p->rcx },
		{ "rdx", r->rdx, p->rdx }, { "rsi", r->rsi, p->rsi }, { "rdi", r->rdi, p->rdi },
		{ "rsp", r->rsp, p->rsp }, { "rbp", r->rbp, p->rbp }, { "r8", r->r8, p->r8 },
		{ "r9", r->r9, p->r9 }, { "r10", r->r10, p->r10 }, { "r11", r->r11, p->r11 },
		{ "r12", r->r12, p->r12 }, { "r13", r->r13, p->r13 }, { "r14", r->r14, p->r14 },
		{ "r15", r->r15, p->r15 }, { "rip", r->rip, p->rip }, { "rfl", r->rflags, p->rflags },
		{ "cs", s->cs.selector, q->cs.selector }, { "ss", s->ss.selector, q->ss.selector },
		{ "ds", s->ds.selector, q->ds.selector }, { "cr0", s->cr0, q->cr0 }, { "cr3", s->cr3, q->cr3 },
		{ "cr4", s->cr4, q->cr4 }, { "efer", s->efer, q->efer },
	};
	memcpy(c, all, sizeof(all));
	return (int)(sizeof(all) / sizeof(all[0]));
}

#define CELL_W 22
#define GPR_CELLS 18   /* rax..r15, rip, rflags: what a short panel keeps */

static int cols_for(int w)
{
	return w / CELL_W > 0 ? w / CELL_W : 1;
}

/* The first `max` register cells in columns; returns the rows used. */
static int draw_regs(const struct tui_rect *r, const struct tui_regs *g, int max)
{
	struct reg_cell c[32];
	int n = reg_cells(g, c), cols = cols_for(r->w);
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++) {
		bool changed = c[i].now != c[i].before;
		tui_put(r, i / cols, (i % cols) * CELL_W, changed ? tui_attr(R_CHANGED) : A_NORMAL, "%-4s %016llx%c",
			c[i].name, (unsigned long long)c[i].now, changed ? '*' : ' ');
	}
	return (n + cols - 1) / cols;
}

static void insn_line(const struct tui_rect *r, int y, const struct tui_detail *d, int i, bool cursor)
{
	const struct disasm_insn *in = &d->insn[i];
	const char *sym = d->sym[i];
	attr_t a = cursor ? tui_attr(R_SELECTED) : i == d->rip_index ? tui_attr(R_RIP) : A_NORMAL;
	if (cursor || i == d->rip_index) {
		attrset(a);
		mvhline(r->y + y, r->x, ' ', r->w);
	}
	char col[32] = "";  /* the symbol column only where there are symbols */
	if (sym[0])
		snprintf(col, sizeof(col), "%-18.18s ", sym);
	tui_put(r, y, 0, a, " %c %08llx %s%s", i == d->rip_index ? '>' : ' ', (unsigned long long)in->addr, col,
		in->text);
	if (d->bp[i])
		tui_put(r, y, 0, tui_attr(R_BREAK) | (cursor ? A_REVERSE : 0), "B");
}

static void draw_code(struct tui *t, const struct tui_rect *r, struct tui_vm *v)
{
	const struct tui_detail *d = &t->d;
	if (!d->ninsn) {
		tui_put(r, 0, 0, tui_attr(R_DIM), "%s", d->cpu_msg);
		return;
	}
	if (v->disasm_cursor >= d->ninsn)
		v->disasm_cursor = d->ninsn - 1;
	/* Keep the cursor in view, RIP a third of the way down when it can be. */
	int anchor = v->disasm_cursor, top = anchor - r->h / 3;
	if (top > d->ninsn - r->h)
		top = d->ninsn - r->h;
	if (top < 0)
		top = 0;
	for (int y = 0; y < r->h && top + y < d->ninsn; y++)
		insn_line(r, y, d, top + y, top + y == v->disasm_cursor && t->focus == P_CPU);
}

void tui_panel_cpu(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	if (!v) {
		tui_title(t, P_CPU, "no VM selected");
		return;
	}
	struct tui_rect b = tui_body(t, P_CPU);
	if (!v->regs.valid || v->state == VM_RUNNING) {
		tui_title(t, P_CPU, "%s vCPU %d", v->name, v->cpu);
		tui_put(&b, 0, 0, tui_attr(R_DIM), "%s: registers and code show when it stops (space pauses)",
			vm_state_name(v->state));
		return;
	}
	tui_title(t, P_CPU, "%s vCPU %d at %s (* changed since the previous stop; v: next vCPU)", v->name, v->cpu,
		  v->stop);
	if (b.w >= 110) {  /* registers left, code right */
		struct tui_rect regs = { b.y, b.x, b.h, 2 * CELL_W }, code = { b.y, b.x + 2 * CELL_W + 1, b.h, b.w - 2 * CELL_W - 1 };
		draw_regs(&regs, &v->regs, 32);
		draw_code(t, &code, v);
		return;
	}
	int cols = cols_for(b.w), all = (25 + cols - 1) / cols;
	int used = draw_regs(&b, &v->regs, b.h - all >= 4 ? 32 : GPR_CELLS);
	struct tui_rect code = { b.y + used, b.x, b.h - used, b.w };
	if (code.h > 0)
		draw_code(t, &code, v);
}
