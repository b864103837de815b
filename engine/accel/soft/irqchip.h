/* irqchip: the interrupt controllers and timers of a soft VM, in user space,
 * doing what KVM's in-kernel irqchip (KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2)
 * does for the kvm accelerator: the 8259 pair (master 0x20/0x21, slave
 * 0xa0/0xa1, ELCR 0x4d0/0x4d1), the 8254 PIT (0x40-0x43, channel 2 gate and
 * output on port 0x61), one local APIC per vCPU (xAPIC MMIO at its APIC base,
 * 0xfee00000 after reset) and the IOAPIC (MMIO 0xfec00000). Their state moves
 * in and out in KVM's own layouts (kvm_irqchip, kvm_pit_state2,
 * kvm_lapic_state), so a snapshot is the same whichever accelerator wrote it.
 *
 * Routing is KVM's default: GSI 0-15 go to the PIC and to the IOAPIC pin of
 * the same number, GSI 16-23 to the IOAPIC only; the PIT drives GSI 0. The
 * PIC's output reaches vCPU 0 through LINT0 when that LAPIC is disabled or
 * its LVT0 is unmasked ExtINT (virtual wire: the BSP's LVT0 resets to ExtINT,
 * as in KVM).
 *
 * Time is host CLOCK_MONOTONIC in nanoseconds. The soft TSC counts at
 * SOFT_TSC_HZ from the same clock, so TSC-deadline values convert exactly.
 *
 * Threads: every function may be called from any vCPU thread or the main
 * thread; the chip has its own lock. It never blocks and never calls the
 * CPU except through host.kick. */
#ifndef HVWB_SOFT_IRQCHIP_H
#define HVWB_SOFT_IRQCHIP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#define SOFT_TSC_HZ 1000000000ull   /* 1 GHz: one TSC tick per nanosecond */
#define IRQCHIP_MAX_VCPUS 64

struct irqchip;

struct irqchip_host {
	void *opaque;
	/* Something became pending for vCPU `vcpu` (an interrupt, NMI, INIT or
	 * SIPI): wake it if it waits in hlt, or make it look between blocks. */
	void (*kick)(void *opaque, int vcpu);
};

struct irqchip *irqchip_new(const struct irqchip_host *host);
void irqchip_free(struct irqchip *chip);
/* Gives vCPU `vcpu` its LAPIC in the reset state (vCPU 0 is the BSP). */
int irqchip_add_vcpu(struct irqchip *chip, int vcpu);

/* KVM_IRQ_LINE: level 1 raises, 0 lowers. */
int irqchip_set_irq(struct irqchip *chip, uint32_t gsi, int level);

/* A port or MMIO access from vCPU `vcpu` that the chip may own. Returns true
 * when it did (reads fill data, little-endian, `size` bytes); false means the
 * access belongs to the VMM (an IO or MMIO exit). */
bool irqchip_pio(struct irqchip *chip, int vcpu, uint16_t port, void *data, int size,
		 bool is_write);
bool irqchip_mmio(struct irqchip *chip, int vcpu, uint64_t gpa, void *data, int len,
		  bool is_write);

/* The clock the chip reads for port/MMIO accesses (PIT counts, LAPIC
 * current count, set-time of restored timers): CLOCK_MONOTONIC ns unless a
 * test or a replay gives its own (NULL: back to CLOCK_MONOTONIC). The PIT
 * restarts its counts on the new clock. */
void irqchip_set_clock(struct irqchip *chip, uint64_t (*now_ns)(void *opaque), void *opaque);

/* Fires the timers due by `now_ns` (PIT channel 0, LAPIC timers). */
void irqchip_poll(struct irqchip *chip, uint64_t now_ns);
/* When the next timer is due (0: none armed): a halted vCPU sleeps until
 * then or until kicked. */
uint64_t irqchip_next_deadline(struct irqchip *chip);

/* Between instructions, vCPU `vcpu` asks what is pending. has_intr: a
 * maskable interrupt would be delivered if RFLAGS.IF allowed it (it also
 * ends a hlt only then). ack_intr accepts it as the CPU does (INTA: LAPIC
 * IRR to ISR, or the PIC's vector through ExtINT) and returns the vector, or
 * -1 if it went away. */
bool irqchip_has_intr(struct irqchip *chip, int vcpu);
int irqchip_ack_intr(struct irqchip *chip, int vcpu);
/* Returns true once for each NMI sent to the vCPU. */
bool irqchip_take_nmi(struct irqchip *chip, int vcpu);
long irqchip_pv_send_ipi(struct irqchip *chip, int src, uint64_t lo, uint64_t hi,
			 uint32_t min, uint32_t icr, int bits);
/* INIT and SIPI sent by another vCPU's ICR: returns 0 (none), 1 (INIT: reset
 * the vCPU and wait for SIPI) or 2 (SIPI: *vector set; start at vector<<12
 * in real mode). The LAPIC's own part of INIT is done by the chip. */
int irqchip_take_init_sipi(struct irqchip *chip, int vcpu, uint8_t *vector);

/* The CPU's views of its LAPIC: CR8 (TPR bits 7:4), IA32_APIC_BASE (0x1b),
 * IA32_TSC_DEADLINE (0x6e0, in SOFT_TSC_HZ ticks of CLOCK_MONOTONIC), and
 * the x2APIC MSRs 0x800-0x8ff (return false if the MSR is refused: #GP). */
uint64_t irqchip_get_cr8(struct irqchip *chip, int vcpu);
void irqchip_set_cr8(struct irqchip *chip, int vcpu, uint64_t cr8);
uint64_t irqchip_get_apic_base(struct irqchip *chip, int vcpu);
bool irqchip_set_apic_base(struct irqchip *chip, int vcpu, uint64_t value);
/* The same MSR as the VMM restores it (KVM_SET_SREGS, a snapshot): like
 * KVM's host-initiated write it may leave x2APIC straight for xAPIC and set
 * the BSP flag, which a guest's WRMSR (irqchip_set_apic_base) may not. */
bool irqchip_set_apic_base_host(struct irqchip *chip, int vcpu, uint64_t value);
uint64_t irqchip_get_tsc_deadline(struct irqchip *chip, int vcpu);
void irqchip_set_tsc_deadline(struct irqchip *chip, int vcpu, uint64_t tsc);
bool irqchip_rdmsr_x2apic(struct irqchip *chip, int vcpu, uint32_t msr, uint64_t *value);
bool irqchip_wrmsr_x2apic(struct irqchip *chip, int vcpu, uint32_t msr, uint64_t value);

/* State in KVM's layouts (KVM_GET/SET_IRQCHIP, _PIT2, _LAPIC). */
int irqchip_get_chip(struct irqchip *chip, struct kvm_irqchip *out);
int irqchip_set_chip(struct irqchip *chip, const struct kvm_irqchip *in);
int irqchip_get_pit(struct irqchip *chip, struct kvm_pit_state2 *out);
int irqchip_set_pit(struct irqchip *chip, const struct kvm_pit_state2 *in);
int irqchip_get_lapic(struct irqchip *chip, int vcpu, struct kvm_lapic_state *out);
int irqchip_set_lapic(struct irqchip *chip, int vcpu, const struct kvm_lapic_state *in);

#endif
