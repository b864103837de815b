#!/bin/bash
# bench/run.sh: runs hvwb's benchmarks and prints what it measured; it never fails on a
# slow figure, only when a run itself goes wrong. (1) Port-I/O exits per second for the
# same counter guest under a bare KVM_RUN loop (bench/bare_kvm.c), under hvwb
# (bench/io_exits.lua) and under QEMU microvm; (2) process start to guest exit with N=0,
# hvwb against QEMU (and the bare loop for reference); (3) snapshot to file, restore and
# clone of 256 MiB and 1 GiB VMs (bench/snapshot.lua); (4) single-step rates of vm:step()
# against a bare KVM loop and gdb on QEMU (its own block, bench_step / summary_step);
# (5) gdb stepi through the stubs; (6) the dashboard's CPU cost watching 64 VMs
# (bench/tui_cost.sh).
# (7) process start to a Linux kernel's first serial line, hvwb against QEMU -kernel
# (bench/linux_boot.sh).
# (soft) the soft accelerator against QEMU TCG: compute loop, port I/O, vm:step, start to
# exit (bench/soft.sh; needs no /dev/kvm).
# Sections 1-7 need /dev/kvm and run hvwb with HVWB_ACCEL=kvm; without a usable /dev/kvm
# they say "skipped: no /dev/kvm" and the soft section still runs.
# Usage: bench/run.sh [SECTION...], or BENCH_ONLY="SECTION..." in the environment;
# SECTION is io, start, snapshot, step, gdb, tui, linux, soft, or kvm for 1-7; none = all.
# Ends with a summary block, also written to bench/out/summary.txt; every single run is
# logged in bench/out/runs.txt.
# Normally started by `make bench` / `make bench-run`, which set the variables below.
set -euo pipefail
export LC_ALL=C		# EPOCHREALTIME and awk must use '.' as the decimal point

cd "$(dirname "$0")/.."
. bench/lib.sh
N=${BENCH_N:-200000}
HVWB=${HVWB:-build/hvwb}
BARE=${BENCH_BARE:-build/bench/bare_kvm}
COUNTER=${COUNTER:-samples/build/counter.bin}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
# microvm keeps its in-kernel PIC and PIT, as hvwb does; option ROMs and the RTC are off
# because the guest needs neither (they only add start-up time).
QEMU_MACHINE=${BENCH_QEMU_MACHINE:-microvm,x-option-roms=off,rtc=off}
IO_RUNS=${BENCH_IO_RUNS:-5}
START_RUNS=10
OUT=bench/out
LOG=$OUT/runs.txt

mkdir -p "$OUT"
: >"$LOG"
: >"$OUT/qemu.stderr"

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "$*" >>"$LOG"; }

# now_us, median, calc, fmt_*, patch32, kvm_usable: bench/lib.sh

# patch_image N FILE: a copy of the counter image that writes N times (N at offset 8, LE).
patch_image() {
	cp "$COUNTER" "$2"
	patch32 "$2" 8 "$1"
}

QEMU_ARGS=(-enable-kvm -M "$QEMU_MACHINE" -display none -nodefaults -no-user-config
	-device isa-debug-exit,iobase=0xf4,iosize=4)

# time_qemu IMAGE: prints the wall time in µs of one QEMU run from exec to exit. The
# guest's debug-exit write of 0 makes QEMU exit with (0 << 1) | 1 = 1; anything else
# means the run did not go as planned and is not a measurement.
time_qemu() {
	local t0 t1 rc=0
	t0=$(now_us)
	timeout 120 "$QEMU" "${QEMU_ARGS[@]}" -bios "$1" 2>>"$OUT/qemu.stderr" || rc=$?
	t1=$(now_us)
	[ "$rc" = 1 ] || die "QEMU on $1 exited with $rc, expected 1 (see $OUT/qemu.stderr)"
	echo $((t1 - t0))
}

# time_cmd CMD...: wall time in µs of one run of CMD; its output goes to the log.
time_cmd() {
	local t0 t1
	t0=$(now_us)
	"$@" >>"$LOG" 2>&1 || die "'$*' failed (see $LOG)"
	t1=$(now_us)
	echo $((t1 - t0))
}

check_tools() {
	[ -x "$HVWB" ] || die "$HVWB not built (run make)"
	[ -r "$COUNTER" ] || die "$COUNTER not built (run make)"
	command -v "$QEMU" >/dev/null || die "$QEMU not found (make deps installs qemu-system-x86)"
	if [ -n "$HAVE_KVM" ] && want_kvm; then
		[ -x "$BARE" ] || die "$BARE not built (run make bench-run)"
	fi
	return 0
}

