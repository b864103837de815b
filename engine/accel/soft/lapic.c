/* lapic: one local APIC per vCPU, as the Intel SDM (vol. 3, ch. 11) describes
 * it: the xAPIC register page at the APIC base (0xfee00000 after reset) and
 * the same registers as x2APIC MSRs 0x800-0x8ff once IA32_APIC_BASE turns
 * x2APIC on; TPR/PPR priority, the 256-bit IRR/ISR/TMR, EOI (broadcast to
 * the IOAPIC for level-triggered vectors), interprocessor interrupts through
 * the ICR with physical, logical flat/cluster destinations and shorthands,
 * NMI/INIT/SIPI kept for the CPU to take, and the timer in one-shot,
 * periodic and TSC-deadline modes. The timer's input clock is a 1 GHz "bus"
 * (one count is `divide` ns) and the TSC is CLOCK_MONOTONIC ns, so every
 * deadline is an exact host time. The version register says 0x50014: an
 * integrated APIC with six LVT entries (timer, thermal, perf, LINT0, LINT1,
 * error), as KVM's. The registers live in KVM's kvm_lapic_state image. */
#include "engine/accel/soft/irqchip_priv.h"

#include <string.h>

#define APIC_ID       0x20
#define APIC_VER      0x30
#define APIC_TPR      0x80
#define APIC_APR      0x90
#define APIC_PPR      0xa0
#define APIC_EOI      0xb0
#define APIC_RRD      0xc0
#define APIC_LDR      0xd0
#define APIC_DFR      0xe0
#define APIC_SVR      0xf0
#define APIC_ISR      0x100
#define APIC_TMR      0x180
#define APIC_IRR      0x200
#define APIC_ESR      0x280
#define APIC_ICR      0x300
#define APIC_ICR2     0x310
#define APIC_LVTT     0x320
#define APIC_LVTTHMR  0x330
#define APIC_LVTPC    0x340
#define APIC_LVT0     0x350
#define APIC_LVT1     0x360
#define APIC_LVTERR   0x370
#define APIC_TMICT    0x380
#define APIC_TMCCT    0x390
#define APIC_TDCR     0x3e0
#define APIC_SELF_IPI 0x3f0

#define LAPIC_VERSION     0x50014u
#define LVT_MASKED        0x10000u
#define SVR_ENABLE        0x100u
#define BASE_BSP          0x100ull
#define BASE_X2APIC       0x400ull
#define BASE_ENABLE       0x800ull
#define BASE_ADDR_MASK    0xffffff000ull
#define TIMER_ONESHOT     0
#define TIMER_PERIODIC    1
#define TIMER_TSC         2
#define ESR_SEND_ILLEGAL  0x20u
#define ESR_RECV_ILLEGAL  0x40u

uint32_t lapic_reg(const struct lapic *a, unsigned off)
{
	uint32_t v;
	memcpy(&v, a->regs + off, 4);
	return v;
}

static void lapic_set_reg(struct lapic *a, unsigned off, uint32_t v)
{
	memcpy(a->regs + off, &v, 4);
}

/* The 256-bit registers: bit v sits in the 32-bit word at base + v/32*16. */
static bool vec_test(const struct lapic *a, unsigned base, int v)
{
	return lapic_reg(a, base + (v >> 5) * 0x10) >> (v & 31) & 1;
}

static void vec_set(struct lapic *a, unsigned base, int v, bool on)
{
	unsigned off = base + (v >> 5) * 0x10;
	uint32_t w = lapic_reg(a, off), bit = 1u << (v & 31);
	lapic_set_reg(a, off, on ? w | bit : w & ~bit);
}

