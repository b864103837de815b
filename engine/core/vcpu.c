/* vcpu: one thread per vCPU running the KVM_RUN loop. Exits are counted and
 * handed on: port and MMIO accesses to the VM's bus, everything that ends a run
 * to vm_request_stop with a reason a person can read. The loop names no device.
 * A parked vCPU waits on park_cond until its VM runs again. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/debug/disasm.h"
#include "engine/core/vcpu_observer.h"
#include "util/err.h"
#include "engine/core/vm_internal.h"

/* How often a running vCPU checks whether its guest halted for good: with the
 * in-kernel LAPIC, HLT never leaves KVM_RUN, so a timer signal brings it out. */
#define IDLE_CHECK_NS (20 * 1000 * 1000)
#define KICK_SIGNAL SIGUSR1

static pthread_once_t signal_once = PTHREAD_ONCE_INIT;

/* The vCPU this thread is inside the run call of, for the kick handler. */
static _Thread_local struct vcpu *running;

static void kick_handler(int sig)
{
	(void)sig; /* its job is to make the run call return EINTR */
	struct vcpu *v = running;
	if (v && v->acc->vcpu_interrupted)
		v->acc->vcpu_interrupted(v->av);
}

static void install_kick_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL); /* no SA_RESTART: ioctl must see EINTR */
}

int vcpu_init(struct vm *vm, int index)
{
	struct vcpu *v = &vm->vcpus[index];
	v->vm = vm;
	v->index = index;
	v->acc = vm->accel;
	v->stats_fd = -1;
	v->parked = true;
	int r = v->acc->vcpu_create(vm->avm, index, &v->av, &v->run);
	if (r < 0)
		return err_set(r, "creating vCPU %d (%s): %s", index, v->acc->name, strerror(-r));
	r = v->acc->vcpu_stats_fd(v->av);
	v->stats_fd = r < 0 ? -1 : r;
	return vcpu_set_cpuid(v, vm->cpuid_hidden);
}

/* The signal brings a thread out of KVM_RUN or a soft vCPU's wait; the
 * accelerator's own kick makes a run entered just after it return at once. */
void vcpu_kick(struct vcpu *v)
{
	if (v->av)
		v->acc->vcpu_kick(v->av);
	if (v->thread_started)
		pthread_kill(v->thread, KICK_SIGNAL);
}

static void idle_timer_arm(struct vcpu *v, bool on)
{
	if (!v->has_timer || v->timer_on == on)
		return;
	v->timer_on = on;
	struct itimerspec its = { 0 };
	if (on) {
		its.it_value.tv_nsec = IDLE_CHECK_NS;
		its.it_interval.tv_nsec = IDLE_CHECK_NS;
	}
	timer_settime(v->idle_timer, 0, &its, NULL);
}

static void idle_timer_create(struct vcpu *v)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = KICK_SIGNAL;
	sev._sigev_un._tid = gettid(); /* glibc spells sigev_notify_thread_id this way */
	v->has_timer = timer_create(CLOCK_MONOTONIC, &sev, &v->idle_timer) == 0;
}

/* The vCPU thread is the only writer; the dashboard reads while it runs. */
static inline void stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static void stop_vm(struct vcpu *v, enum stop_kind kind, uint32_t kvm_exit, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void vcpu_stop_init(struct vcpu *v, struct vm_stop *s, enum stop_kind kind)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->vcpu = v->index;
	struct kvm_regs regs;
	if (v->acc->get_regs(v->av, &regs) == 0)
		s->rip = regs.rip;
}

