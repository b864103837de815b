/* screen: curses on the terminal, the table of roles that gives every drawn
 * thing its colour (or, on a monochrome terminal or with NO_COLOR set, its
 * bold/reverse/underline), and the signal handlers: a crash ends curses first
 * so the terminal is left usable and the report readable; SIGTERM and SIGHUP
 * ask the dashboard to quit as a user would. */
#include <langinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/vm.h"
#include "tui/tui_int.h"

struct role_def {
	short fg, bg;     /* colour pair; -1 is the terminal's default */
	attr_t colour;    /* added to the pair */
	attr_t mono;      /* used instead when there are no colours */
};

static const struct role_def roles[R_COUNT] = {
	[R_NORMAL]      = { -1, -1, 0, 0 },
	[R_BAR]         = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[R_TITLE]       = { COLOR_WHITE, COLOR_BLUE, 0, A_REVERSE },
	[R_TITLE_FOCUS] = { COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD },
	[R_HEADER]      = { COLOR_CYAN, -1, A_BOLD, A_UNDERLINE },
	[R_SELECTED]    = { COLOR_BLACK, COLOR_GREEN, 0, A_REVERSE },
	[R_CHANGED]     = { COLOR_YELLOW, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[R_RUNNING]     = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[R_STOPPED]     = { COLOR_YELLOW, -1, 0, 0 },
	[R_CRASHED]     = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[R_BREAK]       = { COLOR_RED, -1, A_BOLD, A_BOLD },
	[R_RIP]         = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[R_DIM]         = { COLOR_BLUE, -1, A_BOLD, A_DIM },
	[R_SPARK]       = { COLOR_GREEN, -1, 0, 0 },
	[R_ERROR]       = { COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
};

volatile sig_atomic_t tui_term_requested;
static attr_t role_attr[R_COUNT];
static SCREEN *screen;
static FILE *screen_out;

attr_t tui_attr(enum tui_role r)
{
	return role_attr[r];
}

static void roles_init(struct tui *t)
{
	t->color = has_colors() && !getenv("NO_COLOR") && start_color() == OK;
	if (t->color)
		use_default_colors();
	for (int r = 0; r < R_COUNT; r++) {
		if (!t->color || r == R_NORMAL) {
			role_attr[r] = t->color ? 0 : roles[r].mono;
			continue;
		}
		init_pair((short)r, roles[r].fg, roles[r].bg);
		role_attr[r] = COLOR_PAIR(r) | roles[r].colour;
	}
}

/* os.exit() from the console ends the process from inside the dashboard: the
 * terminal must still be given back, and what is left in stdio's buffers
 * (flushed after this runs) must reach it. */
static void at_exit(void)
{
	if (screen)
		endwin();
	tui_output_restore_fds();
}

int tui_screen_open(struct tui *t, int tty_fd)
{
	static bool registered;
	if (!registered)
		registered = atexit(at_exit) == 0;
	int fd = dup(tty_fd);
	screen_out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!screen_out) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	screen = newterm(NULL, screen_out, stdin);
	if (!screen) {
		fclose(screen_out);
		screen_out = NULL;
		return -1;
	}
	set_term(screen);
	cbreak();            /* ISIG stays on: Ctrl-C still sends SIGINT */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	roles_init(t);
	return 0;
}

void tui_screen_close(void)
{
	if (!screen)
		return;
	endwin();
	delscreen(screen);
	screen = NULL;
	fclose(screen_out);
	screen_out = NULL;
}

/* ---- signals ---- */

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP };
#define NCRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction old_crash[NCRASH], old_term, old_hup;

/* endwin is not async-signal-safe; a terminal left in raw mode is worse. The
 * previous handler (the default, or the sanitizer's) then takes the signal:
 * a fault happens again when we return, a sent signal is raised again. */
static void on_crash(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (screen)
		endwin();
	tui_output_restore_fds();
	for (size_t i = 0; i < NCRASH; i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &old_crash[i], NULL);
	if (si->si_code <= 0 || sig == SIGABRT)
		raise(sig);
}

/* Quitting as a user would: the main loop sees the flag; an engine wait or a
 * running Lua chunk is interrupted the way Ctrl-C does it. */
static void on_term(int sig)
{
	(void)sig;
	tui_term_requested = 1;
	vm_interrupt_waits();
	raise(SIGINT);
}

void tui_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_crash;
	sa.sa_flags = SA_SIGINFO;
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &sa, &old_crash[i]);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
}

void tui_signals_restore(void)
{
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &old_crash[i], NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
}