static int vec_highest(const struct lapic *a, unsigned base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = lapic_reg(a, base + i * 0x10);
		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

static bool hw_enabled(const struct lapic *a) { return a->apic_base & BASE_ENABLE; }
static bool sw_enabled(const struct lapic *a) { return lapic_reg(a, APIC_SVR) & SVR_ENABLE; }
static bool x2apic(const struct lapic *a) { return a->apic_base & BASE_X2APIC; }
static unsigned timer_mode(const struct lapic *a) { return lapic_reg(a, APIC_LVTT) >> 17 & 3; }

static uint32_t lapic_id(const struct lapic *a)
{
	return lapic_reg(a, APIC_ID) >> 24;
}

/* Divide configuration: bits 0, 1 and 3 encode 2^(n+1), 0b111 being 1. */
static uint64_t timer_divide(const struct lapic *a)
{
	uint32_t d = lapic_reg(a, APIC_TDCR);
	unsigned n = (d & 3) | (d >> 1 & 4);
	return 1ull << ((n + 1) & 7);
}

static void lapic_update_ppr(struct lapic *a)
{
	int isrv = vec_highest(a, APIC_ISR);
	uint32_t tpr = lapic_reg(a, APIC_TPR) & 0xff;
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	lapic_set_reg(a, APIC_PPR, (tpr & 0xf0) >= isr_class ? tpr : isr_class);
}

static const unsigned lvt_regs[] = {
	APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR,
};

/* Power-up (init_only false) or INIT (true): INIT keeps the APIC ID and the
 * APIC base MSR, and the x2APIC LDR that follows from them. */
void lapic_reset(struct lapic *a, bool init_only)
{
	uint32_t id = init_only ? lapic_reg(a, APIC_ID) : (uint32_t)a->vcpu << 24;
	uint64_t base = a->apic_base;
	int vcpu = a->vcpu;
	memset(a, 0, sizeof(*a));
	a->vcpu = vcpu;
	a->apic_base = init_only ? base
		: 0xfee00000ull | BASE_ENABLE | (vcpu == 0 ? BASE_BSP : 0);
	lapic_set_reg(a, APIC_ID, id);
	lapic_set_reg(a, APIC_VER, LAPIC_VERSION);
	lapic_set_reg(a, APIC_DFR, 0xffffffffu);
	lapic_set_reg(a, APIC_SVR, 0xff);
	for (unsigned i = 0; i < sizeof(lvt_regs) / sizeof(lvt_regs[0]); i++)
		lapic_set_reg(a, lvt_regs[i], LVT_MASKED);
	/* The BSP's LINT0 starts as virtual wire (ExtINT), as KVM sets it, so
	 * the PIC reaches a guest that never touches its APIC. */
	if (vcpu == 0)
		lapic_set_reg(a, APIC_LVT0, LAPIC_DM_EXTINT << 8);
	if (x2apic(a)) {
		uint32_t x = id >> 24;
		lapic_set_reg(a, APIC_LDR, (x >> 4) << 16 | 1u << (x & 15));
	}
}

/* The vector an INTA would get now: the best request whose priority class
 * is above the processor priority class. */
int lapic_highest_ready(const struct lapic *a)
{
	if (!hw_enabled(a))
		return -1;
	int v = vec_highest(a, APIC_IRR);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (lapic_reg(a, APIC_PPR) & 0xf0))
		return -1;
	return v;
}

int lapic_ack(struct irqchip *chip, struct lapic *a)
{
	int v = lapic_highest_ready(a);
	if (v < 0)
		return -1;
	vec_set(a, APIC_IRR, v, false);
	vec_set(a, APIC_ISR, v, true);
	lapic_update_ppr(a);
	irqchip_touch(chip, a->vcpu, false);
	return v;
}

static void lapic_eoi(struct irqchip *chip, struct lapic *a)
{
	int v = vec_highest(a, APIC_ISR);
	if (v < 0)
		return;
	vec_set(a, APIC_ISR, v, false);
	lapic_update_ppr(a);
	if (vec_test(a, APIC_TMR, v))
		ioapic_eoi(chip, (uint8_t)v);
	irqchip_touch(chip, a->vcpu, false);
}

/* The PIC's INTR reaches this (BSP) APIC's CPU when the APIC is off or its
 * LINT0 is an unmasked ExtINT: the virtual wire. */
bool lapic_accepts_pic(const struct lapic *a)
{
	if (!hw_enabled(a) || !sw_enabled(a))
		return true;
	return (lapic_reg(a, APIC_LVT0) & (LVT_MASKED | 0x700)) == LAPIC_DM_EXTINT << 8;
}

