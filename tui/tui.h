/* tui: the ncurses dashboard, the face of hvwb on a terminal. It samples the
 * engine's state at its refresh rate and draws it (collect, then draw, as
 * htop does), with the Lua console in a pane at the bottom. It changes VMs
 * only through the engine API that the Lua bindings use. */
#ifndef HVWB_TUI_H
#define HVWB_TUI_H

#include <lua.h>

/* Runs the dashboard on the terminal of stdin/stdout until the user quits.
 * Returns 0, or -1 (with a message on stderr, nothing changed) when the
 * terminal cannot host it: the caller then falls back to the plain console. */
int tui_run(lua_State *L);

#endif
