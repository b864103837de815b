/* lines: text kept as a ring of lines, for the console pane's output and each
 * VM's serial console. Bytes come in pieces; lines are split here, tabs
 * expanded, carriage returns and escape sequences dropped, so what the panels
 * draw is plain printable text (UTF-8 passes through untouched). */
#include <stdlib.h>
#include <string.h>

#include "tui/tui_int.h"

void tui_lines_init(struct tui_lines *l, int cap)
{
	memset(l, 0, sizeof(*l));
	l->ring = calloc((size_t)cap, sizeof(*l->ring));
	l->cap = l->ring ? cap : 0;
}

void tui_lines_free(struct tui_lines *l)
{
	for (int i = 0; i < l->count; i++)
		free(l->ring[(l->first + i) % l->cap]);
	free(l->ring);
	memset(l, 0, sizeof(*l));
}

/* Ends the current line; the oldest goes when the ring is full. */
static void push_line(struct tui_lines *l)
{
	if (!l->cap)
		return;
	char *s = strndup(l->cur, l->curlen);
	if (!s)
		return;
	if (l->count == l->cap) {
		free(l->ring[l->first]);
		l->ring[l->first] = s;
		l->first = (l->first + 1) % l->cap;
	} else {
		l->ring[(l->first + l->count++) % l->cap] = s;
	}
	l->curlen = 0;
	l->cur[0] = '\0';
}

static void put_char(struct tui_lines *l, char c)
{
	if (l->curlen == sizeof(l->cur) - 1)
		push_line(l); /* a very long line goes on as the next one */
	l->cur[l->curlen++] = c;
	l->cur[l->curlen] = '\0';
}

static void feed_byte(struct tui_lines *l, unsigned char c)
{
	if (l->esc) {  /* ESC [ ... final byte, or ESC and one byte */
		if (c >= 0x40 && c <= 0x7e && c != '[')
			l->esc = false;
		return;
	}
	switch (c) {
	case '\n': push_line(l); break;
	case '\t': do put_char(l, ' '); while (l->curlen % 8); break;
	case '\b': if (l->curlen) l->cur[--l->curlen] = '\0'; break;
	case 0x1b: l->esc = true; break;
	default:
		if (c >= 0x20 && c != 0x7f)
			put_char(l, (char)c);
	}
}

void tui_lines_feed(struct tui_lines *l, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		feed_byte(l, (unsigned char)p[i]);
}

int tui_lines_count(const struct tui_lines *l)
{
	return l->count + (l->curlen > 0);
}

const char *tui_lines_get(const struct tui_lines *l, int i)
{
	if (i < l->count)
		return l->ring[(l->first + i) % l->cap];
	return l->cur; /* the unfinished line, always terminated */
}