bool lapic_has_event(const struct lapic *a)
{
	return a->nmi_pending || a->init_pending || a->sipi_pending;
}

static void lapic_accept(struct irqchip *chip, struct lapic *a, const struct lapic_msg *m);

/* An illegal vector sent or received: noted for ESR and signalled through
 * the error LVT (whose own vector, if illegal, is only noted). */
static void lapic_error(struct irqchip *chip, struct lapic *a, uint32_t bit)
{
	uint32_t lvt = lapic_reg(a, APIC_LVTERR);
	a->esr_pending |= bit;
	if (lvt & LVT_MASKED)
		return;
	if ((lvt & 0xff) < 16) {
		a->esr_pending |= ESR_RECV_ILLEGAL;
		return;
	}
	struct lapic_msg m = { .vector = lvt & 0xff, .shorthand = 1 };
	lapic_accept(chip, a, &m);
}

/* One message arrives at this APIC. Fixed and lowest-priority ones need the
 * APIC enabled; NMI, INIT and SIPI are kept for the CPU to take (a SIPI only
 * counts after an INIT, as on hardware); INIT level de-assert does nothing. */
static void lapic_accept(struct irqchip *chip, struct lapic *a, const struct lapic_msg *m)
{
	switch (m->mode) {
	case LAPIC_DM_FIXED: case LAPIC_DM_LOWEST:
		if (!hw_enabled(a) || !sw_enabled(a))
			return;
		if (m->vector < 16) {
			lapic_error(chip, a, ESR_RECV_ILLEGAL);
			return;
		}
		vec_set(a, APIC_IRR, m->vector, true);
		vec_set(a, APIC_TMR, m->vector, m->trig_level);
		break;
	case LAPIC_DM_NMI:
		a->nmi_pending++;
		break;
	case LAPIC_DM_INIT:
		if (m->trig_level && !m->level)
			return;
		a->init_pending = true;
		a->sipi_pending = false;
		break;
	case LAPIC_DM_SIPI:
		if (!a->wait_sipi && !a->init_pending)
			return;
		a->sipi_pending = true;
		a->sipi_vector = m->vector;
		break;
	case LAPIC_DM_EXTINT:
		a->extint_pending = true;
		break;
	default:                   /* SMI and the reserved mode: not modelled */
		return;
	}
	irqchip_touch(chip, a->vcpu, true);
}

/* Logical destination: x2APIC's cluster/bitmap pairs, or xAPIC's flat
 * bitmap / cluster nibbles as DFR selects; all-ones is the broadcast. */
static bool match_logical(const struct lapic *a, const struct lapic_msg *m)
{
	uint32_t ldr = lapic_reg(a, APIC_LDR);
	if (x2apic(a)) {
		/* the target's mode decides, as in KVM: an 8-bit (IOAPIC, xAPIC)
		 * destination is read as an x2APIC one, 0xff being the broadcast */
		uint32_t d = m->x2 ? m->dest : m->dest & 0xff;
		if (d == 0xffffffffu || (!m->x2 && d == 0xff))
			return true;
		return (d >> 16) == (ldr >> 16) && (d & ldr & 0xffff);
	}
	if (m->x2 && m->dest == 0xffffffffu)
		return true;
	uint32_t d = m->dest & 0xff, l = ldr >> 24;
	if (d == 0xff)
		return true;
	if ((lapic_reg(a, APIC_DFR) >> 28) == 0xf)
		return d & l;
	return (d >> 4) == (l >> 4) && (d & l & 0xf);
}

static bool lapic_match(const struct lapic *a, int src, const struct lapic_msg *m)
{
	switch (m->shorthand) {
	case 1: return a->vcpu == src;
	case 2: return true;
	case 3: return a->vcpu != src;
	}
	if (m->logical)
		return match_logical(a, m);
	if (m->x2)
		return m->dest == 0xffffffffu || m->dest == lapic_id(a);
	return (m->dest & 0xff) == 0xff || (m->dest & 0xff) == lapic_id(a);
}