static void stop_vm(struct vcpu *v, enum stop_kind kind, uint32_t kvm_exit, const char *fmt, ...)
{
	struct vm_stop s;
	vcpu_stop_init(v, &s, kind);
	s.kvm_exit = kvm_exit;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s.reason, sizeof(s.reason), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&engine_lock);
	vm_request_stop(v->vm, &s);
	pthread_mutex_unlock(&engine_lock);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool write = r->io.direction == KVM_EXIT_IO_OUT;
	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
		stats_count_addr(&v->stats.io, r->io.port);
		if (!bus_access(v->vm->bus, BUS_PIO, r->io.port, data, r->io.size, write))
			stat_add(&v->stats.unclaimed, 1);
	}
	v->pending_io = true;
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	stats_count_addr(&v->stats.mmio, r->mmio.phys_addr);
	if (!bus_access(v->vm->bus, BUS_MMIO, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
			r->mmio.is_write))
		stat_add(&v->stats.unclaimed, 1);
	v->pending_io = true;
}

static const char *internal_suberror_name(uint32_t sub)
{
	switch (sub) {
	case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
	default: return "internal error";
	}
}

/* Why KVM's emulator may have given up, in words for the person reading the
 * stop. When the instruction belongs to a CPUID feature, the way out is to hide
 * that feature (with the ones already hidden), so the guest never uses it. */
static void emulation_hint(struct vcpu *v, const struct vm_stop *s, char *buf, size_t n)
{
	const char *feature = cpuid_feature_of_insn(s->insn_text);
	if (strcmp(v->acc->name, "kvm") != 0) {
		if (!s->insn_len)
			snprintf(buf, n, "the %s CPU could not fetch an instruction here (no RAM at this "
				 "address?)", v->acc->name);
		else
			snprintf(buf, n, "hvwb's %s CPU does not implement this instruction yet%s%s%s",
				 v->acc->name, feature ? " (CPU feature " : "", feature ? feature : "",
				 feature ? ": hide it with vm:cpuid and the guest will not use it)" : "");
		return;
	}
	if (s->insn_len && s->insn[0] == 0xcc) {
		snprintf(buf, n, "the guest executed int3 in ring 0, which this host's emulator cannot deliver");
		return;
	}
	int len = snprintf(buf, n, "KVM's instruction emulator cannot run this instruction. Hosts "
			   "without hardware virtualization (PVM) send all ring-0 code through it");
	if (!feature) {
		snprintf(buf + len, n - (size_t)len, "; use a host with VT-x/AMD-V");
		return;
	}
	int idx = cpuid_feature_index(feature);
	if (idx >= 0 && ((v->vm->cpuid_hidden >> idx) & 1)) {
		/* PVM shows some features (xsave) whatever the VMM sets. */
		snprintf(buf + len, n - (size_t)len, ". It needs CPU feature %s, which vm:cpuid hides but "
			 "this host's KVM still shows; tell the guest instead (Linux: clearcpuid=%s%s on "
			 "the command line)", feature, feature,
			 strcmp(feature, "xsave") == 0 ? " or noxsave" : "");
		return;
	}
	len += snprintf(buf + len, n - (size_t)len, ". It needs CPU feature %s: hide it before the "
			"first run, vm:cpuid{hide = {", feature);
	size_t nf;
	const struct cpuid_feature *t = cpuid_features(&nf);
	for (size_t i = 0; i < nf && len < (int)n; i++)
		if ((v->vm->cpuid_hidden >> i) & 1)
			len += snprintf(buf + len, n - (size_t)len, "\"%s\", ", t[i].name);
	if (len < (int)n)
		snprintf(buf + len, n - (size_t)len, "\"%s\"}}", feature);
}

/* An emulation failure carries the instruction bytes when the host provides
 * them; keep them, disassembled, so a person can see what failed and why. */
