/* fuzz_gdbproto: the gdb remote protocol's byte side and register writes, no
 * socket and no VM. The input is a byte stream fed to gdb_parser_feed; every
 * packet it yields is taken apart the way gdbstub.c does for the commands that
 * carry data (P, G, p, M, X, and any hex number), against a gdb_cpu snapshot:
 * gdb_parse_hex, gdb_hex_decode, gdb_reg_set/get, gdb_cpu_check, gdb_check_pc;
 * each reply is framed with gdb_frame and must parse back to itself. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/debug/gdbproto.h"
#include "engine/debug/gdbregs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gdb_layout lay[2];
static struct gdb_parser parser, back;
static char frame[GDB_MAX_FRAME];

/* Frames payload and parses the frame again: it must come back whole. */
static void roundtrip(const char *payload, size_t len)
{
	int n = gdb_frame(payload, len, frame, sizeof(frame));
	if (n < 0)
		return;
	gdb_parser_init(&back);
	enum gdb_event ev = GDB_EV_NONE;
	for (int i = 0; i < n; i++)
		ev = gdb_parser_feed(&back, (uint8_t)frame[i]);
	if (len <= GDB_MAX_PAYLOAD &&
	    (ev != GDB_EV_PACKET || back.len != len || memcmp(back.buf, payload, len) != 0))
		__builtin_trap();
}

static void cpu_init(struct gdb_cpu *c, bool long_mode)
{
	memset(c, 0, sizeof(*c));
	c->r.rflags = 2;
	c->have_fpu = true;
	c->f.fcw = 0x37f;
	c->f.mxcsr = 0x1f80;
	if (long_mode) {
		c->s.efer = 0x500;
		c->s.cr0 = 0x80000011;
		c->s.cs.l = 1;
	} else {
		c->s.cr0 = 0x11;
		c->s.cs.db = 1;
	}
	c->s.cs.present = 1;
}

static void command(const char *p, size_t len)
{
	struct gdb_cpu c;
	uint8_t b[1024];
	uint64_t n, v;
	const struct gdb_layout *l = &lay[len & 1];
	cpu_init(&c, l->long_mode);
	const char *q = p + 1;
	switch (len ? p[0] : 0) {
	case 'P':
		if (gdb_parse_hex(&q, &n) < 0 || n >= (uint64_t)l->nregs || *q++ != '=')
			break;
		if (gdb_hex_decode(q, strlen(q), b, GDB_REG_MAX) != gdb_reg_size(l, (int)n))
			break;
		if (gdb_reg_set(l, (int)n, &c, b) == 0)
			gdb_cpu_check(&c);
		break;
	case 'p':
		if (gdb_parse_hex(&q, &n) == 0 && !*q && n < (uint64_t)l->nregs) {
			uint8_t out[GDB_REG_MAX];
			char hex[2 * GDB_REG_MAX + 1];
			int sz = gdb_reg_get(l, (int)n, &c, out);
			gdb_hex_encode(out, (size_t)sz, hex);
		}
		break;
	case 'G': {
		if (l->g_size > sizeof(b) || len - 1 != 2 * l->g_size ||
		    gdb_hex_decode(q, len - 1, b, sizeof(b)) != (int)l->g_size)
			break;
		size_t off = 0;
		int r = 0;
		for (int i = 0; r == 0 && i < l->nregs; i++) {
			uint8_t now[GDB_REG_MAX];
			int sz = gdb_reg_get(l, i, &c, now);
			if (memcmp(now, b + off, (size_t)sz) != 0)
				r = gdb_reg_set(l, i, &c, b + off);
			off += (size_t)sz;
		}
		if (r == 0)
			gdb_cpu_check(&c);
		break;
	}
	case 'M':
	case 'X':
		if (gdb_parse_hex(&q, &n) < 0 || *q++ != ',' || gdb_parse_hex(&q, &v) < 0 || *q++ != ':')
			break;
		if (p[0] == 'M')
			gdb_hex_decode(q, len - (size_t)(q - p), b, sizeof(b));
		break;
	case 'c':
	case 's':
		if (gdb_parse_hex(&q, &v) == 0)
			gdb_check_pc(&c.s, v);
		break;
	default:
		while (*q && gdb_parse_hex(&q, &v) == 0 && *q)
			q++;
		break;
	}
	roundtrip(p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!lay[0].nregs) {
		gdb_layout_init(&lay[0], false);
		gdb_layout_init(&lay[1], true);
	}
	gdb_parser_init(&parser);
	for (size_t i = 0; i < size; i++) {
		enum gdb_event ev = gdb_parser_feed(&parser, data[i]);
		if (parser.len > GDB_MAX_PAYLOAD || parser.buf[GDB_MAX_PAYLOAD] != '\0')
			__builtin_trap();
		if (ev == GDB_EV_PACKET)
			command(parser.buf, parser.len);
	}
	/* the raw input as a payload, too: framing escapes what it must */
	roundtrip((const char *)data, size < GDB_MAX_PAYLOAD ? size : GDB_MAX_PAYLOAD);
	return 0;
}