# --- sections to run -----------------------------------------------------------------

KVM_SECTIONS="io start snapshot step gdb tui linux"
ALL_SECTIONS="$KVM_SECTIONS soft"
HAVE_KVM=
kvm_usable && HAVE_KVM=1
# The kvm sections measure hvwb on KVM whatever HVWB_ACCEL the caller has; soft.sh asks for
# soft itself.
export HVWB_ACCEL=kvm

# pick_sections ARGS...: SECTIONS from the arguments, else BENCH_ONLY, else all.
pick_sections() {
	local want="${*:-${BENCH_ONLY:-}}" w
	want=${want//,/ }
	[ -n "$want" ] || want=$ALL_SECTIONS
	SECTIONS=
	for w in $want; do
		case " $ALL_SECTIONS kvm all " in
		*" $w "*) ;;
		*) die "unknown section '$w' (sections: $ALL_SECTIONS, kvm for all but soft, all)" ;;
		esac
		[ "$w" = kvm ] && w=$KVM_SECTIONS
		[ "$w" = all ] && w=$ALL_SECTIONS
		SECTIONS="$SECTIONS $w "
	done
}
selected() { [[ "$SECTIONS" == *" $1 "* ]]; }
want_kvm() { local s; for s in $KVM_SECTIONS; do selected "$s" && return 0; done; return 1; }

# section NAME TITLE: prints the section's heading; true if it is to run now, false when it
# was not asked for (nothing printed) or needs /dev/kvm that is not there (says so).
section() {
	selected "$1" || return 1
	echo "-- $2"
	if [ "$1" != soft ] && [ -z "$HAVE_KVM" ]; then
		echo "skipped: no /dev/kvm"
		return 1
	fi
	return 0
}

# QEMU must map the image at 0xF0000 (the guest reads N through CS = F000) and have the
# debug-exit device: with N=7 it must take exactly 7 + 1 I/O exits and exit with 1.
check_qemu() {
	local img=$OUT/counter-7.bin rc=0 exits
	patch_image 7 "$img"
	exits=$(timeout 60 "$QEMU" "${QEMU_ARGS[@]}" -bios "$img" -trace kvm_run_exit 2>&1 |
		grep -c 'kvm_run_exit.*reason 2$') || rc=$?
	if [ "$exits" = 8 ]; then
		echo "QEMU check: $QEMU_MACHINE runs the image at 0xF0000, N=7 gives 8 I/O exits"
	else
		echo "QEMU check: warning: N=7 gave ${exits:-?} I/O exits in the trace, expected 8"
	fi
}

# --- 1. I/O exit throughput ----------------------------------------------------------

# One round: each of the three once, back to back, so that a change in the host's load
# (other VMs, other builds on these two CPUs) hits all three alike; medians over rounds.
run_bare_io() {
	local line
	line=$("$BARE" "$COUNTER" "$N") || die "bare_kvm failed"
	log "$line"
	BARE_RATES+=("$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$line")")
}

run_hvwb_io() {
	local line t0 t1
	t0=$(now_us)
	line=$("$HVWB" --no-startup bench/io_exits.lua "$N" "$COUNTER") ||
		die "hvwb bench/io_exits.lua failed"
	t1=$(now_us)
	log "$line wall=$((t1 - t0)) us"
	HVWB_RATES+=("$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$line")")
	HVWB_WALLS+=("$((t1 - t0))")
}

run_qemu_io() {
	local t
	t=$(time_qemu "$OUT/counter-$N.bin"); QEMU_TNS+=("$t"); log "qemu N=$N wall=$t us"
	t=$(time_qemu "$OUT/counter-0.bin"); QEMU_T0S+=("$t"); log "qemu N=0 wall=$t us"
}

