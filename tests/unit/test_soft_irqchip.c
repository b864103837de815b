/* test_soft_irqchip: the soft VM's PIC, PIT, LAPIC and IOAPIC (the user-space
 * irqchip of engine/accel/soft) driven the way a guest and the VMM drive
 * them: port and MMIO accesses, IRQ lines, the CPU's has_intr/ack, and
 * state get/set. Time is a fake clock the test moves, never a sleep. */
#include "engine/accel/soft/irqchip.h"
#include "engine/accel/soft/irqchip_priv.h"
#include "tap.h"

#include <pthread.h>
#include <errno.h>
#include <sched.h>

static uint64_t fake_now = 1000000000ull;
static atomic_int kicks[IRQCHIP_MAX_VCPUS];

static uint64_t fake_clock(void *opaque) { (void)opaque; return fake_now; }
static void count_kick(void *opaque, int vcpu) { (void)opaque; kicks[vcpu]++; }

static void outb(struct irqchip *c, uint16_t port, uint8_t v) { irqchip_pio(c, 0, port, &v, 1, true); }
static uint8_t inb(struct irqchip *c, uint16_t port)
{
	uint8_t v = 0;
	irqchip_pio(c, 0, port, &v, 1, false);
	return v;
}

static void apic_w(struct irqchip *c, int vcpu, unsigned off, uint32_t v)
{
	irqchip_mmio(c, vcpu, 0xfee00000ull + off, &v, 4, true);
}

static uint32_t apic_r(struct irqchip *c, int vcpu, unsigned off)
{
	uint32_t v = 0;
	irqchip_mmio(c, vcpu, 0xfee00000ull + off, &v, 4, false);
	return v;
}

static void ioapic_w(struct irqchip *c, uint32_t reg, uint32_t v)
{
	irqchip_mmio(c, 0, 0xfec00000ull, &reg, 4, true);
	irqchip_mmio(c, 0, 0xfec00010ull, &v, 4, true);
}

static uint32_t ioapic_r(struct irqchip *c, uint32_t reg)
{
	uint32_t v = 0;
	irqchip_mmio(c, 0, 0xfec00000ull, &reg, 4, true);
	irqchip_mmio(c, 0, 0xfec00010ull, &v, 4, false);
	return v;
}

static void ipi(struct irqchip *c, int from, uint32_t dest, uint32_t lo)
{
	apic_w(c, from, 0x310, dest);
	apic_w(c, from, 0x300, lo);
}

static struct irqchip *new_chip(int vcpus)
{
	struct irqchip_host host = { .kick = count_kick };
	struct irqchip *c = irqchip_new(&host);
	irqchip_set_clock(c, fake_clock, NULL);
	for (int i = 0; i < vcpus; i++)
		irqchip_add_vcpu(c, i);
	return c;
}

/* Linux's and the BIOS's PIC setup: vectors 0x20/0x28, cascade on IR2. */
static void pic_init(struct irqchip *c)
{
	outb(c, 0x20, 0x11); outb(c, 0x21, 0x20); outb(c, 0x21, 0x04); outb(c, 0x21, 0x01);
	outb(c, 0xa0, 0x11); outb(c, 0xa1, 0x28); outb(c, 0xa1, 0x02); outb(c, 0xa1, 0x01);
	outb(c, 0x21, 0xfe);
	outb(c, 0xa1, 0xff);
}

