/*
 * guest.h: what the freestanding C samples share: port I/O, the debug-exit, and the polled
 * serial output implemented in serial.c. Builds for both -m32 and -m64, so numbers are
 * printed as unsigned long (32 or 64 bits): a 64-bit division in 32-bit code would need
 * libgcc, which these images do not link.
 */
#ifndef SAMPLES_GUEST_H
#define SAMPLES_GUEST_H

#include <stdint.h>
#include "machine.h"

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/* Ends the VM; the loop only matters on a machine without a debug-exit device. */
static inline __attribute__((noreturn)) void debug_exit(uint8_t code)
{
	outb(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void serial_putc(char c);
void serial_puts(const char *s);
void serial_put_dec(unsigned long value);
void serial_put_hex(unsigned long value);

#endif
