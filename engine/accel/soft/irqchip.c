/* irqchip: the glue of the soft VM's interrupt controllers (irqchip.h says
 * what they are). It owns the one lock, routes GSIs to the PIC and IOAPIC,
 * dispatches the guest's port and MMIO accesses, runs the timers when
 * irqchip_poll says time went by, and answers the CPU's "anything pending?"
 * without the lock: after every change, still under the lock, it refreshes
 * per-vCPU atomic flags and the earliest timer deadline, and only then
 * unlocks and kicks the vCPUs that got something. */
#include "engine/accel/soft/irqchip_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t irqchip_host_clock(void *opaque)
{
	(void)opaque;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t irqchip_now(struct irqchip *chip)
{
	return chip->clock(chip->clock_opaque);
}

void irqchip_touch(struct irqchip *chip, int vcpu, bool kick)
{
	if (vcpu < 0 || vcpu >= IRQCHIP_MAX_VCPUS)
		return;
	chip->dirty |= 1ull << vcpu;
	if (kick)
		chip->kick |= 1ull << vcpu;
}

/* The PIC pair may have changed: vCPU 0's view is refreshed, and it is
 * kicked only when INTR rises (a halted CPU looks at has_intr before it
 * sleeps, so a level that stays high needs no second kick). */
static void irqchip_pic_changed(struct irqchip *chip)
{
	bool out = pic_output(&chip->pic);
	irqchip_touch(chip, 0, out && !chip->pic_out);
	chip->pic_out = out;
}

/* The PIC's INTR goes to the BSP through its virtual wire, or to any vCPU
 * that an IOAPIC ExtINT message reached. */
static bool irqchip_pic_path(struct irqchip *chip, const struct lapic *a)
{
	bool wire = (a->vcpu == 0 && lapic_accepts_pic(a)) || a->extint_pending;
	return wire && pic_output(&chip->pic);
}

static void irqchip_refresh(struct irqchip *chip, int v)
{
	const struct lapic *a = chip->lapic[v];
	bool ready = a && (lapic_highest_ready(a) >= 0 || irqchip_pic_path(chip, a));
	atomic_store(&chip->intr_ready[v], ready);
	atomic_store(&chip->event[v], a && lapic_has_event(a));
}

static void irqchip_refresh_deadline(struct irqchip *chip)
{
	uint64_t next = pit_deadline(&chip->pit);
	for (int i = 0; i < IRQCHIP_MAX_VCPUS; i++) {
		uint64_t d = chip->lapic[i] ? lapic_deadline(chip->lapic[i]) : 0;
		if (d && (!next || d < next))
			next = d;
	}
	atomic_store(&chip->next_deadline, next);
	chip->timers_dirty = false;
}

static void irqchip_lock(struct irqchip *chip)
{
	pthread_mutex_lock(&chip->lock);
}

/* Publishes what changed, unlocks, then kicks: kick never runs locked. */
static void irqchip_unlock(struct irqchip *chip)
{
	for (uint64_t d = chip->dirty; d; d &= d - 1)
		irqchip_refresh(chip, __builtin_ctzll(d));
	chip->dirty = 0;
	if (chip->timers_dirty)
		irqchip_refresh_deadline(chip);
	uint64_t kick = chip->kick;
	chip->kick = 0;
	pthread_mutex_unlock(&chip->lock);
	for (; kick; kick &= kick - 1)
		if (chip->host.kick)
			chip->host.kick(chip->host.opaque, __builtin_ctzll(kick));
}

struct irqchip *irqchip_new(const struct irqchip_host *host)
{
	struct irqchip *chip = calloc(1, sizeof(*chip));
	if (!chip)
		return NULL;
	pthread_mutex_init(&chip->lock, NULL);
	if (host)
		chip->host = *host;
	chip->clock = irqchip_host_clock;
	pic_reset(&chip->pic);
	pit_reset(&chip->pit, irqchip_now(chip));
	ioapic_reset(&chip->ioapic);
	return chip;
}

void irqchip_free(struct irqchip *chip)
{
	if (!chip)
		return;
	for (int i = 0; i < IRQCHIP_MAX_VCPUS; i++)
		free(chip->lapic[i]);
	pthread_mutex_destroy(&chip->lock);
	free(chip);
}

/* Tests (and a deterministic replay) give the chip their own clock; the PIT
 * restarts its counts on the new clock. */
void irqchip_set_clock(struct irqchip *chip, uint64_t (*now_ns)(void *opaque), void *opaque)
{
	irqchip_lock(chip);
	chip->clock = now_ns ? now_ns : irqchip_host_clock;
	chip->clock_opaque = opaque;
	pit_reset(&chip->pit, irqchip_now(chip));
	chip->timers_dirty = true;
	irqchip_unlock(chip);
}

int irqchip_add_vcpu(struct irqchip *chip, int vcpu)
{
	if (vcpu < 0 || vcpu >= IRQCHIP_MAX_VCPUS)
		return -EINVAL;
	struct lapic *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->vcpu = vcpu;
	lapic_reset(a, false);
	irqchip_lock(chip);
	free(chip->lapic[vcpu]);
	chip->lapic[vcpu] = a;
	irqchip_touch(chip, vcpu, false);
	chip->timers_dirty = true;
	irqchip_unlock(chip);
	return 0;
}

static struct lapic *irqchip_lapic(struct irqchip *chip, int vcpu)
{
	return vcpu >= 0 && vcpu < IRQCHIP_MAX_VCPUS ? chip->lapic[vcpu] : NULL;
}

/* KVM's default routing: GSI 0-15 to the PIC and the IOAPIC pin alike. */
static void irqchip_route(struct irqchip *chip, uint32_t gsi, int level)
{
	if (gsi < 16) {
		pic_set_irq(&chip->pic, (int)gsi, level);
		irqchip_pic_changed(chip);
	}
	ioapic_set_irq(chip, (int)gsi, level);
}

int irqchip_set_irq(struct irqchip *chip, uint32_t gsi, int level)
{
	if (gsi >= KVM_IOAPIC_NUM_PINS)
		return -EINVAL;
	irqchip_lock(chip);
	irqchip_route(chip, gsi, level != 0);
	irqchip_unlock(chip);
	return 0;
}

static bool irqchip_owns_port(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 ||
	       port == 0x4d0 || port == 0x4d1 || (port >= 0x40 && port <= 0x43) ||
	       port == 0x61;
}

static void irqchip_port_byte(struct irqchip *chip, uint16_t port, uint8_t *b, bool is_write,
			      uint64_t now)
{
	if (pic_port(&chip->pic, port, b, is_write)) {
		irqchip_pic_changed(chip);
	} else if (pit_port(&chip->pit, port, b, is_write, now)) {
		chip->timers_dirty |= is_write;
	} else if (!is_write) {
		*b = 0xff;
	}
}

/* A wider access is split into bytes at consecutive ports, as on ISA. */
bool irqchip_pio(struct irqchip *chip, int vcpu, uint16_t port, void *data, int size,
		 bool is_write)
{
	(void)vcpu;
	if (!irqchip_owns_port(port))
		return false;
	irqchip_lock(chip);
	uint64_t now = irqchip_now(chip);
	for (int i = 0; i < size; i++)
		irqchip_port_byte(chip, (uint16_t)(port + i), (uint8_t *)data + i, is_write, now);
	irqchip_unlock(chip);
	return true;
}

/* The IOAPIC's window: dword registers at 0x00 and 0x10; narrower reads
 * see the register's low bytes, narrower writes are zero-extended. */
static void irqchip_ioapic_mmio(struct irqchip *chip, unsigned off, void *data, int len,
				bool is_write)
{
	uint32_t v = 0;
	int n = len < 4 ? len : 4;
	if (is_write) {
		memcpy(&v, data, n);
		if ((off & 3) == 0)
			ioapic_mmio(chip, off, &v, true);
		return;
	}
	if ((off & 3) == 0)
		ioapic_mmio(chip, off, &v, false);
	memset(data, 0, len);
	memcpy(data, &v, n);
}

bool irqchip_mmio(struct irqchip *chip, int vcpu, uint64_t gpa, void *data, int len,
		  bool is_write)
{
	bool done = false;
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	uint64_t base = chip->ioapic.s.base_address;
	if (a && lapic_mmio(chip, a, gpa, data, len, is_write, irqchip_now(chip))) {
		done = true;
	} else if (gpa >= base && gpa < base + 0x100) {
		irqchip_ioapic_mmio(chip, (unsigned)(gpa - base), data, len, is_write);
		done = true;
	}
	irqchip_unlock(chip);
	return done;
}

void irqchip_poll(struct irqchip *chip, uint64_t now_ns)
{
	uint64_t next = atomic_load(&chip->next_deadline);
	if (!next || now_ns < next)
		return;
	irqchip_lock(chip);
	if (pit_poll(&chip->pit, now_ns)) {
		/* channel 0's OUT rose: an edge on GSI 0 */
		irqchip_route(chip, 0, 1);
		irqchip_route(chip, 0, 0);
	}
	for (int i = 0; i < IRQCHIP_MAX_VCPUS; i++)
		if (chip->lapic[i])
			lapic_poll(chip, chip->lapic[i], now_ns);
	chip->timers_dirty = true;
	irqchip_unlock(chip);
}

uint64_t irqchip_next_deadline(struct irqchip *chip)
{
	return atomic_load(&chip->next_deadline);
}

bool irqchip_has_intr(struct irqchip *chip, int vcpu)
{
	if (vcpu < 0 || vcpu >= IRQCHIP_MAX_VCPUS)
		return false;
	return atomic_load_explicit(&chip->intr_ready[vcpu], memory_order_acquire);
}

/* The PIC first, as KVM does: its ExtINT does not go through IRR. */
int irqchip_ack_intr(struct irqchip *chip, int vcpu)
{
	int v = -1;
	if (!irqchip_has_intr(chip, vcpu))
		return -1;
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	if (a && irqchip_pic_path(chip, a)) {
		v = pic_ack(&chip->pic);
		a->extint_pending = false;
		irqchip_pic_changed(chip);
		irqchip_touch(chip, vcpu, false);
	} else if (a) {
		v = lapic_ack(chip, a);
	}
	irqchip_unlock(chip);
	return v;
}

bool irqchip_take_nmi(struct irqchip *chip, int vcpu)
{
	bool got = false;
	if (vcpu < 0 || vcpu >= IRQCHIP_MAX_VCPUS || !atomic_load(&chip->event[vcpu]))
		return false;
	irqchip_lock(chip);
	struct lapic *a = chip->lapic[vcpu];
	if (a && a->nmi_pending) {
		a->nmi_pending--;
		got = true;
		irqchip_touch(chip, vcpu, false);
	}
	irqchip_unlock(chip);
	return got;
}

/* INIT resets the APIC (keeping ID and base) and leaves it waiting for the
 * SIPI, which may already be here: it is kept for the next call. */
static int irqchip_do_init(struct irqchip *chip, struct lapic *a)
{
	bool sipi = a->sipi_pending;
	uint8_t vector = a->sipi_vector;
	uint32_t nmi = a->nmi_pending;
	lapic_reset(a, true);
	a->wait_sipi = true;
	a->sipi_pending = sipi;
	a->sipi_vector = vector;
	a->nmi_pending = nmi;
	chip->timers_dirty = true;
	return 1;
}

int irqchip_take_init_sipi(struct irqchip *chip, int vcpu, uint8_t *vector)
{
	int got = 0;
	if (vcpu < 0 || vcpu >= IRQCHIP_MAX_VCPUS || !atomic_load(&chip->event[vcpu]))
		return 0;
	irqchip_lock(chip);
	struct lapic *a = chip->lapic[vcpu];
	if (a && a->init_pending) {
		a->init_pending = false;
		got = irqchip_do_init(chip, a);
	} else if (a && a->sipi_pending && a->wait_sipi) {
		a->sipi_pending = a->wait_sipi = false;
		if (vector)
			*vector = a->sipi_vector;
		got = 2;
	}
	if (got)
		irqchip_touch(chip, vcpu, false);
	irqchip_unlock(chip);
	return got;
}

uint64_t irqchip_get_cr8(struct irqchip *chip, int vcpu)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	uint64_t cr8 = a ? (lapic_reg(a, 0x80) >> 4) & 0xf : 0;
	irqchip_unlock(chip);
	return cr8;
}

