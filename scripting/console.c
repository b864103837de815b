/* console: the Lua read-eval-print loop. As lua.c does: a line is first tried
 * as `return <line>` so expressions print; an incomplete chunk keeps reading;
 * Ctrl-C only sets a hook that raises "interrupted!". The prompt waits with
 * select() on the terminal and on the engine's host-call fd, so Lua devices and
 * event handlers of VMs running in the background are served while you type. */
#include <errno.h>
#include <lauxlib.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "engine/hostcall.h"
#include "engine/vm.h"
#include "scripting/console.h"
#include "scripting/lua_wb.h"

#define PROMPT "hvwb> "
#define PROMPT2 "  >> "
#define HISTORY_FILE ".hvwb_history"
#define IDLE_TICK_MS 200

static lua_State *console_L;
static volatile sig_atomic_t sigint_seen;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
	(void)sig;
	sigint_seen = 1;
	vm_interrupt_waits();
	if (console_L)
		lua_sethook(console_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void console_install_sigint(lua_State *L)
{
	console_L = L;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int console_docall(lua_State *L, int nargs, int nresults)
{
	int base = lua_gettop(L) - nargs;
	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	sigint_seen = 0;
	vm_interrupt_clear(); /* a Ctrl-C from before must not stop this chunk's first run */
	int status = lua_pcall(L, nargs, nresults, base);
	lua_remove(L, base);
	lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that came too late must not hit the next line */
	return status;
}

void console_report(lua_State *L, const char *progname)
{
	const char *msg = lua_tostring(L, -1);
	fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object)");
	fflush(stderr);
	lua_pop(L, 1);
}

/* ---- evaluating lines ---- */

static bool incomplete(lua_State *L, int status)
{
	if (status != LUA_ERRSYNTAX)
		return false;
	size_t len;
	const char *msg = lua_tolstring(L, -1, &len);
	return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

/* Compiles `text`, first as an expression to print. Leaves the chunk or an error. */
static int compile(lua_State *L, const char *text)
{
	const char *ret = lua_pushfstring(L, "return %s;", text);
	int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
	lua_remove(L, -2);
	if (status == LUA_OK)
		return status;
	lua_pop(L, 1);
	return luaL_loadbuffer(L, text, strlen(text), "=stdin");
}

static void print_results(lua_State *L, int base)
{
	int n = lua_gettop(L) - base;
	if (n == 0)
		return;
	for (int i = 1; i <= n; i++) {
		const char *s = luaL_tolstring(L, base + i, NULL);
		fputs(s, stdout);
		fputs(i < n ? "\t" : "\n", stdout);
		lua_pop(L, 1);
	}
	fflush(stdout);
	lua_settop(L, base);
}

static void execute(lua_State *L)
{
	int base = lua_gettop(L) - 1;
	int status = console_docall(L, 0, LUA_MULTRET);
	if (status == LUA_OK)
		print_results(L, base);
	else
		console_report(L, "hvwb");
	wbl_dispatch_events(L);
}

/* The pending multi-line chunk. */
static char *pending;

static void take_line(lua_State *L, const char *line)
{
	size_t n = (pending ? strlen(pending) + 1 : 0) + strlen(line) + 1;
	char *text = malloc(n);
	if (!text)
		return;
	snprintf(text, n, "%s%s%s", pending ? pending : "", pending ? "\n" : "", line);
	free(pending);
	pending = NULL;
	int status = compile(L, text);
	if (incomplete(L, status)) {
		lua_pop(L, 1);
		pending = text;
		return;
	}
	if (*line)
		add_history(text);
	if (status == LUA_OK)
		execute(L);
	else
		console_report(L, "hvwb");
	free(text);
}

/* ---- completion ---- */

/* Candidate names: fields of the table (or a VM's methods) that `prefix`
 * names up to its last '.' or ':', or globals when there is none. */
static char **completions;
static size_t ncompletions;

static void add_completion(const char *head, const char *name)
{
	char **more = realloc(completions, (ncompletions + 2) * sizeof(*more));
	if (!more)
		return;
	completions = more;
	size_t n = strlen(head) + strlen(name) + 1;
	completions[ncompletions] = malloc(n);
	if (completions[ncompletions])
		snprintf(completions[ncompletions++], n, "%s%s", head, name);
	completions[ncompletions] = NULL;
}

static void collect_keys(lua_State *L, const char *head, const char *part)
{
	size_t plen = strlen(part);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING) {
			const char *k = lua_tostring(L, -1);
			if (strncmp(k, part, plen) == 0 && k[0] != '_')
				add_completion(head, k);
		}
	}
}

