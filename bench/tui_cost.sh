#!/bin/bash
# bench/tui_cost.sh: what the dashboard costs. 64 VMs run an idle guest (bench/tui_cost.lua)
# while the dashboard watches them at 4 Hz in a real terminal (tmux, 120x40); the main
# thread, which collects and draws, is the dashboard's whole cost: its CPU time over
# BENCH_TUI_SECONDS (default 10) of wall time, from /proc/PID/task/PID/schedstat, as a
# percentage of one core. For comparison the same VMs under the plain console (--no-tui),
# whose main thread only waits for keys and host calls. Goal: dashboard < 2% of one core.
# Prints one line per run and a summary line; never fails on a slow figure.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
HVWB=${HVWB:-build/hvwb}
SECONDS_RUN=${BENCH_TUI_SECONDS:-10}
NVMS=${BENCH_TUI_VMS:-64}
OUT=bench/out
IMAGE=$OUT/idle.bin
SOCK=hvwb-bench-$$

die() { echo "tui_cost: $*" >&2; exit 1; }
T() { tmux -L "$SOCK" "$@"; }
cleanup() { T kill-server 2>/dev/null || true; }
trap cleanup EXIT

command -v tmux >/dev/null || die "tmux is not installed"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || die "/dev/kvm is not usable by $(id -un)"
mkdir -p "$OUT"
printf '\xfb\xf4\xeb\xfd' >"$IMAGE"	# sti; 1: hlt; jmp 1b

cpu_ns() { awk '{ print $1 }' "/proc/$1/task/$1/schedstat"; }

# measure LABEL WAIT-REGEX [hvwb options]: prints the main thread's CPU % of one core.
measure() {
	local label=$1 ready=$2 pid t0 c0 t1 c1
	shift 2
	T new-session -d -s b -x 120 -y 40 "exec $HVWB $* -i --no-startup bench/tui_cost.lua $IMAGE $NVMS"
	for _ in $(seq 1 600); do T capture-pane -p -t b | grep -Eq "$ready" && break; sleep 0.1; done
	T capture-pane -p -t b | grep -Eq "$ready" || die "$label: the VMs did not come up"
	pid=$(T display -p -t b '#{pane_pid}')
	sleep 2	# let start-up settle
	t0=$(date +%s%N); c0=$(cpu_ns "$pid")
	sleep "$SECONDS_RUN"
	t1=$(date +%s%N); c1=$(cpu_ns "$pid")
	T kill-server 2>/dev/null || true
	awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * c / t }'
}

tui=$(measure dashboard "$NVMS VMs, $NVMS running")
echo "dashboard at 4 Hz, $NVMS running VMs: main thread $tui% of one core over ${SECONDS_RUN}s"
plain=$(measure console '^hvwb>' --no-tui)
echo "plain console, the same VMs:        main thread $plain% of one core"
echo "tui-cost: dashboard $tui% of one core watching $NVMS VMs at 4 Hz (plain console $plain%); goal < 2%"
