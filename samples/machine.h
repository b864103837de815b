/*
 * machine.h: the fixed port map and exit codes of the hvwb sample guests, in one place so
 * the assembly and C sources agree with each other and with samples/README.md. It holds
 * only #defines because the .S files include it through the C preprocessor too.
 */
#ifndef SAMPLES_MACHINE_H
#define SAMPLES_MACHINE_H

/* 16550 UART (COM1). Offsets 0 and 5 are all a polled driver needs. */
#define COM1_BASE	0x3f8
#define COM1_DATA	(COM1_BASE + 0)		/* THR on write, RBR on read */
#define COM1_LSR	(COM1_BASE + 5)
#define LSR_DATA_READY	0x01
#define LSR_THR_EMPTY	0x20

/* Writing a value here ends the VM as exited(value). */
#define DEBUG_EXIT_PORT	0xf4

/* The port the counter benchmark writes N times. */
#define COUNTER_PORT	0x600

/* Exit codes, one range per sample so a wrong image is obvious from the code alone. */
#define EXIT_COUNTER		0x00
#define EXIT_BOOT16		0x10
#define EXIT_MB32		0x20
#define EXIT_MB32_BAD_MAGIC	0x3f
#define EXIT_HELLO64		0x30
#define EXIT_HELLO64_EXCEPTION	0x3e
#define EXIT_DEVTEST		0x40
#define EXIT_ECHO		0x50
#define EXIT_IRQ32		0x60

#endif