/* CR8 is TPR[7:4]; writing it clears TPR[3:0]. */
void irqchip_set_cr8(struct irqchip *chip, int vcpu, uint64_t cr8)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	if (a)
		lapic_set_tpr(chip, a, (uint32_t)(cr8 & 0xf) << 4);
	irqchip_unlock(chip);
}

uint64_t irqchip_get_apic_base(struct irqchip *chip, int vcpu)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	uint64_t v = a ? a->apic_base : 0;
	irqchip_unlock(chip);
	return v;
}

static bool irqchip_write_apic_base(struct irqchip *chip, int vcpu, uint64_t value, bool host)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	bool done = a && lapic_set_base(chip, a, value, host);
	irqchip_unlock(chip);
	return done;
}

bool irqchip_set_apic_base(struct irqchip *chip, int vcpu, uint64_t value)
{
	return irqchip_write_apic_base(chip, vcpu, value, false);
}

bool irqchip_set_apic_base_host(struct irqchip *chip, int vcpu, uint64_t value)
{
	return irqchip_write_apic_base(chip, vcpu, value, true);
}

uint64_t irqchip_get_tsc_deadline(struct irqchip *chip, int vcpu)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	uint64_t v = a ? lapic_get_tsc_deadline(a) : 0;
	irqchip_unlock(chip);
	return v;
}

