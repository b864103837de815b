/* gdbproto: packet framing for gdb's remote serial protocol. The parser is a
 * four-state machine so a stub can feed it whatever the socket delivers: bytes
 * outside packets other than '+', '-' and 0x03 are skipped (that is how a
 * stub resynchronises after noise), a '$' inside a packet starts a new one
 * (gdb always escapes it, so it can only mean the old one was cut short), and
 * a packet longer than the buffer is consumed to its end and reported, never
 * stored. Run-length encoding is only ever sent by stubs, so '*' is data. */
#include <errno.h>
#include <string.h>

#include "engine/debug/gdbproto.h"

enum { ST_IDLE, ST_DATA, ST_CS1, ST_CS2 };

void gdb_parser_init(struct gdb_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = ST_IDLE;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void start_packet(struct gdb_parser *p)
{
	p->state = ST_DATA;
	p->escaped = p->overflow = false;
	p->sum = 0;
	p->len = 0;
}

static enum gdb_event feed_idle(struct gdb_parser *p, uint8_t c)
{
	switch (c) {
	case '$': start_packet(p); return GDB_EV_NONE;
	case '+': return GDB_EV_ACK;
	case '-': return GDB_EV_NAK;
	case 0x03: return GDB_EV_INTERRUPT;
	default: return GDB_EV_NONE;
	}
}

static void feed_data(struct gdb_parser *p, uint8_t c)
{
	if (c == '$') {
		start_packet(p);
		return;
	}
	if (c == '#' && !p->escaped) {
		p->state = ST_CS1;
		return;
	}
	p->sum += c;
	if (c == '}' && !p->escaped) {
		p->escaped = true;
		return;
	}
	if (p->escaped) {
		c ^= 0x20;
		p->escaped = false;
	}
	if (p->len < GDB_MAX_PAYLOAD)
		p->buf[p->len++] = (char)c;
	else
		p->overflow = true;
}

static enum gdb_event finish(struct gdb_parser *p)
{
	p->state = ST_IDLE;
	p->buf[p->len] = '\0';
	if (p->overflow) {
		p->len = 0;
		p->buf[0] = '\0';
		return GDB_EV_OVERSIZED;
	}
	return p->cs == p->sum ? GDB_EV_PACKET : GDB_EV_BAD_CHECKSUM;
}

enum gdb_event gdb_parser_feed(struct gdb_parser *p, uint8_t c)
{
	int v;
	switch (p->state) {
	case ST_DATA:
		feed_data(p, c);
		return GDB_EV_NONE;
	case ST_CS1:
	case ST_CS2:
		if (c == '$') {
			start_packet(p);
			return GDB_EV_NONE;
		}
		v = hexval(c);
		if (v < 0) {       /* not a checksum digit: the packet is broken */
			p->state = ST_IDLE;
			p->cs = (uint8_t)~p->sum;
			p->len = p->overflow ? 0 : p->len;
			return p->overflow ? GDB_EV_OVERSIZED : GDB_EV_BAD_CHECKSUM;
		}
		if (p->state == ST_CS1) {
			p->cs = (uint8_t)(v << 4);
			p->state = ST_CS2;
			return GDB_EV_NONE;
		}
		p->cs |= (uint8_t)v;
		return finish(p);
	default:
		return feed_idle(p, c);
	}
}

int gdb_frame(const void *payload, size_t len, char *out, size_t cap)
{
	const uint8_t *in = payload;
	size_t n = 0;
	uint8_t sum = 0;
	if (cap < 4)
		return -ENOSPC;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		bool esc = c == '$' || c == '#' || c == '}' || c == '*';
		if (n + 2 + 3 > cap)
			return -ENOSPC;
		if (esc) {
			out[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out[n++] = (char)c;
		sum += c;
	}
	static const char digits[] = "0123456789abcdef";
	out[n++] = '#';
	out[n++] = digits[sum >> 4];
	out[n++] = digits[sum & 15];
	return (int)n;
}

void gdb_hex_encode(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *in = data;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int gdb_hex_decode(const char *hex, size_t hexlen, void *out, size_t cap)
{
	uint8_t *o = out;
	if (hexlen % 2 || hexlen / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < hexlen; i += 2) {
		int hi = hexval((uint8_t)hex[i]), lo = hexval((uint8_t)hex[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		o[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(hexlen / 2);
}

int gdb_parse_hex(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0, d;
	while ((d = hexval((uint8_t)**s)) >= 0) {
		if (++n > 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
		(*s)++;
	}
	if (n == 0)
		return -EINVAL;
	*out = v;
	return 0;
}
