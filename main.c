/* hvwb: the program. Parses the command line, opens Lua with the `wb` module,
 * loads workbench.lua, then runs a script, -e code, or the interactive side:
 * the dashboard when stdin and stdout are terminals, else (or with --no-tui)
 * the plain console. Only main and the dashboard (after endwin) end the
 * process; the engine never does. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/vm.h"
#include "util/err.h"
#include "scripting/console.h"
#include "scripting/lua_wb.h"
#include "tui/tui.h"

static const char usage[] =
	"usage: hvwb [options] [script.lua [args...]]\n"
	"\n"
	"With no script and no -e, opens the dashboard (on a terminal) with the\n"
	"Lua console inside it; press F1 there for its keys.\n"
	"\n"
	"  -e CODE        run CODE (may be given several times), then exit\n"
	"  -i             open the dashboard (or console) after the script or -e code\n"
	"  --gdb [ADDR:]PORT  after the script or -e code, let gdb debug a VM on this\n"
	"                 TCP port (default address 127.0.0.1): the VM named \"gdb\" or\n"
	"                 the newest one; `hvwb --gdb PORT guest.elf` loads a guest\n"
	"                 file into a new VM \"gdb\" and serves it\n"
	"  --kernel FILE  boot Linux: a VM \"linux\" (global `linux`) with this bzImage\n"
	"                 or vmlinux loaded, before any script, -e code or the console;\n"
	"                 linux:run() starts it. With --initrd FILE, --append \"CMDLINE\"\n"
	"                 (default \"console=ttyS0 nokaslr\"), --mem SIZE (default 512M),\n"
	"                 --hide cx16,xsave (CPU features the guest must not see)\n"
	"  --accel NAME   the accelerator new VMs get: kvm (/dev/kvm), soft (hvwb's\n"
	"                 own x86 CPU, runs anywhere) or auto (kvm where usable, the\n"
	"                 default); also HVWB_ACCEL=NAME\n"
	"  --no-startup   do not load workbench.lua\n"
	"  --no-tui       the plain readline console instead of the dashboard\n"
	"  --help         this text\n"
	"  --version      print the version\n"
	"\n"
	"A script gets its arguments in the global table `arg` (arg[0] is the script)\n"
	"and its exit status is 0 unless it raises an error (1) or calls os.exit(n).\n"
	"Environment: HVWB_STARTUP names another startup script.\n";

struct options {
	const char *codes[32];
	int ncodes;
	bool interactive, no_startup, no_tui;
	const char *gdb;     /* --gdb [ADDR:]PORT */
	const char *linux_args[5]; /* --kernel, --initrd, --append, --mem, --hide */
	int script;          /* index in argv of the script, 0 if none */
};

static const char *const linux_options[] = { "--kernel", "--initrd", "--append", "--mem", "--hide" };

static int linux_option(const char *a)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(a, linux_options[i]) == 0)
			return i;
	return -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else if (strcmp(a, "--version") == 0) {
			printf("hvwb %s (%s)\n", HVWB_VERSION, LUA_RELEASE);
			exit(0);
		} else if (strcmp(a, "-e") == 0) {
			if (i + 1 >= argc || o->ncodes == 32) {
				fprintf(stderr, "hvwb: -e needs a piece of Lua code\n");
				return -1;
			}
			o->codes[o->ncodes++] = argv[++i];
		} else if (strcmp(a, "--gdb") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "hvwb: --gdb needs [ADDR:]PORT\n");
				return -1;
			}
			o->gdb = argv[++i];
		} else if (linux_option(a) >= 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "hvwb: %s needs a value\n", a);
				return -1;
			}
			o->linux_args[linux_option(a)] = argv[++i];
		} else if (strcmp(a, "--accel") == 0) {
			const char *n = i + 1 < argc ? argv[++i] : "";
			if (strcmp(n, "auto") && strcmp(n, "kvm") && strcmp(n, "soft")) {
				fprintf(stderr, "hvwb: --accel takes auto, kvm or soft\n");
				return -1;
			}
			setenv("HVWB_ACCEL", n, 1); /* what wb.vm{} and wb.load() default to */
		} else if (strcmp(a, "-i") == 0) {
			o->interactive = true;
		} else if (strcmp(a, "--no-startup") == 0) {
			o->no_startup = true;
		} else if (strcmp(a, "--no-tui") == 0) {
			o->no_tui = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "hvwb: unknown option '%s'\n%s", a, usage);
			return -1;
		} else {
			o->script = i;
			break;
		}
	}
	for (int i = 1; i < 5; i++)
		if (o->linux_args[i] && !o->linux_args[0]) {
			fprintf(stderr, "hvwb: %s goes with --kernel FILE\n", linux_options[i]);
			return -1;
		}
	return 0;
}