static void test_pic(void)
{
	struct irqchip *c = new_chip(1);
	pic_init(c);
	is_int(inb(c, 0x21), 0xfe, "PIC: IMR reads back after ICW1-4 and OCW1");
	ok(!irqchip_has_intr(c, 0), "PIC: nothing pending after init");

	kicks[0] = 0;
	irqchip_set_irq(c, 0, 1);
	ok(irqchip_has_intr(c, 0), "PIC: GSI 0 raised is pending on vCPU 0 (virtual wire)");
	ok(kicks[0] > 0, "PIC: vCPU 0 was kicked");
	is_int(irqchip_ack_intr(c, 0), 0x20, "PIC: INTA gives vector 0x20");
	outb(c, 0x20, 0x0b);
	is_int(inb(c, 0x20), 0x01, "PIC: ISR bit 0 set after INTA (OCW3 read ISR)");
	ok(!irqchip_has_intr(c, 0), "PIC: in service, no longer pending");
	irqchip_set_irq(c, 0, 0);
	irqchip_set_irq(c, 0, 1);
	ok(!irqchip_has_intr(c, 0), "PIC: a new IRQ0 waits while IRQ0 is in service");
	outb(c, 0x20, 0x20);
	is_int(inb(c, 0x20), 0x00, "PIC: non-specific EOI clears ISR");
	is_int(irqchip_ack_intr(c, 0), 0x20, "PIC: the waiting IRQ0 comes after EOI");
	outb(c, 0x20, 0x60);       /* specific EOI, IR0 */
	irqchip_set_irq(c, 0, 0);

	irqchip_set_irq(c, 3, 1);
	ok(!irqchip_has_intr(c, 0), "PIC: masked IRQ3 does not deliver");
	outb(c, 0x21, 0xf6);
	is_int(irqchip_ack_intr(c, 0), 0x23, "PIC: IRQ3 delivers once unmasked");
	outb(c, 0x20, 0x20);
	irqchip_set_irq(c, 3, 0);

	outb(c, 0x21, 0xfa);       /* IR0 and the cascade */
	outb(c, 0xa1, 0xef);       /* IRQ12 */
	irqchip_set_irq(c, 12, 1);
	is_int(irqchip_ack_intr(c, 0), 0x2c, "PIC: slave IRQ12 through the cascade gives 0x2c");
	outb(c, 0xa0, 0x0b);
	is_int(inb(c, 0xa0), 0x10, "PIC: slave ISR bit 4");
	is_int(inb(c, 0x20), 0x04, "PIC: master ISR bit 2 (cascade)");
	outb(c, 0xa0, 0x20);
	outb(c, 0x20, 0x20);
	ok(!irqchip_has_intr(c, 0), "PIC: edge IRQ12 gone after its EOI though the line is high");
	irqchip_set_irq(c, 12, 0);

	outb(c, 0x4d1, 0x10);
	is_int(inb(c, 0x4d1), 0x10, "PIC: ELCR makes IRQ12 level-triggered");
	irqchip_set_irq(c, 12, 1);
	is_int(irqchip_ack_intr(c, 0), 0x2c, "PIC: level IRQ12 delivers");
	outb(c, 0xa0, 0x20);
	outb(c, 0x20, 0x20);
	ok(irqchip_has_intr(c, 0), "PIC: level IRQ12 is pending again while the line is high");
	irqchip_set_irq(c, 12, 0);
	ok(!irqchip_has_intr(c, 0), "PIC: and gone when the line drops");

	irqchip_set_irq(c, 0, 1);
	outb(c, 0x20, 0x0c);       /* OCW3 poll */
	is_int(inb(c, 0x20), 0x80, "PIC: poll command reads 0x80 | IR0");
	outb(c, 0x20, 0x20);
	irqchip_set_irq(c, 0, 0);

	/* A guest that turns its APIC on and masks LINT0 no longer sees the PIC. */
	apic_w(c, 0, 0xf0, 0x1ff);
	apic_w(c, 0, 0x350, 0x10700);
	irqchip_set_irq(c, 0, 1);
	ok(!irqchip_has_intr(c, 0), "PIC: LINT0 masked keeps the PIC away from vCPU 0");
	apic_w(c, 0, 0x350, 0x700);
	ok(irqchip_has_intr(c, 0), "PIC: LINT0 ExtINT unmasked lets it through");
	/* Rotate on non-specific EOI: the level just served becomes the lowest. */
	apic_w(c, 0, 0xf0, 0xff);  /* back to virtual wire */
	irqchip_set_irq(c, 0, 0);
	outb(c, 0x20, 0x20);
	outb(c, 0x21, 0xfc);       /* IR0 and IR1 */
	irqchip_set_irq(c, 0, 1);
	is_int(irqchip_ack_intr(c, 0), 0x20, "PIC: IR0 first at default priority");
	outb(c, 0x20, 0xa0);       /* rotate on non-specific EOI */
	irqchip_set_irq(c, 0, 0);
	irqchip_set_irq(c, 0, 1);
	irqchip_set_irq(c, 1, 1);
	is_int(irqchip_ack_intr(c, 0), 0x21, "PIC: after rotation IR1 outranks IR0");
	outb(c, 0x20, 0x20);
	is_int(irqchip_ack_intr(c, 0), 0x20, "PIC: then IR0");
	outb(c, 0x20, 0x20);
	irqchip_set_irq(c, 0, 0);
	irqchip_set_irq(c, 1, 0);

	/* ICW4 auto-EOI: INTA leaves nothing in service. */
	outb(c, 0x20, 0x11); outb(c, 0x21, 0x20); outb(c, 0x21, 0x04); outb(c, 0x21, 0x03);
	outb(c, 0x21, 0xfe);
	irqchip_set_irq(c, 0, 1);
	is_int(irqchip_ack_intr(c, 0), 0x20, "PIC: auto-EOI mode delivers");
	outb(c, 0x20, 0x0b);
	is_int(inb(c, 0x20), 0, "PIC: auto-EOI leaves ISR clear");
	irqchip_free(c);

	/* The 8259A's spurious IR7: the request vanished before INTA. */
	struct pic_pair p;
	pic_reset(&p);
	uint8_t v;
	v = 0x11; pic_port(&p, 0x20, &v, true);
	v = 0x08; pic_port(&p, 0x21, &v, true);
	v = 0x04; pic_port(&p, 0x21, &v, true);
	v = 0x01; pic_port(&p, 0x21, &v, true);
	is_int(pic_ack(&p), 0x0f, "PIC: INTA with nothing pending gives spurious IR7 (0x0f)");
	pic_port(&p, 0x20, &v, false);
	is_int(p.s[0].isr, 0, "PIC: spurious IR7 sets no ISR bit");
	v = 0x11; pic_port(&p, 0xa0, &v, true);
	v = 0x70; pic_port(&p, 0xa1, &v, true);
	v = 0x02; pic_port(&p, 0xa1, &v, true);
	v = 0x01; pic_port(&p, 0xa1, &v, true);
	p.s[0].irr |= 1u << 2;     /* a cascade request the slave no longer has */
	is_int(pic_ack(&p), 0x77, "PIC: cascade with nothing on the slave gives its IR7 (IRQ15)");
	ok(p.s[0].isr == 4 && p.s[1].isr == 0, "PIC: master IR2 in service, slave ISR clear");
}

