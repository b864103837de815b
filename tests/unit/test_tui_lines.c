/* test_tui_lines: the dashboard's scrollback (tui/lines.c): bytes arriving in
 * pieces become lines; tabs, backspaces, carriage returns and escape sequences
 * are handled; a full ring drops its oldest lines. */
#include "tui/tui_int.h"
#include "tap.h"

static void feed(struct tui_lines *l, const char *s)
{
	tui_lines_feed(l, s, strlen(s));
}

int main(void)
{
	tap_plan(9);
	struct tui_lines l;
	tui_lines_init(&l, 3);
	feed(&l, "hel");
	feed(&l, "lo\nwor");
	ok(tui_lines_count(&l) == 2 && strcmp(tui_lines_get(&l, 0), "hello") == 0,
	   "a line split across two pieces is one line");
	ok(strcmp(tui_lines_get(&l, 1), "wor") == 0, "the unfinished line is shown too");
	feed(&l, "ld\r\n");
	ok(tui_lines_count(&l) == 2 && strcmp(tui_lines_get(&l, 1), "world") == 0, "CR LF ends a line, the CR dropped");
	feed(&l, "a\tb\n");
	ok(strcmp(tui_lines_get(&l, 2), "a       b") == 0, "a tab goes to the next multiple of 8");
	feed(&l, "\x1b[1;31mred\x1b[0m abx\bc\n");
	ok(tui_lines_count(&l) == 3, "a full ring keeps its size");
	ok(strcmp(tui_lines_get(&l, 2), "red abc") == 0, "escape sequences dropped, backspace erases (got '%s')",
	   tui_lines_get(&l, 2));
	ok(strcmp(tui_lines_get(&l, 0), "world") == 0, "the oldest line went first");
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	feed(&l, big);
	ok(tui_lines_count(&l) >= 3 && strlen(tui_lines_get(&l, tui_lines_count(&l) - 1)) < sizeof(l.cur),
	   "a very long line is cut into pieces, never overflows");
	tui_lines_free(&l);
	ok(l.count == 0 && l.ring == NULL, "free leaves an empty struct");
	return tap_done();
}
