/* layout: where each panel goes for the terminal's size. From top to bottom:
 * the bar, the VM list, the selected VM's detail area, the Lua console. At
 * 80x24 the detail area shows one view at a time (the focused one, or the
 * last one focused); from 140x44 up it shows all four in a grid. Panels that
 * do not fit are not shown rather than squeezed. */
#include "tui/tui_int.h"

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void place(struct tui *t, enum tui_panel p, int y, int x, int h, int w)
{
	t->rect[p] = (struct tui_rect){ y, x, h, w };
	t->shown[p] = h >= 2 && w >= 10;
}

static bool is_detail(enum tui_panel p)
{
	return p == P_STATS || p == P_CPU || p == P_MEM || p == P_SERIAL;
}

/* The detail area: a 2x2 grid when it is big enough, else one view. */
static void place_detail(struct tui *t, int y, int h, int w)
{
	if (w >= 140 && h >= 26) {
		int lw = w / 2, th = h / 2;
		place(t, P_STATS, y, 0, th, lw);
		place(t, P_CPU, y, lw, th, w - lw);
		place(t, P_MEM, y + th, 0, h - th, lw);
		place(t, P_SERIAL, y + th, lw, h - th, w - lw);
		return;
	}
	place(t, t->detail, y, 0, h, w);
}

void tui_layout(struct tui *t)
{
	int H = LINES, W = COLS;
	for (int p = 0; p < P_COUNT; p++)
		t->shown[p] = false;
	if (is_detail(t->focus))
		t->detail = t->focus;
	int top = 1;
	int con_h = H >= 40 ? H / 4 : H >= 20 ? 7 : clamp(H - top - 3, 2, 7);
	int list_rows = clamp(t->nvms, 1, H >= 44 ? 12 : H >= 30 ? 6 : 3);
	int vms_h = 2 + list_rows; /* title, header, rows */
	int det_h = H - top - vms_h - con_h;
	if (det_h < 5) {   /* too short for details: the list and the console share it */
		det_h = 0;
		vms_h = clamp(H - top - con_h, 0, vms_h);
	}
	place(t, P_VMS, top, 0, vms_h, W);
	if (det_h)
		place_detail(t, top + vms_h, det_h, W);
	place(t, P_CONSOLE, H - con_h, 0, con_h, W);
}
