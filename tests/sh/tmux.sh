# tmux.sh: drives hvwb in a real terminal for the shell tests. Source it after
# tap.sh; it gives T (tmux on a server of this test's own), screen (what the
# terminal shows now) and wait_for, which polls the screen with a time limit
# instead of sleeping a fixed time, so a loaded machine is slow but not wrong.
# WAIT_TENTHS (default 200) sets the limit in tenths of a second.
sock="hvwb-test-$$"
T() { tmux -L "$sock" "$@"; }
screen() { T capture-pane -p -t hv; }
wait_for() { # wait_for REGEX: until the screen shows it; else prints the screen and fails
	for _ in $(seq 1 "${WAIT_TENTHS:-200}"); do screen | grep -Eq -- "$1" && return 0; sleep 0.1; done
	screen | sed 's/^/#   | /'   # what the terminal showed instead
	return 1
}
