/* console: the interactive Lua prompt and the plumbing shared with scripts and
 * the dashboard's console pane: running a chunk with a traceback, Ctrl-C that
 * interrupts both Lua code and engine waits, evaluating typed lines, readline
 * set-up (history, completion). */
#ifndef HVWB_CONSOLE_H
#define HVWB_CONSOLE_H

#include <lua.h>
#include <stdbool.h>

/* Installs the SIGINT handler that interrupts Lua and waits instead of killing us. */
void console_install_sigint(lua_State *L);
/* The Lua state the consoles work on. */
lua_State *console_lua(void);
/* True once for a Ctrl-C that came while no Lua code ran (at the prompt);
 * disarms the "interrupted!" hook it set, so the next line runs. */
bool console_take_sigint(lua_State *L);
/* Calls the function at the stack top with nargs arguments below it... (lua.c's
 * docall): a message handler adds a traceback. Returns a LUA_* status. */
int console_docall(lua_State *L, int nargs, int nresults);
/* Prints the error at the stack top to stderr and pops it. */
void console_report(lua_State *L, const char *progname);

/* Evaluates a typed line: results to stdout, errors to stderr; an incomplete
 * chunk is kept until the next line completes it. Adds it to the history. */
void console_take_line(lua_State *L, const char *line);
/* Forgets an incomplete chunk (Ctrl-C at the prompt). */
void console_drop_pending(void);
/* "hvwb> ", or the continuation prompt while a chunk is incomplete. */
const char *console_prompt(void);

/* readline for both consoles: completion, no signal handling of its own,
 * history loaded from ~/.hvwb_history (saved again by fini). */
void console_readline_init(lua_State *L);
void console_readline_fini(void);
/* readline's attempted-completion function (console_complete.c). */
char **console_complete(const char *text, int start, int end);
/* The greeting line, on stdout. */
void console_banner(void);

/* Runs the plain read-eval-print loop until end of input. */
void console_repl(lua_State *L);

#endif
