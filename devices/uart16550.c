/* uart16550: a 16550A serial port as the guest sees it through eight I/O ports.
 * Transmission is instant (THRE and TEMT are always set), every transmitted byte
 * goes to a per-VM output ring the host reads at leisure, and host input waits
 * in a bounded queue that doubles as the receive FIFO. The interrupt logic
 * follows the real chip closely enough for Linux's 8250 driver: the four
 * sources in their priority order, THRE interrupts that re-arm on every THR
 * write and on enabling ETBEI, and the PC's wiring of the IRQ through MCR.OUT2.
 * vCPU threads (register accesses) and the main thread (input, output, reset)
 * meet on the device's mutex. */
#include "uart16550.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

enum {
	REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
	REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7, UART_NPORTS = 8,
};

#define IER_ERBFI 0x01  /* received data available */
#define IER_ETBEI 0x02  /* transmitter holding register empty */
#define IER_ELSI  0x04  /* receiver line status */
#define IER_EDSSI 0x08  /* modem status */

#define IIR_NONE  0x01
#define IIR_MSR   0x00
#define IIR_THRE  0x02
#define IIR_RDA   0x04
#define IIR_RLS   0x06
#define IIR_FIFO  0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_ERRORS 0x1e /* OE, PE, FE, BI: the receive line status sources */
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

#define MSR_DELTAS 0x0f
#define MSR_TERI   0x04
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80

/* Outside loopback the far end looks like a terminal that is always there. */
#define MSR_LINES_IDLE (MSR_DCD | MSR_DSR | MSR_CTS)

struct uart {
	struct device dev;
	struct device_host host;
	pthread_mutex_t lock;
	uint16_t base;
	unsigned irq;
	int line;               /* level last given to set_irq */

	uint8_t ier, fcr, lcr, mcr, lsr_err, msr, scr, dll, dlm;
	bool thr_ipending;      /* THR went empty and nobody has acknowledged it */

	uint8_t in[UART_INPUT_SIZE];
	size_t in_head, in_len;

	uint64_t out_total;
	size_t out_pos, out_len;        /* next write index, bytes kept */
	char out[UART_RING_SIZE];
};

static bool rx_ready(const struct uart *u)
{
	return u->in_len > 0;
}

static uint8_t lsr_value(const struct uart *u)
{
	return (rx_ready(u) ? LSR_DR : 0) | u->lsr_err | LSR_THRE | LSR_TEMT;
}

/* The highest-priority pending source, as bits 3..0 of IIR. */
static uint8_t iir_source(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_ERRORS))
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && rx_ready(u))
		return IIR_RDA;
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSR;
	return IIR_NONE;
}

/* On a PC the chip's INTR pin reaches the interrupt controller only through a
 * gate driven by OUT2; in loopback the OUT pins are forced inactive, so the
 * gate closes too. Called with the lock held; set_irq is only an ioctl. */
static void update_irq(struct uart *u)
{
	int level = iir_source(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);

	if (level == u->line)
		return;
	u->line = level;
	if (u->host.set_irq)
		u->host.set_irq(u->host.opaque, u->irq, level);
}

/* Modem status inputs as the chip sees them: the MCR outputs in loopback,
 * the idle far end otherwise. Sets the delta bits for what changed. */
static void update_msr(struct uart *u)
{
	uint8_t lines = MSR_LINES_IDLE, changed;

	if (u->mcr & MCR_LOOP) {
		lines = ((u->mcr & MCR_RTS) ? MSR_CTS : 0) | ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
			((u->mcr & MCR_OUT1) ? MSR_RI : 0) | ((u->mcr & MCR_OUT2) ? MSR_DCD : 0);
	}
	changed = (u->msr ^ lines) & 0xf0;
	u->msr = (u->msr & MSR_DELTAS) | lines;
	u->msr |= (changed & (MSR_CTS | MSR_DSR | MSR_DCD)) >> 4;
	if ((changed & MSR_RI) && !(lines & MSR_RI))    /* trailing edge only */
		u->msr |= MSR_TERI;
}

static void out_put(struct uart *u, uint8_t c)
{
	u->out[u->out_pos] = (char)c;
	u->out_pos = (u->out_pos + 1) % UART_RING_SIZE;
	if (u->out_len < UART_RING_SIZE)
		u->out_len++;
	u->out_total++;
}

static bool in_put(struct uart *u, uint8_t c)
{
	if (u->in_len == UART_INPUT_SIZE)
		return false;
	u->in[(u->in_head + u->in_len) % UART_INPUT_SIZE] = c;
	u->in_len++;
	return true;
}

static uint8_t in_get(struct uart *u)
{
	uint8_t c;

	if (!u->in_len)
		return 0;
	c = u->in[u->in_head];
	u->in_head = (u->in_head + 1) % UART_INPUT_SIZE;
	u->in_len--;
	return c;
}

