/*
 * serial.c: polled output on the 16550 at 0x3f8 for the C samples (mb32, hello64). Polling
 * LSR before each byte keeps the code correct on a real UART and costs one extra port exit
 * per byte under hvwb, which is cheap next to the clarity of not needing interrupts.
 */
#include "guest.h"

void serial_putc(char c)
{
	while (!(inb(COM1_LSR) & LSR_THR_EMPTY))
		;
	outb(COM1_DATA, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void serial_put_dec(unsigned long value)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	while (n)
		serial_putc(digits[--n]);
}

void serial_put_hex(unsigned long value)
{
	static const char hex[] = "0123456789abcdef";
	int shift = (int)sizeof(value) * 8 - 4;

	serial_puts("0x");
	while (shift > 0 && !(value >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		serial_putc(hex[(value >> shift) & 0xf]);
}
