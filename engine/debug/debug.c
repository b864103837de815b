/* debug: breakpoints, watchpoints and single-step on top of KVM_SET_GUEST_DEBUG.
 * This file keeps the points, judges their conditions, plants software
 * breakpoints in RAM while the VM runs and steps a vCPU; debug_exec.c is the
 * part that runs on vCPU threads and turns exits into stops. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/debug/debug_int.h"
#include "engine/debug/disasm.h"
#include "engine/debug/mmu.h"
#include "engine/debug/probe.h"
#include "util/err.h"

#define TEMP_ID_BASE (1 << 24)

static struct debug_state *state(struct vm *vm)
{
	if (!vm->dbg) {
		vm->dbg = calloc(1, sizeof(*vm->dbg));
		if (vm->dbg) {
			vm->dbg->next_id = 1;
			vm->dbg->next_temp_id = TEMP_ID_BASE;
			vm->dbg->host = probe_accel(vm->accel);
		}
	}
	return vm->dbg;
}

void debug_destroy(struct vm *vm)
{
	free(vm->dbg);
	vm->dbg = NULL;
}

bool debug_is_watch(enum debug_kind k)
{
	return k == DBG_WATCH_WRITE || k == DBG_WATCH_RW;
}

static bool host_watches_data(const struct debug_state *d);

bool debug_uses_slot(const struct debug_state *d, enum debug_kind k)
{
	return k == DBG_HW_EXEC || (debug_is_watch(k) && host_watches_data(d));
}

static int slots_used(struct debug_state *d)
{
	int n = 0;
	for (int i = 0; i < d->npts; i++)
		n += d->pts[i].enabled && debug_uses_slot(d, d->pts[i].kind);
	return n;
}

static int check_point(enum debug_kind kind, uint64_t addr, unsigned len)
{
	if (kind == DBG_WATCH_WRITE || kind == DBG_WATCH_RW) {
		if (len != 1 && len != 2 && len != 4 && len != 8)
			return err_set(-EINVAL, "a watchpoint covers 1, 2, 4 or 8 bytes, not %u", len);
		if (addr & (len - 1))
			return err_set(-EINVAL, "a %u-byte watchpoint needs an address aligned to %u (0x%llx is not)",
				       len, len, (unsigned long long)addr);
	}
	return 0;
}

/* Without data breakpoints, watchpoints are made by stepping and comparing,
 * which sees writes but not reads. */
static bool host_watches_data(const struct debug_state *d)
{
	return d->host->ring[0].hw_watch;
}

int debug_add(struct vm *vm, enum debug_kind kind, uint64_t addr, unsigned len, bool temporary)
{
	int r = check_point(kind, addr, len);
	if (r == 0 && kind == DBG_WATCH_RW && !probe_accel(vm->accel)->ring[0].hw_watch)
		r = err_set(-ENOTSUP, "this host's KVM has no data breakpoints, so hvwb watches by "
			    "single-stepping and comparing, which sees writes only: use mode \"w\"");
	if (r < 0)
		return r;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = state(vm);
	if (!d)
		r = err_set(-ENOMEM, "out of memory");
	else if (d->npts == DEBUG_MAX_BREAKPOINTS)
		r = err_set(-ENOSPC, "a VM can have at most %d breakpoints and watchpoints", DEBUG_MAX_BREAKPOINTS);
	else if (debug_uses_slot(d, kind) && slots_used(d) == DEBUG_HW_SLOTS)
		r = err_set(-ENOSPC, "all %d debug registers (DR0-DR3) are in use: delete or disable a "
			    "hardware breakpoint or watchpoint, or use a software breakpoint", DEBUG_HW_SLOTS);
	if (r == 0) {
		struct debug_point *p = &d->pts[d->npts++];
		/* A user's ids stay 1, 2, 3... however often next/finish run. */
		int id = temporary ? d->next_temp_id++ : d->next_id++;
		*p = (struct debug_point){ .id = id, .kind = kind, .addr = addr,
					   .len = kind == DBG_SW_EXEC || kind == DBG_HW_EXEC ? 1 : len,
					   .enabled = true, .temporary = temporary };
		r = p->id;
		uint64_t gpa;
		if (kind != DBG_SW_EXEC && kind != DBG_HW_EXEC &&
		    debug_linear_to_phys(&vm->vcpus[0], addr, &gpa) == 0 && gpa + len <= vm->low_size)
			memcpy(&p->last_value, vm->mem + gpa, len); /* what the first hit compares with */
		if (vm->state == VM_RUNNING)
			for (int i = 0; i < vm->nvcpus; i++)
				vcpu_kick(&vm->vcpus[i]); /* they re-apply debug state when they come back */
	}
	pthread_mutex_unlock(&engine_lock);
	return r;
}

