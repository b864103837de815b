/* console: the interactive Lua prompt (readline: editing, history, completion)
 * and the plumbing shared with scripts: running a chunk with a traceback and
 * Ctrl-C that interrupts both Lua code and engine waits. */
#ifndef HVWB_CONSOLE_H
#define HVWB_CONSOLE_H

#include <lua.h>

/* Installs the SIGINT handler that interrupts Lua and waits instead of killing us. */
void console_install_sigint(lua_State *L);
/* Calls the function at the stack top with nargs arguments below it... (lua.c's
 * docall): a message handler adds a traceback. Returns a LUA_* status. */
int console_docall(lua_State *L, int nargs, int nresults);
/* Prints the error at the stack top to stderr and pops it. */
void console_report(lua_State *L, const char *progname);
/* Runs the read-eval-print loop until end of input. */
void console_repl(lua_State *L);

#endif