/* Runs the chip from fake_now for `ns` in `step` increments, acking and
 * EOI-ing every interrupt on vCPU 0 with `vector`; returns how many. */
static int run(struct irqchip *c, uint64_t ns, uint64_t step, int vector, bool pic_eoi)
{
	int n = 0;
	for (uint64_t end = fake_now + ns; fake_now < end;) {
		fake_now += step;
		irqchip_poll(c, fake_now);
		while (irqchip_has_intr(c, 0)) {
			int got = irqchip_ack_intr(c, 0);
			if (got == vector)
				n++;
			if (pic_eoi)
				outb(c, 0x20, 0x20);
			else
				apic_w(c, 0, 0xb0, 0);
		}
	}
	return n;
}

static void test_pit(void)
{
	struct irqchip *c = new_chip(1);
	pic_init(c);
	ok(irqchip_next_deadline(c) == 0, "PIT: no timer armed after reset");
	outb(c, 0x43, 0x34);       /* channel 0, lo/hi, mode 2 */
	outb(c, 0x40, 1193 & 0xff);
	outb(c, 0x40, 1193 >> 8);
	ok(irqchip_next_deadline(c) > fake_now, "PIT: channel 0 armed");
	int n = run(c, 1000000000ull, 100000, 0x20, true);
	ok(n >= 999 && n <= 1001, "PIT: mode 2, divisor 1193 gives ~1000 IRQ0/s (%d)", n);

	fake_now += 5000000000ull;   /* the host was busy for 5 s */
	irqchip_poll(c, fake_now);
	n = 0;
	while (irqchip_has_intr(c, 0)) {
		n += irqchip_ack_intr(c, 0) == 0x20;
		outb(c, 0x20, 0x20);
	}
	is_int(n, 1, "PIT: 5000 missed ticks coalesce into one interrupt");
	n = run(c, 10000000ull, 100000, 0x20, true);
	ok(n >= 9 && n <= 11, "PIT: and the tick goes on at its rate (%d in 10 ms)", n);

	outb(c, 0x43, 0x34);
	outb(c, 0x40, 0x00);
	outb(c, 0x40, 0x10);       /* count 0x1000 */
	fake_now += 83810;         /* 100 PIT clocks */
	outb(c, 0x43, 0x00);       /* counter latch, channel 0 */
	fake_now += 838100;        /* the latch holds while time goes on */
	uint16_t lo = inb(c, 0x40), hi = inb(c, 0x40);
	is_int(hi << 8 | lo, 0x1000 - 100, "PIT: counter latch reads lo, hi = count - 100");
	lo = inb(c, 0x40);
	hi = inb(c, 0x40);
	is_int(hi << 8 | lo, 0x1000 - 1100, "PIT: unlatched read follows the count");
	outb(c, 0x43, 0xe2);       /* read-back: status of channel 0 */
	is_int(inb(c, 0x40), 0xb4, "PIT: read-back status (OUT high, lo/hi, mode 2)");

	uint8_t p61 = inb(c, 0x61);
	outb(c, 0x61, (p61 & ~0x02) | 0x01);   /* gate channel 2, speaker off */
	outb(c, 0x43, 0xb0);       /* channel 2, lo/hi, mode 0 */
	outb(c, 0x42, 1193 & 0xff);
	outb(c, 0x42, 1193 >> 8);
	ok(!(inb(c, 0x61) & 0x20), "PIT: channel 2 OUT (0x61 bit 5) low after the count is written");
	fake_now += 500000;
	ok(!(inb(c, 0x61) & 0x20), "PIT: still low half-way");
	fake_now += 510000;
	ok(inb(c, 0x61) & 0x20, "PIT: high once 1193 clocks (1 ms) went by");
	is_int(inb(c, 0x61) & 0x03, 0x01, "PIT: 0x61 keeps gate on, speaker off");
	outb(c, 0x61, 0x03);
	is_int(inb(c, 0x61) & 0x03, 0x03, "PIT: speaker enable stored");

	/* Linux's quick_pit_calibrate: channel 2 counts down from 0xffff and
	 * the TSC is timed against the MSB reads. */
	outb(c, 0x61, 0x01);
	outb(c, 0x43, 0xb0);
	outb(c, 0x42, 0xff);
	outb(c, 0x42, 0xff);
	inb(c, 0x42);
	uint8_t msb0 = inb(c, 0x42);
	fake_now += 214600;        /* 256 PIT clocks */
	inb(c, 0x42);
	uint8_t msb1 = inb(c, 0x42);
	is_int(msb0 - msb1, 1, "PIT: channel 2's MSB drops by one every 256 clocks");
	is_int(irqchip_set_irq(c, 24, 1), -EINVAL, "GSI 24 is refused");
	irqchip_free(c);
}