/* Sends a message to every APIC it names; lowest priority goes to the first
 * enabled one of them (the SDM lets the choice be any of the targets). */
void lapic_deliver(struct irqchip *chip, int src, const struct lapic_msg *m)
{
	struct lapic *first = NULL;
	for (int i = 0; i < IRQCHIP_MAX_VCPUS; i++) {
		struct lapic *a = chip->lapic[i];
		if (!a || !lapic_match(a, src, m))
			continue;
		if (m->mode != LAPIC_DM_LOWEST) {
			lapic_accept(chip, a, m);
		} else if (!first || (!sw_enabled(first) && sw_enabled(a))) {
			first = a;
		}
	}
	if (first)
		lapic_accept(chip, first, m);
}

static void lapic_send_ipi(struct irqchip *chip, struct lapic *a)
{
	uint32_t lo = lapic_reg(a, APIC_ICR), hi = lapic_reg(a, APIC_ICR2);
	struct lapic_msg m = {
		.vector = lo & 0xff,
		.mode = lo >> 8 & 7,
		.logical = lo & 0x800,
		.level = lo & 0x4000,
		.trig_level = lo & 0x8000,
		.shorthand = lo >> 18 & 3,
		.x2 = x2apic(a),
	};
	m.dest = m.x2 ? hi : hi >> 24;
	if ((m.mode == LAPIC_DM_FIXED || m.mode == LAPIC_DM_LOWEST) && m.vector < 16) {
		lapic_error(chip, a, ESR_SEND_ILLEGAL);
		return;
	}
	lapic_deliver(chip, a->vcpu, &m);
}

/* An LVT entry fires (the timer): its vector, edge, to this APIC only. */
static void lapic_fire_lvt(struct irqchip *chip, struct lapic *a, unsigned reg)
{
	uint32_t lvt = lapic_reg(a, reg);
	if (lvt & LVT_MASKED)
		return;
	struct lapic_msg m = { .vector = lvt & 0xff, .mode = lvt >> 8 & 7, .shorthand = 1 };
	lapic_accept(chip, a, &m);
}

/* ---- timer ---- */

static void timer_start(struct lapic *a, uint64_t now)
{
	uint32_t tmict = lapic_reg(a, APIC_TMICT);
	a->timer_period = (uint64_t)tmict * timer_divide(a);
	a->timer_deadline = tmict && timer_mode(a) != TIMER_TSC ? now + a->timer_period : 0;
}

/* Counts left in the current period, rounded up so that it reads TMICT
 * right after the write and 0 only once the period is over. */
static uint32_t timer_current(const struct lapic *a, uint64_t now)
{
	if (!a->timer_deadline || timer_mode(a) == TIMER_TSC)
		return 0;
	uint64_t left, div = timer_divide(a);
	if (now < a->timer_deadline)
		left = a->timer_deadline - now;
	else if (timer_mode(a) == TIMER_PERIODIC && a->timer_period)
		left = a->timer_period - (now - a->timer_deadline) % a->timer_period;
	else
		return 0;
	return (uint32_t)((left + div - 1) / div);
}

/* Fires the timer if due. A periodic timer that fell behind gives one
 * interrupt and moves to its next period after now. */
bool lapic_poll(struct irqchip *chip, struct lapic *a, uint64_t now)
{
	if (timer_mode(a) == TIMER_TSC) {
		if (!a->tsc_deadline || now < a->tsc_deadline)
			return false;
		a->tsc_deadline = 0;
	} else {
		if (!a->timer_deadline || now < a->timer_deadline)
			return false;
		if (timer_mode(a) == TIMER_PERIODIC && a->timer_period)
			a->timer_deadline += a->timer_period *
				((now - a->timer_deadline) / a->timer_period + 1);
		else
			a->timer_deadline = 0;
	}
	lapic_fire_lvt(chip, a, APIC_LVTT);
	return true;
}

uint64_t lapic_deadline(const struct lapic *a)
{
	return timer_mode(a) == TIMER_TSC ? a->tsc_deadline : a->timer_deadline;
}

