/* panel_stats: the selected VM's exits by reason (count, rate, a sparkline of
 * the last 60 seconds), CPU time per vCPU, the busiest I/O ports and MMIO
 * addresses, and KVM's own binary statistics (non-zero ones, VM then vCPU 0).
 * The panel is a list of lines that Up/Down/PgUp/PgDn scroll. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_int.h"

/* Writes rows top to bottom, skipping the first `skip` (the scroll). */
struct flow {
	struct tui_rect r;
	int row, skip;
};

static int flow_row(struct flow *f)
{
	return f->row++ - f->skip;
}

static void exits_section(struct flow *f, const struct tui_vm *v)
{
	int spark_w = f->r.w - 40;
	tui_put(&f->r, flow_row(f), 0, tui_attr(R_HEADER), "%-16s %12s %9s  %s", "EXIT REASON", "COUNT", "RATE/s",
		spark_w > 8 ? "LAST 60 s" : "");
	for (int i = 0; i < STATS_EXIT_REASONS; i++) {
		if (!v->exits[i])
			continue;
		char rate[16];
		tui_fmt_rate(rate, sizeof(rate), v->rate[i]);
		int y = flow_row(f);
		tui_put(&f->r, y, 0, A_NORMAL, "%-16s %12llu %9s", stats_exit_name((unsigned)i),
			(unsigned long long)v->exits[i], rate);
		if (spark_w > 8)
			tui_sparkline(&f->r, y, 40, spark_w, v->hist[i], v->hist_pos);
	}
}

static void cpu_section(struct flow *f, const struct tui_vm *v)
{
	int y = flow_row(f);
	tui_put(&f->r, y, 0, tui_attr(R_HEADER), "CPU (time in the guest / wall time)");
	char line[512];
	int n = snprintf(line, sizeof(line), "total %.1f%%", v->cpu_pct);
	for (int i = 0; i < v->nvcpus && n < (int)sizeof(line) - 32; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  vCPU%d %.1f%%", i, v->vcpu_pct[i]);
	tui_put(&f->r, flow_row(f), 0, A_NORMAL, "%s", line);
}

static void addr_section(struct flow *f, const char *what, const struct addr_count *a, size_t n)
{
	if (!n)
		return;
	tui_put(&f->r, flow_row(f), 0, tui_attr(R_HEADER), "%-18s %12s", what, "ACCESSES");
	for (size_t i = 0; i < n && i < 8; i++)
		tui_put(&f->r, flow_row(f), 0, A_NORMAL, "0x%-16llx %12llu", (unsigned long long)a[i].addr,
			(unsigned long long)a[i].count);
}

static void kvm_section(struct flow *f, const struct tui_detail *d, const struct tui_vm *v)
{
	if (strcmp(v->accel, "kvm") != 0)
		return; /* only KVM keeps these */
	tui_put(&f->r, flow_row(f), 0, tui_attr(R_HEADER), "KVM BINARY STATISTICS (non-zero; VM, then vCPU 0)");
	if (!d->nkstats)
		tui_put(&f->r, flow_row(f), 0, tui_attr(R_DIM), "none (the host's KVM has no KVM_GET_STATS_FD?)");
	int colw = 44, cols = f->r.w / colw > 0 ? f->r.w / colw : 1;
	for (int i = 0; i < d->nkstats; i += cols) {
		int y = flow_row(f);
		for (int c = 0; c < cols && i + c < d->nkstats; c++)
			tui_put(&f->r, y, c * colw, A_NORMAL, "%-28.28s %14llu", d->kstats[i + c].name,
				(unsigned long long)d->kstats[i + c].value);
	}
}

void tui_panel_stats(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	char rate[16];
	tui_fmt_rate(rate, sizeof(rate), v ? v->exit_rate : 0);
	if (!v) {
		tui_title(t, P_STATS, "no VM selected");
		return;
	}
	char insns[40] = "";
	if (v->has_insns) {
		char ir[16];
		tui_fmt_rate(ir, sizeof(ir), v->insn_rate);
		snprintf(insns, sizeof(insns), ", %s instructions/s", ir);
	}
	tui_title(t, P_STATS, "%s: %llu exits, %s/s, CPU %.1f%%%s", v->name, (unsigned long long)v->exits_total,
		  rate, v->cpu_pct, insns);
	struct flow f = { tui_body(t, P_STATS), 0, t->scroll[P_STATS] };
	exits_section(&f, v);
	f.row++;
	cpu_section(&f, v);
	f.row++;
	addr_section(&f, "I/O PORT", t->d.ports, t->d.nports);
	addr_section(&f, "MMIO ADDRESS", t->d.mmio, t->d.nmmio);
	f.row++;
	kvm_section(&f, &t->d, v);
	if (t->scroll[P_STATS] > f.row - 1)  /* scrolled past the end: stay at the last line */
		t->scroll[P_STATS] = f.row - 1 > 0 ? f.row - 1 : 0;
}
