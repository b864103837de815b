/* pic: the two cascaded 8259A interrupt controllers of a PC (master at
 * 0x20/0x21 with the slave on its IR2, slave at 0xa0/0xa1) and the PIIX ELCR
 * (0x4d0/0x4d1) that makes single lines level-triggered. It follows the
 * 8259A datasheet: ICW1-ICW4 initialisation, OCW1 mask, OCW2 EOI and
 * rotation, OCW3 register select, poll and special mask, fully nested
 * priority with rotation through priority_add, auto-EOI, and the spurious
 * IR7 vector an INTA gets when the request went away. The state is KVM's
 * kvm_pic_state so snapshots move between accelerators unchanged. */
#include "engine/accel/soft/irqchip_priv.h"

#include <string.h>

/* Bits the PIIX lets be level-triggered: never the timer, keyboard, cascade,
 * RTC or FPU lines (the values KVM resets elcr_mask to). */
#define PIC_ELCR_MASK_MASTER 0xf8
#define PIC_ELCR_MASK_SLAVE  0xde

static void pic_reset_one(struct kvm_pic_state *s)
{
	uint8_t elcr = s->elcr, elcr_mask = s->elcr_mask, irr = s->irr & s->elcr;
	memset(s, 0, sizeof(*s));
	s->irr = irr;              /* level lines that are high stay requested */
	s->elcr = elcr;
	s->elcr_mask = elcr_mask;
}

void pic_reset(struct pic_pair *p)
{
	memset(p, 0, sizeof(*p));
	p->s[0].elcr_mask = PIC_ELCR_MASK_MASTER;
	p->s[1].elcr_mask = PIC_ELCR_MASK_SLAVE;
}

/* Priority 0 is the highest; with priority_add = k, IR k is priority 0.
 * Returns the priority of the best bit in `mask`, 8 if none. */
static int pic_priority(const struct kvm_pic_state *s, uint8_t mask)
{
	if (!mask)
		return 8;
	int prio = 0;
	while (!(mask & (1u << ((prio + s->priority_add) & 7))))
		prio++;
	return prio;
}

/* The IR line this 8259 would interrupt for now, or -1: the best unmasked
 * request, if it outranks everything in service (special mask mode lets
 * masked in-service levels not block; special fully nested mode lets the
 * master's cascade line be interrupted by a better slave request). */
static int pic_pending(const struct kvm_pic_state *s, bool master)
{
	int prio = pic_priority(s, s->irr & ~s->imr);
	if (prio == 8)
		return -1;
	uint8_t busy = s->isr;
	if (s->special_mask)
		busy &= ~s->imr;
	if (master && s->special_fully_nested_mode)
		busy &= ~(1u << 2);
	if (prio >= pic_priority(s, busy))
		return -1;
	return (prio + s->priority_add) & 7;
}

/* An input line changes. Edge mode latches a request on the rising edge
 * (last_irr remembers the level); level mode follows the line. */
static void pic_set_line(struct kvm_pic_state *s, int irq, int level)
{
	uint8_t bit = 1u << irq;
	if (s->elcr & bit) {
		if (level) {
			s->irr |= bit;
			s->last_irr |= bit;
		} else {
			s->irr &= ~bit;
			s->last_irr &= ~bit;
		}
		return;
	}
	if (level) {
		if (!(s->last_irr & bit))
			s->irr |= bit;
		s->last_irr |= bit;
	} else {
		s->last_irr &= ~bit;
	}
}

/* The slave's INT output is the master's IR2 input. A request it withdraws
 * leaves the master too (the 8259A wants an edge input held until INTA), so
 * a level line dropped on the slave gives no spurious cascade interrupt. */
void pic_update(struct pic_pair *p)
{
	if (p->single[0])
		return;
	if (pic_pending(&p->s[1], false) >= 0) {
		pic_set_line(&p->s[0], 2, 1);
	} else {
		p->s[0].irr &= ~(1u << 2);
		p->s[0].last_irr &= ~(1u << 2);
	}
}

void pic_set_irq(struct pic_pair *p, int irq, int level)
{
	if (irq < 0 || irq > 15)
		return;
	pic_set_line(&p->s[irq >> 3], irq & 7, level);
	pic_update(p);
}

bool pic_output(struct pic_pair *p)
{
	return pic_pending(&p->s[0], true) >= 0;
}

/* INTA on one 8259: in service unless auto-EOI (which may rotate), and an
 * edge request is consumed (a level one stays while the line is high). */
static void pic_intack(struct kvm_pic_state *s, int irq)
{
	uint8_t bit = 1u << irq;
	if (s->auto_eoi) {
		if (s->rotate_on_auto_eoi)
			s->priority_add = (irq + 1) & 7;
	} else {
		s->isr |= bit;
	}
	if (!(s->elcr & bit))
		s->irr &= ~bit;
}

/* The CPU's interrupt acknowledge: the vector of the best request, through
 * the slave for IR2; a request that vanished meanwhile gives IR7 of the chip
 * asked (the 8259A's spurious interrupt), without setting ISR. */
