/* console_pane: readline inside the dashboard. readline's callback interface
 * is fed the keys curses reads (rl_getc_function returns them one by one);
 * its redisplay function only asks for a redraw of the pane's input line; its
 * terminal preparation and signal handling are off, curses owns the terminal.
 * Lines are evaluated by the same code as the plain console (console.c):
 * history, completion and lua.c's rules are shared, output reaches the pane
 * through the captured stdout and stderr (output.c). */
#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scripting/console.h"
#include "tui/tui_int.h"

static struct tui *pane_t;
static unsigned char queue[64];
static size_t qhead, qlen;
static FILE *devnull;

static int pane_getc(FILE *f)
{
	(void)f;
	if (!qlen)
		return 0; /* not reached: readline is only called with a byte queued */
	unsigned char c = queue[qhead];
	qhead = (qhead + 1) % sizeof(queue);
	qlen--;
	return c;
}

static int pane_input_available(void)
{
	return qlen > 0;
}

static void feed(unsigned char c)
{
	if (qlen == sizeof(queue))
		return;
	queue[(qhead + qlen++) % sizeof(queue)] = c;
	while (qlen)
		rl_callback_read_char();
}

static void pane_redisplay(void)
{
	if (pane_t && !pane_t->busy)
		tui_draw(pane_t);
}

static void no_prep(int meta)
{
	(void)meta;
}

static void no_deprep(void)
{
}

/* More than one completion: list them in the pane as readline would. */
static void show_matches(char **matches, int n, int max_len)
{
	int cols = COLS / (max_len + 2) > 0 ? COLS / (max_len + 2) : 1;
	for (int i = 1; i <= n; i++)
		printf("%-*s%s", max_len + 2, matches[i], i % cols == 0 || i == n ? "\n" : "");
	fflush(stdout);
}

/* A Lua loop that never waits for the engine still lets the screen refresh
 * (a Ctrl-C replaces this hook with the one that raises "interrupted!"). */
#define BUSY_HOOK_COUNT 200000

static void busy_hook(lua_State *L, lua_Debug *ar)
{
	(void)L;
	(void)ar;
	tui_busy_tick(pane_t);
}

static void on_line(char *line);

static void install(void)
{
	rl_callback_handler_install(console_prompt(), on_line);
}

static void on_line(char *line)
{
	rl_callback_handler_remove();
	if (!line) {  /* Ctrl-D on an empty line */
		tui_action_quit(pane_t);
		install();
		return;
	}
	printf("%s%s\n", console_prompt(), line);  /* the echo goes the way output goes */
	fflush(stdout);
	pane_t->busy = true;
	pane_t->scroll[P_CONSOLE] = 0;
	tui_draw(pane_t);
	lua_sethook(pane_t->L, busy_hook, LUA_MASKCOUNT, BUSY_HOOK_COUNT);
	console_take_line(pane_t->L, line);
	lua_sethook(pane_t->L, NULL, 0, 0);
	pane_t->busy = false;
	free(line);
	install();
}

int tui_console_open(struct tui *t)
{
	pane_t = t;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		return -1;
	rl_change_environment = 0; /* LINES/COLUMNS in the environment would pin curses' size */
	rl_catch_sigwinch = 0;
	rl_getc_function = pane_getc;
	rl_input_available_hook = pane_input_available;
	rl_redisplay_function = pane_redisplay;
	rl_prep_term_function = no_prep;
	rl_deprep_term_function = no_deprep;
	rl_completion_display_matches_hook = show_matches;
	rl_outstream = devnull;    /* bells and stray output must not reach the screen */
	console_readline_init(t->L);
	console_banner();
	install();
	return 0;
}

void tui_console_close(struct tui *t)
{
	(void)t;
	rl_callback_handler_remove();
	console_readline_fini();
	rl_getc_function = rl_getc;
	rl_input_available_hook = NULL;
	rl_redisplay_function = rl_redisplay;
	rl_prep_term_function = rl_prep_terminal;
	rl_deprep_term_function = rl_deprep_terminal;
	rl_completion_display_matches_hook = NULL;
	rl_outstream = stdout;
	if (devnull)
		fclose(devnull);
	devnull = NULL;
	pane_t = NULL;
}

void tui_console_cancel(struct tui *t)
{
	(void)t;
	console_drop_pending();
	printf("%s%s^C\n", console_prompt(), rl_line_buffer ? rl_line_buffer : "");
	fflush(stdout);
	rl_replace_line("", 0);
	rl_callback_handler_remove();
	install();
}

const char *tui_console_prompt(void)
{
	return rl_display_prompt ? rl_display_prompt : console_prompt();
}

const char *tui_console_line(int *point)
{
	*point = rl_point;
	return rl_line_buffer ? rl_line_buffer : "";
}

bool tui_console_line_empty(void)
{
	return !rl_line_buffer || !rl_line_buffer[0];
}

/* Keys curses decoded become readline commands; everything else is a byte. */
void tui_console_key(struct tui *t, int ch)
{
	switch (ch) {
	case KEY_LEFT: rl_backward_char(1, 0); break;
	case KEY_RIGHT: rl_forward_char(1, 0); break;
	case KEY_HOME: rl_beg_of_line(1, 0); break;
	case KEY_END: rl_end_of_line(1, 0); break;
	case KEY_UP: rl_get_previous_history(1, 0); break;
	case KEY_DOWN: rl_get_next_history(1, 0); break;
	case KEY_DC: rl_delete(1, 0); break;
	case KEY_BACKSPACE: feed(0x7f); return;
	case KEY_ENTER: feed('\r'); return;
	case KEY_PPAGE: t->scroll[P_CONSOLE] += 5; break;
	case KEY_NPAGE: t->scroll[P_CONSOLE] = t->scroll[P_CONSOLE] > 5 ? t->scroll[P_CONSOLE] - 5 : 0; break;
	case 27:
		return;  /* a lone Esc (curses has decoded the sequences): not for readline */
	default:
		if (ch >= 0 && ch < 256)
			feed((unsigned char)ch);
		return;
	}
	tui_draw(t);
}
