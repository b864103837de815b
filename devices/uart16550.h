/* uart16550: the serial port model (COM1 at 0x3f8, IRQ 4), complete enough for
 * Linux's 8250 driver. Output goes to a per-VM ring buffer; input is queued from
 * the host (Lua's vm:send). */
#ifndef HVWB_UART16550_H
#define HVWB_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"

struct uart;

/* Creates the UART, registers 8 ports at `base` and adds it to the bus. */
int uart_create(struct bus *bus, const struct device_host *host, uint16_t base,
		unsigned irq, struct uart **out);

/* Copies out the kept output (the last UART_RING_SIZE bytes at most), oldest
 * first; returns the number of bytes copied. Does not consume. */
size_t uart_output(struct uart *u, char *buf, size_t cap);
/* Bytes the guest ever wrote, including any the ring has since dropped. */
uint64_t uart_output_total(struct uart *u);
/* Forgets the kept output. */
void uart_output_clear(struct uart *u);
/* Queues bytes for the guest to read (raises the receive interrupt if enabled).
 * Returns the number accepted (the queue is bounded). */
size_t uart_input(struct uart *u, const void *data, size_t len);

#define UART_RING_SIZE (1u << 20)
#define UART_INPUT_SIZE 4096u

#endif
