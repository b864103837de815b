/* debug: breakpoints, watchpoints and single-step on top of KVM_SET_GUEST_DEBUG.
 * Measured behaviour this code is built for (see HOST-KVM.md): on hardware KVM
 * a step or breakpoint is a KVM_EXIT_DEBUG; on PVM hosts a step over an I/O
 * instruction reports only the I/O exit, and an int3 in ring 0 comes back as an
 * emulation failure. Both are counted and recognised here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/vcpu_observer.h"
#include "engine/debug/debug.h"
#include "engine/debug/disasm.h"
#include "util/err.h"
#include "engine/debug/mmu.h"
#include "engine/debug/probe.h"
#include "engine/debug/tfleak.h"
#include "engine/core/vm_internal.h"

struct planted {
	int id;
	uint64_t gpa;
	uint8_t orig;
};

struct debug_state {
	struct debug_point pts[DEBUG_MAX_BREAKPOINTS];
	int npts, next_id;
	int next_temp_id;        /* temporary points (next, finish) count apart, from TEMP_ID_BASE */
	bool stepping, step_irqs;
	uint64_t steps_left, steps_done;
	uint64_t step_deadline_ns;   /* vm_step_timeout: when to give up (0: never) */
	struct planted planted[DEBUG_MAX_BREAKPOINTS];
	int nplanted;
	bool soft_watch;         /* watching by single-stepping and comparing */
	uint64_t step_from_ip;   /* RIP (not linear) where the current step began */
	uint64_t prev_rip;       /* soft_watch: the instruction about to execute */
	const struct host_probe *host; /* what the VM's accelerator can do here */
};

/* Linear -> guest-physical for planting int3s and reading watched values. */
int debug_linear_to_phys(struct vcpu *v, uint64_t la, uint64_t *gpa);

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

static bool is_watch(enum debug_kind k)
{
	return k == DBG_WATCH_WRITE || k == DBG_WATCH_RW;
}

static bool host_watches_data(const struct debug_state *d);

static bool uses_slot(const struct debug_state *d, enum debug_kind k)
{
	return k == DBG_HW_EXEC || (is_watch(k) && host_watches_data(d));
}