bench_io() {
	local i
	BARE_RATES=() HVWB_RATES=() HVWB_WALLS=() QEMU_TNS=() QEMU_T0S=()
	patch_image "$N" "$OUT/counter-$N.bin"
	patch_image 0 "$OUT/counter-0.bin"
	for ((i = 0; i < IO_RUNS; i++)); do
		run_bare_io
		run_hvwb_io
		run_qemu_io
	done
	BARE_RATE=$(printf '%s\n' "${BARE_RATES[@]}" | median)
	HVWB_RATE=$(printf '%s\n' "${HVWB_RATES[@]}" | median)
	HVWB_IO_WALL=$(printf '%s\n' "${HVWB_WALLS[@]}" | median)
	QEMU_TN=$(printf '%s\n' "${QEMU_TNS[@]}" | median)
	QEMU_T0=$(printf '%s\n' "${QEMU_T0S[@]}" | median)
	[ "$(calc "$QEMU_TN > $QEMU_T0")" = 1 ] || die "QEMU with N=$N was not slower than N=0"
	QEMU_RATE=$(calc "$N / (($QEMU_TN - $QEMU_T0) / 1e6)")
}

# --- 2. process start to guest exit, N=0 ---------------------------------------------

HVWB_START_CODE='
local vm = assert(wb.vm{ mem = "2M" })
assert(vm:load(arg_image, { addr = 0xF0000, entry = 0xFFFF0 }))
vm:write32(0xF0008, 0)
local s = vm:run{ timeout = 30 }
assert(s.reason == "exit" and s.code == 0, "counter guest did not exit: " .. tostring(s.reason))'

bench_start() {
	local i t img=$OUT/counter-0.bin hv=() qe=() ba=()
	patch_image 0 "$img"
	local code="local arg_image = \"$COUNTER\"$HVWB_START_CODE"
	# One untimed run of each first, so every timed run finds the binaries in the page cache.
	time_cmd "$HVWB" --no-startup -e "$code" >/dev/null
	time_qemu "$img" >/dev/null
	for ((i = 0; i < START_RUNS; i++)); do
		t=$(time_cmd "$HVWB" --no-startup -e "$code"); hv+=("$t"); log "hvwb start wall=$t us"
		t=$(time_qemu "$img"); qe+=("$t"); log "qemu start wall=$t us"
		t=$(time_cmd "$BARE" "$COUNTER" 0); ba+=("$t"); log "bare start wall=$t us"
	done
	HVWB_START=$(printf '%s\n' "${hv[@]}" | median)
	QEMU_START=$(printf '%s\n' "${qe[@]}" | median)
	BARE_START=$(printf '%s\n' "${ba[@]}" | median)
}

# --- 3. snapshots, restore, clones ------------------------------------------------

# bench/snapshot.lua prints one line per VM size and a goals line; they go to the
# summary as they are.
bench_snapshot() {
	SNAP_LINES=$("$HVWB" --no-startup bench/snapshot.lua "$OUT") || die "hvwb bench/snapshot.lua failed"
	log "$SNAP_LINES"
}

# --- 4. single-step (steps/s) --------------------------------------------------------
# A block of its own: bench_step and summary_step are called from main and summary.
# The step loop image is 64 KiB of real mode with `inc ax; jmp short -3` (40 EB FD) at
# offset 0xFFF0, the reset vector F000:FFF0: the same bytes for bare_step, hvwb
# (bench/step.lua) and QEMU's -bios (bench/qemu_gdb_step.sh), no I/O exit in the loop.
BARE_STEP=${BENCH_BARE_STEP:-build/bench/bare_step}
STEP_S=${BENCH_STEP_S:-30000}		# steps per bare / hvwb run
STEP_RUNS=${BENCH_STEP_RUNS:-3}
STEP_QEMU_S=${BENCH_STEP_QEMU_S:-5000}	# steps through gdb (a multiple of 1000)
STEP_IMAGE=$OUT/steploop.bin

make_step_image() {
	head -c $((0x10000)) /dev/zero >"$1"
	printf '\x40\xeb\xfd' | dd of="$1" bs=1 seek=$((0xFFF0)) conv=notrunc status=none
}

rate_of() { sed -n "s/.*$1.*rate=\([0-9.]*\).*/\1/p"; }

