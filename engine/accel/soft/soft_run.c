/* soft_run: the soft vCPU's run loop. It executes one decoded instruction at
 * a time, retires it (instruction count, interrupt shadow, timers), and
 * between instructions looks at pending work when the atomic `work` flag
 * says there is some: kicks, INIT/SIPI, NMI, interrupts, dropped
 * translations. Faults, VMM exits and emulation failures come back here by
 * longjmp; exceptions are delivered with the double/triple fault rules. A
 * halted vCPU sleeps on a futex until an interrupt it can take, its next
 * timer deadline or a kick. */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/accel/soft/soft_cpu.h"

enum { JB_EXC = 1, JB_EXIT, JB_FAIL };
#define CONTINUE 1
#define POLL_EVERY 16384

uint64_t soft_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t soft_tsc(struct accel_vcpu *c)
{
	return soft_now_ns() * (SOFT_TSC_HZ / 1000000000ull) + c->tsc_offset;
}

_Noreturn void soft_raise(struct accel_vcpu *c, int vec, bool has_err, uint32_t err)
{
	c->raised_vec = vec;
	c->raised_has_err = has_err;
	c->raised_err = err;
	longjmp(c->jb, JB_EXC);
}

_Noreturn void soft_exit(struct accel_vcpu *c)
{
	longjmp(c->jb, JB_EXIT);
}

_Noreturn void soft_emul_fail(struct accel_vcpu *c)
{
	longjmp(c->jb, JB_FAIL);
}