static void test_lapic(void)
{
	struct irqchip *c = new_chip(2);
	is_int(irqchip_get_apic_base(c, 0), 0xfee00900, "LAPIC: BSP's APIC base after reset");
	is_int(irqchip_get_apic_base(c, 1), 0xfee00800, "LAPIC: AP's APIC base after reset");
	is_int(apic_r(c, 1, 0x20), 1 << 24, "LAPIC: ID is the vCPU index << 24");
	is_int(apic_r(c, 0, 0x30), 0x50014, "LAPIC: version 0x50014");
	is_int(apic_r(c, 0, 0xf0), 0xff, "LAPIC: software-disabled after reset");
	is_int(apic_r(c, 1, 0x350), 0x10000, "LAPIC: the AP's LINT0 is masked");
	is_int(apic_r(c, 0, 0x350), 0x700, "LAPIC: the BSP's LINT0 is ExtINT");

	ipi(c, 0, 1 << 24, 0x40);
	ok(!irqchip_has_intr(c, 1), "LAPIC: a fixed IPI to a software-disabled APIC is dropped");
	apic_w(c, 0, 0xf0, 0x1ff);
	apic_w(c, 1, 0xf0, 0x1ff);
	is_int(apic_r(c, 1, 0xf0), 0x1ff, "LAPIC: SVR software enable");
	kicks[1] = 0;
	ipi(c, 0, 1 << 24, 0x40);
	ok(irqchip_has_intr(c, 1), "LAPIC: fixed IPI from vCPU 0 is pending on vCPU 1");
	ok(!irqchip_has_intr(c, 0), "LAPIC: and not on vCPU 0");
	ok(kicks[1] == 1, "LAPIC: vCPU 1 kicked once");
	is_int(irqchip_ack_intr(c, 1), 0x40, "LAPIC: ack gives 0x40");
	is_int(apic_r(c, 1, 0x100 + 0x20), 1, "LAPIC: ISR bit 0x40 set");
	is_int(apic_r(c, 1, 0xa0), 0x40, "LAPIC: PPR follows the in-service vector");
	apic_w(c, 1, 0xb0, 0);
	is_int(apic_r(c, 1, 0x100 + 0x20), 0, "LAPIC: EOI clears it");

	apic_w(c, 1, 0x80, 0x50);
	ipi(c, 0, 1 << 24, 0x45);
	ok(!irqchip_has_intr(c, 1), "LAPIC: TPR 0x50 holds back vector 0x45");
	ipi(c, 0, 1 << 24, 0x65);
	is_int(irqchip_ack_intr(c, 1), 0x65, "LAPIC: but lets 0x65 through");
	irqchip_set_cr8(c, 1, 0);
	ok(!irqchip_has_intr(c, 1), "LAPIC: 0x45 waits for 0x65 in service");
	apic_w(c, 1, 0xb0, 0);
	is_int(irqchip_ack_intr(c, 1), 0x45, "LAPIC: after EOI and CR8 0, 0x45 comes");
	apic_w(c, 1, 0xb0, 0);
	irqchip_set_cr8(c, 1, 3);
	is_int(apic_r(c, 1, 0x80), 0x30, "LAPIC: CR8 is TPR[7:4]");
	is_int(irqchip_get_cr8(c, 1), 3, "LAPIC: and reads back");
	irqchip_set_cr8(c, 1, 0);

	ipi(c, 1, 0, 0xc0051);     /* all excluding self, vector 0x51 */
	is_int(irqchip_ack_intr(c, 0), 0x51, "LAPIC: all-but-self IPI reaches vCPU 0");
	ok(!irqchip_has_intr(c, 1), "LAPIC: and not the sender");
	apic_w(c, 0, 0xb0, 0);
	ipi(c, 1, 0, 0x40052);     /* self */
	is_int(irqchip_ack_intr(c, 1), 0x52, "LAPIC: self IPI");
	apic_w(c, 1, 0xb0, 0);
	apic_w(c, 0, 0xd0, 0x01000000);
	apic_w(c, 1, 0xd0, 0x02000000);
	ipi(c, 0, 0x02000000, 0x853);  /* logical flat, bit 1 */
	ok(!irqchip_has_intr(c, 0) && irqchip_ack_intr(c, 1) == 0x53,
	   "LAPIC: logical flat destination 0x02 picks vCPU 1");
	apic_w(c, 1, 0xb0, 0);
	apic_w(c, 0, 0xe0, 0x0fffffff);   /* cluster model */
	apic_w(c, 1, 0xe0, 0x0fffffff);
	apic_w(c, 1, 0xd0, 0x12000000);   /* cluster 1, member bit 1 */
	ipi(c, 0, 0x12000000, 0x854);
	ok(irqchip_ack_intr(c, 1) == 0x54 && !irqchip_has_intr(c, 0),
	   "LAPIC: logical cluster destination 0x12 picks vCPU 1");
	apic_w(c, 1, 0xb0, 0);

	kicks[1] = 0;
	ipi(c, 0, 1 << 24, 0x400); /* NMI */
	ok(kicks[1] == 1, "LAPIC: NMI kicks vCPU 1");
	ok(irqchip_take_nmi(c, 1), "LAPIC: NMI taken");
	ok(!irqchip_take_nmi(c, 1), "LAPIC: once");

	ipi(c, 0, 1 << 24, 0x05);  /* vector 5: illegal */
	apic_w(c, 0, 0x280, 0);
	is_int(apic_r(c, 0, 0x280), 0x20, "LAPIC: ESR shows send illegal vector after a write");
	apic_w(c, 0, 0x280, 0);
	is_int(apic_r(c, 0, 0x280), 0, "LAPIC: and clears on the next write");
	apic_w(c, 0, 0x370, 0xfe);
	ipi(c, 0, 1 << 24, 0x06);
	is_int(irqchip_ack_intr(c, 0), 0xfe, "LAPIC: the error LVT signals an illegal vector");
	apic_w(c, 0, 0xb0, 0);
	apic_w(c, 0, 0x280, 0);
	apic_w(c, 0, 0x370, 0x100fe);

	ipi(c, 0, 1 << 24, 0x8058); /* level-triggered fixed IPI */
	ok(apic_r(c, 1, 0x180 + 0x20) & (1u << 0x18), "LAPIC: level IPI sets TMR");
	irqchip_ack_intr(c, 1);
	apic_w(c, 1, 0xb0, 0);

	uint8_t vec = 0;
	ipi(c, 0, 1 << 24, 0x4608);
	is_int(irqchip_take_init_sipi(c, 1, &vec), 0, "LAPIC: a SIPI before any INIT is ignored");
	ipi(c, 0, 1 << 24, 0xc500); /* INIT assert */
	ipi(c, 0, 1 << 24, 0x8500); /* INIT de-assert */
	is_int(irqchip_take_init_sipi(c, 1, &vec), 1, "LAPIC: INIT taken");
	is_int(apic_r(c, 1, 0xf0), 0xff, "LAPIC: INIT software-disabled the APIC");
	is_int(apic_r(c, 1, 0x20), 1 << 24, "LAPIC: and kept its ID");
	is_int(irqchip_take_init_sipi(c, 1, &vec), 0, "LAPIC: the de-assert did nothing");
	ipi(c, 0, 1 << 24, 0x4608);
	ipi(c, 0, 1 << 24, 0x4608);
	is_int(irqchip_take_init_sipi(c, 1, &vec), 2, "LAPIC: SIPI taken");
	is_int(vec, 0x08, "LAPIC: with its vector");
	is_int(irqchip_take_init_sipi(c, 1, &vec), 0, "LAPIC: the second SIPI finds the AP running");
	irqchip_free(c);
}