/* workbench.lua: $HVWB_STARTUP, else beside the source tree the binary was
 * built in (build/hvwb -> ./workbench.lua), else the current directory. */
static bool find_startup(char *out, size_t cap)
{
	const char *env = getenv("HVWB_STARTUP");
	if (env) {
		snprintf(out, cap, "%s", env);
		return true;
	}
	char exe[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			int len = snprintf(out, cap, "%s/../workbench.lua", exe);
			if (len > 0 && (size_t)len < cap && access(out, R_OK) == 0)
				return true;
		}
	}
	snprintf(out, cap, "workbench.lua");
	return access(out, R_OK) == 0;
}

static int run_file(lua_State *L, const char *path, int nargs)
{
	int status = luaL_loadfile(L, path);
	if (status == LUA_OK) {
		lua_insert(L, -nargs - 1);
		status = console_docall(L, nargs, 0);
	} else {
		lua_pop(L, nargs + 1 > lua_gettop(L) ? 0 : nargs);
	}
	if (status != LUA_OK)
		console_report(L, "hvwb");
	return status;
}

/* Sets the global `arg` as lua.c does and pushes the script's arguments. */
static int push_script_args(lua_State *L, int argc, char **argv, int script)
{
	lua_createtable(L, argc - script - 1, script + 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
	for (int i = script + 1; i < argc; i++)
		lua_pushstring(L, argv[i]);
	return argc - script - 1;
}

/* --gdb: serves a VM after the scripts ran; `file` (may be nil) is a guest to load. */
static const char gdb_code[] =
	"local spec, file = ...\n"
	"local addr, port = spec:match('^(.*):(%d+)$')\n"
	"port = tonumber(port or spec)\n"
	"if not port then error('--gdb wants [ADDR:]PORT, not ' .. spec, 0) end\n"
	"local vm\n"
	"local function try(ok, msg, ...) if ok == nil then error(msg, 0) end return ok, msg, ... end\n"
	"if file then vm = try(wb.vm{ name = 'gdb' }); try(vm:load(file))\n"
	"else local all = wb.vms(); vm = wb.find('gdb') or all[#all] end\n"
	"if not vm then error('--gdb: no VM to serve: name a guest file or make a VM with -e', 0) end\n"
	"local r = try(vm:gdbserve(addr ~= '' and addr or nil, port))\n"
	"io.stderr:write('gdb: session ended: ', r.reason, '\\n')\n";

/* --kernel: the VM "linux", made and loaded before scripts run. */
static const char linux_code[] =
	"local kernel, initrd, append, mem, hide = ...\n"
	"local function try(ok, msg, ...) if ok == nil then error(msg, 0) end return ok, msg, ... end\n"
	"linux = try(wb.vm{ name = 'linux', mem = mem or '512M' })\n"
	"if hide then local h = {}; for f in hide:gmatch('[^,%s]+') do h[#h + 1] = f end\n"
	"  try(linux:cpuid{ hide = h }) end\n"
	"local i = try(linux:load_linux{ kernel = kernel, initrd = initrd, cmdline = append })\n"
	"io.stderr:write(('linux: %s loaded (Linux %s, %d symbols): linux:run() boots it\\n')\n"
	"  :format(kernel, i.version, i.symbols))\n";

/* An error of the code behind a command-line option, as one line: what went
 * wrong, without the chunk's name, position or a traceback (it is not the
 * user's code). */
static void report_option(lua_State *L, const char *option)
{
	const char *msg = lua_tostring(L, -1);
	if (!msg)
		msg = "(error object)";
	if (strncmp(msg, "[string \"", 9) == 0) {   /* [string "..."]:5: */
		const char *p = strstr(msg, "\"]:");
		if (p) {
			p += 3;
			while (*p >= '0' && *p <= '9')
				p++;
			if (p[0] == ':' && p[1] == ' ')
				msg = p + 2;
		}
	}
	const char *end = strstr(msg, "\nstack traceback:");
	fprintf(stderr, "hvwb: %s: %.*s\n", option, end ? (int)(end - msg) : (int)strlen(msg), msg);
	fflush(stderr);
	lua_pop(L, 1);
}

static int load_linux(lua_State *L, const struct options *o)
{
	int status = luaL_loadstring(L, linux_code);
	if (status == LUA_OK) {
		for (int i = 0; i < 5; i++)
			lua_pushstring(L, o->linux_args[i]);   /* NULL pushes nil */
		status = console_docall(L, 5, 0);
	}
	if (status != LUA_OK)
		report_option(L, "--kernel");
	return status;
}

static bool is_lua_file(const char *path)
{
	size_t n = strlen(path);
	return n > 4 && strcmp(path + n - 4, ".lua") == 0;
}

static int serve_gdb(lua_State *L, const char *spec, const char *file)
{
	int status = luaL_loadstring(L, gdb_code);
	if (status == LUA_OK) {
		lua_pushstring(L, spec);
		if (file)
			lua_pushstring(L, file);
		else
			lua_pushnil(L);
		status = console_docall(L, 2, 0);
	}
	if (status != LUA_OK)
		report_option(L, "--gdb");
	return status;
}

/* The values of the options, checked before anything runs: one line that
 * says what is wrong, and false. */
static bool check_readable(const char *option, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hvwb: %s %s: %s\n", option, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

static bool check_options(const struct options *o)
{
	if (o->gdb) {
		const char *colon = strrchr(o->gdb, ':');
		const char *port = colon ? colon + 1 : o->gdb;
		char *end;
		errno = 0;
		long n = strtol(port, &end, 10);
		if (!*port || *end || errno) {
			fprintf(stderr, "hvwb: --gdb %s: expected [ADDR:]PORT, such as 1234 or 127.0.0.1:1234\n", o->gdb);
			return false;
		}
		if (n < 0 || n > 65535) {
			fprintf(stderr, "hvwb: --gdb %s: the port must be from 0 to 65535 (0 picks a free one)\n", o->gdb);
			return false;
		}
	}
	if (o->linux_args[3]) {
		uint64_t size;
		if (vm_parse_size(o->linux_args[3], &size) < 0) {
			fprintf(stderr, "hvwb: --mem %s: %s\n", o->linux_args[3], err_msg());
			return false;
		}
	}
	if (o->linux_args[0] && !check_readable("--kernel", o->linux_args[0]))
		return false;
	if (o->linux_args[1] && !check_readable("--initrd", o->linux_args[1]))
		return false;
	return true;
}

/* What a file given as the script is when it is a guest program rather than
 * Lua: "an ELF file", "a multiboot image", "a binary file"; NULL for a script
 * (or a file that cannot be read: loading it will say why). */
static const char *guest_kind(const char *path)
{
	static unsigned char buf[8192];
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n >= 4 && memcmp(buf, "\x7f" "ELF", 4) == 0)
		return "an ELF file";
	if (n >= 4 && memcmp(buf, LUA_SIGNATURE, 4) == 0)
		return NULL;   /* precompiled Lua */
	for (size_t i = 0; i + 12 <= n; i += 4) {
		uint32_t m = buf[i] | buf[i + 1] << 8 | buf[i + 2] << 16 | (uint32_t)buf[i + 3] << 24;
		uint32_t flags = buf[i + 4] | buf[i + 5] << 8 | buf[i + 6] << 16 | (uint32_t)buf[i + 7] << 24;
		uint32_t sum = buf[i + 8] | buf[i + 9] << 8 | buf[i + 10] << 16 | (uint32_t)buf[i + 11] << 24;
		if (m == 0x1BADB002 && m + flags + sum == 0)
			return "a multiboot image";
	}
	/* Lua source is text: a NUL byte or bytes that are not UTF-8 say binary. */
	for (size_t i = 0; i < n;) {
		unsigned char c = buf[i];
		int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (c == 0 || len == 0)
			return "a binary file";
		if (i + (size_t)len > n)
			break;   /* cut by the buffer's end */
		for (int k = 1; k < len; k++)
			if ((buf[i + k] & 0xc0) != 0x80)
				return "a binary file";
		i += (size_t)len;
	}
	return NULL;
}

/* A guest given where a script goes: say so and how to run it. */
static void report_guest(const char *path, const char *kind)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char sample[PATH_MAX];
	snprintf(sample, sizeof(sample), "samples/build/%s", base);
	bool is_sample = strstr(path, "samples/build/") != NULL;
	fprintf(stderr, "hvwb: %s is a guest program (%s), not a Lua script: debug it with "
		"`hvwb --gdb PORT %s`, or run it from the console with ", path, kind, path);
	if (is_sample)
		fprintf(stderr, "demo(\"%s\")\n", base);
	else
		fprintf(stderr, "vm = wb.vm{}; vm:load(\"%s\"); vm:run()\n", path);
}