static struct debug_point *find(struct debug_state *d, int id)
{
	for (int i = 0; d && i < d->npts; i++)
		if (d->pts[i].id == id)
			return &d->pts[i];
	return NULL;
}

static int refuse_running(struct vm *vm, const char *what)
{
	if (vm->state == VM_RUNNING)
		return err_set(-EBUSY, "pause VM %s before you %s", vm->name, what);
	return 0;
}

int debug_delete(struct vm *vm, int id)
{
	pthread_mutex_lock(&engine_lock);
	struct debug_point *p = find(vm->dbg, id);
	int r = p ? refuse_running(vm, "delete a breakpoint") : err_set(-ENOENT, "no breakpoint or watchpoint %d", id);
	if (r == 0) {
		struct debug_state *d = vm->dbg;
		memmove(p, p + 1, (size_t)(d->pts + d->npts - (p + 1)) * sizeof(*p));
		d->npts--;
	}
	pthread_mutex_unlock(&engine_lock);
	return r;
}

int debug_enable(struct vm *vm, int id, bool on)
{
	pthread_mutex_lock(&engine_lock);
	struct debug_point *p = find(vm->dbg, id);
	int r = p ? refuse_running(vm, "change a breakpoint") : err_set(-ENOENT, "no breakpoint or watchpoint %d", id);
	if (r == 0 && on && !p->enabled && debug_uses_slot(vm->dbg, p->kind) && slots_used(vm->dbg) == DEBUG_HW_SLOTS)
		r = err_set(-ENOSPC, "all %d debug registers (DR0-DR3) are in use", DEBUG_HW_SLOTS);
	if (r == 0)
		p->enabled = on;
	pthread_mutex_unlock(&engine_lock);
	return r;
}

static debug_condition_fn condition_hook;

void debug_set_condition_hook(debug_condition_fn fn)
{
	condition_hook = fn;
}

int debug_set_conditional(struct vm *vm, int id, bool on)
{
	pthread_mutex_lock(&engine_lock);
	struct debug_point *p = find(vm->dbg, id);
	int r = p ? 0 : err_set(-ENOENT, "no breakpoint or watchpoint %d", id);
	if (p)
		p->conditional = on;
	pthread_mutex_unlock(&engine_lock);
	return r;
}

bool debug_has_condition(struct vm *vm, int id)
{
	struct debug_point *p = find(vm->dbg, id);
	return condition_hook && p && p->conditional;
}

void debug_judge_condition(void *arg)
{
	struct vm *vm = arg, *list[256];
	size_t n = vm_list(list, 256);
	bool alive = false;
	for (size_t i = 0; i < n && i < 256; i++)
		alive |= list[i] == vm;
	if (!alive)
		return;   /* destroyed meanwhile */
	pthread_mutex_lock(&engine_lock);
	int id = vm->cond_pending;
	pthread_mutex_unlock(&engine_lock);
	if (!id)
		return;
	bool stop = !condition_hook || condition_hook(vm, id);
	pthread_mutex_lock(&engine_lock);
	vm->cond_pending = 0;
	if (stop || vm->state != VM_PAUSED) {
		vm->stop_count++;
		pthread_cond_broadcast(&engine_cond);
		pthread_mutex_unlock(&engine_lock);
		return;
	}
	pthread_mutex_unlock(&engine_lock);
	/* as if it had not stopped: on from the breakpoint (the start steps
	 * over it), the waiters still waiting */
	if (vm_start(vm) < 0) {
		pthread_mutex_lock(&engine_lock);
		vm->stop_count++;
		pthread_cond_broadcast(&engine_cond);
		pthread_mutex_unlock(&engine_lock);
	}
}

