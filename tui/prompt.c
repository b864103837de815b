/* prompt: a one-line question in the top bar (the hexdump's address, "quit
 * while VMs run?"), edited with the keys curses reads; Enter answers, Esc
 * gives up. A yes/no question is answered by one key. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_int.h"

void tui_prompt(struct tui *t, const char *label, void (*done)(struct tui *, const char *))
{
	t->prompting = true;
	t->pyesno = false;
	snprintf(t->plabel, sizeof(t->plabel), "%s", label);
	t->pbuf[0] = '\0';
	t->plen = 0;
	t->pdone = done;
}

static void finish(struct tui *t, const char *answer)
{
	t->prompting = false;
	t->pdone(t, answer);
}

void tui_prompt_key(struct tui *t, int ch)
{
	if (t->pyesno) {
		char a[2] = { ch >= 0 && ch < 128 ? (char)ch : 'n', '\0' };
		finish(t, a);
	} else if (ch == 27) {
		t->prompting = false;
	} else if (ch == '\r' || ch == '\n' || ch == KEY_ENTER) {
		finish(t, t->pbuf);
	} else if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && t->plen) {
		t->pbuf[--t->plen] = '\0';
	} else if (ch >= 32 && ch < 127 && t->plen < sizeof(t->pbuf) - 1) {
		t->pbuf[t->plen++] = (char)ch;
		t->pbuf[t->plen] = '\0';
	}
}