static void handle_internal_error(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct vm_stop s;
	vcpu_stop_init(v, &s, STOP_CRASH);
	s.kvm_exit = KVM_EXIT_INTERNAL_ERROR;
	bool emulation = r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION;
	if (emulation && (r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		s.insn_len = r->emulation_failure.insn_size;
		if (s.insn_len > sizeof(s.insn))
			s.insn_len = sizeof(s.insn);
		memcpy(s.insn, r->emulation_failure.insn_bytes, s.insn_len);
	}
	struct kvm_sregs sr;
	struct disasm_insn d;
	if (s.insn_len && v->acc->get_sregs(v->av, &sr) == 0 &&
	    disasm_decode(disasm_bits_of(&sr), s.rip, s.insn, s.insn_len, NULL, &d) > 0) {
		snprintf(s.insn_text, sizeof(s.insn_text), "%.63s", d.text);
		/* KVM hands over a 15-byte window: keep the instruction's own bytes */
		if (d.valid && d.len > 0 && d.len < s.insn_len)
			s.insn_len = d.len;
	}
	char bytes[64] = "", where[128] = "";
	for (unsigned i = 0, n = 0; i < s.insn_len && n + 4 < sizeof(bytes); i++)
		n += (unsigned)snprintf(bytes + n, sizeof(bytes) - n, "%s%02x", i ? " " : "", s.insn[i]);
	uint64_t off;
	const char *sym = sym_lookup(v->vm->syms, s.rip, &off);
	if (sym)
		snprintf(where, sizeof(where), " <%.80s+0x%llx>", sym, (unsigned long long)off);
	char hint[300] = "";
	if (emulation)
		emulation_hint(v, &s, hint, sizeof(hint));
	int n = snprintf(s.reason, sizeof(s.reason), "%s %s (suberror %u)%s%.63s%s%s%s%s%s",
			 strcmp(v->acc->name, "kvm") ? v->acc->name : "KVM",
			 internal_suberror_name(r->internal.suberror), r->internal.suberror,
			 s.insn_text[0] ? " at `" : "", s.insn_text, s.insn_text[0] ? "`" : "",
			 bytes[0] ? " (bytes " : "", bytes, bytes[0] ? ")" : "", where);
	/* then the hint, as room allows */
	size_t k = n > 0 && (size_t)n < sizeof(s.reason) ? (size_t)n : sizeof(s.reason) - 1;
	if (emulation)
		snprintf(s.reason + k, sizeof(s.reason) - k, ": %s", hint);
	pthread_mutex_lock(&engine_lock);
	vm_request_stop(v->vm, &s);
	pthread_mutex_unlock(&engine_lock);
}

static void handle_system_event(struct vcpu *v)
{
	uint32_t type = v->run->system_event.type;
	const char *what = type == KVM_SYSTEM_EVENT_SHUTDOWN ? "shut down" :
			   type == KVM_SYSTEM_EVENT_RESET ? "asked for a reset" :
			   type == KVM_SYSTEM_EVENT_CRASH ? "reported a crash" : "raised a system event";
	stop_vm(v, STOP_CRASH, KVM_EXIT_SYSTEM_EVENT, "the guest %s (system event %u)", what, type);
}

/* The loop's own part of an exit (devices), then the observers', then, for
 * an exit nobody took, the loop's default: most end the run with a stop. */
static void dispatch_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	/* An observer may run the vCPU on (to finish a stepped I/O instruction),
	 * which leaves another exit in r: the default is for this one. */
	uint32_t reason = r->exit_reason;
	if (reason == KVM_EXIT_IO)
		handle_io(v);
	else if (reason == KVM_EXIT_MMIO)
		handle_mmio(v);
	if (vcpu_observe_exit(v))
		return;
	switch (reason) {
	case KVM_EXIT_IO:
	case KVM_EXIT_MMIO:
		break;
	case KVM_EXIT_DEBUG:
		stop_vm(v, STOP_CRASH, KVM_EXIT_DEBUG, "a debug exit nobody asked for (exception %u at 0x%llx)",
			r->debug.arch.exception, (unsigned long long)r->debug.arch.pc);
		break;
	case KVM_EXIT_HLT:
		stop_vm(v, STOP_HLT, KVM_EXIT_HLT, "vCPU %d halted", v->index);
		break;
	case KVM_EXIT_SHUTDOWN:
		stop_vm(v, STOP_CRASH, KVM_EXIT_SHUTDOWN,
			"triple fault: an exception occurred while the CPU could not deliver one "
			"(no usable IDT or stack), and the CPU shut down");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		handle_internal_error(v);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		stop_vm(v, STOP_CRASH, KVM_EXIT_FAIL_ENTRY,
			"the CPU refused to enter the guest (hardware reason 0x%llx): invalid guest state",
			(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		break;
	default:
		stop_vm(v, STOP_CRASH, reason, "unexpected KVM exit %u (%s)", reason, stats_exit_name(reason));
		break;
	}
}

/* A vCPU is idle for good when it halted with interrupts off, or is an AP that
 * was never started; the VM has halted when every vCPU is. The MP state can lag
 * (PVM reports HALTED for a while after an interrupt woke the vCPU), so a halt
 * counts only when two checks in a row see it at the same RIP with no exit in
 * between. */
static bool looks_halted(struct vcpu *v)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	if (v->acc->get_mp_state(v->av, &mp) < 0)
		return false;
	if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED || mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return v->index != 0;
	enum vcpu_halt_verdict h = mp.mp_state == KVM_MP_STATE_HALTED ? vcpu_observe_halted(v) : HALT_OK;
	if (h == HALT_HANDLED)
		return false;
	if (h == HALT_STALE) {
		mp.mp_state = KVM_MP_STATE_RUNNABLE;
		v->acc->set_mp_state(v->av, &mp);
		v->idle_seen = false;
		return false;
	}
	if (mp.mp_state != KVM_MP_STATE_HALTED || v->acc->get_regs(v->av, &regs) < 0 ||
	    (regs.rflags & (1u << 9))) {
		v->idle_seen = false;
		return false;
	}
	uint64_t exits = stats_total_exits(&v->stats);
	bool same = v->idle_seen && v->idle_rip == regs.rip && v->idle_exits == exits;
	v->idle_seen = true;
	v->idle_rip = regs.rip;
	v->idle_exits = exits;
	return same;
}

static void check_idle(struct vcpu *v)
{
	bool idle = looks_halted(v);
	pthread_mutex_lock(&engine_lock);
	v->idle = idle;
	bool all = idle;
	for (int i = 0; all && i < v->vm->nvcpus; i++)
		all = v->vm->vcpus[i].idle;
	if (all && v->vm->stop.kind == STOP_NONE) {
		struct vm_stop s;
		vcpu_stop_init(v, &s, STOP_HLT);
		snprintf(s.reason, sizeof(s.reason),
			 "every vCPU halted with interrupts disabled (hlt after cli): nothing can wake it");
		vm_request_stop(v->vm, &s);
	}
	pthread_mutex_unlock(&engine_lock);
}

/* Finishes an I/O instruction whose data we supplied, so registers and RIP are
 * complete while the VM is paused (KVM completes it on the next KVM_RUN, which
 * immediate_exit turns back at once). */
static void complete_pending_io(struct vcpu *v)
{
	if (!v->pending_io)
		return;
	v->pending_io = false;
	v->run->immediate_exit = 1;
	v->acc->vcpu_run(v->av);
}

static bool vcpu_may_run(struct vcpu *v)
{
	struct vm *vm = v->vm;
	return vm->quit || (vm->state == VM_RUNNING && !vm->pause_req && !vm->inline_run &&
			    (!vm->solo || v->index == vm->solo_vcpu));
}

/* Parks the vCPU until its VM runs again. Returns false when the VM is going away. */
static bool vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	/* A parked VM costs nothing, but between single steps the timer stays
	 * armed: re-arming it would cost two syscalls on every step. */
	if (!vm->solo)
		idle_timer_arm(v, false);
	pthread_mutex_lock(&engine_lock);
	bool crashed = vm->stop.kind == STOP_CRASH;
	pthread_mutex_unlock(&engine_lock);
	if (!crashed)
		complete_pending_io(v);
	pthread_mutex_lock(&engine_lock);
	v->parked = true;
	v->idle = false;
	vm_settle_if_parked(vm);
	while (!vcpu_may_run(v))
		pthread_cond_wait(&park_cond, &engine_lock);
	bool go = !vm->quit;
	if (go) {
		v->parked = false;
		v->run->immediate_exit = 0;
	}
	pthread_mutex_unlock(&engine_lock);
	if (go) {
		vcpu_observe_enter(v);
		idle_timer_arm(v, true);
	}
	return go;
}

