/* panel_console: the Lua console pane: the output of what ran (scrollback on
 * PgUp/PgDn) above readline's input line. While a chunk runs, the input line
 * says so and the rest of the dashboard keeps refreshing. */
#include <string.h>

#include "tui/tui_int.h"

void tui_panel_console(struct tui *t)
{
	int most = tui_lines_count(&t->console) - 1;
	if (t->scroll[P_CONSOLE] > most)
		t->scroll[P_CONSOLE] = most > 0 ? most : 0;
	int back = t->scroll[P_CONSOLE];
	tui_title(t, P_CONSOLE, "Tab on an empty line: next panel; Ctrl-D quits%s",
		  back ? " (scrolled back: PgDn)" : "");
	struct tui_rect b = tui_body(t, P_CONSOLE);
	if (b.h < 1)
		return;
	struct tui_rect out = { b.y, b.x, b.h - 1, b.w };
	if (out.h > 0)
		tui_draw_lines(&out, &t->console, back);
	if (t->busy) {
		tui_put(&b, b.h - 1, 0, tui_attr(R_DIM), "(running... Ctrl-C interrupts it and pauses the VM)");
		return;
	}
	int point;
	const char *line = tui_console_line(&point);
	const char *prompt = tui_console_prompt();
	int plen = (int)strlen(prompt), room = b.w - plen - 1;
	int start = point > room ? point - room : 0;  /* keep the cursor on screen */
	tui_put(&b, b.h - 1, 0, A_BOLD, "%s", prompt);
	tui_put(&b, b.h - 1, plen, A_NORMAL, "%s", line + start);
}

void tui_console_place_cursor(struct tui *t)
{
	struct tui_rect b = tui_body(t, P_CONSOLE);
	if (b.h < 1)
		return;
	int point;
	tui_console_line(&point);
	int plen = (int)strlen(tui_console_prompt()), room = b.w - plen - 1;
	int col = plen + (point > room ? room : point);
	move(b.y + b.h - 1, b.x + col);
	curs_set(1);
}
