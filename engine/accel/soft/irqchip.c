/* irqchip: first cut of the soft VM's interrupt controllers, so the soft CPU
 * can link against engine/accel/soft/irqchip.h while the PIC, PIT, LAPIC and
 * IOAPIC are being written. Every function exists and does nothing useful. */
#include "engine/accel/soft/irqchip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct irqchip {
	struct irqchip_host host;
};

struct irqchip *irqchip_new(const struct irqchip_host *host)
{
	struct irqchip *chip = calloc(1, sizeof(*chip));
	if (chip && host)
		chip->host = *host;
	return chip;
}

void irqchip_free(struct irqchip *chip) { free(chip); }
int irqchip_add_vcpu(struct irqchip *chip, int vcpu) { (void)chip; return vcpu >= 0 && vcpu < IRQCHIP_MAX_VCPUS ? 0 : -EINVAL; }
int irqchip_set_irq(struct irqchip *chip, uint32_t gsi, int level) { (void)chip; (void)gsi; (void)level; return 0; }

bool irqchip_pio(struct irqchip *chip, int vcpu, uint16_t port, void *data, int size, bool is_write)
{
	(void)chip; (void)vcpu; (void)port; (void)data; (void)size; (void)is_write;
	return false;
}

bool irqchip_mmio(struct irqchip *chip, int vcpu, uint64_t gpa, void *data, int len, bool is_write)
{
	(void)chip; (void)vcpu; (void)gpa; (void)data; (void)len; (void)is_write;
	return false;
}

void irqchip_poll(struct irqchip *chip, uint64_t now_ns) { (void)chip; (void)now_ns; }
uint64_t irqchip_next_deadline(struct irqchip *chip) { (void)chip; return 0; }
bool irqchip_has_intr(struct irqchip *chip, int vcpu) { (void)chip; (void)vcpu; return false; }
int irqchip_ack_intr(struct irqchip *chip, int vcpu) { (void)chip; (void)vcpu; return -1; }
bool irqchip_take_nmi(struct irqchip *chip, int vcpu) { (void)chip; (void)vcpu; return false; }
int irqchip_take_init_sipi(struct irqchip *chip, int vcpu, uint8_t *vector) { (void)chip; (void)vcpu; (void)vector; return 0; }
uint64_t irqchip_get_cr8(struct irqchip *chip, int vcpu) { (void)chip; (void)vcpu; return 0; }
void irqchip_set_cr8(struct irqchip *chip, int vcpu, uint64_t cr8) { (void)chip; (void)vcpu; (void)cr8; }
uint64_t irqchip_get_apic_base(struct irqchip *chip, int vcpu) { (void)chip; return 0xfee00800ull | (vcpu == 0 ? 0x100 : 0); }
bool irqchip_set_apic_base(struct irqchip *chip, int vcpu, uint64_t value) { (void)chip; (void)vcpu; (void)value; return true; }
uint64_t irqchip_get_tsc_deadline(struct irqchip *chip, int vcpu) { (void)chip; (void)vcpu; return 0; }
void irqchip_set_tsc_deadline(struct irqchip *chip, int vcpu, uint64_t tsc) { (void)chip; (void)vcpu; (void)tsc; }
bool irqchip_rdmsr_x2apic(struct irqchip *chip, int vcpu, uint32_t msr, uint64_t *value) { (void)chip; (void)vcpu; (void)msr; (void)value; return false; }
bool irqchip_wrmsr_x2apic(struct irqchip *chip, int vcpu, uint32_t msr, uint64_t value) { (void)chip; (void)vcpu; (void)msr; (void)value; return false; }
int irqchip_get_chip(struct irqchip *chip, struct kvm_irqchip *out) { (void)chip; (void)out; return 0; }
int irqchip_set_chip(struct irqchip *chip, const struct kvm_irqchip *in) { (void)chip; (void)in; return 0; }
int irqchip_get_pit(struct irqchip *chip, struct kvm_pit_state2 *out) { (void)chip; memset(out, 0, sizeof(*out)); return 0; }
int irqchip_set_pit(struct irqchip *chip, const struct kvm_pit_state2 *in) { (void)chip; (void)in; return 0; }
int irqchip_get_lapic(struct irqchip *chip, int vcpu, struct kvm_lapic_state *out) { (void)chip; (void)vcpu; memset(out, 0, sizeof(*out)); return 0; }
int irqchip_set_lapic(struct irqchip *chip, int vcpu, const struct kvm_lapic_state *in) { (void)chip; (void)vcpu; (void)in; return 0; }