void irqchip_set_tsc_deadline(struct irqchip *chip, int vcpu, uint64_t tsc)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	if (a)
		lapic_set_tsc_deadline(chip, a, tsc, irqchip_now(chip));
	irqchip_unlock(chip);
}

bool irqchip_rdmsr_x2apic(struct irqchip *chip, int vcpu, uint32_t msr, uint64_t *value)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	bool done = a && lapic_rdmsr(chip, a, msr, value, irqchip_now(chip));
	irqchip_unlock(chip);
	return done;
}

bool irqchip_wrmsr_x2apic(struct irqchip *chip, int vcpu, uint32_t msr, uint64_t value)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	bool done = a && lapic_wrmsr(chip, a, msr, value, irqchip_now(chip));
	irqchip_unlock(chip);
	return done;
}

int irqchip_get_chip(struct irqchip *chip, struct kvm_irqchip *out)
{
	int ret = 0;
	irqchip_lock(chip);
	switch (out->chip_id) {
	case KVM_IRQCHIP_PIC_MASTER: case KVM_IRQCHIP_PIC_SLAVE:
		out->chip.pic = chip->pic.s[out->chip_id];
		break;
	case KVM_IRQCHIP_IOAPIC:
		out->chip.ioapic = chip->ioapic.s;
		break;
	default:
		ret = -EINVAL;
	}
	irqchip_unlock(chip);
	return ret;
}

