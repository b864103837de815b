/*
 * hello64.c: a 64-bit kernel that takes interrupts. It prints a greeting, installs an IDT
 * (exception handlers that report and exit with EXIT_HELLO64_EXCEPTION, 0x3e, and the timer
 * handler), moves the 8259 PIC's vectors to 0x20-0x2f with only IRQ0 unmasked, starts the
 * PIT at 1000 Hz, sleeps in hlt for ten ticks and exits with EXIT_HELLO64 (0x30). It tests
 * the in-kernel irqchip and PIT end to end, and gives the debugger named functions to stop
 * on: kmain, idt_init, pic_init, pit_init, timer_handler, exception_handler.
 */
#include "guest.h"

#define KERNEL_CS		0x08
#define IDT_VECTORS		0x30	/* 32 exceptions and 16 PIC lines; others #GP */
#define EXCEPTION_VECTORS	32
#define GATE_INTERRUPT		0x8e	/* present, DPL 0, 64-bit interrupt gate */

#define PIC1_CMD	0x20
#define PIC1_DATA	0x21
#define PIC2_CMD	0xa0
#define PIC2_DATA	0xa1
#define PIC_EOI		0x20
#define PIC1_VECTOR	0x20
#define PIC2_VECTOR	0x28

#define PIT_CH0		0x40
#define PIT_MODE	0x43
#define PIT_CH0_RATE	0x34	/* channel 0, low then high byte, mode 2, binary */
#define PIT_INPUT_HZ	1193182
#define TIMER_HZ	1000
#define WANTED_TICKS	10

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

struct idt_pointer {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* What the stubs in hello64_entry.S leave on the stack. */
struct exception_frame {
	uint64_t vector;
	uint64_t error_code;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

extern const uint64_t exception_stubs[EXCEPTION_VECTORS];
void isr_timer(void);

void kmain(void);
void idt_init(void);
void pic_init(void);
void pit_init(unsigned int hz);
void timer_handler(void);
void exception_handler(const struct exception_frame *frame);

static struct idt_gate idt[IDT_VECTORS];
volatile unsigned long timer_ticks;

static void idt_set_gate(unsigned int vector, uint64_t handler)
{
	struct idt_gate *gate = &idt[vector];

	gate->offset_low = (uint16_t)handler;
	gate->selector = KERNEL_CS;
	gate->ist = 0;
	gate->type_attr = GATE_INTERRUPT;
	gate->offset_mid = (uint16_t)(handler >> 16);
	gate->offset_high = (uint32_t)(handler >> 32);
	gate->reserved = 0;
}

void idt_init(void)
{
	struct idt_pointer pointer = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	unsigned int v;

	for (v = 0; v < EXCEPTION_VECTORS; v++)
		idt_set_gate(v, exception_stubs[v]);
	idt_set_gate(PIC1_VECTOR, (uint64_t)(uintptr_t)isr_timer);
	__asm__ volatile("lidt %0" : : "m"(pointer));
}

/* The four ICWs of each 8259, then a mask that lets only IRQ0 through. */
void pic_init(void)
{
	outb(PIC1_CMD, 0x11);		/* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC1_VECTOR);	/* ICW2: vector base */
	outb(PIC2_DATA, PIC2_VECTOR);
	outb(PIC1_DATA, 0x04);		/* ICW3: slave on IRQ2 */
	outb(PIC2_DATA, 0x02);		/*       slave's cascade identity */
	outb(PIC1_DATA, 0x01);		/* ICW4: 8086 mode, normal EOI */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xfe);		/* OCW1: IRQ0 only */
	outb(PIC2_DATA, 0xff);
}

void pit_init(unsigned int hz)
{
	unsigned int divisor = (PIT_INPUT_HZ + hz / 2) / hz;

	outb(PIT_MODE, PIT_CH0_RATE);
	outb(PIT_CH0, (uint8_t)divisor);
	outb(PIT_CH0, (uint8_t)(divisor >> 8));
}

void timer_handler(void)
{
	timer_ticks++;
	outb(PIC1_CMD, PIC_EOI);
}

void exception_handler(const struct exception_frame *frame)
{
	serial_puts("exception: vector ");
	serial_put_dec(frame->vector);
	serial_puts(" error ");
	serial_put_hex(frame->error_code);
	serial_puts(" rip ");
	serial_put_hex(frame->rip);
	serial_puts("\n");
	debug_exit(EXIT_HELLO64_EXCEPTION);
}

void kmain(void)
{
	serial_puts("Hello from long mode!\n");
	idt_init();
	pic_init();
	pit_init(TIMER_HZ);

	/* sti's one-instruction shadow keeps a tick from slipping in between sti and hlt. */
	while (timer_ticks < WANTED_TICKS)
		__asm__ volatile("sti; hlt; cli" : : : "memory");

	serial_puts("timer: ");
	serial_put_dec(timer_ticks);
	serial_puts(" ticks\n");
	debug_exit(EXIT_HELLO64);
}
