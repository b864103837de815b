# The hvwb program's command line: options, scripts and their exit status.
. tests/sh/tap.sh
plan 23
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
# A wrong option value: one line that says what is wrong, no traceback, status 1.
one_line() { # one_line "what" cmd...: runs cmd, checks status 1 and a single line of output
	local what=$1 out st
	shift
	out=$("$@" 2>&1 </dev/null); st=$?
	is "$st $(printf '%s\n' "$out" | wc -l)" "1 1" "$what: status 1, one line"
	last_out=$out
}
one_line "--gdb 99999" "$HVWB" --no-startup --gdb 99999 "$dir/x.elf"
like "$last_out" "^hvwb: --gdb 99999: the port must be from 0 to 65535" "--gdb with a port out of range says so"
one_line "--kernel /etc/passwd" "$HVWB" --no-startup --kernel /etc/passwd
like "$last_out" "^hvwb: --kernel: /etc/passwd: not a Linux kernel" "--kernel with a non-kernel says so, without a chunk name"
one_line "--mem 12Q" "$HVWB" --no-startup --kernel /etc/passwd --mem 12Q
like "$last_out" "^hvwb: --mem 12Q: size '12Q' is not a number" "--mem with a bad size says so"
# A guest program given as the script is recognised, not parsed as Lua.
printf '\177ELF\2\1\1\0\0\0\0\0\0\0\0\0' > "$dir/guest.elf"
one_line "guest.elf as the script" "$HVWB" --no-startup "$dir/guest.elf"
like "$last_out" "guest.elf is a guest program \(an ELF file\), not a Lua script: debug it with .hvwb --gdb PORT" \
	"an ELF given as the script is named as a guest, with how to run it"
printf '\352\375\0\0\1\2' > "$dir/boot.bin"
"$HVWB" --no-startup "$dir/boot.bin" 2>&1 | grep -q "boot.bin is a guest program (a binary file).*vm:load"
ok $? "a binary given as the script too, suggesting vm:load"
if vm_usable; then
	out=$(printf 'vm = wb.vm{mem="4M"}\nloaded = assert(vm:load(sample("boot16.bin")))\nprint(vm:run{timeout=10}.code)\n' | "$HVWB")
	is "$out" "16" "the console runs a VM from piped input"
else
	skip "no VM can be made here"
fi
rm -rf "$dir"
done_testing