static void test_lapic_timer(void)
{
	struct irqchip *c = new_chip(1);
	apic_w(c, 0, 0xf0, 0x1ff);
	apic_w(c, 0, 0x350, 0x10000);
	apic_w(c, 0, 0x3e0, 0xb);  /* divide by 1 */
	apic_w(c, 0, 0x320, 0xec); /* one-shot */
	uint64_t t0 = fake_now;
	apic_w(c, 0, 0x380, 1000000);
	is_int(irqchip_next_deadline(c), t0 + 1000000, "timer: one-shot deadline is now + 1 ms");
	fake_now += 400000;
	is_int(apic_r(c, 0, 0x390), 600000, "timer: current count after 0.4 ms");
	irqchip_poll(c, t0 + 999999);
	ok(!irqchip_has_intr(c, 0), "timer: not due a ns early");
	irqchip_poll(c, t0 + 1000000);
	is_int(irqchip_ack_intr(c, 0), 0xec, "timer: one-shot fires its vector");
	apic_w(c, 0, 0xb0, 0);
	fake_now = t0 + 1000000;
	is_int(apic_r(c, 0, 0x390), 0, "timer: current count 0 after expiry");
	is_int(run(c, 3000000, 100000, 0xec, false), 0, "timer: one-shot fires only once");

	apic_w(c, 0, 0x3e0, 0x3); /* divide by 16 */
	apic_w(c, 0, 0x320, 0x200ec); /* periodic */
	apic_w(c, 0, 0x380, 62500);   /* 1 ms */
	int n = run(c, 100000000, 50000, 0xec, false);
	is_int(n, 100, "timer: periodic at 1 ms gives 100 interrupts in 100 ms");
	apic_w(c, 0, 0x320, 0x300ec); /* periodic, masked */
	is_int(run(c, 10000000, 50000, 0xec, false), 0, "timer: masked LVT gives none");

	apic_w(c, 0, 0x320, 0x100ec); /* one-shot, masked: keeps counting (KVM) */
	is_int(apic_r(c, 0, 0x380), 62500, "timer: periodic -> one-shot keeps TMICT");
	apic_w(c, 0, 0x320, 0x400ed); /* TSC deadline */
	is_int(apic_r(c, 0, 0x380), 0, "timer: switching to TSC deadline clears TMICT");
	t0 = fake_now;
	irqchip_set_tsc_deadline(c, 0, t0 + 500000);
	is_int(irqchip_get_tsc_deadline(c, 0), t0 + 500000, "timer: TSC deadline reads back");
	irqchip_poll(c, t0 + 499999);
	ok(!irqchip_has_intr(c, 0), "timer: TSC deadline not due early");
	irqchip_poll(c, t0 + 500000);
	is_int(irqchip_ack_intr(c, 0), 0xed, "timer: TSC deadline fires at its TSC (1 GHz = ns)");
	is_int(irqchip_get_tsc_deadline(c, 0), 0, "timer: and the MSR resets to 0");
	apic_w(c, 0, 0xb0, 0);
	irqchip_free(c);
}