# Rounds of bare then hvwb, medians, as in section 1; QEMU+gdb once (it is ~50x slower).
bench_step() {
	local i line bare=() loop=() many=()
	[ -x "$BARE_STEP" ] || die "$BARE_STEP not built (run make bench-run)"
	make_step_image "$STEP_IMAGE"
	for ((i = 0; i < STEP_RUNS; i++)); do
		line=$("$BARE_STEP" "$STEP_IMAGE" "$STEP_S") || die "bare_step failed"
		log "$line"; bare+=("$(rate_of bare_step <<<"$line")")
		line=$("$HVWB" --no-startup bench/step.lua "$STEP_S" "$STEP_IMAGE") ||
			die "hvwb bench/step.lua failed"
		log "$line"
		loop+=("$(rate_of 'step()' <<<"$line")"); many+=("$(rate_of 'step(n)' <<<"$line")")
	done
	STEP_BARE=$(printf '%s\n' "${bare[@]}" | median)
	STEP_LOOP=$(printf '%s\n' "${loop[@]}" | median)
	STEP_MANY=$(printf '%s\n' "${many[@]}" | median)
	STEP_QEMU=
	if command -v gdb >/dev/null; then
		line=$(bench/qemu_gdb_step.sh "$STEP_IMAGE" "$STEP_QEMU_S" 2>>"$OUT/qemu.stderr") ||
			die "bench/qemu_gdb_step.sh failed (see $OUT/qemu.stderr)"
		log "$line"; STEP_QEMU=$(rate_of qemu_gdb_step <<<"$line")
	fi
	echo "bare KVM_RUN + KVM_GET_REGS per step: $(fmt_rate "$STEP_BARE") steps/s (S=$STEP_S, median of $STEP_RUNS)"
	echo "hvwb vm:step() in a Lua loop:         $(fmt_rate "$STEP_LOOP") steps/s"
	echo "hvwb vm:step(S), one call:            $(fmt_rate "$STEP_MANY") steps/s"
	if [ -n "$STEP_QEMU" ]; then
		echo "gdb stepi on QEMU -M pc gdbstub:      $(fmt_rate "$STEP_QEMU") steps/s (S=$STEP_QEMU_S, one run)"
	else
		echo "gdb stepi on QEMU: skipped, gdb not installed (apt-get install gdb)"
	fi
}

summary_step() {
	local q="qemu+gdb skipped (no gdb)"
	[ -n "$STEP_QEMU" ] &&
		q="qemu+gdb $(fmt_rate "$STEP_QEMU")/s ($(fmt_x "$(calc "$STEP_LOOP / $STEP_QEMU")")x)"
	echo "single-step: hvwb step() $(fmt_rate "$STEP_LOOP")/s, step(n) $(fmt_rate "$STEP_MANY")/s," \
		"bare $(fmt_rate "$STEP_BARE")/s ($(fmt_x "$(calc "$STEP_LOOP / $STEP_BARE")")x), $q"
	echo "goals: single-step hvwb step()/bare >= 0.7x, hvwb step()/qemu+gdb >= 40x"
}
# --- end of 4. single-step -----------------------------------------------------------

# --- report --------------------------------------------------------------------------

NO_KVM="skipped: no /dev/kvm"

summary() {
	local r_bare r_qemu r_start
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kernel: $(uname -r)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) cpus)"
	echo "kvm: $(if [ -n "$HAVE_KVM" ]; then ls /sys/module | grep -E '^kvm_(intel|amd|pvm)$' | paste -sd' '; else echo "no usable /dev/kvm"; fi)"
	echo "qemu: $("$QEMU" --version | head -1), -M $QEMU_MACHINE"
	if [ -n "$HAVE_KVM" ] && { selected io || selected start; }; then
		echo "N: $N port writes per I/O run, median of $IO_RUNS; start-to-exit median of $START_RUNS"
	fi
	if selected io; then
		if [ -n "$HAVE_KVM" ]; then
			r_bare=$(calc "$HVWB_RATE / $BARE_RATE")
			r_qemu=$(calc "$HVWB_RATE / $QEMU_RATE")
			echo "io-exits: hvwb $(fmt_rate "$HVWB_RATE")/s, bare $(fmt_rate "$BARE_RATE")/s" \
				"($(fmt_x "$r_bare")x), qemu $(fmt_rate "$QEMU_RATE")/s ($(fmt_x "$r_qemu")x)"
		else
			echo "io-exits: $NO_KVM"
		fi
	fi
	if selected start; then
		if [ -n "$HAVE_KVM" ]; then
			r_start=$(calc "$HVWB_START / $QEMU_START")
			echo "start-to-exit: hvwb $(fmt_ms "$HVWB_START") ms, qemu $(fmt_ms "$QEMU_START") ms" \
				"($(fmt_x "$r_start")x), bare $(fmt_ms "$BARE_START") ms"
		else
			echo "start-to-exit: $NO_KVM"
		fi
	fi
	selected gdb && echo "$GDB_STEP_LINE"
	if [ -n "$HAVE_KVM" ] && { selected io || selected start || selected gdb; }; then
		echo "goals: io-exits hvwb/bare >= 0.9x, hvwb/qemu >= 2x; start-to-exit hvwb/qemu <= 0.2x;" \
			"gdb stepi hvwb/qemu >= 2x"
	fi
	selected snapshot && echo "$SNAP_LINES"
	if selected step; then
		if [ -n "$HAVE_KVM" ]; then summary_step; else echo "single-step: $NO_KVM"; fi
	fi
	selected tui && echo "$TUI_LINE"
	selected linux && echo "$LINUX_LINE"
	selected soft && echo "$SOFT_LINES"
	return 0
}

