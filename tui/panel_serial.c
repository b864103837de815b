/* panel_serial: the selected VM's serial console (COM1) with its scrollback
 * (PgUp/PgDn); while it has the focus, what you type goes to the guest's
 * serial input, Enter as a carriage return as a terminal sends it. */
#include "tui/tui_int.h"

void tui_panel_serial(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	if (!v) {
		tui_title(t, P_SERIAL, "no VM selected");
		return;
	}
	int most = tui_lines_count(&v->serial) - 1;
	if (t->scroll[P_SERIAL] > most)
		t->scroll[P_SERIAL] = most > 0 ? most : 0;
	int back = t->scroll[P_SERIAL];
	tui_title(t, P_SERIAL, "%s COM1%s%s", v->name, t->focus == P_SERIAL ? ": typing goes to the guest" : "",
		  back ? " (scrolled back: PgDn)" : "");
	struct tui_rect b = tui_body(t, P_SERIAL);
	if (!tui_lines_count(&v->serial))
		tui_put(&b, 0, 0, tui_attr(R_DIM), "(nothing written to the serial port yet)");
	tui_draw_lines(&b, &v->serial, back);
}
