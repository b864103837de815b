/* console: what both interactive consoles (the plain readline prompt and the
 * dashboard's console pane) and scripts share: running a chunk with a
 * traceback (lua.c's docall), Ctrl-C that only sets a hook raising
 * "interrupted!" and interrupts engine waits, and evaluating typed lines as
 * lua.c does: a line is first tried as `return <line>` so expressions print,
 * and an incomplete chunk keeps reading. Output goes to stdout and errors to
 * stderr; the dashboard captures both into its pane. */
#include <lauxlib.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/vm.h"
#include "scripting/console.h"
#include "scripting/lua_wb.h"

#define PROMPT "hvwb> "
#define PROMPT2 "  >> "
#define HISTORY_FILE ".hvwb_history"

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

lua_State *console_lua(void)
{
	return console_L;
}

bool console_take_sigint(lua_State *L)
{
	if (!sigint_seen)
		return false;
	sigint_seen = 0;
	/* No Lua code ran to take the hook: the next line must not trip over it. */
	lua_sethook(L, NULL, 0, 0);
	vm_interrupt_clear();
	return true;
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
	sigint_seen = 0;           /* ... nor count as one typed at the prompt */
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

/* Results are printed as print() would, except that an integer that may be an
 * address (negative, or above 0xfff) also shows in hex: Lua integers are
 * signed, so a kernel address such as 0xffffffff81000000 is negative. */
static void print_results(lua_State *L, int base)
{
	int n = lua_gettop(L) - base;
	if (n == 0)
		return;
	for (int i = 1; i <= n; i++) {
		const char *s = luaL_tolstring(L, base + i, NULL);
		fputs(s, stdout);
		if (lua_isinteger(L, base + i)) {
			lua_Integer v = lua_tointeger(L, base + i);
			if (v < 0 || v > 0xfff)
				printf(" (0x%llx)", (unsigned long long)v);
		}
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

void console_drop_pending(void)
{
	free(pending);
	pending = NULL;
}

const char *console_prompt(void)
{
	return pending ? PROMPT2 : PROMPT;
}

void console_take_line(lua_State *L, const char *line)
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

/* ---- readline set-up and history, for both consoles ---- */

static void history_path(char *buf, size_t cap)
{
	const char *home = getenv("HOME");
	snprintf(buf, cap, "%s/%s", home ? home : ".", HISTORY_FILE);
}

void console_readline_init(lua_State *L)
{
	console_L = L;
	char hist[4096];
	history_path(hist, sizeof(hist));
	read_history(hist);
	rl_readline_name = "hvwb";
	rl_attempted_completion_function = console_complete;
	rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(,+-*/%^~#[]";
	rl_catch_signals = 0;
}

void console_readline_fini(void)
{
	char hist[4096];
	history_path(hist, sizeof(hist));
	write_history(hist);
	history_truncate_file(hist, 1000);
}

/* Which accelerator new VMs get, and why: a student without /dev/kvm should
 * know at once that guests run on hvwb's own CPU, and why. */
static void accel_banner(void)
{
	struct vm_accel_info info[4];
	int n = vm_accels(info, 4);
	const char *want = getenv("HVWB_ACCEL");
	const struct vm_accel_info *kvm = NULL, *pick = NULL;
	for (int i = 0; i < n && i < 4; i++) {
		if (!strcmp(info[i].name, "kvm"))
			kvm = &info[i];
		if (!pick && (want && strcmp(want, "auto") ? !strcmp(info[i].name, want) : info[i].usable))
			pick = &info[i];
	}
	if (!pick)
		printf("No accelerator can run VMs here.\n");
	else if (!pick->usable)
		printf("New VMs ask for %s, which cannot run here: %s\n", pick->name, pick->why);
	else if (!strcmp(pick->name, "kvm"))
		printf("New VMs run on kvm (/dev/kvm)%s.\n", want && !strcmp(want, "kvm") ? ", as asked" : "");
	else if (kvm && kvm->usable)
		printf("New VMs run on soft, hvwb's own x86 CPU, as asked (kvm is usable here too).\n");
	else
		printf("New VMs run on soft, hvwb's own x86 CPU: %s.\n", kvm ? kvm->why : "this build has no kvm");
}

void console_banner(void)
{
	printf("hvwb %s, the hypervisor workbench. Lua %s.%s. Type help() for a tour, Ctrl-D to leave.\n",
	       HVWB_VERSION, LUA_VERSION_MAJOR, LUA_VERSION_MINOR);
	accel_banner();
}