/* Pushes the value an expression like `wb` or `vm` names, walking dots. */
static void push_path(lua_State *L, const char *expr, size_t len)
{
	lua_pushglobaltable(L);
	size_t i = 0;
	while (i < len && lua_istable(L, -1)) {
		size_t j = i;
		while (j < len && expr[j] != '.')
			j++;
		lua_pushlstring(L, expr + i, j - i);
		lua_rawget(L, -2);
		lua_remove(L, -2);
		i = j + 1;
	}
}

static void build_completions(lua_State *L, const char *text)
{
	for (size_t i = 0; i < ncompletions; i++)
		free(completions[i]);
	free(completions);
	completions = NULL;
	ncompletions = 0;
	const char *sep = strrchr(text, '.');
	const char *colon = strrchr(text, ':');
	if (colon > sep)
		sep = colon;
	int top = lua_gettop(L);
	if (!sep) {
		lua_pushglobaltable(L);
		collect_keys(L, "", text);
	} else {
		char head[256];
		size_t hlen = (size_t)(sep - text) + 1;
		if (hlen >= sizeof(head))
			return;
		memcpy(head, text, hlen);
		head[hlen] = '\0';
		push_path(L, text, hlen - 1);
		if (luaL_testudata(L, -1, WBL_VM_META)) {
			lua_getmetatable(L, -1);
			lua_getfield(L, -1, "__methods");
		}
		if (lua_istable(L, -1))
			collect_keys(L, head, sep + 1);
	}
	lua_settop(L, top);
}

static char *completion_generator(const char *text, int state)
{
	static size_t next;
	if (state == 0) {
		build_completions(console_L, text);
		next = 0;
	}
	if (next < ncompletions)
		return strdup(completions[next++]);
	return NULL;
}

static void add_symbol_completion(const char *name)
{
	add_completion("", name);
}

/* Inside vm:addr(" or vm:breakpoint(" the word is a symbol name of that VM. */
static int symbol_start;

static char *symbol_generator(const char *text, int state)
{
	static size_t next;
	if (state == 0) {
		for (size_t i = 0; i < ncompletions; i++)
			free(completions[i]);
		free(completions);
		completions = NULL;
		ncompletions = 0;
		wbl_complete_symbols(console_L, rl_line_buffer, symbol_start, text, add_symbol_completion);
		next = 0;
	}
	if (next < ncompletions)
		return strdup(completions[next++]);
	return NULL;
}

static char **console_complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1; /* never fall back to file names */
	rl_completion_append_character = '\0';
	symbol_start = start;
	if (start > 0 && (rl_line_buffer[start - 1] == '"' || rl_line_buffer[start - 1] == '\''))
		return rl_completion_matches(text, symbol_generator);
	return rl_completion_matches(text, completion_generator);
}

/* ---- the loop ---- */

static bool input_done;

static void on_line(char *line)
{
	if (!line) {
		input_done = true;
		rl_callback_handler_remove();
		return;
	}
	rl_callback_handler_remove();
	take_line(console_L, line);
	free(line);
	if (!input_done)
		rl_callback_handler_install(pending ? PROMPT2 : PROMPT, on_line);
}

static void history_path(char *buf, size_t cap)
{
	const char *home = getenv("HOME");
	snprintf(buf, cap, "%s/%s", home ? home : ".", HISTORY_FILE);
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
	if (n < 0 && errno == EINTR && sigint_seen) {
		sigint_seen = 0;
		lua_sethook(console_L, NULL, 0, 0);
		free(pending);
		pending = NULL;
		rl_replace_line("", 0);
		rl_crlf();
		rl_callback_handler_remove();
		rl_callback_handler_install(PROMPT, on_line);
		return;
	}
	hostcall_serve();
	wbl_dispatch_events(console_L);
	if (n > 0 && FD_ISSET(STDIN_FILENO, &fds))
		rl_callback_read_char();
}

static void repl_plain(lua_State *L)
{
	char buf[4096];
	while (fgets(buf, sizeof(buf), stdin)) {
		buf[strcspn(buf, "\n")] = '\0';
		take_line(L, buf);
	}
}

void console_repl(lua_State *L)
{
	console_L = L;
	if (!isatty(STDIN_FILENO)) {
		repl_plain(L);
		return;
	}
	char hist[4096];
	history_path(hist, sizeof(hist));
	read_history(hist);
	rl_readline_name = "hvwb";
	rl_attempted_completion_function = console_complete;
	rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(,+-*/%^~#[]";
	rl_catch_signals = 0;
	printf("hvwb %s, the hypervisor workbench. Lua %s.%s. Type help() for a tour, Ctrl-D to leave.\n",
	       HVWB_VERSION, LUA_VERSION_MAJOR, LUA_VERSION_MINOR);
	input_done = false;
	rl_callback_handler_install(PROMPT, on_line);
	while (!input_done)
		wait_input();
	printf("\n");
	write_history(hist);
	history_truncate_file(hist, 1000);
}
