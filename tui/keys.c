/* keys: the one table from keys to actions (the help screen is made from it,
 * so every key is on it) and the dispatch: the help screen and the prompt
 * take keys first; function keys work everywhere; the console and serial
 * panels take text, so letters act only in the other panels. While a Lua
 * chunk runs, keys that would change a VM are refused with a message. */
#include <string.h>

#include "tui/tui_int.h"

#define NAV ((1u << P_VMS) | (1u << P_STATS) | (1u << P_CPU) | (1u << P_MEM))
#define CTRL(c) ((c) & 0x1f)

static void focus_step(struct tui *t, int dir)
{
	t->focus = (enum tui_panel)((t->focus + P_COUNT + dir) % P_COUNT);
	tui_layout(t);
	/* panels the layout cannot show are passed over */
	for (int i = 0; i < P_COUNT && !t->shown[t->focus]; i++)
		t->focus = (enum tui_panel)((t->focus + P_COUNT + dir) % P_COUNT);
}

static void next_panel(struct tui *t) { focus_step(t, 1); }
static void prev_panel(struct tui *t) { focus_step(t, -1); }

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Up/Down/PgUp/PgDn by `n` lines in the focused panel. */
static void move_by(struct tui *t, int n)
{
	struct tui_vm *v = tui_selected(t);
	switch (t->focus) {
	case P_VMS:
		t->sel = clamp(t->sel + n, 0, t->nvms > 0 ? t->nvms - 1 : 0);
		break;
	case P_CPU:
		if (v)
			v->disasm_cursor = clamp(v->disasm_cursor + n, 0, t->d.ninsn > 0 ? t->d.ninsn - 1 : 0);
		break;
	case P_MEM:
		if (v && (n > 0 || v->mem_addr >= (uint64_t)(-n) * 16))
			v->mem_addr += (uint64_t)((int64_t)n * 16);
		break;
	case P_SERIAL:
	case P_CONSOLE:
		t->scroll[t->focus] = clamp(t->scroll[t->focus] - n, 0, 1 << 20);
		break;
	default:
		t->scroll[t->focus] = clamp(t->scroll[t->focus] + n, 0, 1 << 20);
	}
	tui_refresh_now(t);
}

static int page(struct tui *t)
{
	int h = t->rect[t->focus].h - 2;
	return h > 1 ? h : 1;
}

static void up(struct tui *t) { move_by(t, -1); }
static void down(struct tui *t) { move_by(t, 1); }
static void page_up(struct tui *t) { move_by(t, -page(t)); }
static void page_down(struct tui *t) { move_by(t, page(t)); }

static void sort_next(struct tui *t)
{
	t->sort = (enum tui_sort)((t->sort + 1) % S_COUNT);
	tui_sort(t, tui_selected(t));
}

static void sort_reverse(struct tui *t)
{
	t->sort_rev = !t->sort_rev;
	tui_sort(t, tui_selected(t));
}

/* v: the next vCPU in the CPU panel; its registers are read afresh. */
static void next_vcpu(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	if (!v)
		return;
	v->cpu = (v->cpu + 1) % (v->nvcpus > 0 ? v->nvcpus : 1);
	memset(&v->regs, 0, sizeof(v->regs));
	t->focus = P_CPU;
	tui_refresh_now(t);
}

static void view_stats(struct tui *t) { t->focus = P_STATS; }
static void view_cpu(struct tui *t) { t->focus = P_CPU; }
static void view_mem(struct tui *t) { t->focus = P_MEM; }
static void view_serial(struct tui *t) { t->focus = P_SERIAL; }
static void to_console(struct tui *t) { t->focus = P_CONSOLE; }
static void help(struct tui *t) { t->help = true; }
static void faster(struct tui *t) { t->rate_hz = clamp(t->rate_hz * 2, 1, 32); }
static void slower(struct tui *t) { t->rate_hz = clamp(t->rate_hz / 2, 1, 32); }
static void redraw(struct tui *t) { (void)t; clearok(curscr, TRUE); }