/* A PIC comes back as it was, without re-evaluating the cascade line (the
 * other half may not be set yet); the next event on the pair does that. */
int irqchip_set_chip(struct irqchip *chip, const struct kvm_irqchip *in)
{
	int ret = 0;
	irqchip_lock(chip);
	switch (in->chip_id) {
	case KVM_IRQCHIP_PIC_MASTER: case KVM_IRQCHIP_PIC_SLAVE:
		chip->pic.s[in->chip_id] = in->chip.pic;
		chip->pic.single[in->chip_id] = false;
		irqchip_pic_changed(chip);
		break;
	case KVM_IRQCHIP_IOAPIC:
		ioapic_set_state(chip, &in->chip.ioapic);
		break;
	default:
		ret = -EINVAL;
	}
	irqchip_unlock(chip);
	return ret;
}

int irqchip_get_pit(struct irqchip *chip, struct kvm_pit_state2 *out)
{
	irqchip_lock(chip);
	pit_get(&chip->pit, out);
	irqchip_unlock(chip);
	return 0;
}

int irqchip_set_pit(struct irqchip *chip, const struct kvm_pit_state2 *in)
{
	irqchip_lock(chip);
	pit_set(&chip->pit, in, irqchip_now(chip));
	chip->timers_dirty = true;
	irqchip_unlock(chip);
	return 0;
}

int irqchip_get_lapic(struct irqchip *chip, int vcpu, struct kvm_lapic_state *out)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	if (a)
		lapic_get(a, out, irqchip_now(chip));
	irqchip_unlock(chip);
	return a ? 0 : -EINVAL;
}

int irqchip_set_lapic(struct irqchip *chip, int vcpu, const struct kvm_lapic_state *in)
{
	irqchip_lock(chip);
	struct lapic *a = irqchip_lapic(chip, vcpu);
	if (a)
		lapic_set(chip, a, in, irqchip_now(chip));
	irqchip_unlock(chip);
	return a ? 0 : -EINVAL;
}

/* KVM_HC_SEND_IPI: bit i of each bitmap names APIC ID min + i (the high
 * bitmap follows the low one by `bits`); fixed-destination, no shorthand. */
long irqchip_pv_send_ipi(struct irqchip *chip, int src, uint64_t lo, uint64_t hi,
			 uint32_t min, uint32_t icr, int bits)
{
	if (icr & (0x800 | 0xc0000))
		return -22; /* -KVM_EINVAL: logical destination or a shorthand */
	struct lapic_msg m = {
		.vector = icr & 0xff,
		.mode = icr >> 8 & 7,
		.level = icr & 0x4000,
		.trig_level = icr & 0x8000,
		.x2 = true,
	};
	long count = 0;
	irqchip_lock(chip);
	for (int half = 0; half < 2; half++) {
		uint64_t map = half ? hi : lo;
		for (; map; map &= map - 1) {
			uint64_t id = (uint64_t)min + (uint64_t)half * (unsigned)bits +
				      (unsigned)__builtin_ctzll(map);
			if (id >= 0xffffffffu)
				continue;
			for (int i = 0; i < IRQCHIP_MAX_VCPUS; i++) {
				struct lapic *a = chip->lapic[i];
				if (a && lapic_reg(a, 0x20) >> 24 == id) { /* APIC_ID */
					m.dest = (uint32_t)id;
					lapic_deliver(chip, src, &m);
					count++;
					break;
				}
			}
		}
	}
	irqchip_unlock(chip);
	return count;
}
