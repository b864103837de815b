/* panel_vms: the VM list, one line per VM (name, state, accelerator, vCPUs, CPU %, memory
 * size, resident and dirtied since the last snapshot, exits per second, the
 * last stop), in the order the user sorted it; the selected VM is the one the
 * other panels and the keys act on. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tui/tui_int.h"

static const char *const sort_names[S_COUNT] = {
	[S_NAME] = "name", [S_STATE] = "state", [S_CPU] = "CPU%", [S_EXITS] = "exits/s", [S_MEM] = "resident",
};

static int sort_key;
static bool sort_rev;

static int cmp_num(double a, double b)
{
	return a < b ? 1 : a > b ? -1 : 0;  /* biggest first */
}

static int compare(const void *pa, const void *pb)
{
	const struct tui_vm *a = *(struct tui_vm *const *)pa, *b = *(struct tui_vm *const *)pb;
	int c = 0;
	switch (sort_key) {
	case S_STATE: c = (int)a->state - (int)b->state; break;
	case S_CPU: c = cmp_num(a->cpu_pct, b->cpu_pct); break;
	case S_EXITS: c = cmp_num(a->exit_rate, b->exit_rate); break;
	case S_MEM: c = cmp_num((double)a->resident, (double)b->resident); break;
	default: break;
	}
	if (!c)
		c = strcmp(a->name, b->name);
	if (!c)
		c = a->created_ns < b->created_ns ? -1 : a->created_ns > b->created_ns;
	return sort_rev ? -c : c;
}

void tui_sort(struct tui *t, const struct tui_vm *keep)
{
	sort_key = t->sort;
	sort_rev = t->sort_rev;
	if (t->nvms > 1)
		qsort(t->vms, (size_t)t->nvms, sizeof(*t->vms), compare);
	for (int i = 0; i < t->nvms; i++)
		if (t->vms[i] == keep)
			t->sel = i;
	if (t->sel >= t->nvms)
		t->sel = t->nvms - 1;
	if (t->sel < 0)
		t->sel = 0;
}

static void row(struct tui *t, const struct tui_rect *r, int y, struct tui_vm *v, bool sel)
{
	char mem[16], res[16], dirty[16], rate[16];
	tui_fmt_size(mem, sizeof(mem), v->mem_size);
	tui_fmt_size(res, sizeof(res), v->resident);
	if (v->has_dirty)
		tui_fmt_size(dirty, sizeof(dirty), v->dirty);
	else
		strcpy(dirty, "-");
	tui_fmt_rate(rate, sizeof(rate), v->exit_rate);
	attr_t base = sel ? tui_attr(R_SELECTED) | (t->focus == P_VMS ? A_BOLD : 0) : A_NORMAL;
	if (sel) {
		attrset(base);
		mvhline(r->y + y, r->x, ' ', r->w);
	}
	/* the marker shows the selection where reverse video does not (captures, some terminals) */
	tui_put(r, y, 0, base, "%c%-11.11s", sel ? '>' : ' ', v->name);
	tui_put(r, y, 13, sel ? base : tui_attr(tui_state_role(v->state)), "%-8s", vm_state_name(v->state));
	tui_put(r, y, 22, base, "%-4s %4d %5.1f %5s %5s %5s %7s %s", v->accel, v->nvcpus, v->cpu_pct, mem, res,
		dirty, rate, v->stop);
}

void tui_panel_vms(struct tui *t)
{
	tui_title(t, P_VMS, "%d VM%s, sorted by %s%s (s: sort, S: reverse)", t->nvms, t->nvms == 1 ? "" : "s",
		  sort_names[t->sort], t->sort_rev ? ", reversed" : "");
	struct tui_rect r = tui_body(t, P_VMS);
	if (r.h < 1)
		return;
	tui_put(&r, 0, 0, tui_attr(R_HEADER), " %-11s %-8s %-4s %4s %5s %5s %5s %5s %7s %s", "NAME", "STATE", "ACCL", "CPUS",
		"CPU%", "MEM", "RES", "DIRTY", "EXITS/s", "LAST STOP");
	if (!t->nvms) {
		tui_put(&r, 1, 0, tui_attr(R_DIM), "no VMs yet: in the console, vm = wb.vm{} ... vm:load(sample(\"hello64.elf\"))");
		return;
	}
	int rows = r.h - 1;
	if (t->sel < t->vms_top)
		t->vms_top = t->sel;
	if (rows > 0 && t->sel >= t->vms_top + rows)
		t->vms_top = t->sel - rows + 1;
	if (t->vms_top > t->nvms - rows)
		t->vms_top = t->nvms - rows > 0 ? t->nvms - rows : 0;
	for (int i = 0; i < rows && t->vms_top + i < t->nvms; i++)
		row(t, &r, 1 + i, t->vms[t->vms_top + i], t->vms_top + i == t->sel);
}
