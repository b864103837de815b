/* vm_run: the VM state machine. Running means every vCPU thread may enter the
 * guest; a stop (from a vCPU, a pause, a timeout) sets pause_req, kicks every
 * vCPU out of KVM_RUN, and when the last one has parked the VM settles into
 * paused, halted, exited or crashed according to the recorded stop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/debug/debug.h"
#include "engine/debug/disasm.h"
#include "util/err.h"
#include "engine/core/hostcall.h"
#include "engine/core/vm_internal.h"

/* A vCPU asking for the stop is out of KVM_RUN already: it needs no signal. */
static void kick_all(struct vm *vm)
{
	if (vm->inline_run) {  /* every thread is parked; the runner checks pause_req */
		vm->vcpus[vm->solo_vcpu].run->immediate_exit = 1;
		return;
	}
	for (int i = 0; i < vm->nvcpus; i++)
		if (!vm->vcpus[i].thread_started || !pthread_equal(vm->vcpus[i].thread, pthread_self()))
			vcpu_kick(&vm->vcpus[i]);
}

void vm_request_stop(struct vm *vm, const struct vm_stop *stop)
{
	if (vm->stop.kind == STOP_NONE || vm->stop.kind == STOP_PAUSE ||
	    vm->stop.kind == STOP_TIMEOUT || vm->stop.kind == STOP_INTERRUPT)
		vm->stop = *stop;
	__atomic_store_n(&vm->pause_req, 1, __ATOMIC_RELEASE);
	kick_all(vm);
	/* vCPUs that never left their park (a stop right after a start) will not
	 * park again: settle now if none is in the guest. */
	vm_settle_if_parked(vm);
}

static enum vm_state state_after(enum stop_kind k)
{
	switch (k) {
	case STOP_HLT: return VM_HALTED;
	case STOP_EXIT: return VM_EXITED;
	case STOP_CRASH: return VM_CRASHED;
	case STOP_STEP: case STOP_BREAKPOINT: case STOP_WATCH: return VM_PAUSED;
	default: return VM_PAUSED;
	}
}

void vm_settle_if_parked(struct vm *vm)
{
	/* A thread that parks on its way in (at start-up) is no stop. */
	if (vm->state != VM_RUNNING || !vm->pause_req)
		return;
	for (int i = 0; i < vm->nvcpus; i++)
		if (!vm->vcpus[i].parked)
			return;
	if (vm->stop.kind == STOP_NONE)
		vm->stop.kind = STOP_PAUSE;
	vm->state = state_after(vm->stop.kind);
	debug_unplant(vm);
	vm->run_ns += stats_now_ns() - vm->run_started_ns;
	/* A breakpoint with a condition: the main thread judges it (the VM
	 * settled, so its registers can be read) before anyone sees a stop. */
	if (vm->stop.kind == STOP_BREAKPOINT && !vm->inline_run &&
	    debug_has_condition(vm, vm->stop.breakpoint)) {
		vm->cond_pending = vm->stop.breakpoint;
		hostcall_post_locked(debug_judge_condition, vm);
		return;
	}
	vm->stop_count++;
	pthread_cond_broadcast(&engine_cond);
}

static int refuse_start(struct vm *vm)
{
	if (vm->cond_pending)   /* still running, seen from outside */
		return err_set(-EBUSY, "VM %s is already running", vm->name);
	switch (vm->state) {
	case VM_RUNNING:
		return err_set(-EBUSY, "VM %s is already running", vm->name);
	case VM_EXITED:
		return err_set(-EINVAL, "VM %s has exited (code %lld): load a program again first",
			       vm->name, (long long)vm->stop.exit_code);
	case VM_CRASHED:
		return err_set(-EINVAL, "VM %s has crashed (%s): load a program again first",
			       vm->name, vm->stop.reason);
	default:
		return 0;
	}
}

static int start(struct vm *vm, bool on_threads)
{
	pthread_mutex_lock(&engine_lock);
	int r = refuse_start(vm);
	if (r == 0) {
		memset(&vm->stop, 0, sizeof(vm->stop));
		vm->stop.vcpu = -1;
		vm->pause_req = 0;
		vm->inline_run = !on_threads;
		debug_plant(vm);
		vm->state = VM_RUNNING;
		vm->run_started_ns = stats_now_ns();
		if (on_threads)
			pthread_cond_broadcast(&park_cond);
	}
	pthread_mutex_unlock(&engine_lock);
	return r;
}

int vm_start(struct vm *vm)
{
	return start(vm, true);
}

int vm_start_inline(struct vm *vm)
{
	return start(vm, false);
}