/* The dashboard needs a terminal on both sides; it falls back by itself when
 * the terminal cannot host it. */
static void interact(lua_State *L, const struct options *o)
{
	if (!o->no_tui && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && tui_run(L) == 0)
		return;
	console_repl(L);
}

static int run(lua_State *L, int argc, char **argv, const struct options *o)
{
	char startup[PATH_MAX];
	if (!check_options(o))
		return 1;
	const char *guest = o->gdb && o->script && !is_lua_file(argv[o->script]) ? argv[o->script] : NULL;
	if (guest && !check_readable("--gdb", guest))
		return 1;
	const char *kind = o->script && !guest ? guest_kind(argv[o->script]) : NULL;
	if (kind) {
		report_guest(argv[o->script], kind);
		return 1;
	}
	if (!o->no_startup && find_startup(startup, sizeof(startup)) &&
	    run_file(L, startup, 0) != LUA_OK)
		return 1;
	if (o->linux_args[0] && load_linux(L, o) != LUA_OK)
		return 1;
	for (int i = 0; i < o->ncodes; i++) {
		if (luaL_loadstring(L, o->codes[i]) != LUA_OK || console_docall(L, 0, 0) != LUA_OK) {
			console_report(L, "hvwb");
			return 1;
		}
	}
	if (o->script && !guest) {
		int nargs = push_script_args(L, argc, argv, o->script);
		if (run_file(L, argv[o->script], nargs) != LUA_OK)
			return 1;
	}
	if (o->gdb && serve_gdb(L, o->gdb, guest) != LUA_OK)
		return 1;
	if (o->interactive || (!o->script && o->ncodes == 0 && !o->gdb))
		interact(L, o);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	lua_State *L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "hvwb: cannot create the Lua state: out of memory\n");
		return 1;
	}
	luaL_openlibs(L);
	luaL_requiref(L, "wb", luaopen_wb, 1);
	lua_pop(L, 1);
	console_install_sigint(L);
	int status = run(L, argc, argv, &o);
	lua_close(L); /* destroys every VM still alive */
	return status;
}