/* One KVM_RUN and the handling of its exit. A failure requests a stop. */
static void run_once(struct vcpu *v)
{
	uint64_t t0 = stats_now_ns();
	running = v;
	int r = v->acc->vcpu_run(v->av);
	running = NULL;
	if (v->acc->insn_count) {
		__atomic_store_n(&v->stats.instructions, v->acc->insn_count(v->av), __ATOMIC_RELAXED);
		__atomic_store_n(&v->stats.has_instructions, true, __ATOMIC_RELAXED);
	}
	int e = -r;
	uint64_t t1 = stats_now_ns();
	stat_add(&v->stats.guest_ns, t1 - t0);
	if (r < 0) {
		if (e == EINTR || e == EAGAIN) {
			stat_add(&v->stats.kicks, 1);
			check_idle(v);
		} else {
			stop_vm(v, STOP_CRASH, 0, "KVM_RUN failed: %s", strerror(e));
		}
		return;
	}
	v->pending_io = false;
	if (v->run->exit_reason < STATS_EXIT_REASONS)
		stat_add(&v->stats.exits[v->run->exit_reason], 1);
	dispatch_exit(v);
	stat_add(&v->stats.handle_ns, stats_now_ns() - t1);
}

static bool stop_requested(struct vm *vm)
{
	return __atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char tname[16];
	snprintf(tname, sizeof(tname), "vcpu%d", v->index);
	pthread_setname_np(pthread_self(), tname);
	idle_timer_create(v);
	while (vcpu_park(v))
		while (!stop_requested(v->vm))
			run_once(v);
	if (v->has_timer)
		timer_delete(v->idle_timer);
	return NULL;
}