const struct tui_keydef tui_keys[] = {
	{ KEY_F(1), "F1", 0, help, "help (any key closes it)", false },
	{ '?', "?", NAV, help, "help", false },
	{ KEY_F(5), "F5", 0, tui_action_run, "run / continue the VM", true },
	{ KEY_F(10), "F10", 0, tui_action_step, "step one instruction of the shown vCPU", true },
	{ KEY_F(9), "F9", 0, tui_action_breakpoint, "breakpoint on the code line", true },
	{ ' ', "space", NAV, tui_action_pause, "pause / resume the VM", true },
	{ '\t', "Tab", 0, next_panel, "next panel", false },
	{ KEY_BTAB, "Shift-Tab", 0, prev_panel, "previous panel", false },
	{ KEY_UP, "Up", NAV | (1u << P_SERIAL), up, "select VM / move / scroll", false },
	{ KEY_DOWN, "Down", NAV | (1u << P_SERIAL), down, "select VM / move / scroll", false },
	{ KEY_PPAGE, "PgUp", 0, page_up, "scroll back a page", false },
	{ KEY_NPAGE, "PgDn", 0, page_down, "scroll forward a page", false },
	{ 's', "s", NAV, sort_next, "sort by the next column", false },
	{ 'S', "S", NAV, sort_reverse, "reverse the sort", false },
	{ '1', "1", NAV, view_stats, "view: exit statistics", false },
	{ '2', "2", NAV, view_cpu, "view: registers and code", false },
	{ '3', "3", NAV, view_mem, "view: memory hexdump", false },
	{ '4', "4", NAV, view_serial, "view: serial console", false },
	{ 'v', "v", NAV, next_vcpu, "registers of the next vCPU", false },
	{ ':', ":", NAV, to_console, "go to the Lua console", false },
	{ 'g', "g", NAV, tui_action_goto, "hexdump at address/symbol", false },
	{ '+', "+", NAV, faster, "refresh faster (to 32 Hz)", false },
	{ '-', "-", NAV, slower, "refresh slower (to 1 Hz)", false },
	{ CTRL('L'), "Ctrl-L", 0, redraw, "redraw the screen", false },
	{ 'q', "q", NAV, tui_action_quit, "quit (asks if VMs run)", true },
	{ KEY_F(12), "F12", 0, tui_action_quit, "quit (asks if VMs run)", true },
	{ 0, NULL, 0, NULL, NULL, false },
};

const char *const tui_text_keys[][2] = {
	{ "Ctrl-C", "interrupts the running Lua chunk; vm:run() then pauses its VM" },
	{ "console", "readline: Enter runs, Up/Down history, Tab completes, Ctrl-R searches;" },
	{ "", "Tab on an empty line: next panel; Ctrl-D on an empty line quits" },
	{ "serial", "typing goes to the guest's COM1; Enter sends a carriage return" },
	{ "letters", "act outside the console and serial panels; F-keys work everywhere" },
	{ NULL, NULL },
};

static const struct tui_keydef *lookup(struct tui *t, int ch)
{
	for (const struct tui_keydef *k = tui_keys; k->name; k++)
		if (k->key == ch && (!k->where || (k->where & (1u << t->focus))))
			return k;
	return NULL;
}

static void serial_key(struct tui *t, int ch)
{
	struct tui_vm *v = tui_selected_alive(t);
	char c = ch == KEY_ENTER || ch == '\n' ? '\r' : ch == KEY_BACKSPACE ? 0x7f : (char)ch;
	if (v && ch >= 0 && (ch < 256 || ch == KEY_ENTER || ch == KEY_BACKSPACE))
		vm_serial_input(v->vm, &c, 1);
}

/* Keys the focused panel takes as text: true if it took this one. */
static bool text_key(struct tui *t, int ch)
{
	if (t->focus == P_CONSOLE) {
		if (ch == '\t' && tui_console_line_empty())
			return false;
		if (ch == KEY_PPAGE || ch == KEY_NPAGE || t->busy)
			return false;
		tui_console_key(t, ch);
		return true;
	}
	if (t->focus == P_SERIAL && ch != '\t' && !(ch >= KEY_MIN && ch != KEY_ENTER && ch != KEY_BACKSPACE)) {
		serial_key(t, ch);
		return true;
	}
	return false;
}

void tui_key(struct tui *t, int ch)
{
	if (ch == KEY_RESIZE)
		return;  /* the next draw lays the screen out anew */
	if (t->help) {
		t->help = false;
		return;
	}
	if (t->prompting) {
		tui_prompt_key(t, ch);
		return;
	}
	const struct tui_keydef *k = lookup(t, ch);
	bool global = (ch >= KEY_F(0) && ch <= KEY_F(63)) || ch == KEY_BTAB;
	if (!global && text_key(t, ch))
		return;
	if (!k) {
		if (t->focus == P_CONSOLE && t->busy && ch < KEY_MIN)
			tui_message(t, true, "a Lua chunk is running: Ctrl-C interrupts it");
		return;
	}
	if (k->acts && t->busy) {
		tui_message(t, true, "a Lua chunk is running: Ctrl-C interrupts it first");
		return;
	}
	k->fn(t);
}
