/* gdbproto: the byte-level side of gdb's remote serial protocol, with no
 * sockets and no VM: a parser fed one byte at a time that finds packets
 * ($payload#cs, with 0x7d escapes), acks, naks and the 0x03 interrupt, and
 * survives garbage, bad checksums and oversized packets without growing;
 * plus framing of replies and the hex helpers the commands need. */
#ifndef HVWB_GDBPROTO_H
#define HVWB_GDBPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest payload accepted (and advertised as PacketSize). */
#define GDB_MAX_PAYLOAD 16384
/* Room for a framed reply of GDB_MAX_PAYLOAD bytes, every one escaped. */
#define GDB_MAX_FRAME (2 * GDB_MAX_PAYLOAD + 8)

enum gdb_event {
	GDB_EV_NONE,         /* byte consumed, nothing complete yet */
	GDB_EV_PACKET,       /* a packet with a good checksum: p->buf, p->len */
	GDB_EV_BAD_CHECKSUM, /* a packet whose checksum did not match */
	GDB_EV_OVERSIZED,    /* a packet longer than GDB_MAX_PAYLOAD (dropped) */
	GDB_EV_INTERRUPT,    /* 0x03 outside a packet */
	GDB_EV_ACK,          /* '+' */
	GDB_EV_NAK,          /* '-': resend the last reply */
};

struct gdb_parser {
	int state;
	bool escaped, overflow;
	uint8_t sum;           /* running checksum of the raw payload bytes */
	uint8_t cs;            /* checksum digits received */
	size_t len;
	char buf[GDB_MAX_PAYLOAD + 1]; /* decoded payload, NUL-terminated */
};

void gdb_parser_init(struct gdb_parser *p);
enum gdb_event gdb_parser_feed(struct gdb_parser *p, uint8_t byte);

/* Frames payload as $...#cs into out (escaping $ # } *); returns the frame
 * length, or -ENOSPC if cap is too small. */
int gdb_frame(const void *payload, size_t len, char *out, size_t cap);

/* Hex helpers. gdb_hex_decode returns the bytes written or -EINVAL on an odd
 * length or a non-hex digit. */
void gdb_hex_encode(const void *data, size_t len, char *out);
int gdb_hex_decode(const char *hex, size_t hexlen, void *out, size_t cap);
/* Parses a hex number at *s (at least one digit, at most 16), advancing *s. */
int gdb_parse_hex(const char **s, uint64_t *out);

#endif