int pic_ack(struct pic_pair *p)
{
	struct kvm_pic_state *m = &p->s[0], *sl = &p->s[1];
	int irq = pic_pending(m, true);
	int vector;
	if (irq < 0) {
		vector = m->irq_base + 7;
	} else {
		pic_intack(m, irq);
		if (irq == 2 && !p->single[0]) {
			int irq2 = pic_pending(sl, false);
			if (irq2 >= 0)
				pic_intack(sl, irq2);
			else
				irq2 = 7;
			vector = sl->irq_base + irq2;
		} else {
			vector = m->irq_base + irq;
		}
	}
	pic_update(p);
	return vector & 0xff;
}

/* OCW2: end of interrupt and the rotations. */
static void pic_ocw2(struct kvm_pic_state *s, uint8_t val)
{
	int cmd = val >> 5, irq;
	switch (cmd) {
	case 0: case 4:            /* rotate in auto-EOI mode: clear / set */
		s->rotate_on_auto_eoi = cmd >> 2;
		break;
	case 1: case 5: {          /* non-specific EOI, optionally rotating */
		int prio = pic_priority(s, s->isr);
		if (prio == 8)
			break;
		irq = (prio + s->priority_add) & 7;
		s->isr &= ~(1u << irq);
		if (cmd == 5)
			s->priority_add = (irq + 1) & 7;
		break;
	}
	case 3: case 7:            /* specific EOI, optionally rotating */
		irq = val & 7;
		s->isr &= ~(1u << irq);
		if (cmd == 7)
			s->priority_add = (irq + 1) & 7;
		break;
	case 6:                    /* set priority: IR val&7 becomes the lowest */
		s->priority_add = (val + 1) & 7;
		break;
	default:                   /* 2: no operation */
		break;
	}
}

static void pic_write_cmd(struct pic_pair *p, int n, uint8_t val)
{
	struct kvm_pic_state *s = &p->s[n];
	if (val & 0x10) {          /* ICW1: a fresh initialisation; it clears
				    * IMR and the edge memory, so a high edge
				    * line needs a new rising edge */
		pic_reset_one(s);
		s->init_state = 1;
		s->init4 = val & 1;
		p->single[n] = val & 2;
	} else if (val & 0x08) {   /* OCW3 */
		if (val & 0x04)
			s->poll = 1;
		if (val & 0x02)
			s->read_reg_select = val & 1;
		if (val & 0x40)
			s->special_mask = (val >> 5) & 1;
	} else {
		pic_ocw2(s, val);
	}
	pic_update(p);
}

static void pic_write_data(struct pic_pair *p, int n, uint8_t val)
{
	struct kvm_pic_state *s = &p->s[n];
	switch (s->init_state) {
	case 1:                    /* ICW2: vector base */
		s->irq_base = val & 0xf8;
		s->init_state = p->single[n] ? (s->init4 ? 3 : 0) : 2;
		break;
	case 2:                    /* ICW3: the PC's wiring is fixed */
		s->init_state = s->init4 ? 3 : 0;
		break;
	case 3:                    /* ICW4 */
		s->special_fully_nested_mode = (val >> 4) & 1;
		s->auto_eoi = (val >> 1) & 1;
		s->init_state = 0;
		break;
	default:                   /* OCW1 */
		s->imr = val;
		break;
	}
	pic_update(p);
}

/* Poll command read: like an INTA of this 8259 alone, answered as a byte
 * with bit 7 set and the level, or 0 if nothing is pending. */
static uint8_t pic_poll_read(struct pic_pair *p, int n)
{
	struct kvm_pic_state *s = &p->s[n];
	int irq = pic_pending(s, n == 0);
	s->poll = 0;
	if (irq < 0)
		return 0;
	pic_intack(s, irq);
	if (n == 1) {              /* the master saw the cascade request too */
		p->s[0].isr &= ~(1u << 2);
		p->s[0].irr &= ~(1u << 2);
	}
	pic_update(p);
	return 0x80 | irq;
}

static uint8_t pic_read(struct pic_pair *p, int n, bool data)
{
	struct kvm_pic_state *s = &p->s[n];
	if (s->poll)
		return pic_poll_read(p, n);
	if (data)
		return s->imr;
	return s->read_reg_select ? s->isr : s->irr;
}

bool pic_port(struct pic_pair *p, uint16_t port, uint8_t *val, bool is_write)
{
	int n;
	switch (port) {
	case 0x20: case 0x21: n = 0; break;
	case 0xa0: case 0xa1: n = 1; break;
	case 0x4d0: case 0x4d1:
		n = port & 1;
		if (is_write) {
			p->s[n].elcr = *val & p->s[n].elcr_mask;
			pic_update(p);
		} else {
			*val = p->s[n].elcr;
		}
		return true;
	default:
		return false;
	}
	bool data = port & 1;
	if (!is_write)
		*val = pic_read(p, n, data);
	else if (data)
		pic_write_data(p, n, *val);
	else
		pic_write_cmd(p, n, *val);
	return true;
}
