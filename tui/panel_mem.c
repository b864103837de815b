/* panel_mem: a hexdump of the selected VM's guest-physical memory at an
 * address the user picks with `g` (a number or a symbol), 16 bytes a line;
 * Up/Down and PgUp/PgDn move through memory. It reads RAM while the guest
 * runs, so what it shows may be changing under it. */
#include <ctype.h>
#include <stdio.h>

#include "tui/tui_int.h"

static void hex_line(const struct tui_rect *r, int y, uint64_t addr, const uint8_t *p, size_t n)
{
	char hex[16 * 3 + 2], text[17];
	int k = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i < n)
			k += snprintf(hex + k, sizeof(hex) - (size_t)k, "%02x%s", p[i], i == 7 ? "  " : " ");
		else
			k += snprintf(hex + k, sizeof(hex) - (size_t)k, "%s", i == 7 ? "    " : "   ");
		text[i] = i < n ? (isprint(p[i]) ? (char)p[i] : '.') : ' ';
	}
	text[16] = '\0';
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
	for (int y = 0; y < b.h && (size_t)y * 16 < d->memlen; y++) {
		size_t off = (size_t)y * 16, n = d->memlen - off < 16 ? d->memlen - off : 16;
		hex_line(&b, y, v->mem_addr + off, d->mem + off, n);
	}
}
