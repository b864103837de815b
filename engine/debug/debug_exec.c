/* debug_exec: the debugger on vCPU threads. It applies the wanted guest-debug
 * state (debug registers, single-step, software breakpoints) on entry, and
 * turns debug exits, planted int3s and retired steps into stops.
 * Measured behaviour this code is built for (see HOST-KVM.md): on hardware KVM
 * a step or breakpoint is a KVM_EXIT_DEBUG; on PVM hosts a step over an I/O
 * instruction reports only the I/O exit, and an int3 in ring 0 comes back as an
 * emulation failure. Both are counted and recognised here. The soft CPU
 * reports steps and breakpoints as hardware KVM does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/vcpu_observer.h"
#include "engine/debug/debug_int.h"
#include "engine/debug/probe.h"
#include "engine/debug/tfleak.h"

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
		if (p->enabled && debug_uses_slot(d, p->kind) && !(p->kind == DBG_HW_EXEC && p->addr == skip))
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
	/* debug_plant marked a vCPU that starts on a breakpoint */
	v->dbg_skipping = v->dbg_skipping && may_skip;
	uint64_t skip = v->dbg_skipping ? v->dbg_skip_at : ~0ull;
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
	bool stepping = d && d->stepping && debug_is_focus(v);
	if (stepping || v->dbg_skipping || (d && d->soft_watch && debug_is_focus(v))) {
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
	uint64_t rip = debug_linear_rip(v), gpa = 0;
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
	d->prev_rip = debug_linear_rip(v);
	for (int i = 0; i < d->npts; i++) {
		struct debug_point *p = &d->pts[i];
		uint64_t now;
		if (p->enabled && debug_is_watch(p->kind) && read_watched(v, p, &now) && now != p->last_value) {
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
		debug_plant_all(v->vm);
		apply(v, false);
	}
	/* Whenever interrupts may be taken while stepping, keep TF out of frames. */
	if (debug_is_focus(v) && d && ((d->stepping && d->step_irqs) || d->soft_watch)) {
		struct kvm_regs r;
		tfleak_scrub(v, d->step_from_ip);
		if (v->acc->get_regs(v->av, &r) == 0)
			d->step_from_ip = r.rip;
	}
	if (d && d->soft_watch && debug_is_focus(v) && soft_watch_check(v))
		return;
	if (!d || !d->stepping || !debug_is_focus(v))
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
	int n = assign_slots(d, v->dbg_skipping ? v->dbg_skip_at : ~0ull, slot);
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
		uint64_t rip = debug_linear_rip(v);
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
	if (!v->dbg_skipping && !(vm->dbg && vm->dbg->stepping && debug_is_focus(v)))
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
	uint64_t rip = debug_linear_rip(v);
	bool hit = false;
	pthread_mutex_lock(&engine_lock);
	struct debug_state *d = v->vm->dbg;
	for (int i = 0; d && i < d->npts && !hit; i++)
		if (d->pts[i].kind == DBG_SW_EXEC && d->pts[i].addr == rip && debug_is_planted(d, d->pts[i].id)) {
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
	if (d && d->stepping && !d->step_irqs && debug_is_focus(v) &&
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

