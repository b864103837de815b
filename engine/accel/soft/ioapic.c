/* ioapic: the 82093AA-style I/O APIC at 0xfec00000 with 24 input pins, as
 * KVM models it: IOREGSEL at offset 0x00 picks a register that IOWIN at 0x10
 * reads or writes (ID, version 0x00170011, arbitration ID, and a 64-bit
 * redirection entry per pin). A pin's entry gives the vector, delivery mode
 * (fixed, lowest priority, NMI, INIT, ExtINT), physical or logical
 * destination, trigger and mask; edge pins send one message per rising
 * edge, level pins send while asserted and then wait, remote IRR set, for
 * the LAPIC's EOI of that vector. Line levels are logical (asserted or not),
 * as KVM_IRQ_LINE gives them, so the polarity bit is only stored. The state
 * is KVM's kvm_ioapic_state; `irr` there holds what waits for delivery. */
#include "engine/accel/soft/irqchip_priv.h"

#include <string.h>

#define IOAPIC_VERSION  0x00170011u   /* 24 pins (max entry 0x17), version 0x11 */
#define RTE_DELIVS      (1ull << 12)
#define RTE_REMOTE_IRR  (1ull << 14)
#define RTE_LEVEL       (1ull << 15)
#define RTE_MASKED      (1ull << 16)
#define RTE_RO_BITS     (RTE_DELIVS | RTE_REMOTE_IRR)
#define IOREGSEL        0x00
#define IOWIN           0x10

void ioapic_reset(struct ioapic *io)
{
	memset(io, 0, sizeof(*io));
	io->s.base_address = 0xfec00000ull;
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		io->s.redirtbl[i].bits = RTE_MASKED;
}

/* Sends pin's message if it should go now: requested, unmasked, and for a
 * level pin not still waiting for its EOI. */
static void ioapic_service(struct irqchip *chip, int pin)
{
	struct ioapic *io = &chip->ioapic;
	uint64_t e = io->s.redirtbl[pin].bits;
	if (!(io->s.irr & (1u << pin)) || (e & RTE_MASKED))
		return;
	bool level = e & RTE_LEVEL;
	if (level && (e & RTE_REMOTE_IRR))
		return;
	struct lapic_msg m = {
		.vector = e & 0xff,
		.mode = e >> 8 & 7,
		.logical = e >> 11 & 1,
		.level = true,
		.trig_level = level,
		.dest = (uint32_t)(e >> 56),
	};
	if (level)
		io->s.redirtbl[pin].bits |= RTE_REMOTE_IRR;
	else
		io->s.irr &= ~(1u << pin);
	lapic_deliver(chip, -1, &m);
}

void ioapic_set_irq(struct irqchip *chip, int pin, int level)
{
	struct ioapic *io = &chip->ioapic;
	if (pin < 0 || pin >= KVM_IOAPIC_NUM_PINS)
		return;
	uint32_t bit = 1u << pin;
	bool was = io->line & bit;
	if (level)
		io->line |= bit;
	else
		io->line &= ~bit;
	if (io->s.redirtbl[pin].bits & RTE_LEVEL) {
		if (level)
			io->s.irr |= bit;
		else
			io->s.irr &= ~bit;
	} else if (level && !was) {
		io->s.irr |= bit;
	} else if (!level) {
		io->s.irr &= ~bit; /* as KVM: an edge latched while masked is gone once the line falls */
	}
	ioapic_service(chip, pin);
}

/* The LAPIC's EOI of a level-triggered vector: every level pin with that
 * vector may send again, at once if its line is still asserted. */
void ioapic_eoi(struct irqchip *chip, uint8_t vector)
{
	struct ioapic *io = &chip->ioapic;
	for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
		uint64_t e = io->s.redirtbl[pin].bits;
		if ((e & 0xff) != vector || !(e & RTE_REMOTE_IRR))
			continue;
		io->s.redirtbl[pin].bits &= ~RTE_REMOTE_IRR;
		ioapic_service(chip, pin);
	}
}

static uint32_t ioapic_read_reg(const struct ioapic *io)
{
	unsigned sel = io->s.ioregsel;
	switch (sel) {
	case 0x00: case 0x02:      /* ID, arbitration ID */
		return (uint32_t)io->s.id << 24;
	case 0x01:
		return IOAPIC_VERSION;
	}
	unsigned pin = (sel - 0x10) >> 1;
	if (sel < 0x10 || pin >= KVM_IOAPIC_NUM_PINS)
		return 0xffffffffu;
	uint64_t e = io->s.redirtbl[pin].bits;
	return sel & 1 ? (uint32_t)(e >> 32) : (uint32_t)e;
}

static void ioapic_write_reg(struct irqchip *chip, uint32_t v)
{
	struct ioapic *io = &chip->ioapic;
	unsigned sel = io->s.ioregsel;
	if (sel == 0x00) {
		io->s.id = v >> 24 & 0xf;
		return;
	}
	unsigned pin = (sel - 0x10) >> 1;
	if (sel < 0x10 || pin >= KVM_IOAPIC_NUM_PINS)
		return;
	uint64_t e = io->s.redirtbl[pin].bits;
	if (sel & 1) {
		e = (e & 0xffffffffull) | (uint64_t)v << 32;
	} else {
		e = (e & ~0xffffffffull & ~RTE_RO_BITS) | (v & ~RTE_RO_BITS) | (e & RTE_RO_BITS);
		if (!(e & RTE_LEVEL))
			e &= ~RTE_REMOTE_IRR;
	}
	io->s.redirtbl[pin].bits = e;
	/* a level pin follows its line; an edge latched while masked goes
	 * out on unmask, as in KVM */
	if (e & RTE_LEVEL) {
		if (io->line & (1u << pin))
			io->s.irr |= 1u << pin;
		else
			io->s.irr &= ~(1u << pin);
	}
	ioapic_service(chip, pin);
}

void ioapic_mmio(struct irqchip *chip, unsigned off, uint32_t *val, bool is_write)
{
	struct ioapic *io = &chip->ioapic;
	switch (off) {
	case IOREGSEL:
		if (is_write)
			io->s.ioregsel = *val & 0xff;
		else
			*val = io->s.ioregsel;
		break;
	case IOWIN:
		if (is_write)
			ioapic_write_reg(chip, *val);
		else
			*val = ioapic_read_reg(io);
		break;
	default:
		if (!is_write)
			*val = 0;
		break;
	}
}

/* A restore: what was waiting goes out if it may now, and the line levels
 * are taken to be what irr shows for level pins. */
void ioapic_set_state(struct irqchip *chip, const struct kvm_ioapic_state *in)
{
	struct ioapic *io = &chip->ioapic;
	io->s = *in;
	io->line = 0;
	for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		if (io->s.redirtbl[pin].bits & RTE_LEVEL)
			io->line |= io->s.irr & (1u << pin);
	for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		ioapic_service(chip, pin);
}