int debug_list(struct vm *vm, struct debug_point *out, int max)
{
	pthread_mutex_lock(&engine_lock);
	int n = vm->dbg ? vm->dbg->npts : 0;
	for (int i = 0; i < n && i < max; i++)
		out[i] = vm->dbg->pts[i];
	pthread_mutex_unlock(&engine_lock);
	return n;
}

/* ---- addresses ---- */

uint64_t debug_linear_rip(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (v->acc->get_regs(v->av, &r) < 0 || v->acc->get_sregs(v->av, &s) < 0)
		return ~0ull;
	return s.cs.base + r.rip;
}

/* ---- software breakpoints: int3 bytes in guest memory only while running ---- */

bool debug_is_planted(struct debug_state *d, int id)
{
	for (int i = 0; i < d->nplanted; i++)
		if (d->planted[i].id == id)
			return true;
	return false;
}

/* True while some vCPU steps off a breakpoint at linear address `la`: its
 * int3 must stay out of RAM until that vCPU is past it. */
static bool being_skipped(struct vm *vm, uint64_t la)
{
	for (int i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].dbg_skipping && vm->vcpus[i].dbg_skip_at == la)
			return true;
	return false;
}

/* Plants every enabled software breakpoint not planted yet, except those a
 * vCPU is stepping off. */
void debug_plant_all(struct vm *vm)
{
	struct debug_state *d = vm->dbg;
	for (int i = 0; d && i < d->npts; i++) {
		struct debug_point *p = &d->pts[i];
		uint64_t gpa;
		if (p->kind != DBG_SW_EXEC || !p->enabled || being_skipped(vm, p->addr) || debug_is_planted(d, p->id) ||
		    debug_linear_to_phys(&vm->vcpus[0], p->addr, &gpa) < 0 || gpa >= vm->low_size)
			continue;
		d->planted[d->nplanted++] = (struct planted){ p->id, gpa, vm->mem[gpa] };
		vm->mem[gpa] = 0xcc;
	}
}

static bool any_enabled(struct debug_state *d, bool (*kind_matches)(enum debug_kind))
{
	for (int i = 0; i < d->npts; i++)
		if (d->pts[i].enabled && kind_matches(d->pts[i].kind))
			return true;
	return false;
}

static bool is_exec(enum debug_kind k)
{
	return k == DBG_HW_EXEC || k == DBG_SW_EXEC;
}

static bool exec_point_at(struct debug_state *d, uint64_t la)
{
	for (int i = 0; i < d->npts; i++)
		if (d->pts[i].enabled && is_exec(d->pts[i].kind) && d->pts[i].addr == la)
			return true;
	return false;
}

/* The vCPU a step or a software watch runs alone (vm->solo), else -1. */
static int focus_vcpu(const struct vm *vm)
{
	return vm->solo ? vm->solo_vcpu : -1;
}

bool debug_is_focus(const struct vcpu *v)
{
	return v->index == focus_vcpu(v->vm);
}

/* Every vCPU about to run that sits on a breakpoint steps off it first
 * (the one that hit it, and any other that stopped there). */
static void mark_skips(struct vm *vm, struct debug_state *d)
{
	bool any_exec = any_enabled(d, is_exec);
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		bool runs = !vm->solo || i == vm->solo_vcpu;
		uint64_t la = any_exec && runs ? debug_linear_rip(v) : ~0ull;
		v->dbg_skipping = la != ~0ull && exec_point_at(d, la);
		v->dbg_skip_at = la;
	}
}