static int slots_used(struct debug_state *d)
{
	int n = 0;
	for (int i = 0; i < d->npts; i++)
		n += d->pts[i].enabled && uses_slot(d, d->pts[i].kind);
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
	else if (uses_slot(d, kind) && slots_used(d) == DEBUG_HW_SLOTS)
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
	if (r == 0 && on && !p->enabled && uses_slot(vm->dbg, p->kind) && slots_used(vm->dbg) == DEBUG_HW_SLOTS)
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

static uint64_t linear_rip(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (v->acc->get_regs(v->av, &r) < 0 || v->acc->get_sregs(v->av, &s) < 0)
		return ~0ull;
	return s.cs.base + r.rip;
}

/* ---- software breakpoints: int3 bytes in guest memory only while running ---- */

static bool is_planted(struct debug_state *d, int id)
{
	for (int i = 0; i < d->nplanted; i++)
		if (d->planted[i].id == id)
			return true;
	return false;
}

/* Plants every enabled software breakpoint not planted yet, except at `skip`. */
static void plant_all(struct vm *vm, uint64_t skip)
{
	struct debug_state *d = vm->dbg;
	for (int i = 0; d && i < d->npts; i++) {
		struct debug_point *p = &d->pts[i];
		uint64_t gpa;
		if (p->kind != DBG_SW_EXEC || !p->enabled || p->addr == skip || is_planted(d, p->id) ||
		    debug_linear_to_phys(&vm->vcpus[0], p->addr, &gpa) < 0 || gpa >= vm->low_size)
			continue;
		d->planted[d->nplanted++] = (struct planted){ p->id, gpa, vm->mem[gpa] };
		vm->mem[gpa] = 0xcc;
	}
}

static bool any_enabled_watch(struct debug_state *d)
{
	for (int i = 0; i < d->npts; i++)
		if (d->pts[i].enabled && is_watch(d->pts[i].kind))
			return true;
	return false;
}

void debug_plant(struct vm *vm)
{
	struct debug_state *d = vm->dbg;
	if (!d)
		return;
	d->soft_watch = !host_watches_data(d) && any_enabled_watch(d);
	/* Where vCPU 0 starts: needed only to step off an int3 there, to name a
	 * soft watch's writer, or to scrub TF from interrupt frames. */
	bool any_sw = false;
	for (int i = 0; i < d->npts; i++)
		any_sw |= d->pts[i].enabled && d->pts[i].kind == DBG_SW_EXEC;
	if (any_sw || d->soft_watch || (d->stepping && d->step_irqs)) {
		struct kvm_regs r;
		d->prev_rip = linear_rip(&vm->vcpus[0]);
		if (vm->vcpus[0].acc->get_regs(vm->vcpus[0].av, &r) == 0)
			d->step_from_ip = r.rip;
		plant_all(vm, d->prev_rip);
	}
	vm->solo = d->stepping || d->soft_watch;
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

/* ---- applying the wanted state on a vCPU ---- */

static unsigned dr7_len_bits(unsigned len)
{
	return len == 1 ? 0 : len == 2 ? 1 : len == 8 ? 2 : 3;
}

/* Which point each DR slot holds, in id order, so a hit maps back the same way. */
static int assign_slots(struct debug_state *d, uint64_t skip, struct debug_point **slot)
{
	int n = 0;
	for (int i = 0; d && i < d->npts && n < DEBUG_HW_SLOTS; i++) {
		struct debug_point *p = &d->pts[i];
		if (p->enabled && uses_slot(d, p->kind) && !(p->kind == DBG_HW_EXEC && p->addr == skip))
			slot[n++] = p;
	}
	return n;
}

static bool blockirq_supported(const struct debug_state *d)
{
	return d->host->block_irq; /* asked once, not on every step */
}

/* Builds and sets the vCPU's guest-debug state (engine_lock held). */
static void apply(struct vcpu *v, bool may_skip)
{
	struct vm *vm = v->vm;
	struct debug_state *d = vm->dbg;
	struct kvm_guest_debug g;
	memset(&g, 0, sizeof(g));
	uint64_t skip = ~0ull;
	bool any_exec = false;
	for (int i = 0; d && i < d->npts; i++)
		any_exec |= d->pts[i].enabled && (d->pts[i].kind == DBG_HW_EXEC || d->pts[i].kind == DBG_SW_EXEC);
	if (any_exec && v->index == 0 && may_skip) {
		uint64_t rip = linear_rip(v);
		for (int i = 0; i < d->npts; i++)
			if (d->pts[i].enabled && d->pts[i].addr == rip &&
			    (d->pts[i].kind == DBG_HW_EXEC || d->pts[i].kind == DBG_SW_EXEC))
				skip = rip;
	}
	v->dbg_skipping = skip != ~0ull;
	struct debug_point *slot[DEBUG_HW_SLOTS];
	int n = assign_slots(d, skip, slot);
	for (int i = 0; i < n; i++) {
		unsigned rw = slot[i]->kind == DBG_HW_EXEC ? 0 : slot[i]->kind == DBG_WATCH_WRITE ? 1 : 3;
		g.arch.debugreg[i] = slot[i]->addr;
		g.arch.debugreg[7] |= (1ull << (2 * i)) | ((uint64_t)rw << (16 + 4 * i)) |
				      ((uint64_t)dr7_len_bits(slot[i]->len) << (18 + 4 * i));
	}
	if (n)
		g.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
	if (d && d->nplanted)
		g.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
	bool stepping = d && d->stepping && v->index == 0;
	if (stepping || v->dbg_skipping || (d && d->soft_watch && v->index == 0)) {
		g.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
		/* Only an explicit step holds interrupts; a software watch must let the
		 * guest run as it would, timer interrupts and all. */
		if (stepping && !d->step_irqs && blockirq_supported(d))
			g.control |= KVM_GUESTDBG_BLOCKIRQ;
	}
	/* Consecutive steps set the same state: skip the ioctl then. */
	if (memcmp(&g, &v->dbg_applied, sizeof(g)) != 0 && v->acc->set_guest_debug(v->av, &g) == 0)
		v->dbg_applied = g;
}

static void debug_vcpu_enter(struct vcpu *v)
{
	if (!v->vm->dbg)
		return; /* never debugged: nothing to set or clear */
	pthread_mutex_lock(&engine_lock);
	apply(v, true);
	pthread_mutex_unlock(&engine_lock);
}

/* ---- hits ---- */

/* True if the instruction before RIP is a hlt: a halted vCPU always sits there.
 * Some hosts (PVM) leave the MP state HALTED after an interrupt woke the vCPU
 * under single-step; elsewhere than after a hlt that state is stale. */
static bool debug_after_hlt(struct vcpu *v)
{
	uint64_t rip = linear_rip(v), gpa = 0;
	return rip && debug_linear_to_phys(v, rip - 1, &gpa) == 0 && gpa < v->vm->low_size &&
	       v->vm->mem[gpa] == 0xf4;
}

static void stop_locked(struct vcpu *v, enum stop_kind kind, const char *reason, int bp)
{
	struct vm_stop s;
	vcpu_stop_init(v, &s, kind);
	s.breakpoint = bp;
	snprintf(s.reason, sizeof(s.reason), "%s", reason);
	if (v->vm->dbg)
		s.steps = v->vm->dbg->steps_done;
	vm_request_stop(v->vm, &s);
}

static void watch_hit(struct vcpu *v, struct debug_point *p, uint64_t now, uint64_t pc);

static bool read_watched(struct vcpu *v, const struct debug_point *p, uint64_t *value)
{
	uint64_t gpa = 0;
	*value = 0;
	if (debug_linear_to_phys(v, p->addr, &gpa) < 0 || gpa + p->len > v->vm->low_size)
		return false;
	memcpy(value, v->vm->mem + gpa, p->len);
	return true;
}

/* Software watchpoints: after each instruction, compare the watched bytes. */
static bool soft_watch_check(struct vcpu *v)
{
	struct debug_state *d = v->vm->dbg;
	uint64_t writer = d->prev_rip;
	d->prev_rip = linear_rip(v);
	for (int i = 0; i < d->npts; i++) {
		struct debug_point *p = &d->pts[i];
		uint64_t now;
		if (p->enabled && is_watch(p->kind) && read_watched(v, p, &now) && now != p->last_value) {
			watch_hit(v, p, now, writer);
			return true;
		}
	}
	return false;
}

/* One instruction retired on this vCPU under single-step (engine_lock held). */
static void step_retired(struct vcpu *v)
{
	struct debug_state *d = v->vm->dbg;
	if (v->dbg_skipping) {
		v->dbg_skipping = false;
		plant_all(v->vm, ~0ull);
		apply(v, false);
	}
	/* Whenever interrupts may be taken while stepping, keep TF out of frames. */
	if (v->index == 0 && d && ((d->stepping && d->step_irqs) || d->soft_watch)) {
		struct kvm_regs r;
		tfleak_scrub(v, d->step_from_ip);
		if (v->acc->get_regs(v->av, &r) == 0)
			d->step_from_ip = r.rip;
	}
	if (d && d->soft_watch && v->index == 0 && soft_watch_check(v))
		return;
	if (!d || !d->stepping || v->index != 0)
		return;
	d->steps_done++;
	if (--d->steps_left == 0) {
		char msg[64];
		snprintf(msg, sizeof(msg), "stepped %llu instruction%s", (unsigned long long)d->steps_done,
			 d->steps_done == 1 ? "" : "s");
		stop_locked(v, STOP_STEP, msg, 0);
	} else if (d->step_deadline_ns && stats_now_ns() >= d->step_deadline_ns) {
		char msg[96];
		snprintf(msg, sizeof(msg), "the time given to step ran out after %llu instructions",
			 (unsigned long long)d->steps_done);
		stop_locked(v, STOP_TIMEOUT, msg, 0);
	} else if (engine_take_interrupt()) {   /* Ctrl-C: a stop, as vm_wait makes one */
		char msg[96];
		snprintf(msg, sizeof(msg), "interrupted by the user after %llu instructions",
			 (unsigned long long)d->steps_done);
		stop_locked(v, STOP_INTERRUPT, msg, 0);
	}
}

static void breakpoint_hit(struct vcpu *v, struct debug_point *p)
{
	char msg[96];
	p->hits++;
	snprintf(msg, sizeof(msg), "breakpoint %d at 0x%llx", p->id, (unsigned long long)p->addr);
	int id = p->id;
	bool temp = p->temporary;
	stop_locked(v, STOP_BREAKPOINT, msg, id);
	if (temp) {
		struct debug_state *d = v->vm->dbg;
		memmove(p, p + 1, (size_t)(d->pts + d->npts - (p + 1)) * sizeof(*p));
		d->npts--;
	}
}

static void watch_hit(struct vcpu *v, struct debug_point *p, uint64_t now, uint64_t pc)
{
	p->hits++;
	char msg[160];
	snprintf(msg, sizeof(msg), "watchpoint %d: %u bytes at 0x%llx %s 0x%llx -> 0x%llx", p->id, p->len,
		 (unsigned long long)p->addr, p->kind == DBG_WATCH_RW ? "accessed," : "written,",
		 (unsigned long long)p->last_value, (unsigned long long)now);
	stop_locked(v, STOP_WATCH, msg, p->id);
	struct vm_stop *s = &v->vm->stop;
	if (s->kind == STOP_WATCH && s->breakpoint == p->id) {
		s->watch_addr = p->addr;
		s->watch_old = p->last_value;
		s->watch_new = now;
		s->watch_pc = pc;
	}
	p->last_value = now;
}

static void debug_on_exit(struct vcpu *v)
{
	struct kvm_debug_exit_arch *a = &v->run->debug.arch;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = v->vm->dbg;
	struct debug_point *slot[DEBUG_HW_SLOTS];
	int n = assign_slots(d, v->dbg_skipping ? linear_rip(v) : ~0ull, slot);
	bool handled = false;
	for (int i = 0; i < n && !handled; i++) {
		if (!(a->dr6 & (1u << i)))
			continue;
		uint64_t now;
		if (slot[i]->kind == DBG_HW_EXEC)
			breakpoint_hit(v, slot[i]);
		else if (read_watched(v, slot[i], &now))
			watch_hit(v, slot[i], now, 0);
		handled = true;
	}
	if (!handled && a->exception == 3) {
		uint64_t rip = linear_rip(v);
		for (int i = 0; d && i < d->npts && !handled; i++)
			if (d->pts[i].kind == DBG_SW_EXEC && d->pts[i].addr == rip) {
				breakpoint_hit(v, &d->pts[i]);
				handled = true;
			}
		if (!handled)
			stop_locked(v, STOP_BREAKPOINT, "the guest executed an int3 of its own", 0);
		handled = true;
	}
	if (!handled)
		step_retired(v);
	else if (v->dbg_skipping && d && d->stepping)
		step_retired(v);
	pthread_mutex_unlock(&engine_lock);
}

static void debug_on_io(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (!v->dbg_skipping && !(vm->dbg && vm->dbg->stepping && v->index == 0))
		return;
	/* Finish the instruction now: on hardware KVM this run reports the
	 * single-step trap of the I/O instruction; on PVM it was already retired. */
	v->run->immediate_exit = 1;
	int r = v->acc->vcpu_run(v->av);
	v->pending_io = false;
	pthread_mutex_lock(&engine_lock);
	if (!vm->pause_req)
		v->run->immediate_exit = 0;
	pthread_mutex_unlock(&engine_lock);
	if (r == 0 && v->run->exit_reason == KVM_EXIT_DEBUG) {
		debug_on_exit(v);
		return;
	}
	pthread_mutex_lock(&engine_lock);
	step_retired(v);
	pthread_mutex_unlock(&engine_lock);
}

static bool debug_on_emulation_failure(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	if (!(r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) ||
	    r->emulation_failure.insn_size < 1 || r->emulation_failure.insn_bytes[0] != 0xcc)
		return false;
	uint64_t rip = linear_rip(v);
	bool hit = false;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = v->vm->dbg;
	for (int i = 0; d && i < d->npts && !hit; i++)
		if (d->pts[i].kind == DBG_SW_EXEC && d->pts[i].addr == rip && is_planted(d, d->pts[i].id)) {
			breakpoint_hit(v, &d->pts[i]);
			hit = true;
		}
	pthread_mutex_unlock(&engine_lock);
	return hit;
}

/* vCPU thread, idle check: a hlt reached while stepping with interrupts held
 * can never end. Stop and say so rather than wait forever. */
static bool debug_check_held_halt(struct vcpu *v)
{
	struct kvm_mp_state mp;
	bool stuck = false;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = v->vm->dbg;
	if (d && d->stepping && !d->step_irqs && v->index == 0 &&
	    v->acc->get_mp_state(v->av, &mp) == 0 && mp.mp_state == KVM_MP_STATE_HALTED) {
		stop_locked(v, STOP_STEP, "the guest executed hlt while stepping with interrupts held, so "
			    "nothing can wake it; step with {interrupts = true} to let the next interrupt in", 0);
		stuck = true;
	}
	pthread_mutex_unlock(&engine_lock);
	return stuck;
}

static bool observe_exit(struct vcpu *v)
{
	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
	case KVM_EXIT_MMIO:
		debug_on_io(v);
		return false;
	case KVM_EXIT_DEBUG:
		debug_on_exit(v);
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		return debug_on_emulation_failure(v);
	default:
		return false;
	}
}

static enum vcpu_halt_verdict observe_halted(struct vcpu *v)
{
	if (debug_check_held_halt(v))
		return HALT_HANDLED;
	return debug_after_hlt(v) ? HALT_OK : HALT_STALE;
}

const struct vcpu_observer debug_observer = {
	.name = "debugger", .enter = debug_vcpu_enter, .exit = observe_exit, .halted = observe_halted,
};

/* ---- stepping ---- */

/* The privilege level vCPU 0 runs at: 0 in real mode, else SS.DPL. */
static int current_cpl(struct vm *vm)
{
	struct kvm_sregs s;
	if (vm_get_sregs(vm, 0, &s) < 0)
		return 0;
	return (s.cr0 & 1) ? s.ss.dpl : 0;
}

int vm_step(struct vm *vm, uint64_t n, bool interrupts, struct vm_stop *out)
{
	return vm_step_timeout(vm, n, interrupts, -1, out);
}

int vm_step_timeout(struct vm *vm, uint64_t n, bool interrupts, int64_t timeout_ms, struct vm_stop *out)
{
	if (n == 0)
		return err_set(-EINVAL, "step needs a count of at least 1");
	int cpl = current_cpl(vm);
	if (cpl == 3 && !probe_accel(vm->accel)->ring[3].step)
		return err_set(-ENOTSUP, "this host's KVM cannot single-step ring-3 code: the trap goes "
			       "to the guest instead of to hvwb (hosts without hardware virtualization, "
			       "such as PVM, run ring 3 natively). Use breakpoints in ring-0 code, or a "
			       "host with VT-x/AMD-V; wb.host() shows what this host can do");
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = state(vm);
	if (d) {
		d->stepping = true;
		d->step_irqs = interrupts;
		d->steps_left = n;
		d->steps_done = 0;
		d->step_deadline_ns = timeout_ms < 0 ? 0 : stats_now_ns() + (uint64_t)timeout_ms * 1000000u;
		vm->solo = true;
	}
	pthread_mutex_unlock(&engine_lock);
	if (!d)
		return err_set(-ENOMEM, "out of memory");
	/* The VM is stopped, so every vCPU thread is parked: run vCPU 0 right
	 * here and spare two thread hand-overs per step. */
	int r = vm_start_inline(vm);
	if (r == 0) {
		vcpu_run_inline(&vm->vcpus[0]);
		vm_end_inline(vm);
		vm_last_stop(vm, out);
	}
	pthread_mutex_lock(&engine_lock);
	d->stepping = false;
	vm->solo = false;
	if (r == 0 && out)
		out->steps = d->steps_done;
	pthread_mutex_unlock(&engine_lock);
	if (r == 0 && out)
		disasm_locate_stop(vm, out);
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