static void test_x2apic(void)
{
	struct irqchip *c = new_chip(2);
	uint64_t v = 0;
	ok(!irqchip_rdmsr_x2apic(c, 1, 0x802, &v), "x2APIC: MSRs refused in xAPIC mode");
	ok(!irqchip_set_apic_base(c, 1, 0xfee00400), "x2APIC: EXTD without EN refused");
	ok(irqchip_set_apic_base(c, 1, 0xfee00c00), "x2APIC: enabled");
	ok(irqchip_rdmsr_x2apic(c, 1, 0x802, &v) && v == 1, "x2APIC: ID MSR is 1");
	ok(irqchip_rdmsr_x2apic(c, 1, 0x80d, &v) && v == 2, "x2APIC: LDR from the ID");
	uint32_t m = 0;
	ok(!irqchip_mmio(c, 1, 0xfee00020, &m, 4, false), "x2APIC: xAPIC MMIO page gone");
	ok(!irqchip_set_apic_base(c, 1, 0xfee00800), "x2APIC: straight back to xAPIC refused");
	irqchip_wrmsr_x2apic(c, 1, 0x80f, 0x1ff);
	ok(irqchip_wrmsr_x2apic(c, 1, 0x83f, 0x66), "x2APIC: SELF IPI MSR");
	is_int(irqchip_ack_intr(c, 1), 0x66, "x2APIC: self IPI delivered");
	ok(irqchip_wrmsr_x2apic(c, 1, 0x80b, 0), "x2APIC: EOI MSR");
	apic_w(c, 0, 0xf0, 0x1ff);
	ok(irqchip_wrmsr_x2apic(c, 1, 0x830, 0x67ull), "x2APIC: 64-bit ICR to x2APIC ID 0");
	is_int(irqchip_ack_intr(c, 0), 0x67, "x2APIC: IPI reaches vCPU 0");
	ok(!irqchip_rdmsr_x2apic(c, 1, 0x80e, &v), "x2APIC: DFR MSR refused");
	ioapic_w(c, 0x10 + 9, 2u << 24);  /* pin 4: logical 0x02 = x2APIC cluster 0, bit 1 */
	ioapic_w(c, 0x10 + 8, 0x835);     /* fixed, logical, edge, unmasked */
	irqchip_set_irq(c, 4, 1);
	irqchip_set_irq(c, 4, 0);
	is_int(irqchip_ack_intr(c, 1), 0x35, "x2APIC: an IOAPIC logical destination matches the x2APIC LDR");
	ioapic_w(c, 0x10 + 8, 0x10000);
	ok(irqchip_set_apic_base_host(c, 1, 0xfee00800), "x2APIC: the VMM may restore xAPIC mode directly");
	is_int(apic_r(c, 1, 0x20), 1 << 24, "x2APIC: and the xAPIC page is back with the ID");
	irqchip_free(c);
}

