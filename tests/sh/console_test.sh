# The plain console (--no-tui) in a real terminal (tmux): prompt, tab completion of
# wb. names and VM methods, Ctrl-C interrupting a runaway loop, history saved.
. tests/sh/tap.sh
. tests/sh/tmux.sh
command -v tmux >/dev/null || skip_all "tmux is not installed"
plan 9
home=$(mktemp -d)
T new-session -d -s hv -x 100 -y 30 "HOME=$home $HVWB --no-tui"
wait_for '^hvwb> ?$'; ok $? "the console shows its prompt"
T send-keys -t hv 'wb.fi' Tab
wait_for 'hvwb> wb\.find'; ok $? "Tab completes wb.fi to wb.find"
vms=true; vm_usable || vms=false why="no VM can be made here: $(vm_why)"
if $vms; then
	T send-keys -t hv C-u 'x = {}' Enter 'x = wb.vm{name="tab"}' Enter 'x:ru' Tab
	wait_for 'hvwb> x:run'; ok $? "Tab completes VM methods (x:ru -> x:run)"
else
	skip "$why"
fi
T send-keys -t hv C-u 'while true do end' Enter
sleep 0.5
T send-keys -t hv C-c
wait_for 'interrupted!'; ok $? "Ctrl-C interrupts a runaway loop"
T send-keys -t hv 'print("after " .. 20 + 22)' Enter
wait_for 'after 42'; ok $? "the console keeps working after the interrupt"
if $vms; then
	T send-keys -t hv 'c = wb.vm{mem="2M"}; c:load(sample("counter.bin"), {addr=0xF0000, entry=0xFFFF0}); c:write32(0xF0008, 100000000)' Enter 'c:run()' Enter
	sleep 1
	T send-keys -t hv C-c
	wait_for '(^|\^C)interrupt: interrupted by the user'; ok $? "Ctrl-C interrupts vm:run() and returns the stop"
	T send-keys -t hv 'print("state", c.state)' Enter
	wait_for 'state[[:space:]]+paused'; ok $? "the interrupted VM is paused, not lost"
else
	skip "$why"; skip "$why"
fi
T send-keys -t hv C-d
for _ in $(seq 1 50); do T has-session -t hv 2>/dev/null || break; sleep 0.1; done
T has-session -t hv 2>/dev/null; is "$?" 1 "Ctrl-D leaves the console"
grep -q 'after " .. 20 + 22' "$home/.hvwb_history"; ok $? "history is saved in ~/.hvwb_history"
T kill-server 2>/dev/null
rm -rf "$home"
done_testing