void vm_end_inline(struct vm *vm)
{
	pthread_mutex_lock(&engine_lock);
	vm->inline_run = false;
	pthread_mutex_unlock(&engine_lock);
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&engine_lock);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&engine_lock);
	if (s != VM_PAUSED && s != VM_HALTED)
		return err_set(-EINVAL, "VM %s is %s: only a paused VM can be resumed", vm->name,
			       vm_state_name(s));
	return vm_start(vm);
}

static bool vm_not_running(void *arg)
{
	struct vm *vm = arg;
	return vm->state != VM_RUNNING && !vm->cond_pending;
}

/* Stops a running VM with `kind` and waits until every vCPU has parked. */
static void stop_and_settle(struct vm *vm, enum stop_kind kind, const char *reason)
{
	if (vm->cond_pending) {
		/* settled at a conditional breakpoint whose condition has not been
		 * judged yet: this stop wins, the VM stays there */
		vm->cond_pending = 0;
		vm->stop.kind = kind;
		snprintf(vm->stop.reason, sizeof(vm->stop.reason), "%s (at breakpoint %d, its condition "
			 "not yet judged)", reason, vm->stop.breakpoint);
		vm->stop_count++;
		pthread_cond_broadcast(&engine_cond);
		return;
	}
	if (vm->state != VM_RUNNING)
		return;
	struct vm_stop s;
	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.vcpu = -1;
	snprintf(s.reason, sizeof(s.reason), "%s", reason);
	vm_request_stop(vm, &s);
	while (vm->state == VM_RUNNING)
		engine_wait_until(vm_not_running, vm, 0);
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&engine_lock);
	stop_and_settle(vm, STOP_PAUSE, "paused by the user");
	pthread_mutex_unlock(&engine_lock);
	return 0;
}

int vm_wait(struct vm *vm, int64_t timeout_ms, struct vm_stop *out)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : stats_now_ns() + (uint64_t)timeout_ms * 1000000u;
	pthread_mutex_lock(&engine_lock);
	int r = engine_wait_until(vm_not_running, vm, deadline);
	if (r == -ETIMEDOUT)
		stop_and_settle(vm, STOP_TIMEOUT, "the time given to run ran out");
	else if (r == -EINTR)
		stop_and_settle(vm, STOP_INTERRUPT, "interrupted by the user");
	if (out)
		*out = vm->stop;
	pthread_mutex_unlock(&engine_lock);
	if (out)
		disasm_locate_stop(vm, out);
	return 0;
}

int vm_run(struct vm *vm, int64_t timeout_ms, struct vm_stop *out)
{
	int r = vm_start(vm);
	if (r < 0)
		return r;
	return vm_wait(vm, timeout_ms, out);
}

enum vm_state vm_state(struct vm *vm)
{
	pthread_mutex_lock(&engine_lock);
	/* judging a breakpoint's condition is still running, seen from outside */
	enum vm_state s = vm->cond_pending ? VM_RUNNING : vm->state;
	pthread_mutex_unlock(&engine_lock);
	return s;
}

uint64_t vm_stop_count(struct vm *vm)
{
	pthread_mutex_lock(&engine_lock);
	uint64_t n = vm->stop_count;
	pthread_mutex_unlock(&engine_lock);
	return n;
}

void vm_last_stop(struct vm *vm, struct vm_stop *out)
{
	pthread_mutex_lock(&engine_lock);
	*out = vm->stop;
	pthread_mutex_unlock(&engine_lock);
}

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[] = {
		[VM_CREATED] = "created", [VM_RUNNING] = "running", [VM_PAUSED] = "paused",
		[VM_HALTED] = "halted", [VM_EXITED] = "exited", [VM_CRASHED] = "crashed",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *vm_stop_kind_name(enum stop_kind k)
{
	static const char *const names[] = {
		[STOP_NONE] = "none", [STOP_PAUSE] = "pause", [STOP_TIMEOUT] = "timeout",
		[STOP_INTERRUPT] = "interrupt", [STOP_HLT] = "hlt", [STOP_EXIT] = "exit",
		[STOP_CRASH] = "crash", [STOP_STEP] = "step", [STOP_BREAKPOINT] = "breakpoint",
		[STOP_WATCH] = "watch",
	};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

int vm_sleep_ms(int64_t ms)
{
	pthread_mutex_lock(&engine_lock);
	int r = engine_wait_until(never, NULL, stats_now_ns() + (uint64_t)ms * 1000000u);
	pthread_mutex_unlock(&engine_lock);
	return r == -ETIMEDOUT ? 0 : r;
}