/* IA32_TSC_DEADLINE: only heard in TSC-deadline mode (the SDM has writes
 * ignored otherwise); 0 disarms. The TSC runs at 1 GHz: ticks are ns. */
void lapic_set_tsc_deadline(struct irqchip *chip, struct lapic *a, uint64_t tsc, uint64_t now)
{
	if (timer_mode(a) != TIMER_TSC)
		return;
	a->tsc_deadline = tsc;
	chip->timers_dirty = true;
	lapic_poll(chip, a, now);
}

uint64_t lapic_get_tsc_deadline(const struct lapic *a)
{
	return timer_mode(a) == TIMER_TSC ? a->tsc_deadline : 0;
}

/* ---- registers ---- */

static uint32_t lapic_read(const struct lapic *a, unsigned reg, uint64_t now)
{
	switch (reg) {
	case APIC_TMCCT:
		return timer_current(a, now);
	case APIC_EOI: case APIC_SELF_IPI:
		return 0;
	default:
		return reg < KVM_APIC_REG_SIZE ? lapic_reg(a, reg) : 0;
	}
}

static void write_lvt(struct irqchip *chip, struct lapic *a, unsigned reg, uint32_t v,
		      uint64_t now)
{
	static const uint32_t writable[] = {
		[0] = 0x700ff,      /* timer: vector, mask, mode */
		[1] = 0x107ff,      /* thermal */
		[2] = 0x107ff,      /* performance counters */
		[3] = 0x1a7ff,      /* LINT0: + polarity, trigger */
		[4] = 0x1a7ff,      /* LINT1 */
		[5] = 0x100ff,      /* error */
	};
	uint32_t old = lapic_reg(a, reg);
	v &= writable[(reg - APIC_LVTT) >> 4];
	if (!sw_enabled(a))
		v |= LVT_MASKED;   /* a disabled APIC keeps its LVTs masked */
	if (reg == APIC_LVTT && (old >> 17 & 3) == TIMER_ONESHOT && a->timer_deadline &&
	    now >= a->timer_deadline)
		lapic_poll(chip, a, now); /* a one-shot that ran out stays out in periodic mode */
	if (reg == APIC_LVTT && ((old ^ v) >> 17 & 3) &&
	    ((old >> 17 & 3) == TIMER_TSC || (v >> 17 & 3) == TIMER_TSC)) {
		/* entering or leaving TSC-deadline mode disarms the timer (as
		 * KVM does); one-shot <-> periodic keeps counting */
		lapic_set_reg(a, APIC_TMICT, 0);
		a->timer_deadline = 0;
		a->tsc_deadline = 0;
		chip->timers_dirty = true;
	}
	lapic_set_reg(a, reg, v);
	irqchip_touch(chip, a->vcpu, false);
}

static void write_svr(struct irqchip *chip, struct lapic *a, uint32_t v)
{
	lapic_set_reg(a, APIC_SVR, v & 0x3ff);
	if (!(v & SVR_ENABLE))
		for (unsigned i = 0; i < sizeof(lvt_regs) / sizeof(lvt_regs[0]); i++)
			lapic_set_reg(a, lvt_regs[i], lapic_reg(a, lvt_regs[i]) | LVT_MASKED);
	irqchip_touch(chip, a->vcpu, true);
}

void lapic_set_tpr(struct irqchip *chip, struct lapic *a, uint32_t tpr)
{
	lapic_set_reg(a, APIC_TPR, tpr & 0xff);
	lapic_update_ppr(a);
	irqchip_touch(chip, a->vcpu, false);
}