static void test_ioapic(void)
{
	struct irqchip *c = new_chip(2);
	pic_init(c);
	apic_w(c, 0, 0xf0, 0x1ff);
	apic_w(c, 1, 0xf0, 0x1ff);
	is_int(ioapic_r(c, 1), 0x00170011, "IOAPIC: version register");
	is_int(ioapic_r(c, 0x10 + 8), 0x10000, "IOAPIC: pins masked after reset");
	irqchip_set_irq(c, 4, 1);
	ok(!irqchip_has_intr(c, 0), "IOAPIC: masked pin 4 delivers nothing");
	irqchip_set_irq(c, 4, 0);

	ioapic_w(c, 0x10 + 9, 0);      /* pin 4: destination APIC 0 */
	ioapic_w(c, 0x10 + 8, 0x34);   /* fixed, physical, edge, unmasked */
	irqchip_set_irq(c, 4, 1);
	is_int(irqchip_ack_intr(c, 0), 0x34, "IOAPIC: pin 4 gives vector 0x34 on vCPU 0");
	apic_w(c, 0, 0xb0, 0);
	irqchip_set_irq(c, 4, 0);
	ioapic_w(c, 0x10 + 8, 0x10034);  /* masked: a pulse is seen and then gone */
	irqchip_set_irq(c, 4, 1);
	irqchip_set_irq(c, 4, 0);
	ioapic_w(c, 0x10 + 8, 0x34);
	ok(!irqchip_has_intr(c, 0), "IOAPIC: an edge pulse while masked is not sent on unmask (KVM)");
	irqchip_set_irq(c, 4, 1);
	is_int(irqchip_ack_intr(c, 0), 0x34, "IOAPIC: the next edge is");
	apic_w(c, 0, 0xb0, 0);
	irqchip_set_irq(c, 4, 0);

	ioapic_w(c, 0x10 + 2 * 20 + 1, 1u << 24);
	ioapic_w(c, 0x10 + 2 * 20, 0xa000 | 0x3a);   /* level, active low */
	irqchip_set_irq(c, 20, 1);
	ok(!irqchip_has_intr(c, 0), "IOAPIC: GSI 20 goes to the IOAPIC only (vCPU 1)");
	is_int(irqchip_ack_intr(c, 1), 0x3a, "IOAPIC: level pin 20 delivers 0x3a to vCPU 1");
	ok(ioapic_r(c, 0x10 + 40) & 0x4000, "IOAPIC: remote IRR set");
	ok(apic_r(c, 1, 0x180 + 0x10) & (1u << 0x1a), "IOAPIC: LAPIC TMR set for the level vector");
	apic_w(c, 1, 0xb0, 0);
	ok(irqchip_has_intr(c, 1), "IOAPIC: EOI while the line is high sends it again");
	is_int(irqchip_ack_intr(c, 1), 0x3a, "IOAPIC: same vector");
	irqchip_set_irq(c, 20, 0);
	apic_w(c, 1, 0xb0, 0);
	ok(!(ioapic_r(c, 0x10 + 40) & 0x4000), "IOAPIC: EOI cleared remote IRR");
	ok(!irqchip_has_intr(c, 1), "IOAPIC: nothing more once the line is low");

	ioapic_w(c, 0x10 + 2 * 11, 0x1803b);         /* level, masked */
	irqchip_set_irq(c, 11, 1);
	ok(!irqchip_has_intr(c, 0), "IOAPIC: masked level pin waits");
	ioapic_w(c, 0x10 + 2 * 11, 0x803b);
	is_int(irqchip_ack_intr(c, 0), 0x3b, "IOAPIC: and is sent on unmask");
	irqchip_set_irq(c, 11, 0);
	apic_w(c, 0, 0xb0, 0);

	ioapic_w(c, 0x10 + 2 * 5 + 1, 0x03000000);    /* logical, both */
	ioapic_w(c, 0x10 + 2 * 5, 0x935);             /* lowest priority, logical */
	apic_w(c, 0, 0xd0, 0x01000000);
	apic_w(c, 1, 0xd0, 0x02000000);
	irqchip_set_irq(c, 5, 1);
	ok(irqchip_has_intr(c, 0) != irqchip_has_intr(c, 1),
	   "IOAPIC: lowest priority goes to exactly one APIC");
	irqchip_free(c);
}

static bool same_chip(struct irqchip *a, struct irqchip *b, int id)
{
	struct kvm_irqchip x = { .chip_id = id }, y = { .chip_id = id };
	irqchip_get_chip(a, &x);
	irqchip_get_chip(b, &y);
	return memcmp(&x, &y, sizeof(x)) == 0;
}

static void copy_all(struct irqchip *from, struct irqchip *to)
{
	for (int id = 0; id < 3; id++) {
		struct kvm_irqchip s = { .chip_id = id };
		irqchip_get_chip(from, &s);
		irqchip_set_chip(to, &s);
	}
	struct kvm_pit_state2 pit;
	irqchip_get_pit(from, &pit);
	irqchip_set_pit(to, &pit);
	for (int i = 0; i < 2; i++) {
		struct kvm_lapic_state l;
		irqchip_get_lapic(from, i, &l);
		irqchip_set_lapic(to, i, &l);
	}
}