/* The calling thread's own idle-check timer, for runs made on it. */
static _Thread_local struct vcpu inline_ticker;

void vcpu_run_inline(struct vcpu *v)
{
	pthread_once(&signal_once, install_kick_handler);
	if (!inline_ticker.has_timer)
		idle_timer_create(&inline_ticker);
	vcpu_observe_enter(v);
	v->run->immediate_exit = 0;
	idle_timer_arm(&inline_ticker, true);
	while (!stop_requested(v->vm)) {
		run_once(v);
		if (engine_take_interrupt()) {
			struct vm_stop s;
			vcpu_stop_init(v, &s, STOP_INTERRUPT);
			snprintf(s.reason, sizeof(s.reason), "interrupted by the user");
			pthread_mutex_lock(&engine_lock);
			vm_request_stop(v->vm, &s);
			pthread_mutex_unlock(&engine_lock);
		}
	}
	idle_timer_arm(&inline_ticker, false);
	if (v->vm->stop.kind != STOP_CRASH)
		complete_pending_io(v);
}

int vcpu_start_thread(struct vcpu *v)
{
	pthread_once(&signal_once, install_kick_handler);
	sigset_t all, old;
	sigfillset(&all);
	/* The thread starts with every signal blocked but the kick, so SIGINT and
	 * friends go to the main thread. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sigset_t mine = all;
	sigdelset(&mine, KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &mine, NULL);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return err_set(-r, "cannot start vCPU %d's thread: %s", v->index, strerror(r));
	v->thread_started = true;
	return 0;
}

void vcpu_fini(struct vcpu *v)
{
	if (v->thread_started)
		pthread_join(v->thread, NULL);
	v->thread_started = false;
	if (v->stats_fd >= 0)
		close(v->stats_fd);
	if (v->av)
		v->acc->vcpu_destroy(v->av);
	v->av = NULL;
	v->run = NULL;
}
