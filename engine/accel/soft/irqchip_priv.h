/* irqchip_priv: what the soft irqchip's modules (pic.c, pit.c, lapic.c,
 * ioapic.c and the glue in irqchip.c) share and nobody else sees: the chip
 * itself, each controller's state and the calls between them. Every state
 * that KVM also has is kept in KVM's own struct, so getting and setting it is
 * a copy; what KVM keeps elsewhere (edge memories, pending events, timer
 * bookkeeping) sits beside it. All of it is guarded by the chip's one mutex:
 * a function here is always called with chip->lock held. */
#ifndef HVWB_SOFT_IRQCHIP_PRIV_H
#define HVWB_SOFT_IRQCHIP_PRIV_H

#include "engine/accel/soft/irqchip.h"

#include <pthread.h>
#include <stdatomic.h>

/* The 8259 pair: s[0] the master (0x20), s[1] the slave (0xa0). `single` is
 * ICW1's SNGL bit, which KVM does not keep (it assumes the cascade). */
struct pic_pair {
	struct kvm_pic_state s[2];
	bool single[2];
};

void pic_reset(struct pic_pair *p);
void pic_set_irq(struct pic_pair *p, int irq, int level);
bool pic_output(struct pic_pair *p);
int pic_ack(struct pic_pair *p);
bool pic_port(struct pic_pair *p, uint16_t port, uint8_t *val, bool is_write);
void pic_update(struct pic_pair *p);

/* The 8254. count_load_time in `st` is in the chip's clock; what get/set
 * show is that minus time_delta (see pit_set). ch0_ticks is how many output
 * edges of channel 0 since its load already went out on GSI 0. */
struct pit {
	struct kvm_pit_state2 st;
	int64_t time_delta;
	uint64_t ch0_ticks;
};

#define PIT_HZ 1193182ull

void pit_reset(struct pit *p, uint64_t now);
bool pit_port(struct pit *p, uint16_t port, uint8_t *val, bool is_write, uint64_t now);
bool pit_poll(struct pit *p, uint64_t now);
uint64_t pit_deadline(const struct pit *p);
void pit_get(const struct pit *p, struct kvm_pit_state2 *out);
void pit_set(struct pit *p, const struct kvm_pit_state2 *in, uint64_t now);

/* One local APIC. regs is the xAPIC page as KVM's kvm_lapic_state holds it
 * (the ID register stays in xAPIC format, id << 24, in x2APIC mode too, as
 * KVM without KVM_CAP_X2APIC_API shows it). The timer counts a 1 GHz bus
 * clock divided by TDCR, so one count is `div` ns. */
struct lapic {
	uint8_t regs[KVM_APIC_REG_SIZE];
	int vcpu;
	uint64_t apic_base;
	uint64_t timer_deadline;   /* end of the current period, 0: stopped */
	uint64_t timer_period;     /* ns per period (TMICT * divide) */
	uint64_t tsc_deadline;     /* ns; 0: disarmed */
	uint32_t nmi_pending;
	bool init_pending, sipi_pending, wait_sipi;
	uint8_t sipi_vector;
	bool extint_pending;       /* an ExtINT message from the IOAPIC */
	uint32_t esr_pending;      /* errors since ESR was last written */
};

struct lapic_msg {
	uint32_t dest;
	uint8_t vector;
	uint8_t mode;              /* APIC_DM_* >> 8: 0 fixed, 1 lowest, 4 NMI... */
	uint8_t shorthand;         /* 0 none, 1 self, 2 all incl. self, 3 all but self */
	bool logical;
	bool level;                /* asserted (INIT de-assert has it clear) */
	bool trig_level;           /* level-triggered: TMR set, EOI broadcast */
	bool x2;                   /* dest is a 32-bit x2APIC one (else 8-bit) */
};

#define LAPIC_DM_FIXED   0
#define LAPIC_DM_LOWEST  1
#define LAPIC_DM_SMI     2
#define LAPIC_DM_NMI     4
#define LAPIC_DM_INIT    5
#define LAPIC_DM_SIPI    6
#define LAPIC_DM_EXTINT  7

/* The IOAPIC; `line` is the level of each input pin, KVM's irr being what
 * still waits for delivery. */
struct ioapic {
	struct kvm_ioapic_state s;
	uint32_t line;
};

struct irqchip {
	pthread_mutex_t lock;
	struct irqchip_host host;
	uint64_t (*clock)(void *opaque);
	void *clock_opaque;

	struct pic_pair pic;
	struct pit pit;
	struct ioapic ioapic;
	struct lapic *lapic[IRQCHIP_MAX_VCPUS];

	/* Lock-free views for the CPU's fast path, refreshed before unlocking:
	 * intr_ready[v] says irqchip_has_intr(v) is true, event[v] that an NMI,
	 * INIT or SIPI waits, next_deadline the earliest timer (0: none). */
	atomic_bool intr_ready[IRQCHIP_MAX_VCPUS];
	atomic_bool event[IRQCHIP_MAX_VCPUS];
	_Atomic uint64_t next_deadline;

	uint64_t dirty;            /* vCPUs whose views must be refreshed */
	uint64_t kick;             /* vCPUs to kick after unlocking */
	bool timers_dirty;
	bool pic_out;              /* the PIC's INTR at the last look */
};

uint64_t irqchip_now(struct irqchip *chip);
/* Note that vCPU v's pending state changed; `kick`: wake it as well. */
void irqchip_touch(struct irqchip *chip, int vcpu, bool kick);

void lapic_reset(struct lapic *a, bool init_only);
int lapic_highest_ready(const struct lapic *a);
int lapic_ack(struct irqchip *chip, struct lapic *a);
bool lapic_accepts_pic(const struct lapic *a);
bool lapic_has_event(const struct lapic *a);
bool lapic_mmio(struct irqchip *chip, struct lapic *a, uint64_t gpa, void *data, int len,
		bool is_write, uint64_t now);
void lapic_deliver(struct irqchip *chip, int src, const struct lapic_msg *m);
bool lapic_poll(struct irqchip *chip, struct lapic *a, uint64_t now);
uint64_t lapic_deadline(const struct lapic *a);
bool lapic_set_base(struct irqchip *chip, struct lapic *a, uint64_t value, bool host);
void lapic_set_tpr(struct irqchip *chip, struct lapic *a, uint32_t tpr);
void lapic_set_tsc_deadline(struct irqchip *chip, struct lapic *a, uint64_t tsc, uint64_t now);
uint64_t lapic_get_tsc_deadline(const struct lapic *a);
bool lapic_rdmsr(struct irqchip *chip, struct lapic *a, uint32_t msr, uint64_t *value,
		 uint64_t now);
bool lapic_wrmsr(struct irqchip *chip, struct lapic *a, uint32_t msr, uint64_t value,
		 uint64_t now);
void lapic_get(const struct lapic *a, struct kvm_lapic_state *out, uint64_t now);
void lapic_set(struct irqchip *chip, struct lapic *a, const struct kvm_lapic_state *in,
	       uint64_t now);
uint32_t lapic_reg(const struct lapic *a, unsigned off);

void ioapic_reset(struct ioapic *io);
void ioapic_set_irq(struct irqchip *chip, int pin, int level);
void ioapic_mmio(struct irqchip *chip, unsigned off, uint32_t *val, bool is_write);
void ioapic_eoi(struct irqchip *chip, uint8_t vector);
void ioapic_set_state(struct irqchip *chip, const struct kvm_ioapic_state *in);

#endif