static void write_thr(struct uart *u, uint8_t v)
{
	if (u->mcr & MCR_LOOP) {
		if (!in_put(u, v))
			u->lsr_err |= LSR_OE;
	} else {
		out_put(u, v);
	}
	/* The byte leaves at once, so THR is empty again: a new THRE event. */
	u->thr_ipending = true;
}

static void write_ier(struct uart *u, uint8_t v)
{
	uint8_t old = u->ier;

	u->ier = v & 0x0f;
	/* Enabling ETBEI while THR is empty (always, here) raises THRE at once,
	 * which Linux's startup test relies on. */
	if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI))
		u->thr_ipending = true;
	else if (!(u->ier & IER_ETBEI))
		u->thr_ipending = false;
}

static void write_fcr(struct uart *u, uint8_t v)
{
	if (v & FCR_CLEAR_RX) {
		u->in_head = 0;
		u->in_len = 0;
	}
	/* Clearing the transmit FIFO has nothing to do: it is always empty. */
	u->fcr = v & (FCR_ENABLE | 0xc0);
}

static void write_reg(struct uart *u, unsigned off, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (off) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = v;
		else
			write_thr(u, v);
		break;
	case REG_IER:
		if (dlab)
			u->dlm = v;
		else
			write_ier(u, v);
		break;
	case REG_IIR_FCR:
		write_fcr(u, v);
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		u->mcr = v & 0x1f;
		update_msr(u);
		break;
	case REG_SCR:
		u->scr = v;
		break;
	default:        /* LSR and MSR are read-only here */
		break;
	}
}

static uint8_t read_iir(struct uart *u)
{
	uint8_t src = iir_source(u);

	/* Reading IIR is the acknowledgement for a THRE interrupt, and only when
	 * it is the one reported. */
	if (src == IIR_THRE)
		u->thr_ipending = false;
	return src | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
}

static uint8_t read_reg(struct uart *u, unsigned off)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v;

	switch (off) {
	case REG_RBR_THR:
		return dlab ? u->dll : in_get(u);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return read_iir(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		v = lsr_value(u);
		u->lsr_err = 0;
		return v;
	case REG_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~MSR_DELTAS;
		return v;
	default:
		return u->scr;
	}
}

/* A wider access is split into byte cycles on consecutive ports, as the ISA
 * bus does for an 8-bit device. */
