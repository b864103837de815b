# The dashboard in a real terminal (tmux): start it, make a VM from its Lua
# console, watch its exit counter rise, pause it, step it and see RIP change,
# type into a guest's serial port, open the help, resize, interrupt vm:run()
# with Ctrl-C, quit (asked first while a VM runs). Every wait polls the
# screen with a time limit, never a fixed sleep, so a loaded machine is slow
# but not wrong.
. tests/sh/tap.sh
. tests/sh/tmux.sh
command -v tmux >/dev/null || skip_all "tmux is not installed"
vm_usable || skip_all "no VM can be made here: $(vm_why)"
plan 32
home=$(mktemp -d)
field() { screen | sed -nE "s/$1/\\1/p" | head -1; }  # the first capture group of a line
wait_change() { # wait_change SED-REGEX OLD: up to 20 s for the field to differ from OLD
	for _ in $(seq 1 200); do
		local now; now=$(field "$1")
		[ -n "$now" ] && [ "$now" != "$2" ] && { echo "$now"; return 0; }
		sleep 0.1
	done
	return 1
}
cleanup() { T kill-server 2>/dev/null; rm -rf "$home"; }
trap cleanup EXIT

# A session that lasts the whole test keeps one tmux server up: a server
# whose last session just ended may still be exiting when the next starts.
T new-session -d -s keep "sleep 3600"
T new-session -d -s hv -x 80 -y 24 "HOME=$home $HVWB; echo \"exit \$?\" >$home/status"
wait_for '^hvwb> ?$' && wait_for '\[VMs\]'; ok $? "the dashboard opens with the VM list and the console prompt"

T send-keys -t hv 'vm = wb.vm{name="t1", mem="2M"}; vm:load(sample("counter.bin"), {addr=0xF0000, entry=0xFFFF0}); vm:write32(0xF0008, 1000000000); vm:start()' Enter
wait_for '^[> ]t1 +running +(kvm|soft) +1 '; ok $? "a VM made in the console shows in the list, running, with its accelerator"

exits='.*\[Stats\] t1: ([0-9]+) exits.*'
first=$(field "$exits")
second=$(wait_change "$exits" "$first")
[ -n "$first" ] && [ -n "$second" ] && [ "$second" -gt "$first" ]
ok $? "its exit counter rises ($first, then $second)"
wait_for '^io +[0-9]+ +[0-9.]+k? +'; ok $? "exits are shown by reason with a rate"

T send-keys -t hv Tab
wait_for '^>\[VMs\]'; ok $? "Tab on an empty console line moves to the VM list"
T send-keys -t hv Space
wait_for '^[> ]t1 +paused +[a-z]+ +1 .*pause: paused'; ok $? "space pauses the selected VM"

T send-keys -t hv 2
wait_for '^>\[CPU\] t1 vCPU 0'; ok $? "2 shows the registers and code of the paused VM"
rip_re='.*rip +([0-9a-f]{16}).*'
rip=$(field "$rip_re")
wait_for '^ > 000f00[0-9a-f]{2} +(out|dec|jne|mov)'; ok $? "the disassembly marks RIP"
T send-keys -t hv F10
rip2=$(wait_change "$rip_re" "$rip")
ok $? "F10 steps one instruction: RIP $rip -> $rip2"
wait_for 'rip +[0-9a-f]{16}\*'; ok $? "the changed RIP is marked as changed since the last stop"
wait_for '^[> ]t1 +paused .*step: stepped 1'; ok $? "the list shows the step as the last stop"
here=$(printf '%x' $((0xf0000 + 0x${rip2:-0})))   # CS base + RIP: the cursor starts there
T send-keys -t hv F9
wait_for "^B> 000$here " && wait_for "breakpoint [0-9]+ at 0x$here"
ok $? "F9 puts a breakpoint on the selected code line, marked B"
T send-keys -t hv F9
wait_for "^ > 000$here " && wait_for "breakpoint [0-9]+ at 0x$here deleted"
ok $? "F9 again deletes it"

T send-keys -t hv F1
wait_for 'hvwb dashboard keys' && screen | grep -q 'F5 ' && screen | grep -q 'F10 ' &&
	screen | grep -q 'F9 ' && screen | grep -q 'space ' && screen | grep -q 'F12 '
ok $? "F1 opens the help with the keys"
T send-keys -t hv Escape
for _ in $(seq 1 100); do screen | grep -q 'hvwb dashboard keys' || break; sleep 0.1; done
screen | grep -q 'hvwb dashboard keys'; is "$?" 1 "any key closes the help"

