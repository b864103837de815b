# The hvwb program's command line: options, scripts and their exit status.
. tests/sh/tap.sh
plan 14
like "$("$HVWB" --help)" "^usage: hvwb" "--help prints the usage"
like "$("$HVWB" --version)" "^hvwb [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4" "--version names hvwb and Lua"
"$HVWB" --bogus >/dev/null 2>&1; is "$?" 2 "an unknown option exits with 2"
is "$("$HVWB" --no-startup -e 'print(1 + 1)')" "2" "-e runs code"
is "$("$HVWB" --no-startup -e 'io.write(type(help))')" "nil" "--no-startup skips workbench.lua"
is "$("$HVWB" -e 'io.write(type(help), type(demo))')" "functionfunction" "workbench.lua defines help and demo"
dir=$(mktemp -d)
printf 'print(arg[0], ...)\n' > "$dir/args.lua"
is "$("$HVWB" --no-startup "$dir/args.lua" a "b c")" "$dir/args.lua	a	b c" "a script gets arg[0] and its arguments"
printf 'error("lab failed")\n' > "$dir/fail.lua"
out=$("$HVWB" --no-startup "$dir/fail.lua" 2>&1); st=$?
is "$st" 1 "a script that raises exits with 1"
like "$out" "fail.lua:1: lab failed" "and says where and why"
printf 'os.exit(3)\n' > "$dir/exit3.lua"
"$HVWB" --no-startup "$dir/exit3.lua"; is "$?" 3 "os.exit(n) sets the exit status"
"$HVWB" --no-startup "$dir/missing.lua" 2>/dev/null; is "$?" 1 "a missing script exits with 1"
printf 'x = 6 * 7\nx\nfor i = 1, 2 do\nio.write(i)\nend\n' > "$dir/in.txt"
is "$("$HVWB" --no-startup < "$dir/in.txt")" "42
12" "piped console: expressions print, multi-line chunks continue"
printf 'x = -0x7f000000 - 0x7f000000\nx\n0x1002e0\n42\n' > "$dir/in.txt"
is "$("$HVWB" --no-startup < "$dir/in.txt")" "-4261412864 (0xffffffff02000000)
1049312 (0x1002e0)
42" "the console echoes integers that may be addresses in hex too"
if vm_usable; then
	out=$(printf 'vm = wb.vm{mem="4M"}\nloaded = assert(vm:load(sample("boot16.bin")))\nprint(vm:run{timeout=10}.code)\n' | "$HVWB")
	is "$out" "16" "the console runs a VM from piped input"
else
	skip "no VM can be made here"
fi
rm -rf "$dir"
done_testing
