/* Unit tests for gdbproto: packet framing, checksums, escapes and the
 * parser's behaviour on malformed input (bad checksums, cut-off packets,
 * oversized packets, NULs, binary data). */
#include <errno.h>

#include "engine/debug/gdbproto.h"
#include "tap.h"

static struct gdb_parser P;

/* Feeds bytes; returns the last event other than GDB_EV_NONE (or NONE). */
static enum gdb_event feed(const void *data, size_t len)
{
	const unsigned char *b = data;
	enum gdb_event last = GDB_EV_NONE;
	for (size_t i = 0; i < len; i++) {
		enum gdb_event e = gdb_parser_feed(&P, b[i]);
		if (e != GDB_EV_NONE)
			last = e;
	}
	return last;
}

static enum gdb_event feeds(const char *s)
{
	return feed(s, strlen(s));
}

int main(void)
{
	tap_plan(26);
	gdb_parser_init(&P);

	is_int(feeds("$?#3f"), GDB_EV_PACKET, "a valid packet");
	is_str(P.buf, "?", "its payload");
	is_int(feeds("$qSupported:swbreak+#c9"), GDB_EV_BAD_CHECKSUM, "a wrong checksum is reported");
	is_int(feeds("$g#67"), GDB_EV_PACKET, "the parser recovers after a bad checksum");
	is_int(feeds("+"), GDB_EV_ACK, "'+' is an ack");
	is_int(feeds("-"), GDB_EV_NAK, "'-' is a nak");
	is_int(feeds("\x03"), GDB_EV_INTERRUPT, "0x03 outside a packet is an interrupt");
	is_int(feeds("noise\xff\x01 #$"), GDB_EV_NONE, "garbage outside packets is skipped");
	is_int(feeds("m0,4#fd"), GDB_EV_PACKET, "and the '$' at its end starts a packet");
	is_int(feeds("$abc$g#67"), GDB_EV_PACKET, "a '$' inside a packet restarts it");
	is_str(P.buf, "g", "with only the new payload");
	is_int(feeds("$g#zz"), GDB_EV_BAD_CHECKSUM, "non-hex checksum digits are an error");
	is_int(feeds("$g#67"), GDB_EV_PACKET, "and the next packet parses");

	/* 100 KB: consumed without being stored, reported once at its end. */
	static char big[100 * 1024];
	memset(big, 'A', sizeof(big));
	big[0] = '$';
	memcpy(big + sizeof(big) - 3, "#00", 3);
	is_int(feed(big, sizeof(big)), GDB_EV_OVERSIZED, "a 100 KB packet is reported as oversized");
	ok(P.len <= GDB_MAX_PAYLOAD, "and the buffer never grew past its size (len %zu)", P.len);
	is_int(feeds("$?#3f"), GDB_EV_PACKET, "a valid packet after it still parses");

	/* Embedded NULs and escapes in a binary X packet: "X0,4:" 00 '#' '}' 7f */
	char framed[64], xpkt[] = { 'X', '0', ',', '4', ':', 0, '#', '}', 0x7f };
	int n = gdb_frame(xpkt, sizeof(xpkt), framed, sizeof(framed));
	ok(n == 1 + 5 + 1 + 2 + 2 + 1 + 3, "frame escapes '#' and '}' (length %d)", n);
	ok(n > 0 && memcmp(framed + 6, "\0}\x03}]\x7f#", 7) == 0, "escaped as 0x7d, byte ^ 0x20");
	is_int(feed(framed, (size_t)n), GDB_EV_PACKET, "the framed binary packet parses back");
	ok(P.len == sizeof(xpkt) && memcmp(P.buf, xpkt, sizeof(xpkt)) == 0, "byte for byte, NUL included");
	is_int(gdb_frame("OK", 2, framed, 4), -ENOSPC, "framing into too small a buffer fails");

	uint8_t bytes[4];
	is_int(gdb_hex_decode("0aFf10", 6, bytes, sizeof(bytes)), 3, "hex decode");
	ok(bytes[0] == 0x0a && bytes[1] == 0xff && bytes[2] == 0x10, "hex decode values");
	is_int(gdb_hex_decode("0g", 2, bytes, sizeof(bytes)), -EINVAL, "a non-hex digit is refused");
	const char *s = "1234abcd,";
	uint64_t v = 0;
	ok(gdb_parse_hex(&s, &v) == 0 && v == 0x1234abcd && *s == ',', "parse_hex stops at the comma");
	s = "11112222333344445";
	is_int(gdb_parse_hex(&s, &v), -EINVAL, "more than 16 digits are refused");
	return tap_done();
}