void debug_plant(struct vm *vm)
{
	struct debug_state *d = vm->dbg;
	if (!d)
		return;
	d->soft_watch = !host_watches_data(d) && any_enabled(d, debug_is_watch);
	vm->solo = d->stepping || d->soft_watch;
	vm->solo_vcpu = d->stepping ? d->step_vcpu : 0;
	mark_skips(vm, d);
	/* Where the focus starts: needed to name a soft watch's writer and to
	 * scrub TF from interrupt frames. */
	if (vm->solo && (d->soft_watch || d->step_irqs)) {
		struct vcpu *f = &vm->vcpus[vm->solo_vcpu];
		struct kvm_regs r;
		d->prev_rip = debug_linear_rip(f);
		if (f->acc->get_regs(f->av, &r) == 0)
			d->step_from_ip = r.rip;
	}
	debug_plant_all(vm);
}

void debug_unplant(struct vm *vm)
{
	struct debug_state *d = vm->dbg;
	for (int i = d ? d->nplanted - 1 : -1; i >= 0; i--)
		vm->mem[d->planted[i].gpa] = d->planted[i].orig;
	if (d)
		d->nplanted = 0;
}

void debug_mem_write(struct vm *vm, uint64_t gpa, uint8_t *host, const void *buf, size_t len)
{
	const uint8_t *src = buf;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = vm->dbg;
	bool any = false;
	for (int i = 0; d && i < d->nplanted && !any; i++)
		any = d->planted[i].gpa >= gpa && d->planted[i].gpa - gpa < len;
	if (!any) {
		memcpy(host, src, len);
	} else {
		for (size_t k = 0; k < len; k++) {
			struct planted *pl = NULL;
			for (int i = 0; i < d->nplanted && !pl; i++)
				if (d->planted[i].gpa == gpa + k)
					pl = &d->planted[i];
			if (pl)
				pl->orig = src[k];   /* the int3 stays until the stop lifts it */
			else
				host[k] = src[k];
		}
	}
	pthread_mutex_unlock(&engine_lock);
}

void debug_mask(struct vm *vm, uint64_t gpa, void *buf, size_t len)
{
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = vm->dbg;
	for (int i = 0; d && i < d->nplanted; i++)
		if (d->planted[i].gpa >= gpa && d->planted[i].gpa - gpa < len)
			((uint8_t *)buf)[d->planted[i].gpa - gpa] = d->planted[i].orig;
	pthread_mutex_unlock(&engine_lock);
}

/* ---- stepping ---- */

/* Why vCPU `i` cannot be stepped now, or 0. */
static int refuse_step(struct vm *vm, int i)
{
	if (i < 0 || i >= vm->nvcpus)
		return err_set(-EINVAL, "no vCPU %d: VM %s has vCPUs 0 to %d", i, vm->name, vm->nvcpus - 1);
	struct vcpu *v = vm_stopped_vcpu(vm, i);   /* a running VM's vCPUs are not asked */
	if (!v)
		return -EBUSY;
	struct kvm_mp_state mp;
	if (v->acc->get_mp_state(v->av, &mp) == 0 &&
	    (mp.mp_state == KVM_MP_STATE_UNINITIALIZED || mp.mp_state == KVM_MP_STATE_INIT_RECEIVED))
		return err_set(-EINVAL, "vCPU %d has not been started: it waits for the guest to send it "
			       "INIT and a start-up IPI, so it has no instruction to step", i);
	/* The privilege level it runs at: 0 in real mode, else SS.DPL. */
	struct kvm_sregs sr;
	bool ring3 = vm_get_sregs(vm, i, &sr) == 0 && (sr.cr0 & 1) && sr.ss.dpl == 3;
	if (ring3 && !probe_accel(vm->accel)->ring[3].step)
		return err_set(-ENOTSUP, "this host's KVM cannot single-step ring-3 code: the trap goes "
			       "to the guest instead of to hvwb (hosts without hardware virtualization, "
			       "such as PVM, run ring 3 natively). Use breakpoints in ring-0 code, or a "
			       "host with VT-x/AMD-V; wb.host() shows what this host can do");
	return 0;
}