static void lapic_write(struct irqchip *chip, struct lapic *a, unsigned reg, uint32_t v,
			uint64_t now)
{
	switch (reg) {
	case APIC_ID:
		lapic_set_reg(a, APIC_ID, v & 0xff000000u);
		break;
	case APIC_TPR:
		lapic_set_tpr(chip, a, v);
		break;
	case APIC_EOI:
		lapic_eoi(chip, a);
		break;
	case APIC_LDR:
		lapic_set_reg(a, APIC_LDR, v & 0xff000000u);
		break;
	case APIC_DFR:
		lapic_set_reg(a, APIC_DFR, v | 0x0fffffffu);
		break;
	case APIC_SVR:
		write_svr(chip, a, v);
		break;
	case APIC_ESR:             /* a write latches the errors seen since */
		lapic_set_reg(a, APIC_ESR, a->esr_pending);
		a->esr_pending = 0;
		break;
	case APIC_ICR:
		lapic_set_reg(a, APIC_ICR, v & ~0x1000u);   /* delivery always idle */
		lapic_send_ipi(chip, a);
		break;
	case APIC_ICR2:
		lapic_set_reg(a, APIC_ICR2, x2apic(a) ? v : v & 0xff000000u);
		break;
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC:
	case APIC_LVT0: case APIC_LVT1: case APIC_LVTERR:
		write_lvt(chip, a, reg, v, now);
		break;
	case APIC_TMICT:
		if (timer_mode(a) == TIMER_TSC)
			break;
		lapic_set_reg(a, APIC_TMICT, v);
		timer_start(a, now);
		chip->timers_dirty = true;
		break;
	case APIC_TDCR:
		lapic_set_reg(a, APIC_TDCR, v & 0xb);
		a->timer_period = (uint64_t)lapic_reg(a, APIC_TMICT) * timer_divide(a);
		break;
	case APIC_SELF_IPI:
		if (x2apic(a)) {
			struct lapic_msg m = { .vector = v & 0xff, .shorthand = 1 };
			lapic_accept(chip, a, &m);
		}
		break;
	default:                   /* read-only or reserved: ignored */
		break;
	}
}

/* xAPIC MMIO: 32-bit registers on 16-byte boundaries. Narrower reads see the
 * register's bytes; writes other than aligned dwords are dropped. */
bool lapic_mmio(struct irqchip *chip, struct lapic *a, uint64_t gpa, void *data, int len,
		bool is_write, uint64_t now)
{
	uint64_t base = a->apic_base & BASE_ADDR_MASK;
	if (!hw_enabled(a) || x2apic(a) || gpa < base || gpa >= base + 0x1000)
		return false;
	unsigned off = (unsigned)(gpa - base);
	if (is_write) {
		uint32_t v;
		if ((off & 0xf) == 0 && len >= 4) {
			memcpy(&v, data, 4);
			lapic_write(chip, a, off, v, now);
		}
		return true;
	}
	uint32_t v = lapic_read(a, off & 0xff0, now);
	unsigned sh = off & 0xf;
	for (int i = 0; i < len; i++, sh++)
		((uint8_t *)data)[i] = sh < 4 ? (uint8_t)(v >> (8 * sh)) : 0;
	return true;
}

/* IA32_APIC_BASE. The guest gets the SDM's legal moves only: x2APIC needs
 * xAPIC first, leaving x2APIC goes through disabled, the BSP flag is
 * read-only. The VMM (`host`, restoring a snapshot) may go anywhere valid. */
bool lapic_set_base(struct irqchip *chip, struct lapic *a, uint64_t value, bool host)
{
	uint64_t mode = value & (BASE_ENABLE | BASE_X2APIC), old = a->apic_base;
	if (value & ~(BASE_ADDR_MASK | BASE_ENABLE | BASE_X2APIC | BASE_BSP))
		return false;
	if (mode == BASE_X2APIC)
		return false;
	if (!host && (old & BASE_X2APIC) && mode == BASE_ENABLE)
		return false;
	if (!host && !(old & BASE_ENABLE) && mode == (BASE_ENABLE | BASE_X2APIC))
		return false;
	a->apic_base = host ? value : (value & ~BASE_BSP) | (old & BASE_BSP);
	if (!host && !(old & BASE_ENABLE) && (value & BASE_ENABLE))
		lapic_set_reg(a, APIC_ID, (uint32_t)a->vcpu << 24); /* back to its initial ID, as KVM */
	if (x2apic(a) && !(old & BASE_X2APIC)) {
		if (!host) /* the x2APIC ID is the initial one, whatever xAPIC's became (KVM) */
			lapic_set_reg(a, APIC_ID, (uint32_t)a->vcpu << 24);
		uint32_t x = lapic_id(a);
		lapic_set_reg(a, APIC_LDR, (x >> 4) << 16 | 1u << (x & 15));
	}
	irqchip_touch(chip, a->vcpu, true);
	return true;
}

