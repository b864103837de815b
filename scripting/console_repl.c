/* console_repl: the plain interactive console, for `--no-tui` and terminals
 * without the dashboard: readline's callback interface on the terminal, and a
 * select() that also watches the engine's host-call fd, so Lua devices and
 * event handlers of VMs running in the background are served while you type.
 * Without a terminal on stdin it reads lines with fgets. */
#include <errno.h>
#include <lauxlib.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "engine/core/hostcall.h"
#include "scripting/console.h"
#include "scripting/lua_wb.h"

#define IDLE_TICK_MS 200

static lua_State *repl_L;
static bool input_done;

static void on_line(char *line)
{
	rl_callback_handler_remove();
	if (!line) {
		input_done = true;
		return;
	}
	console_take_line(repl_L, line);
	free(line);
	rl_callback_handler_install(console_prompt(), on_line);
}

/* Ctrl-C at the prompt: forget the line and any unfinished chunk. */
static void drop_line(void)
{
	console_drop_pending();
	rl_replace_line("", 0);
	rl_crlf();
	rl_callback_handler_remove();
	rl_callback_handler_install(console_prompt(), on_line);
}

/* Waits for a key, a host call or the idle tick; serves what came. */
static void wait_input(void)
{
	fd_set fds;
	FD_ZERO(&fds);
	FD_SET(STDIN_FILENO, &fds);
	int hfd = hostcall_fd();
	if (hfd >= 0)
		FD_SET(hfd, &fds);
	struct timeval tv = { 0, IDLE_TICK_MS * 1000 };
	int n = select((hfd > STDIN_FILENO ? hfd : STDIN_FILENO) + 1, &fds, NULL, NULL, &tv);
	if (console_take_sigint(repl_L)) {
		drop_line();
		return;
	}
	hostcall_serve();
	wbl_dispatch_events(repl_L);
	if (n > 0 && FD_ISSET(STDIN_FILENO, &fds))
		rl_callback_read_char();
}

static void repl_plain(lua_State *L)
{
	char buf[4096];
	while (fgets(buf, sizeof(buf), stdin)) {
		buf[strcspn(buf, "\n")] = '\0';
		console_take_line(L, buf);
	}
}

void console_repl(lua_State *L)
{
	repl_L = L;
	if (!isatty(STDIN_FILENO)) {
		repl_plain(L);
		return;
	}
	console_readline_init(L);
	console_banner();
	input_done = false;
	rl_callback_handler_install(console_prompt(), on_line);
	while (!input_done)
		wait_input();
	printf("\n");
	console_readline_fini();
}