static void uart_io(void *opaque, uint64_t addr, void *data, unsigned len, bool is_write)
{
	struct uart *u = opaque;
	uint8_t *p = data;
	unsigned off = (unsigned)(addr - u->base);

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len; i++) {
		if (off + i >= UART_NPORTS) {
			if (!is_write)
				p[i] = 0xff;
		} else if (is_write) {
			write_reg(u, off + i, p[i]);
		} else {
			p[i] = read_reg(u, off + i);
		}
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

/* Power-on values; the divisor starts at 9600 baud so a guest that never sets
 * it reads something sensible. */
static void reset_regs(struct uart *u)
{
	u->ier = 0;
	u->fcr = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->lsr_err = 0;
	u->msr = MSR_LINES_IDLE;
	u->scr = 0;
	u->dll = 0x0c;
	u->dlm = 0;
	u->thr_ipending = false;
	u->in_head = 0;
	u->in_len = 0;
}

static void uart_reset(struct device *dev)
{
	struct uart *u = (struct uart *)dev;

	pthread_mutex_lock(&u->lock);
	reset_regs(u);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

/* The bus is going away with us, so there is nothing to unregister. */
static void uart_destroy(struct device *dev)
{
	struct uart *u = (struct uart *)dev;

	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Snapshot bytes: a version, the registers, the IRQ line, then the input
 * queue and the kept output, each as a length and the bytes oldest first. */
#define UART_SAVE_VERSION 1
#define UART_SAVE_FIXED 12

static void linear_copy(uint8_t *dst, const uint8_t *ring, size_t size, size_t start, size_t n)
{
	size_t first = size - start < n ? size - start : n;
	memcpy(dst, ring + start, first);
	memcpy(dst + first, ring, n - first);
}

static int uart_save(struct device *dev, void **buf, size_t *len)
{
	struct uart *u = (struct uart *)dev;

	pthread_mutex_lock(&u->lock);
	size_t n = UART_SAVE_FIXED + 4 + u->in_len + 8 + 4 + u->out_len;
	uint8_t *p = malloc(n);
	if (!p) {
		pthread_mutex_unlock(&u->lock);
		return err_set(-ENOMEM, "uart16550: out of memory");
	}
	uint8_t fixed[UART_SAVE_FIXED] = {
		UART_SAVE_VERSION, u->ier, u->fcr, u->lcr, u->mcr, u->lsr_err, u->msr, u->scr,
		u->dll, u->dlm, u->thr_ipending, (uint8_t)u->line,
	};
	uint8_t *q = p;
	uint32_t in_len = (uint32_t)u->in_len, out_len = (uint32_t)u->out_len;
	memcpy(q, fixed, sizeof(fixed));
	q += sizeof(fixed);
	memcpy(q, &in_len, 4);
	linear_copy(q + 4, u->in, UART_INPUT_SIZE, u->in_head, u->in_len);
	q += 4 + u->in_len;
	memcpy(q, &u->out_total, 8);
	memcpy(q + 8, &out_len, 4);
	linear_copy(q + 12, (const uint8_t *)u->out, UART_RING_SIZE,
		    (u->out_pos + UART_RING_SIZE - u->out_len) % UART_RING_SIZE, u->out_len);
	pthread_mutex_unlock(&u->lock);
	*buf = p;
	*len = n;
	return 0;
}

static int uart_restore(struct device *dev, const void *buf, size_t len)
{
	struct uart *u = (struct uart *)dev;
	const uint8_t *p = buf;
	uint32_t in_len, out_len;
	uint64_t total;

	if (len < UART_SAVE_FIXED + 4 || p[0] != UART_SAVE_VERSION)
		return err_set(-EINVAL, "uart16550: saved state of an unknown version or size");
	memcpy(&in_len, p + UART_SAVE_FIXED, 4);
	if (in_len > UART_INPUT_SIZE || len < UART_SAVE_FIXED + 16 + (size_t)in_len)
		return err_set(-EINVAL, "uart16550: saved input queue is too long or cut short");
	const uint8_t *q = p + UART_SAVE_FIXED + 4 + in_len;
	memcpy(&total, q, 8);
	memcpy(&out_len, q + 8, 4);
	if (out_len > UART_RING_SIZE || len != UART_SAVE_FIXED + 16 + (size_t)in_len + out_len)
		return err_set(-EINVAL, "uart16550: saved output is too long or cut short");
	pthread_mutex_lock(&u->lock);
	u->ier = p[1]; u->fcr = p[2]; u->lcr = p[3]; u->mcr = p[4];
	u->lsr_err = p[5]; u->msr = p[6]; u->scr = p[7]; u->dll = p[8]; u->dlm = p[9];
	u->thr_ipending = p[10] != 0;
	memcpy(u->in, p + UART_SAVE_FIXED + 4, in_len);
	u->in_head = 0;
	u->in_len = in_len;
	memcpy(u->out, q + 12, out_len);
	u->out_pos = out_len % UART_RING_SIZE;
	u->out_len = out_len;
	u->out_total = total;
	/* KVM remembers the level each source drives; bring it to the saved one
	 * (the irqchip's own state is restored after the devices). */
	int level = p[11] != 0;
	if (level != u->line && u->host.set_irq)
		u->host.set_irq(u->host.opaque, u->irq, level);
	u->line = level;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

int uart_create(struct bus *bus, const struct device_host *host, uint16_t base,
		unsigned irq, struct uart **out)
{
	struct uart *u;
	int rc;

	if (!bus || !host)
		return err_set(-EINVAL, "uart_create: no bus or no host");
	u = calloc(1, sizeof(*u));
	if (!u)
		return err_set(-ENOMEM, "uart16550: out of memory");
	u->dev.name = "uart16550";
	u->dev.reset = uart_reset;
	u->dev.destroy = uart_destroy;
	u->dev.save = uart_save;
	u->dev.restore = uart_restore;
	u->host = *host;
	u->base = base;
	u->irq = irq;
	pthread_mutex_init(&u->lock, NULL);
	reset_regs(u);
	rc = bus_register(bus, BUS_PIO, base, UART_NPORTS, uart_io, u, u->dev.name);
	if (rc) {
		uart_destroy(&u->dev);
		return err_wrap(rc, "uart16550 at 0x%x", base);
	}
	bus_add_device(bus, &u->dev);
	if (out)
		*out = u;
	return 0;
}

/* When buf is smaller than what is kept, the newest bytes are the ones worth
 * showing (a console tail), so the copy starts that far from the end. */
size_t uart_output(struct uart *u, char *buf, size_t cap)
{
	size_t n, start, first;

	pthread_mutex_lock(&u->lock);
	n = u->out_len < cap ? u->out_len : cap;
	if (n == 0) {
		pthread_mutex_unlock(&u->lock);
		return 0;
	}
	start = (u->out_pos + UART_RING_SIZE - n) % UART_RING_SIZE;
	first = UART_RING_SIZE - start < n ? UART_RING_SIZE - start : n;
	memcpy(buf, u->out + start, first);
	memcpy(buf + first, u->out, n - first);
	pthread_mutex_unlock(&u->lock);
	return n;
}

uint64_t uart_output_total(struct uart *u)
{
	uint64_t t;

	pthread_mutex_lock(&u->lock);
	t = u->out_total;
	pthread_mutex_unlock(&u->lock);
	return t;
}

void uart_output_clear(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	u->out_pos = 0;
	u->out_len = 0;
	pthread_mutex_unlock(&u->lock);
}

size_t uart_input(struct uart *u, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && in_put(u, p[n]))
		n++;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}