main() {
	pick_sections "$@"
	check_tools
	echo "== hvwb benchmarks (N=$N; sections: $(echo $SECTIONS)), log of every run in $LOG"
	[ -n "$HAVE_KVM" ] || echo "no usable /dev/kvm for $(id -un): the kvm sections are skipped, soft runs"
	if [ -n "$HAVE_KVM" ] && { selected io || selected start; }; then
		check_qemu
	fi

	if section io "1. port-I/O exits per second, counter guest, N=$N"; then
		bench_io
		echo "bare KVM_RUN loop:   $(fmt_rate "$BARE_RATE") exits/s (clock around the loop)"
		echo "hvwb:                $(fmt_rate "$HVWB_RATE") exits/s (vm:stats().run_time);" \
			"whole process $(fmt_ms "$HVWB_IO_WALL") ms = $(fmt_rate "$(calc "$N / ($HVWB_IO_WALL / 1e6)")") exits/s"
		echo "qemu $QEMU_MACHINE: $(fmt_rate "$QEMU_RATE") exits/s" \
			"(N/(t(N) - t(0)), t(N) $(fmt_ms "$QEMU_TN") ms, t(0) $(fmt_ms "$QEMU_T0") ms)"
	fi

	if section start "2. process start to guest exit, N=0"; then
		bench_start
		echo "hvwb -e: $(fmt_ms "$HVWB_START") ms, qemu: $(fmt_ms "$QEMU_START") ms," \
			"bare_kvm: $(fmt_ms "$BARE_START") ms"
	fi

	SNAP_LINES="snapshot: $NO_KVM"
	if section snapshot "3. snapshot to file, restore and clone, VMs of 256 MiB and 1 GiB that touched 16 MiB"; then
		bench_snapshot
		echo "$SNAP_LINES"
	fi

	if section step "4. single-step, step loop (inc ax; jmp short -3), no I/O"; then
		bench_step
	fi

	GDB_STEP_LINE="gdb stepi: $NO_KVM"
	if section gdb "5. gdb stepi through the gdb stub vs QEMU's (bench/gdb_step.sh)"; then
		GDB_STEP_LINE=$(HVWB="$HVWB" BENCH_QEMU="$QEMU" bench/gdb_step.sh) || GDB_STEP_LINE="gdb stepi: the run failed"
		echo "$GDB_STEP_LINE"
	fi

	TUI_LINE="tui-cost: $NO_KVM"
	if section tui "6. the dashboard watching running VMs at 4 Hz (bench/tui_cost.sh)"; then
		HVWB="$HVWB" bench/tui_cost.sh | tee "$OUT/tui_cost.txt" || true
		TUI_LINE=$(tail -1 "$OUT/tui_cost.txt")
		[[ $TUI_LINE == tui-cost:* ]] || TUI_LINE="tui-cost: the run failed (see above)"
	fi

	LINUX_LINE="linux-boot: $NO_KVM"
	if section linux "7. Linux: process start to the kernel's first serial line (bench/linux_boot.sh)"; then
		LINUX_LINE=$(HVWB="$HVWB" BENCH_QEMU="$QEMU" bench/linux_boot.sh "${BENCH_LINUX_RUNS:-3}" 2>>"$LOG") ||
			LINUX_LINE="linux-boot: the run failed (see $LOG)"
		echo "$LINUX_LINE"
	fi

	if section soft "soft. the soft accelerator against QEMU TCG (bench/soft.sh)"; then
		rm -f "$OUT/soft_summary.txt"
		HVWB="$HVWB" BENCH_QEMU="$QEMU" COUNTER="$COUNTER" bench/soft.sh ||
			echo "bench soft: the run failed"
		SOFT_LINES=$(cat "$OUT/soft_summary.txt" 2>/dev/null) ||
			SOFT_LINES="soft: the run failed (see above)"
	fi

	echo "-- summary (also in $OUT/summary.txt)"
	summary | tee "$OUT/summary.txt"
}

main "$@"
