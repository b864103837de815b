/* test_uart: the 16550 and debug-exit models driven through a bus exactly as a
 * guest would (port accesses at 0x3f8..0x3ff and 0xf4), with a fake host that
 * records every IRQ level change and exit request. */
#include <errno.h>

#include "tap.h"
#include "devices/bus.h"
#include "devices/debugexit.h"
#include "devices/uart16550.h"
#include "util/err.h"

#define COM1 0x3f8
enum { THR = 0, RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct fake_host {
	int irq_changes;        /* set_irq calls */
	int repeats;            /* calls that did not change the level */
	unsigned last_gsi;
	int level;
	int exits;
	int64_t exit_code;
};

static void fake_set_irq(void *opaque, unsigned gsi, int level)
{
	struct fake_host *h = opaque;

	if (h->irq_changes && level == h->level)
		h->repeats++;
	h->irq_changes++;
	h->last_gsi = gsi;
	h->level = level;
}

static void fake_exit(void *opaque, int64_t code)
{
	struct fake_host *h = opaque;

	h->exits++;
	h->exit_code = code;
}

static struct fake_host fh;
static struct device_host host = { .opaque = &fh, .set_irq = fake_set_irq, .request_exit = fake_exit };
static struct bus *bus;
static struct uart *uart;

static void outb(unsigned reg, uint8_t v)
{
	bus_access(bus, BUS_PIO, COM1 + reg, &v, 1, true);
}

static uint8_t inb(unsigned reg)
{
	uint8_t v = 0;
	bus_access(bus, BUS_PIO, COM1 + reg, &v, 1, false);
	return v;
}

static void puts_uart(const char *s)
{
	while (*s)
		outb(THR, (uint8_t)*s++);
}

static void test_create(void)
{
	struct uart *dup = NULL;

	bus = bus_create();
	is_int(uart_create(bus, &host, COM1, 4, &uart), 0, "uart_create at 0x3f8");
	is_str(bus_owner(bus, BUS_PIO, COM1 + 7), "uart16550", "owns 0x3f8..0x3ff");
	ok(bus_owner(bus, BUS_PIO, COM1 + 8) == NULL, "and not 0x400");
	is_int(uart_create(bus, &host, COM1 + 4, 4, &dup), -EEXIST, "second UART overlapping refused");
	ok(strstr(err_msg(), "uart16550") != NULL, "message names the owner: %s", err_msg());
	is_int(debugexit_create(bus, &host, DEBUGEXIT_PORT), 0, "debugexit_create at 0xf4");
	is_int(fh.irq_changes, 0, "creation drives no IRQ");
}

static void test_output(void)
{
	char buf[64];
	size_t n;

	puts_uart("hello");
	n = uart_output(uart, buf, sizeof(buf));
	is_int(n, 5, "five bytes kept");
	ok(n == 5 && memcmp(buf, "hello", 5) == 0, "in order");
	is_int(uart_output_total(uart), 5, "total 5");
	n = uart_output(uart, buf, 3);
	ok(n == 3 && memcmp(buf, "llo", 3) == 0, "a small buffer gets the newest bytes");
}

static void test_divisor_and_scratch(void)
{
	char buf[64];

	outb(LCR, 0x80);
	outb(DLL, 0x01);
	outb(DLM, 0x02);
	is_int(inb(DLL), 0x01, "DLL reads back with DLAB");
	is_int(inb(DLM), 0x02, "DLM reads back with DLAB");
	outb(LCR, 0x03);
	is_int(inb(LCR), 0x03, "LCR reads back");
	is_int(uart_output_total(uart), 5, "divisor writes did not reach the output");
	is_int(uart_output(uart, buf, sizeof(buf)), 5, "ring unchanged");
	is_int(inb(IER), 0, "IER untouched by the DLM write");
	outb(LCR, 0x83);
	is_int(inb(DLM), 0x02, "divisor kept across DLAB toggles");
	outb(LCR, 0x03);
	outb(SCR, 0xa5);
	is_int(inb(SCR), 0xa5, "scratch register holds a byte");
	outb(SCR, 0x5a);
	is_int(inb(SCR), 0x5a, "and another");
}

static void test_lsr_and_input(void)
{
	static uint8_t big[UART_INPUT_SIZE + 100];
	int good = 1;

	is_int(inb(LSR), 0x60, "LSR idle: THRE|TEMT");
	is_int(uart_input(uart, "ab", 2), 2, "two bytes queued");
	is_int(inb(LSR), 0x61, "LSR: DR set");
	is_int(inb(RBR), 'a', "RBR gives 'a'");
	is_int(inb(LSR) & 1, 1, "DR still set with one byte left");
	is_int(inb(RBR), 'b', "RBR gives 'b'");
	is_int(inb(LSR), 0x60, "DR clear when drained");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	is_int(uart_input(uart, big, sizeof(big)), UART_INPUT_SIZE, "input queue is bounded");
	for (size_t i = 0; i < UART_INPUT_SIZE; i++)
		good &= inb(RBR) == (uint8_t)(i * 7);
	ok(good, "all queued bytes come back in order");
	is_int(inb(LSR) & 1, 0, "queue drained");
	uart_input(uart, "zz", 2);
	outb(FCR, 0x03);
	is_int(inb(LSR) & 1, 0, "FCR clear-receive drops queued input");
	is_int(fh.irq_changes, 0, "no IRQ while IER is 0");
}

static void test_rx_interrupt(void)
{
	is_int(inb(IIR), 0xc1, "IIR with FIFO on and nothing pending");
	outb(FCR, 0x00);
	is_int(inb(IIR), 0x01, "IIR with FIFO off");
	outb(FCR, 0x01);
	outb(IER, 0x01);
	uart_input(uart, "x", 1);
	is_int(inb(IIR), 0xc4, "IIR reports received data");
	is_int(fh.irq_changes, 0, "no IRQ without MCR.OUT2");
	outb(MCR, 0x0b);        /* DTR, RTS, OUT2: what Linux sets */
	is_int(fh.irq_changes, 1, "setting OUT2 raises the pending line");
	ok(fh.level == 1 && fh.last_gsi == 4, "IRQ 4 high");
	is_int(inb(RBR), 'x', "read the byte");
	is_int(fh.irq_changes, 2, "reading the byte lowers the line");
	is_int(fh.level, 0, "IRQ 4 low");
	is_int(inb(IIR), 0xc1, "nothing pending");
	uart_input(uart, "y", 1);
	ok(fh.irq_changes == 3 && fh.level == 1, "input with IER=1 and OUT2 raises the line");
	uart_input(uart, "z", 1);
	is_int(fh.irq_changes, 3, "more input while high does not call set_irq again");
	inb(RBR);
	is_int(fh.level, 1, "still high with a byte left");
	inb(RBR);
	ok(fh.irq_changes == 4 && fh.level == 0, "low once drained");
	outb(IER, 0x00);
}

static void test_thre_interrupt(void)
{
	int before;

	outb(IER, 0x02);
	ok(fh.irq_changes == 5 && fh.level == 1, "enabling ETBEI raises THRE at once");
	is_int(inb(IIR), 0xc2, "IIR reports THR empty");
	ok(fh.irq_changes == 6 && fh.level == 0, "reading IIR acknowledged it");
	is_int(inb(IIR), 0xc1, "and it stays acknowledged");
	outb(THR, '!');
	ok(fh.irq_changes == 7 && fh.level == 1, "a THR write re-arms THRE");
	before = fh.irq_changes;
	outb(THR, '?');
	is_int(fh.irq_changes, before, "a second write while high calls set_irq no more");
	outb(IER, 0x00);
	ok(fh.irq_changes == 8 && fh.level == 0, "disabling ETBEI lowers the line");
	outb(IER, 0x02);
	outb(MCR, 0x03);
	ok(fh.irq_changes == 10 && fh.level == 0, "clearing OUT2 gates the line off");
	is_int(inb(IIR), 0xc2, "while the source stays pending");
	outb(MCR, 0x0b);
	is_int(fh.irq_changes, 10, "acknowledged source does not come back with OUT2");

	/* Priorities: received data beats THR empty beats modem status. */
	outb(IER, 0x00);
	outb(IER, 0x0f);        /* ETBEI 0->1: THRE pending again */
	uart_input(uart, "p", 1);
	is_int(inb(IIR), 0xc4, "received data outranks THRE");
	inb(RBR);
	is_int(inb(IIR), 0xc2, "then THRE");
	is_int(inb(IIR), 0xc1, "then nothing");
	is_int(fh.repeats, 0, "set_irq only ever called on a level change");
	outb(IER, 0x00);
}

static void test_loopback(void)
{
	uint64_t total = uart_output_total(uart);
	int changes;

	outb(MCR, 0x1a);        /* loop | OUT2 | RTS, as Linux's probe does */
	is_int(inb(MSR) & 0xf0, 0x90, "loopback MSR mirrors RTS->CTS, OUT2->DCD");
	outb(MCR, 0x1f);
	is_int(inb(MSR), 0xf2, "all four outputs mirrored, only DSR changed (DDSR)");
	outb(THR, 'L');
	is_int(uart_output_total(uart), total, "loopback byte not transmitted");
	is_int(inb(LSR), 0x61, "loopback byte received");
	is_int(inb(RBR), 'L', "RBR returns it");
	changes = fh.irq_changes;
	outb(IER, 0x01);
	outb(THR, 'M');
	is_int(inb(IIR), 0xc4, "loopback byte raises receive data in IIR");
	is_int(fh.irq_changes, changes, "but no IRQ: OUT2 is gated off in loopback");
	inb(RBR);
	outb(IER, 0x04);
	for (unsigned i = 0; i <= UART_INPUT_SIZE; i++)
		outb(THR, 'o');
	is_int(inb(IIR), 0xc6, "overrun in loopback: receive line status");
	is_int(inb(LSR) & 0x02, 0x02, "LSR.OE set");
	is_int(inb(LSR) & 0x02, 0, "and cleared by reading LSR");
	outb(FCR, 0x03);
	outb(IER, 0x08);
	outb(MCR, 0x1d);        /* drop RTS: CTS falls */
	is_int(inb(IIR), 0xc0, "modem status change reported");
	is_int(inb(MSR) & 0x0f, 0x01, "DCTS");
	is_int(inb(IIR), 0xc1, "reading MSR clears it");
	outb(IER, 0x00);
	outb(MCR, 0x0b);
	is_int(inb(MSR) & 0xf0, 0xb0, "out of loopback: DCD, DSR, CTS");
	inb(MSR);
}

static void test_ring_wrap(void)
{
	static char buf[UART_RING_SIZE];
	uint64_t total = uart_output_total(uart);
	size_t n;
	int good = 1;

	uart_output_clear(uart);
	is_int(uart_output(uart, buf, sizeof(buf)), 0, "clear forgets the output");
	for (unsigned i = 0; i < UART_RING_SIZE + 100; i++)
		outb(THR, (uint8_t)(i % 251));
	n = uart_output(uart, buf, sizeof(buf));
	is_int(n, UART_RING_SIZE, "ring keeps UART_RING_SIZE bytes");
	for (size_t i = 0; i < n; i++)
		good &= (uint8_t)buf[i] == (uint8_t)((i + 100) % 251);
	ok(good, "the last UART_RING_SIZE bytes, oldest first");
	ok(uart_output_total(uart) == total + UART_RING_SIZE + 100, "total counts every byte");
}

struct reset_ctx { int n; };

static void do_reset(struct device *dev, void *arg)
{
	struct reset_ctx *c = arg;
	if (dev->reset)
		dev->reset(dev);
	c->n++;
}

static void test_reset(void)
{
	struct reset_ctx c = { 0 };

	outb(IER, 0x01);
	outb(SCR, 0x77);
	uart_input(uart, "r", 1);
	is_int(fh.level, 1, "line high before reset");
	bus_for_each_device(bus, do_reset, &c);
	is_int(c.n, 2, "two devices on the bus");
	is_int(fh.level, 0, "reset lowers the line");
	ok(inb(IER) == 0 && inb(MCR) == 0 && inb(LCR) == 0 && inb(SCR) == 0, "registers at power-on values");
	is_int(inb(LSR), 0x60, "reset dropped the input");
	is_int(inb(IIR), 0x01, "IIR power-on value");
}

static void test_debugexit(void)
{
	uint8_t b = 0x31;
	uint16_t w = 0x1234;
	uint32_t l = 0xdeadbeef, r = 0;

	bus_access(bus, BUS_PIO, DEBUGEXIT_PORT, &b, 1, true);
	ok(fh.exits == 1 && fh.exit_code == 0x31, "1-byte write exits with 0x31");
	bus_access(bus, BUS_PIO, DEBUGEXIT_PORT, &w, 2, true);
	ok(fh.exits == 2 && fh.exit_code == 0x1234, "2-byte write exits with 0x1234");
	bus_access(bus, BUS_PIO, DEBUGEXIT_PORT, &l, 4, true);
	ok(fh.exits == 3 && fh.exit_code == 0xdeadbeef, "4-byte write exits with 0xdeadbeef, zero-extended");
	ok(bus_access(bus, BUS_PIO, DEBUGEXIT_PORT, &r, 4, false), "read is claimed");
	ok(r == 0xffffffffu && fh.exits == 3, "read gives all ones and does not exit");
}

int main(void)
{
	tap_plan(89);
	test_create();
	test_output();
	test_divisor_and_scratch();
	test_lsr_and_input();
	test_rx_interrupt();
	test_thre_interrupt();
	test_loopback();
	test_ring_wrap();
	test_reset();
	test_debugexit();
	bus_destroy(bus);
	return tap_done();
}
