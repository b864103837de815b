/* draw: one frame from the collected samples (nothing here asks the engine
 * anything), and the helpers the panels share: clipped text in a rect, panel
 * titles, sizes and rates in a few characters, sparklines, wrapped lines. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tui/tui_int.h"

void tui_put(const struct tui_rect *r, int row, int col, attr_t a, const char *fmt, ...)
{
	if (row < 0 || row >= r->h || col >= r->w)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	attrset(a);
	mvaddnstr(r->y + row, r->x + col, buf, r->w - col);
	attrset(A_NORMAL);
}

static const char *const panel_names[P_COUNT] = {
	[P_VMS] = "VMs", [P_STATS] = "Stats", [P_CPU] = "CPU", [P_MEM] = "Memory",
	[P_SERIAL] = "Serial", [P_CONSOLE] = "Lua console",
};

/* "[Name] text" on the panel's first line; the focused panel's is marked. */
void tui_title(struct tui *t, enum tui_panel p, const char *fmt, ...)
{
	const struct tui_rect *r = &t->rect[p];
	bool focus = t->focus == p;
	attr_t a = tui_attr(focus ? R_TITLE_FOCUS : R_TITLE);
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	attrset(a);
	mvhline(r->y, r->x, ' ', r->w);
	attrset(A_NORMAL);
	tui_put(r, 0, 0, a, "%s%s%s %s", focus ? ">[" : " [", panel_names[p], "]", text);
}

struct tui_rect tui_body(const struct tui *t, enum tui_panel p)
{
	struct tui_rect r = t->rect[p];
	r.y++;
	r.h--;
	return r;
}

void tui_fmt_size(char *buf, size_t cap, uint64_t b)
{
	static const char units[] = "BKMGT";
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, v < 10 && u ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void tui_fmt_rate(char *buf, size_t cap, double r)
{
	if (r < 10000)
		snprintf(buf, cap, "%.0f", r);
	else if (r < 10e6)
		snprintf(buf, cap, "%.1fk", r / 1e3);
	else
		snprintf(buf, cap, "%.1fM", r / 1e6);
}

/* The last `width` seconds of hist (newest at pos), scaled to their maximum. */
void tui_sparkline(const struct tui_rect *r, int row, int col, int width, const uint32_t *hist, int pos)
{
	static const char *const blocks[] = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char ascii[] = " .:-=+*#%@";
	if (width > TUI_HIST)
		width = TUI_HIST;
	if (row < 0 || row >= r->h || col + width > r->w)
		width = r->w - col;
	if (row < 0 || row >= r->h || width <= 0)
		return;
	uint32_t max = 1;
	for (int i = 0; i < width; i++) {
		uint32_t v = hist[(pos - i + TUI_HIST) % TUI_HIST];
		if (v > max)
			max = v;
	}
	attrset(tui_attr(R_SPARK));
	move(r->y + row, r->x + col);
	for (int i = width - 1; i >= 0; i--) {
		uint32_t v = hist[(pos - i + TUI_HIST) % TUI_HIST];
		int level = v ? 1 + (int)((uint64_t)v * 7 / max) : 0;
		if (tui_g.utf8)
			addstr(blocks[level]);
		else
			addch((chtype)ascii[level]);
	}
	attrset(A_NORMAL);
}

static int rows_of(const char *s, int w)
{
	int n = (int)strlen(s);
	return n <= w ? 1 : (n + w - 1) / w;
}

/* From the bottom up: line i takes rows_of() rows; `back` lines are skipped. */
void tui_draw_lines(const struct tui_rect *r, const struct tui_lines *l, int back)
{
	int row = r->h;
	for (int i = tui_lines_count(l) - 1 - back; i >= 0 && row > 0; i--) {
		const char *s = tui_lines_get(l, i);
		int n = rows_of(s, r->w);
		for (int k = n - 1; k >= 0; k--) {
			row--;
			if (row >= 0)
				mvaddnstr(r->y + row, r->x, s + k * r->w, r->w);
		}
	}
}

enum tui_role tui_state_role(enum vm_state s)
{
	switch (s) {
	case VM_RUNNING: return R_RUNNING;
	case VM_CRASHED: return R_CRASHED;
	default: return R_STOPPED;
	}
}

static void draw_bar(struct tui *t)
{
	struct tui_rect r = { 0, 0, 1, COLS };
	attr_t a = tui_attr(R_BAR);
	attrset(a);
	mvhline(0, 0, ' ', COLS);
	attrset(A_NORMAL);
	if (t->prompting) {
		tui_put(&r, 0, 0, a | A_BOLD, " %s %s", t->plabel, t->pbuf);
		return;
	}
	const char *keys = "F1 help  F12 quit ";
	if (COLS > 60)
		tui_put(&r, 0, COLS - (int)strlen(keys), a, "%s", keys);
	if (t->msg[0] && stats_now_ns() < t->msg_until) {
		tui_put(&r, 0, 0, tui_attr(t->msg_error ? R_ERROR : R_BAR) | A_BOLD, " %s ", t->msg);
		return;
	}
	int running = 0;
	for (int i = 0; i < t->nvms; i++)
		running += t->vms[i]->state == VM_RUNNING;
	tui_put(&r, 0, 0, a, " hvwb %s | %d VM%s, %d running | %d Hz%s", HVWB_VERSION, t->nvms,
		t->nvms == 1 ? "" : "s", running, t->rate_hz, t->busy ? " | Lua running (Ctrl-C)" : "");
}

typedef void (*panel_fn)(struct tui *t);
static const panel_fn panels[P_COUNT] = {
	[P_VMS] = tui_panel_vms, [P_STATS] = tui_panel_stats, [P_CPU] = tui_panel_cpu,
	[P_MEM] = tui_panel_mem, [P_SERIAL] = tui_panel_serial, [P_CONSOLE] = tui_panel_console,
};

void tui_draw(struct tui *t)
{
	erase();
	tui_layout(t);
	draw_bar(t);
	for (int p = 0; p < P_COUNT; p++)
		if (t->shown[p])
			panels[p](t);
	curs_set(0);
	if (t->help)
		tui_help_draw(t);
	else if (t->focus == P_CONSOLE && !t->busy && !t->prompting)
		tui_console_place_cursor(t);
	refresh();
}