/* ---- x2APIC MSRs: MSR 0x800 + n is the register at offset n * 16 ---- */

static bool x2_readable(unsigned reg)
{
	switch (reg) {
	case APIC_ID: case APIC_VER: case APIC_TPR: case APIC_PPR: case APIC_LDR:
	case APIC_SVR: case APIC_ESR: case APIC_ICR:
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0:
	case APIC_LVT1: case APIC_LVTERR: case APIC_TMICT: case APIC_TMCCT: case APIC_TDCR:
		return true;
	}
	return reg >= APIC_ISR && reg < APIC_ESR;
}

bool lapic_rdmsr(struct irqchip *chip, struct lapic *a, uint32_t msr, uint64_t *value,
		 uint64_t now)
{
	(void)chip;
	unsigned reg = (msr - 0x800) << 4;
	if (!x2apic(a) || msr < 0x800 || msr > 0x8ff || !x2_readable(reg))
		return false;
	if (reg == APIC_ID)
		*value = lapic_id(a);
	else if (reg == APIC_ICR)
		*value = lapic_reg(a, APIC_ICR) | (uint64_t)lapic_reg(a, APIC_ICR2) << 32;
	else
		*value = lapic_read(a, reg, now);
	return true;
}

bool lapic_wrmsr(struct irqchip *chip, struct lapic *a, uint32_t msr, uint64_t value,
		 uint64_t now)
{
	unsigned reg = (msr - 0x800) << 4;
	if (!x2apic(a) || msr < 0x800 || msr > 0x8ff)
		return false;
	switch (reg) {
	case APIC_ICR:
		lapic_set_reg(a, APIC_ICR2, (uint32_t)(value >> 32));
		lapic_write(chip, a, APIC_ICR, (uint32_t)value, now);
		return true;
	case APIC_EOI: case APIC_ESR:
		if (value)
			return false;
		break;
	case APIC_SELF_IPI:
		if (value & ~0xffull)
			return false; /* reserved bits: #GP, as KVM */
		break;
	case APIC_TPR: case APIC_SVR: case APIC_TMICT: case APIC_TDCR:
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0: case APIC_LVT1:
	case APIC_LVTERR:
		break;
	default:
		return false;
	}
	if (value >> 32)
		return false;
	lapic_write(chip, a, reg, (uint32_t)value, now);
	return true;
}

/* ---- state in KVM's layout ---- */

/* KVM puts the timer's current count in the TMCCT slot of a snapshot. */
void lapic_get(const struct lapic *a, struct kvm_lapic_state *out, uint64_t now)
{
	memcpy(out->regs, a->regs, sizeof(out->regs));
	uint32_t cur = timer_current(a, now);
	memcpy(out->regs + APIC_TMCCT, &cur, 4);
}

/* The timer resumes where the snapshot left it: TMCCT counts still to go in
 * this period (a periodic timer caught at 0 starts a new period). Pending
 * NMI/INIT/SIPI are not part of the layout and stay as they are, as in KVM
 * (they travel with the vCPU's events). */
void lapic_set(struct irqchip *chip, struct lapic *a, const struct kvm_lapic_state *in,
	       uint64_t now)
{
	uint32_t cur;
	memcpy(a->regs, in->regs, sizeof(a->regs));
	memcpy(&cur, a->regs + APIC_TMCCT, 4);
	lapic_set_reg(a, APIC_TMCCT, 0);
	lapic_update_ppr(a);
	timer_start(a, now);
	if (a->timer_deadline && cur)
		a->timer_deadline = now + (uint64_t)cur * timer_divide(a);
	else if (a->timer_deadline && timer_mode(a) == TIMER_ONESHOT)
		a->timer_deadline = 0;
	chip->timers_dirty = true;
	irqchip_touch(chip, a->vcpu, true);
}