/* Async-signal-safe: an atomic store and a futex wake. */
void soft_wake(struct accel_vcpu *c)
{
	atomic_store(&c->work, 1);
	syscall(SYS_futex, &c->work, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void soft_update_mode(struct accel_vcpu *c)
{
	c->mode64 = (c->efer & EFER_LMA) && c->seg[S_CS].l;
	c->code32 = !c->mode64 && c->seg[S_CS].db;
	c->stack32 = c->seg[S_SS].db;
	c->cpl = !(c->cr0 & CR0_PE) ? 0 : (c->rflags & F_VM) ? 3 : c->seg[S_SS].dpl;
	c->exit_block = true; /* the rest of a decoded block may decode differently */
}

static void fill_io_exit(struct accel_vcpu *c, const struct soft_io_rec *r)
{
	struct kvm_run *run = c->run;
	if (r->is_pio) {
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = r->is_write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = r->len;
		run->io.port = r->addr;
		run->io.count = 1;
		run->io.data_offset = SOFT_IO_DATA;
		memcpy((uint8_t *)run + SOFT_IO_DATA, r->data, r->len);
	} else {
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = r->addr;
		run->mmio.len = r->len;
		run->mmio.is_write = r->is_write;
		memcpy(run->mmio.data, r->data, r->len);
	}
}

/* A port or MMIO access: the irqchip's, else the VMM's. Reads the VMM has
 * answered are replayed from c->io; a new one leaves by longjmp (the
 * instruction re-runs with the answer). Writes queue and exit after retire. */
bool soft_io_access(struct accel_vcpu *c, bool pio, uint64_t addr, void *data, int len,
		    bool write)
{
	struct irqchip *chip = c->vm->chip;
	bool done = pio ? irqchip_pio(chip, c->index, addr, data, len, write)
			: irqchip_mmio(chip, c->index, addr, data, len, write);
	c->exit_block = true;
	if (done) {
		if (write)
			atomic_store_explicit(&c->work, 1, memory_order_relaxed);
		return true;
	}
	struct soft_io_rec *r;
	if (write) {
		if (c->wq_n == MMIO_LOG)
			soft_emul_fail(c);
		r = &c->wq[c->wq_n++];
	} else if (c->io_pos < c->io_n) {
		memcpy(data, c->io[c->io_pos++].data, len);
		return true;
	} else {
		if (c->io_n == MMIO_LOG)
			soft_emul_fail(c);
		r = &c->io[c->io_n++];
		c->wq_n = 0; /* the re-run will queue them again */
	}
	r->is_pio = pio;
	r->is_write = write;
	r->addr = addr;
	r->len = len;
	memset(r->data, 0, sizeof(r->data));
	if (write) {
		memcpy(r->data, data, len);
		return true;
	}
	fill_io_exit(c, r);
	c->io_pending = true;
	soft_exit(c);
}

static void debug_exit(struct accel_vcpu *c, uint64_t dr6_bits)
{
	struct kvm_run *run = c->run;
	run->exit_reason = KVM_EXIT_DEBUG;
	run->debug.arch.exception = EXC_DB;
	run->debug.arch.pc = c->seg[S_CS].base + c->rip;
	run->debug.arch.dr6 = 0xffff0ff0u | dr6_bits;
	run->debug.arch.dr7 = (c->dbg_control & KVM_GUESTDBG_USE_HW_BP) ? c->dbg_reg[7] : c->dr7;
}

static void emul_failure(struct accel_vcpu *c)
{
	struct kvm_run *run = c->run;
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.ndata = 3;
	run->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	memset(run->emulation_failure.insn_bytes, 0, 15);
	run->emulation_failure.insn_size = 0;
	if (c->cur) {
		run->emulation_failure.insn_size = c->cur->len;
		memcpy(run->emulation_failure.insn_bytes, c->cur->bytes, c->cur->len);
	}
}

static int exc_class(int v)
{
	if (v == EXC_DE || (v >= EXC_TS && v <= EXC_GP))
		return 1;
	return v == EXC_PF ? 2 : 0;
}

/* After a longjmp: deliver the exception (or #DF, or shut down), or report
 * the exit. Returns CONTINUE or what vcpu_run returns. */
static int landed(struct accel_vcpu *c, int code)
{
	c->rip = c->insn_rip;
	c->r[R_SP] = c->insn_rsp;
	c->repeat = false;
	if (code == JB_EXIT)
		return 0;
	c->wq_n = c->wq_pos = 0;
	c->io_n = c->io_pos = 0;
	if (code == JB_FAIL) {
		c->in_delivery = -1;
		emul_failure(c);
		return 0;
	}
	int prev = c->in_delivery, vec = c->raised_vec;
	bool has_err = c->raised_has_err;
	uint32_t err = c->raised_err;
	c->in_delivery = -1;
	if (prev == EXC_DF) {
		c->run->exit_reason = KVM_EXIT_SHUTDOWN;
		return 0;
	}
	if (prev >= 0 && prev < 0x100) {
		int pc = exc_class(prev), nc = exc_class(vec);
		if ((pc == 1 && nc == 1) || (pc == 2 && nc != 0)) {
			vec = EXC_DF;
			has_err = true;
			err = 0;
		}
	}
	soft_deliver(c, vec, INT_EXC, has_err, err, c->insn_rip);
	return CONTINUE;
}

static void do_init(struct accel_vcpu *c)
{
	soft_reset(c);
	c->mp_state = KVM_MP_STATE_INIT_RECEIVED;
}

static void take_init_sipi(struct accel_vcpu *c)
{
	uint8_t vec;
	int k = irqchip_take_init_sipi(c->vm->chip, c->index, &vec);
	if (k == 1) {
		do_init(c);
	} else if (k == 2 && (c->mp_state == KVM_MP_STATE_INIT_RECEIVED ||
			      c->mp_state == KVM_MP_STATE_UNINITIALIZED)) {
		c->seg[S_CS].selector = (uint16_t)vec << 8;
		c->seg[S_CS].base = (uint64_t)vec << 12;
		c->rip = 0;
		c->mp_state = KVM_MP_STATE_RUNNABLE;
	}
}

static bool can_take_intr(struct accel_vcpu *c)
{
	return (c->rflags & F_IF) && !c->shadow && !(c->dbg_control & KVM_GUESTDBG_BLOCKIRQ);
}

static void deliver_event(struct accel_vcpu *c, int vec, int kind)
{
	c->insn_rip = c->rip;
	c->insn_rsp = c->r[R_SP];
	c->cur = NULL;
	soft_deliver(c, vec, kind, false, 0, c->rip);
}

static int do_work(struct accel_vcpu *c)
{
	struct irqchip *chip = c->vm->chip;
	atomic_store(&c->work, 0);
	if (atomic_exchange(&c->kicked, 0)) {
		/* other work may have come with the kick: look again next run */
		atomic_store(&c->work, 1);
		return -EINTR;
	}
	uint32_t gen = atomic_load(&c->vm->mem_gen);
	if (gen != c->mem_gen_seen) {
		c->mem_gen_seen = gen;
		soft_tlb_flush(c, false);
	}
	take_init_sipi(c);
	if (irqchip_take_nmi(chip, c->index))
		c->nmi_pending = true;
	if (c->mp_state != KVM_MP_STATE_RUNNABLE && c->mp_state != KVM_MP_STATE_HALTED)
		return CONTINUE;
	if (c->exc_pending) {
		c->exc_pending = false;
		c->insn_rip = c->rip;
		c->insn_rsp = c->r[R_SP];
		c->cur = NULL;
		soft_deliver(c, c->exc_vec, INT_EXC, c->exc_has_err, c->exc_err, c->rip);
		return CONTINUE;
	}
	if (c->nmi_pending && !c->nmi_masked && !c->shadow) {
		c->nmi_pending = false;
		c->nmi_masked = true;
		c->mp_state = KVM_MP_STATE_RUNNABLE;
		deliver_event(c, EXC_NMI, INT_HW);
	} else if (c->irq_injected >= 0 && can_take_intr(c)) {
		int v = c->irq_injected;
		c->irq_injected = -1;
		c->mp_state = KVM_MP_STATE_RUNNABLE;
		deliver_event(c, v, INT_HW);
	} else if (can_take_intr(c) && irqchip_has_intr(chip, c->index)) {
		int v = irqchip_ack_intr(chip, c->index);
		if (v >= 0) {
			c->mp_state = KVM_MP_STATE_RUNNABLE;
			deliver_event(c, v, INT_HW);
		}
	}
	return CONTINUE;
}

void soft_poll_timers(struct accel_vcpu *c)
{
	irqchip_poll(c->vm->chip, soft_now_ns());
	c->poll_countdown = POLL_EVERY;
}

/* Halted, or waiting for SIPI: sleep until something can run. */
static int wait_runnable(struct accel_vcpu *c)
{
	struct irqchip *chip = c->vm->chip;
	for (;;) {
		atomic_store(&c->work, 0);
		if (atomic_exchange(&c->kicked, 0)) {
			atomic_store(&c->work, 1);
			return -EINTR;
		}
		uint64_t now = soft_now_ns();
		irqchip_poll(chip, now);
		take_init_sipi(c);
		if (irqchip_take_nmi(chip, c->index))
			c->nmi_pending = true;
		if (c->mp_state == KVM_MP_STATE_RUNNABLE) {
			atomic_store(&c->work, 1);
			return CONTINUE;
		}
		if (c->mp_state == KVM_MP_STATE_HALTED &&
		    (c->nmi_pending || (can_take_intr(c) && (c->irq_injected >= 0 || irqchip_has_intr(chip, c->index))))) {
			atomic_store(&c->work, 1);
			return CONTINUE; /* do_work delivers it and makes us runnable */
		}
		uint64_t dl = irqchip_next_deadline(chip);
		uint64_t wait = 100000000; /* look again at least every 100 ms */
		if (dl && dl > now && dl - now < wait)
			wait = dl - now;
		else if (dl && dl <= now)
			continue;
		struct timespec ts = { (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };
		/* A signal for this thread ends the wait as it ends KVM_RUN: the
		 * engine's idle check comes this way to see that the guest halted. */
		if (syscall(SYS_futex, &c->work, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0) < 0 && errno == EINTR)
			return -EINTR;
	}
}

/* Hardware execute breakpoints at the current instruction (DR6 bits). */
static uint64_t exec_bp_hits(struct accel_vcpu *c, bool guest_dbg)
{
	uint64_t dr7 = guest_dbg ? c->dbg_reg[7] : c->dr7, hits = 0;
	const uint64_t *dr = guest_dbg ? c->dbg_reg : c->dr;
	uint64_t lin = c->seg[S_CS].base + c->rip;
	if (!c->mode64)
		lin = (uint32_t)lin;
	for (int n = 0; n < 4; n++)
		if (((dr7 >> (n * 2)) & 3) && !((dr7 >> (16 + n * 4)) & 3) && dr[n] == lin)
			hits |= 1u << n;
	return hits;
}

static void step(struct accel_vcpu *c)
{
	struct soft_insn i;
	c->insn_rip = c->rip;
	c->insn_rsp = c->r[R_SP];
	c->io_pos = 0;
	c->repeat = false;
	c->cur = NULL;
	soft_decode(c, &i);
	c->cur = &i;
	c->rip = soft_next_rip(c, &i);
	i.fn(c, &i);
	c->cur = NULL;
}

/* After an instruction: returns CONTINUE or an exit. */
int soft_retire(struct accel_vcpu *c, bool tf)
{
	bool stepping = c->dbg_control & KVM_GUESTDBG_SINGLESTEP;
	if (!c->repeat)
		c->insn_count++;
	c->io_n = c->io_pos = 0;
	c->bp_skip = false;
	if (c->shadow && --c->shadow == 0)
		atomic_store_explicit(&c->work, 1, memory_order_relaxed);
	if (--c->poll_countdown <= 0)
		soft_poll_timers(c);
	if (c->data_bp_deferred) { /* the instruction after mov ss: its #DB goes now */
		c->data_bp_hit |= c->data_bp_deferred;
		c->data_bp_deferred = 0;
	}
	if (c->data_bp_hit && c->shadow && c->ss_shadow &&
	    !(c->dbg_control & KVM_GUESTDBG_USE_HW_BP)) {
		/* mov ss / pop ss hold their data breakpoint for one instruction */
		c->data_bp_deferred = c->data_bp_hit;
		c->data_bp_hit = 0;
	}
	if (c->data_bp_hit) {
		uint64_t hits = c->data_bp_hit;
		c->data_bp_hit = 0;
		if (c->dbg_control & KVM_GUESTDBG_USE_HW_BP) {
			debug_exit(c, hits);
			return 0;
		}
		c->dr6 = (c->dr6 & ~0xfull) | hits;
		deliver_event(c, EXC_DB, INT_EXC);
	}
	if (c->wq_n) {
		fill_io_exit(c, &c->wq[0]);
		c->wq_pos = 1;
		if (c->wq_n == 1)
			c->wq_n = c->wq_pos = 0;
		c->step_exit_pending = stepping;
		return 0;
	}
	if (stepping) {
		debug_exit(c, 0x4000);
		return 0;
	}
	if (c->no_trap) { /* syscall masked TF: no single-step trap in the kernel */
		c->no_trap = false;
		tf = false;
	}
	if (tf && c->shadow && c->ss_shadow)
		tf = false; /* mov ss / pop ss: the trap waits for the next instruction */
	if (tf || c->trap_now) {
		c->trap_now = false;
		c->dr6 |= 0x4000;
		deliver_event(c, EXC_DB, INT_EXC);
	}
	return CONTINUE;
}

int soft_vcpu_exec(struct accel_vcpu *c)
{
	int code = setjmp(c->jb);
	if (code) {
		int r = landed(c, code);
		if (r != CONTINUE)
			return r;
		if (c->resume_one)
			return -EINTR;
	}
	for (;;) {
		if (atomic_load_explicit(&c->work, memory_order_relaxed)) {
			int r = do_work(c);
			if (r != CONTINUE)
				return r;
		}
		if (c->mp_state != KVM_MP_STATE_RUNNABLE) {
			int r = wait_runnable(c);
			if (r != CONTINUE)
				return r;
			continue;
		}
		if (soft_block_fast_ok(c)) {
			int r = soft_exec_block(c);
			if (r != CONTINUE)
				return r;
			continue;
		}
		bool gdbg = c->dbg_control & KVM_GUESTDBG_USE_HW_BP;
		if ((gdbg ? c->dbg_reg[7] : c->dr7) & 0xff) {
			uint64_t hits = exec_bp_hits(c, gdbg);
			if (hits && gdbg && !c->bp_skip) {
				c->bp_skip = true;
				debug_exit(c, hits);
				return 0;
			}
			if (hits && !gdbg && c->shadow) {
				/* in a mov ss / sti shadow the breakpoint is suppressed (Intel) */
			} else if (hits && !gdbg && !(c->rflags & F_RF)) {
				c->dr6 = (c->dr6 & ~0xfull) | hits;
				deliver_event(c, EXC_DB, INT_EXC);
				continue;
			}
		}
		bool tf = c->rflags & F_TF;
		c->rflags &= ~(uint64_t)F_RF; /* RF spares one instruction; an iret may set it again */
		step(c);
		int r = soft_retire(c, tf);
		if (r != CONTINUE)
			return r;
		if (c->resume_one)
			return -EINTR;
	}
}

/* KVM_RUN: finish what the last exit left (an answered read, queued writes,
 * an owed single-step exit), honour immediate_exit, then run. */
int soft_vcpu_run(struct accel_vcpu *c)
{
	struct kvm_run *run = c->run;
	bool replay = false;
	c->run_epoch++; /* the VMM may have written guest code meanwhile */
	if (c->io_pending) {
		struct soft_io_rec *r = &c->io[c->io_n - 1];
		if (r->is_pio)
			memcpy(r->data, (uint8_t *)run + SOFT_IO_DATA, r->len);
		else
			memcpy(r->data, run->mmio.data, r->len);
		c->io_pending = false;
		replay = true;
	}
	if (c->wq_pos < c->wq_n) {
		fill_io_exit(c, &c->wq[c->wq_pos++]);
		if (c->wq_pos == c->wq_n)
			c->wq_n = c->wq_pos = 0;
		return 0;
	}
	if (c->step_exit_pending) {
		c->step_exit_pending = false;
		debug_exit(c, 0x4000);
		return 0;
	}
	if (c->exc_pending)
		atomic_store(&c->work, 1); /* do_work delivers it */
	if (run->immediate_exit) {
		if (!replay)
			return -EINTR;
		c->resume_one = true;
		int r = soft_vcpu_exec(c);
		c->resume_one = false;
		return r;
	}
	c->resume_one = false;
	return soft_vcpu_exec(c);
}

void soft_reset(struct accel_vcpu *c)
{
	memset(c->r, 0, sizeof(c->r));
	c->r[R_DX] = 0x6f1;
	c->rip = 0xfff0;
	c->rflags = 2;
	c->cc_op = CC_NONE;
	for (int s = 0; s < 6; s++) {
		struct kvm_segment *g = &c->seg[s];
		memset(g, 0, sizeof(*g));
		g->limit = 0xffff;
		g->type = 3;
		g->s = 1;
		g->present = 1;
	}
	c->seg[S_CS].selector = 0xf000;
	c->seg[S_CS].base = 0xffff0000;
	c->seg[S_CS].type = 0xb;
	memset(&c->tr, 0, sizeof(c->tr));
	c->tr.type = 0xb;
	c->tr.present = 1;
	c->tr.limit = 0xffff;
	memset(&c->ldt, 0, sizeof(c->ldt));
	c->ldt.type = 2;
	c->ldt.present = 1;
	c->ldt.limit = 0xffff;
	c->gdt.base = c->idt.base = 0;
	c->gdt.limit = c->idt.limit = 0xffff;
	c->cr0 = 0x60000010;
	c->cr2 = c->cr3 = c->cr4 = c->efer = 0;
	c->xcr0 = 1;
	memset(c->dr, 0, sizeof(c->dr));
	c->dr6 = 0xffff0ff0;
	c->dr7 = 0x400;
	memset(c->fx, 0, sizeof(c->fx));
	c->fx[0] = 0x7f;
	c->fx[1] = 0x03;
	c->fx[24] = 0x80;
	c->fx[25] = 0x1f;
	memset(c->xsave_hdr, 0, sizeof(c->xsave_hdr));
	c->pat = 0x0007040600070406ull;
	c->nmi_pending = c->nmi_masked = false;
	c->shadow = 0;
	c->exc_pending = false;
	c->irq_injected = -1;
	c->in_delivery = -1;
	c->io_n = c->io_pos = c->wq_n = c->wq_pos = 0;
	c->io_pending = false;
	c->watch = false;
	c->poll_countdown = POLL_EVERY;
	soft_update_mode(c);
	soft_tlb_flush(c, false);
}
