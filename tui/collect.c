/* collect: samples every VM into plain numbers once a tick, so the panels only
 * format: state, last stop, CPU time in the guest over wall time (per vCPU
 * and in total), memory, exits by reason with their rates and a per-second
 * history for the sparklines, and the serial output as lines. Records are
 * matched to VMs by address and creation time, so a new VM that reuses a
 * destroyed one's address starts afresh. Reading counters never stops a
 * guest (engine/stats.h); resident and dirty memory cost a page-table scan
 * each and are read once a second. */
#include <stdlib.h>
#include <string.h>

#include "engine/state/snapshot.h"
#include "tui/tui_int.h"

#define MAX_VMS 4096
#define SERIAL_LINES 500
#define SERIAL_FIRST_READ (64 * 1024)
#define NS 1000000000ull

static struct tui_vm *find_rec(struct tui *t, struct vm *vm, uint64_t created)
{
	for (int i = 0; i < t->nvms; i++)
		if (t->vms[i]->vm == vm && t->vms[i]->created_ns == created)
			return t->vms[i];
	return NULL;
}

static struct tui_vm *new_rec(struct tui *t, struct vm *vm, const struct vm_stats *st)
{
	if (t->nvms == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		struct tui_vm **more = realloc(t->vms, (size_t)cap * sizeof(*more));
		if (!more)
			return NULL;
		t->vms = more;
		t->cap = cap;
	}
	struct tui_vm *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->guest_ns = calloc((size_t)st->nvcpus, sizeof(*v->guest_ns));
	v->vcpu_pct = calloc((size_t)st->nvcpus, sizeof(*v->vcpu_pct));
	if (!v->guest_ns || !v->vcpu_pct) {
		free(v->guest_ns);
		free(v->vcpu_pct);
		free(v);
		return NULL;
	}
	v->vm = vm;
	v->created_ns = st->created_ns;
	v->nvcpus = st->nvcpus;
	tui_lines_init(&v->serial, SERIAL_LINES);
	t->vms[t->nvms++] = v;
	return v;
}

static void free_rec(struct tui_vm *v)
{
	tui_lines_free(&v->serial);
	free(v->guest_ns);
	free(v->vcpu_pct);
	free(v);
}

static void note_stop(struct tui_vm *v)
{
	uint64_t n = vm_stop_count(v->vm);
	if (n == v->stop_count && v->stop[0])
		return;
	v->stop_count = n;
	struct vm_stop s;
	vm_last_stop(v->vm, &s);
	if (s.kind == STOP_NONE)
		snprintf(v->stop, sizeof(v->stop), "-");
	else
		snprintf(v->stop, sizeof(v->stop), "%s: %s", vm_stop_kind_name(s.kind), s.reason);
}

/* Per-second buckets: whatever came since the last boundary goes in the newest. */
static void advance_history(struct tui_vm *v, uint64_t now)
{
	if (!v->sec_ns || now - v->sec_ns > TUI_HIST * NS) {
		v->sec_ns = now;
		memcpy(v->sec_exits, v->exits, sizeof(v->exits));
		return;
	}
	if (now - v->sec_ns < NS)
		return;
	while (now - v->sec_ns >= NS) {
		v->hist_pos = (v->hist_pos + 1) % TUI_HIST;
		for (int r = 0; r < STATS_EXIT_REASONS; r++)
			v->hist[r][v->hist_pos] = 0;
		v->sec_ns += NS;
	}
	for (int r = 0; r < STATS_EXIT_REASONS; r++) {
		v->hist[r][v->hist_pos] = (uint32_t)(v->exits[r] - v->sec_exits[r]);
		v->sec_exits[r] = v->exits[r];
	}
}

static void sample_counters(struct tui_vm *v, const struct vm_stats *st, uint64_t now)
{
	double dt = v->sample_ns ? (double)(now - v->sample_ns) / 1e9 : 0;
	uint64_t total = stats_total_exits(&st->total);
	v->exit_rate = dt > 0 ? (double)(total - v->exits_total) / dt : 0;
	v->exits_total = total;
	v->has_insns = st->total.has_instructions;
	v->insn_rate = dt > 0 ? (double)(st->total.instructions - v->insns) / dt : 0;
	v->insns = st->total.instructions;
	for (int r = 0; r < STATS_EXIT_REASONS; r++) {
		v->rate[r] = dt > 0 ? (double)(st->total.exits[r] - v->exits[r]) / dt : 0;
		v->exits[r] = st->total.exits[r];
	}
	v->cpu_pct = 0;
	for (int i = 0; i < st->nvcpus && i < v->nvcpus; i++) {
		uint64_t g = st->vcpu[i].guest_ns;
		v->vcpu_pct[i] = dt > 0 ? (double)(g - v->guest_ns[i]) / 1e7 / dt : 0;
		v->guest_ns[i] = g;
		v->cpu_pct += v->vcpu_pct[i];
	}
	v->sample_ns = now;
	advance_history(v, now);
}