/* After a breakpoint stop inside a step: true when its condition says to go
 * on (the stop is not one), judged here, on the stepping thread. */
static bool condition_passes(struct vm *vm, const struct vm_stop *st)
{
	if (st->kind != STOP_BREAKPOINT)
		return false;
	pthread_mutex_lock(&engine_lock);
	bool judge = debug_has_condition(vm, st->breakpoint) && vm->dbg->steps_left > 0;
	pthread_mutex_unlock(&engine_lock);
	return judge && !condition_hook(vm, st->breakpoint);
}

int vm_step(struct vm *vm, uint64_t n, bool interrupts, struct vm_stop *out)
{
	struct step_opts o = { .vcpu = 0, .interrupts = interrupts, .timeout_ms = -1 };
	return vm_step_with(vm, n, &o, out);
}

int vm_step_with(struct vm *vm, uint64_t n, const struct step_opts *o, struct vm_stop *out)
{
	if (n == 0)
		return err_set(-EINVAL, "step needs a count of at least 1");
	int r = refuse_step(vm, o->vcpu);
	if (r < 0)
		return r;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = state(vm);
	if (d) {
		d->stepping = true;
		d->step_vcpu = o->vcpu;
		d->step_irqs = o->interrupts;
		d->steps_left = n;
		d->steps_done = 0;
		d->step_deadline_ns = o->timeout_ms < 0 ? 0 : stats_now_ns() + (uint64_t)o->timeout_ms * 1000000u;
	}
	pthread_mutex_unlock(&engine_lock);
	if (!d)
		return err_set(-ENOMEM, "out of memory");
	/* The VM is stopped, so every vCPU thread is parked: run the vCPU right
	 * here and spare two thread hand-overs per step. A breakpoint whose
	 * condition says no is stepped on from, as a run would. */
	struct vm_stop st;
	memset(&st, 0, sizeof(st));
	do {
		r = vm_start_inline(vm);
		if (r < 0)
			break;
		vcpu_run_inline(&vm->vcpus[o->vcpu]);
		vm_end_inline(vm);
		vm_last_stop(vm, &st);
	} while (condition_passes(vm, &st));
	pthread_mutex_lock(&engine_lock);
	d->stepping = false;
	vm->solo = false;
	st.steps = d->steps_done;
	pthread_mutex_unlock(&engine_lock);
	if (r == 0 && out) {
		*out = st;
		disasm_locate_stop(vm, out);
	}
	return r;
}

/* ---- address translation for breakpoints ---- */

/* Page tables are read straight from RAM: this runs on vCPU threads with
 * engine_lock held, where vm_mem_read (which masks int3s under the lock)
 * cannot be used, and page tables never hold a planted byte anyway. */
static int read_ram(void *opaque, uint64_t pa, void *buf, size_t len)
{
	struct vm *vm = opaque;
	if (pa >= vm->low_size || len > vm->low_size - pa)
		return err_set(-EFAULT, "page table at 0x%llx is outside RAM", (unsigned long long)pa);
	memcpy(buf, vm->mem + pa, len);
	return 0;
}

int debug_linear_to_phys(struct vcpu *v, uint64_t la, uint64_t *gpa)
{
	struct kvm_sregs s;
	if (v->acc->get_sregs(v->av, &s) < 0)
		return -errno;
	struct mmu_ctx ctx = { .cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4, .efer = s.efer,
			       .read_phys = read_ram, .opaque = v->vm };
	struct mmu_walk walk;
	int r = mmu_walk_va(&ctx, la, &walk);
	if (r == 0)
		*gpa = walk.pa;
	return r;
}
