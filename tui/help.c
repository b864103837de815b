/* help: the help screen, made from the key table itself (so no key can be
 * missing from it) in as many columns as fit, then the keys of the panels
 * that take text, one a line. It fits 80x24. */
#include "tui/tui_int.h"

#define COL_W 38

void tui_help_draw(struct tui *t)
{
	(void)t;
	int n = 0;
	while (tui_keys[n].name)
		n++;
	struct tui_rect r = { 1, 0, LINES - 1, COLS };
	if (r.h < 3 || r.w < 20)
		return;
	int cols = r.w / COL_W > 0 ? r.w / COL_W : 1, rows = (n + cols - 1) / cols;
	attrset(tui_attr(R_BAR));
	for (int y = 0; y < r.h; y++)
		mvhline(r.y + y, r.x, ' ', r.w);
	attrset(A_NORMAL);
	tui_put(&r, 0, 1, tui_attr(R_BAR) | A_BOLD, "hvwb dashboard keys (any key closes this)");
	for (int i = 0; i < n; i++) {
		struct tui_rect cell = { r.y, r.x, r.h, (i / rows + 1) * COL_W };
		tui_put(&cell, 2 + i % rows, 1 + (i / rows) * COL_W, tui_attr(R_BAR), "%-9s %s", tui_keys[i].name,
			tui_keys[i].help);
	}
	for (int i = 0; tui_text_keys[i][0]; i++)
		tui_put(&r, 3 + rows + i, 1, tui_attr(R_BAR), "%-9s %s", tui_text_keys[i][0], tui_text_keys[i][1]);
}