static void sample_memory(struct tui_vm *v, const struct vm_stats *st, uint64_t now)
{
	v->mem_size = st->mem_size;
	if (v->mem_at_ns && now - v->mem_at_ns < NS)
		return;
	v->mem_at_ns = now;
	v->resident = st->resident_bytes;
	v->has_dirty = snap_mem_dirty(v->vm, &v->dirty) == 0;
}

/* New serial bytes since the last tick (the first time, the last 64 KiB). */
static void sample_serial(struct tui_vm *v)
{
	uint64_t total = vm_serial_total(v->vm);
	if (total == v->serial_seen)
		return;
	uint64_t want = total - v->serial_seen;
	if (!v->serial_seen && want > SERIAL_FIRST_READ)
		want = SERIAL_FIRST_READ;
	char *buf = malloc(want);
	if (!buf)
		return;
	size_t n = vm_serial_output(v->vm, buf, want);
	tui_lines_feed(&v->serial, buf, n);
	free(buf);
	v->serial_seen = total;
}

/* The registers at each stop of a VM that is not running: the previous
 * stop's are kept to mark what changed. */
static void sample_regs(struct tui_vm *v, bool refresh)
{
	struct tui_regs *g = &v->regs;
	if (v->state == VM_RUNNING || (g->valid && g->stop_count == v->stop_count && !refresh))
		return;
	struct kvm_regs r;
	struct kvm_sregs s;
	if (vm_get_regs(v->vm, v->cpu, &r) < 0 || vm_get_sregs(v->vm, v->cpu, &s) < 0)
		return;
	if (g->valid && g->stop_count != v->stop_count) {
		g->rprev = g->r;
		g->sprev = g->s;
		g->has_prev = true;
	}
	g->r = r;
	g->s = s;
	g->valid = true;
	g->stop_count = v->stop_count;
}

static void sample(struct tui *t, struct tui_vm *v, struct vm *vm, const struct vm_stats *st, uint64_t now)
{
	v->vm = vm;
	v->seen = true;
	snprintf(v->name, sizeof(v->name), "%s", vm_name(vm));
	snprintf(v->accel, sizeof(v->accel), "%s", vm_accel(vm));
	v->state = vm_state(vm);
	note_stop(v);
	sample_counters(v, st, now);
	sample_memory(v, st, now);
	sample_serial(v);
	sample_regs(v, v == tui_selected(t));
}

static void drop_unseen(struct tui *t)
{
	int k = 0;
	for (int i = 0; i < t->nvms; i++) {
		if (t->vms[i]->seen)
			t->vms[k++] = t->vms[i];
		else
			free_rec(t->vms[i]);
	}
	t->nvms = k;
}

void tui_collect(struct tui *t)
{
	static struct vm *list[MAX_VMS];
	struct tui_vm *sel = tui_selected(t);
	uint64_t now = stats_now_ns();
	size_t n = vm_list(list, MAX_VMS);
	if (n > MAX_VMS)
		n = MAX_VMS;
	for (int i = 0; i < t->nvms; i++)
		t->vms[i]->seen = false;
	for (size_t i = 0; i < n; i++) {
		struct vm_stats st;
		if (vm_stats(list[i], &st) < 0)
			continue;
		struct tui_vm *v = find_rec(t, list[i], st.created_ns);
		if (!v)
			v = new_rec(t, list[i], &st);
		if (v)
			sample(t, v, list[i], &st, now);
		if (v && v == sel)
			tui_collect_stats_detail(t, &st);
		vm_stats_free(&st);
	}
	drop_unseen(t);
	tui_sort(t, sel);
}

void tui_collect_free(struct tui *t)
{
	for (int i = 0; i < t->nvms; i++)
		free_rec(t->vms[i]);
	free(t->vms);
	t->vms = NULL;
	t->nvms = t->cap = 0;
}