T resize-window -t hv -x 150 -y 46
wait_for '^ \[Memory\] t1 physical memory' && wait_for ' \[Serial\] t1 COM1'
ok $? "a resize to 150x46 redraws: all four detail panels fit"
T resize-window -t hv -x 80 -y 24
for _ in $(seq 1 100); do screen | grep -q '\[Memory\]' || break; sleep 0.1; done
wait_for '\[VMs\]' && wait_for '\[Lua console\]' && ! screen | grep -q '\[Memory\]' &&
	[ "$(screen | wc -l)" -le 24 ]
ok $? "back at 80x24 the list, one detail view and the console remain"

T send-keys -t hv g
wait_for 'Hexdump at'
T send-keys -t hv -l 0xf0000   # -l: tmux would read 0x.. as a key code
T send-keys -t hv Enter
wait_for '^000f0000  68 76 77 62 63 6e 74 72'; ok $? "g asks for an address and shows a hexdump there"
T send-keys -t hv s
wait_for '\[VMs\] 1 VM, sorted by state'; ok $? "s sorts the list by the next column"

T send-keys -t hv : 'e = wb.vm{name="echo"}; e:load(sample("echo.bin")); e:start()' Enter
wait_for '^[> ]echo +running'; ok $? "a second VM (the echo guest) runs"
T send-keys -t hv Tab Up 4   # the list is sorted by name: echo comes first
wait_for '^>\[Serial\] echo COM1'
T send-keys -t hv 'hi there' Enter
wait_for '^echo> hi there'; ok $? "typing in the serial panel goes to the guest, which echoes it"

T send-keys -t hv Tab 'print("after " .. 20 + 22)' Enter   # serial -> console
wait_for '^after 42$'; ok $? "print() output lands in the console pane"
T send-keys -t hv 'wb.tui{ rate = 8 }' Enter
wait_for '\| 8 Hz( |$)'; ok $? "wb.tui{rate = 8} sets the refresh rate"
T send-keys -t hv 'vm:run()' Enter
wait_for 'Lua running \(Ctrl-C\)' && wait_for '^[> ]t1 +running'
ok $? "during vm:run() the screen keeps refreshing"
T send-keys -t hv C-c
wait_for '^interrupt: interrupted by the user' && wait_for '^[> ]t1 +paused .*interrupt'
ok $? "Ctrl-C interrupts vm:run() and pauses the VM"

T send-keys -t hv 'vm:start()' Enter Tab q
wait_for 'VM.* running\. Quit and destroy'; ok $? "q asks first while VMs run"
T send-keys -t hv n F12 y
for _ in $(seq 1 100); do T has-session -t hv 2>/dev/null || break; sleep 0.1; done
T has-session -t hv 2>/dev/null; is "$?" 1 "n keeps it, F12 then y quits"
is "$(cat "$home/status" 2>/dev/null)" "exit 0" "hvwb ends with status 0 (no sanitizer report)"

# Two vCPUs (samples/smp32.S): v shows vCPU 1, F10 steps it alone.
cat >"$home/smp.lua" <<EOF
local s = wb.vm{ name = "smp", mem = "4M", vcpus = 2 }
assert(s:load("$PWD/samples/build/smp32.elf"))
local bp = s:breakpoint("bsp_idle")
s:run{ timeout = 30 }
s:delete(bp)
EOF
T new-session -d -s hv -x 80 -y 24 "HOME=$home $HVWB -i $home/smp.lua"
wait_for '^[> ]smp +paused' && T send-keys -t hv Tab 2 v
wait_for '^>\[CPU\] smp vCPU 1 '; ok $? "v shows the registers of vCPU 1"
rip=$(field "$rip_re")
T send-keys -t hv F10
rip2=$(wait_change "$rip_re" "$rip") && wait_for '^>\[CPU\] smp vCPU 1 ' &&
	wait_for '^[> ]smp +paused .*step: stepped 1'
ok $? "F10 steps the vCPU shown: vCPU 1's RIP $rip -> $rip2"
T kill-session -t hv

# A monochrome terminal: the same screen, drawn with attributes only.
T new-session -d -s mono -x 80 -y 24 "TERM=vt100 NO_COLOR=1 HOME=$home $HVWB; echo \"exit \$?\" >$home/status"
for _ in $(seq 1 200); do T capture-pane -p -t mono | grep -q '^hvwb>' && break; sleep 0.1; done
T capture-pane -p -t mono | grep -q '\[VMs\] 0 VMs'; ok $? "a monochrome terminal (TERM=vt100) gets the dashboard"
T send-keys -t mono C-d
for _ in $(seq 1 100); do T has-session -t mono 2>/dev/null || break; sleep 0.1; done
is "$(cat "$home/status" 2>/dev/null)" "exit 0" "Ctrl-D on an empty console line quits when no VM runs"
done_testing
