/* console_complete: Tab completion for the consoles (readline's attempted
 * completion function): globals, fields of tables named with dots, a VM's
 * methods after ':', and a VM's symbol names inside vm:addr(" or
 * vm:breakpoint(". Never file names. */
#include <lauxlib.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scripting/console.h"
#include "scripting/lua_wb.h"

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

static void clear_completions(void)
{
	for (size_t i = 0; i < ncompletions; i++)
		free(completions[i]);
	free(completions);
	completions = NULL;
	ncompletions = 0;
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
	clear_completions();
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
		build_completions(console_lua(), text);
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
		clear_completions();
		wbl_complete_symbols(console_lua(), rl_line_buffer, symbol_start, text, add_symbol_completion);
		next = 0;
	}
	if (next < ncompletions)
		return strdup(completions[next++]);
	return NULL;
}

char **console_complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1; /* never fall back to file names */
	rl_completion_append_character = '\0';
	symbol_start = start;
	if (start > 0 && (rl_line_buffer[start - 1] == '"' || rl_line_buffer[start - 1] == '\''))
		return rl_completion_matches(text, symbol_generator);
	return rl_completion_matches(text, completion_generator);
}

