/* panel_mem: a hexdump of the selected VM's guest-physical memory at an
 * address the user picks with `g` (a number or a symbol), 16 bytes a line
 * (8 where the panel is too narrow for 16, as beside another at 140 columns);
 * Up/Down and PgUp/PgDn move through memory. It reads RAM while the guest
 * runs, so what it shows may be changing under it. */
#include <ctype.h>
#include <stdio.h>

#include "tui/tui_int.h"

#define HEX_LINE_16 78  /* "00100300  ", 16 bytes and the middle gap, " |", 16 chars, "|" */

static void hex_line(const struct tui_rect *r, int y, uint64_t addr, const uint8_t *p, size_t n,
		     size_t per)
{
	char hex[16 * 3 + 2], text[17];
	int k = 0;
	for (size_t i = 0; i < per; i++) {
		const char *gap = i == 7 && per == 16 ? "  " : " ";
		if (i < n)
			k += snprintf(hex + k, sizeof(hex) - (size_t)k, "%02x%s", p[i], gap);
		else
			k += snprintf(hex + k, sizeof(hex) - (size_t)k, "  %s", gap);
		text[i] = i < n ? (isprint(p[i]) ? (char)p[i] : '.') : ' ';
	}
	text[per] = '\0';
	tui_put(r, y, 0, A_NORMAL, "%08llx  %s |%s|", (unsigned long long)addr, hex, text);
}

void tui_panel_mem(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	if (!v) {
		tui_title(t, P_MEM, "no VM selected");
		return;
	}
	tui_title(t, P_MEM, "%s physical memory at 0x%llx (g: go to an address or symbol)", v->name,
		  (unsigned long long)v->mem_addr);
	struct tui_rect b = tui_body(t, P_MEM);
	const struct tui_detail *d = &t->d;
	if (d->mem_msg[0])
		tui_put(&b, 0, 0, tui_attr(R_DIM), "%s", d->mem_msg);
	size_t per = b.w >= HEX_LINE_16 ? 16 : 8;
	for (int y = 0; y < b.h && (size_t)y * per < d->memlen; y++) {
		size_t off = (size_t)y * per, n = d->memlen - off < per ? d->memlen - off : per;
		hex_line(&b, y, v->mem_addr + off, d->mem + off, n, per);
	}
}