static void test_state(void)
{
	struct irqchip *a = new_chip(2);
	pic_init(a);
	outb(a, 0x4d1, 0x0c);
	outb(a, 0x43, 0x34);
	outb(a, 0x40, 0xa9);
	outb(a, 0x40, 0x04);
	outb(a, 0x43, 0xb0);
	outb(a, 0x42, 0x34);
	fake_now += 123456;
	irqchip_set_irq(a, 0, 1);  /* IRQ0 pending in the PIC */
	apic_w(a, 0, 0xf0, 0x1ff);
	apic_w(a, 1, 0xf0, 0x1ff);
	apic_w(a, 1, 0x320, 0x20031);
	apic_w(a, 1, 0x380, 777777);
	ipi(a, 0, 1 << 24, 0x71);
	ioapic_w(a, 0x10 + 2 * 9, 0xa039);
	irqchip_set_irq(a, 9, 1);
	fake_now += 5000;

	struct irqchip *b = new_chip(2);
	copy_all(a, b);
	ok(same_chip(a, b, KVM_IRQCHIP_PIC_MASTER), "state: master PIC round-trips");
	ok(same_chip(a, b, KVM_IRQCHIP_PIC_SLAVE), "state: slave PIC round-trips");
	ok(same_chip(a, b, KVM_IRQCHIP_IOAPIC), "state: IOAPIC round-trips");
	struct kvm_pit_state2 pa, pb;
	irqchip_get_pit(a, &pa);
	irqchip_get_pit(b, &pb);
	ok(memcmp(&pa, &pb, sizeof(pa)) == 0, "state: PIT round-trips byte for byte");
	for (int i = 0; i < 2; i++) {
		struct kvm_lapic_state la, lb;
		irqchip_get_lapic(a, i, &la);
		irqchip_get_lapic(b, i, &lb);
		ok(memcmp(&la, &lb, sizeof(la)) == 0, "state: LAPIC %d round-trips byte for byte", i);
	}
	is_int(irqchip_ack_intr(b, 0), 0x20, "state: the restored PIC delivers the pending IRQ0");
	is_int(irqchip_ack_intr(b, 1), 0x71, "state: the restored LAPIC its pending IPI");
	uint32_t cur = apic_r(b, 1, 0x390);
	ok(cur > 0 && cur < 777777, "state: the restored APIC timer keeps counting (%u)", cur);

	/* A PIT state from KVM: load times in another clock entirely. */
	pa.channels[0].count_load_time = 987654321987654321ll;
	irqchip_set_pit(b, &pa);
	outb(b, 0x43, 0x00);
	uint16_t lo = inb(b, 0x40), hi = inb(b, 0x40);
	is_int(hi << 8 | lo, 1193, "state: a foreign count_load_time counts from the time of set");
	irqchip_free(a);
	irqchip_free(b);
}

/* Two vCPU threads and a device thread at once: IPIs and IRQ lines race
 * with acks; every IPI sent is either taken or still pending at the end. */
struct race { struct irqchip *c; atomic_int got, sent; atomic_bool stop, started; };

static void *race_sender(void *p)
{
	struct race *r = p;
	while (!atomic_load(&r->started))
		sched_yield();
	for (int i = 0; i < 20000; i++) {
		ipi(r->c, 0, 1 << 24, 0x70);
		atomic_fetch_add(&r->sent, 1);
		irqchip_set_irq(r->c, 20, i & 1);
	}
	irqchip_set_irq(r->c, 20, 0);
	atomic_store(&r->stop, true);
	return NULL;
}

static void *race_receiver(void *p)
{
	struct race *r = p;
	atomic_store(&r->started, true);
	while (!atomic_load(&r->stop) || irqchip_has_intr(r->c, 1)) {
		irqchip_poll(r->c, fake_clock(NULL));
		if (!irqchip_has_intr(r->c, 1))
			continue;
		int v = irqchip_ack_intr(r->c, 1);
		if (v == 0x70)
			atomic_fetch_add(&r->got, 1);
		if (v >= 0)
			apic_w(r->c, 1, 0xb0, 0);
	}
	return NULL;
}

static void test_threads(void)
{
	struct race r = { .c = new_chip(2) };
	apic_w(r.c, 0, 0xf0, 0x1ff);
	apic_w(r.c, 1, 0xf0, 0x1ff);
	ioapic_w(r.c, 0x10 + 2 * 20 + 1, 1u << 24);
	ioapic_w(r.c, 0x10 + 2 * 20, 0x8061);
	pthread_t s, t;
	pthread_create(&t, NULL, race_receiver, &r);
	pthread_create(&s, NULL, race_sender, &r);
	pthread_join(s, NULL);
	pthread_join(t, NULL);
	int got = atomic_load(&r.got);
	ok(got > 0 && got <= 20000, "threads: %d of 20000 IPIs taken (same-vector ones merge in IRR)", got);
	ok(!irqchip_has_intr(r.c, 1), "threads: nothing left pending");
	irqchip_free(r.c);
}

int main(void)
{
	test_pic();
	test_pit();
	test_lapic();
	test_lapic_timer();
	test_x2apic();
	test_ioapic();
	test_state();
	test_threads();
	return tap_done();
}
