/* tui: the dashboard's main loop. Each tick (4 Hz unless set otherwise) it
 * collects the engine's state and draws it; between ticks it waits in select()
 * for a key, a host call of a VM's Lua device, or captured output, so no
 * drawing thread is needed and Lua devices are served at once. (A halfdelay
 * getch would leave a vCPU waiting on a Lua device for up to a tick.) While
 * a Lua chunk runs, e.g. vm:run(), the engine's wait loop calls our idle hook,
 * which goes on reading keys and drawing; Ctrl-C stays a signal (curses is in
 * cbreak mode) and interrupts the chunk as in the plain console. */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "engine/core/hostcall.h"
#include "scripting/console.h"
#include "scripting/lua_wb.h"
#include "tui/tui.h"
#include "tui/tui_int.h"

#define IDLE_HOOK_MS 50     /* how often a long engine wait lets us read keys */
#define CONSOLE_LINES 5000

struct tui tui_g;
static uint64_t next_tick_ns;

void tui_message(struct tui *t, bool error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	t->msg_error = error;
	t->msg_until = stats_now_ns() + 4000000000ull;
}

struct tui_vm *tui_selected(struct tui *t)
{
	return t->sel >= 0 && t->sel < t->nvms ? t->vms[t->sel] : NULL;
}

struct tui_vm *tui_selected_alive(struct tui *t)
{
	struct tui_vm *v = tui_selected(t);
	static struct vm *list[4096];
	size_t n = v ? vm_list(list, 4096) : 0;
	for (size_t i = 0; i < n && i < 4096; i++)
		if (list[i] == v->vm && strcmp(vm_name(list[i]), v->name) == 0)
			return v;
	return NULL;
}

static uint64_t tick_ns(const struct tui *t)
{
	return 1000000000ull / (uint64_t)(t->rate_hz > 0 ? t->rate_hz : 1);
}

void tui_refresh_now(struct tui *t)
{
	tui_output_drain(&t->console);
	tui_layout(t);
	tui_collect(t);
	tui_layout(t);   /* the number of VMs may have changed */
	tui_collect_detail(t);
	tui_draw(t);
	next_tick_ns = stats_now_ns() + tick_ns(t);
}

static bool read_keys(struct tui *t)
{
	bool any = false;
	int ch;
	while ((ch = getch()) != ERR) {
		tui_key(t, ch);
		any = true;
	}
	return any;
}

/* Engine waits (vm:run, wb.sleep, ...) call this about every IDLE_HOOK_MS.
 * Keys are read only while a Lua chunk runs: during a key's own action they
 * stay queued for the main loop. */
static void on_idle(void *arg)
{
	struct tui *t = arg;
	static bool inside;
	if (inside)
		return;
	inside = true;
	bool any = t->busy && read_keys(t);
	if (stats_now_ns() >= next_tick_ns)
		tui_refresh_now(t);
	else if (tui_output_drain(&t->console) || any)
		tui_draw(t);
	inside = false;
}

void tui_busy_tick(struct tui *t)
{
	on_idle(t);
}

static void wait_event(uint64_t timeout_ns)
{
	fd_set fds;
	FD_ZERO(&fds);
	int fds_to_watch[] = { STDIN_FILENO, hostcall_fd(), tui_output_fd() }, max = -1;
	for (size_t i = 0; i < sizeof(fds_to_watch) / sizeof(fds_to_watch[0]); i++) {
		if (fds_to_watch[i] < 0)
			continue;
		FD_SET(fds_to_watch[i], &fds);
		if (fds_to_watch[i] > max)
			max = fds_to_watch[i];
	}
	struct timeval tv = { (time_t)(timeout_ns / 1000000000u), (suseconds_t)(timeout_ns % 1000000000u / 1000) };
	select(max + 1, &fds, NULL, NULL, &tv);
}

static void loop(struct tui *t)
{
	while (!t->quit && !tui_term_requested) {
		uint64_t now = stats_now_ns();
		if (now >= next_tick_ns)
			tui_refresh_now(t);
		now = stats_now_ns();
		wait_event(next_tick_ns > now ? next_tick_ns - now : 0);
		if (console_take_sigint(t->L))
			tui_console_cancel(t);
		hostcall_serve();
		wbl_dispatch_events(t->L);
		bool any = read_keys(t);
		if (tui_output_drain(&t->console) || any)
			tui_draw(t);
	}
}

static int open_all(struct tui *t)
{
	setlocale(LC_CTYPE, "");  /* UTF-8 line drawing; LC_NUMERIC stays "C" for Lua */
	if (tui_screen_open(t, STDOUT_FILENO) < 0) {
		const char *term = getenv("TERM");
		fprintf(stderr, "hvwb: the dashboard cannot use this terminal (TERM=%s); the plain console follows\n",
			term ? term : "(unset)");
		return -1;
	}
	if (tui_output_open() < 0) {
		tui_screen_close();
		fprintf(stderr, "hvwb: cannot capture output for the dashboard: the plain console follows\n");
		return -1;
	}
	return 0;
}

int tui_run(lua_State *L)
{
	struct tui *t = &tui_g;
	memset(t, 0, sizeof(*t));
	t->L = L;
	t->rate_hz = 4;
	t->focus = P_CONSOLE;
	t->detail = P_STATS;
	if (open_all(t) < 0)
		return -1;
	tui_lines_init(&t->console, CONSOLE_LINES);
	tui_signals_install();
	tui_console_open(t);
	tui_lua_open(t);
	hostcall_set_idle(on_idle, t, IDLE_HOOK_MS);
	next_tick_ns = 0;
	loop(t);
	hostcall_set_idle(NULL, NULL, 0);
	tui_lua_close(t);
	tui_console_close(t);
	tui_screen_close();
	tui_signals_restore();
	tui_output_close();
	tui_collect_free(t);
	tui_lines_free(&t->console);
	return 0;
}
