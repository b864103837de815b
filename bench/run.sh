#!/bin/bash
# bench/run.sh: runs hvwb's benchmarks and prints what it measured; it never fails on a
# slow figure, only when a run itself goes wrong. (1) Port-I/O exits per second for the
# same counter guest under a bare KVM_RUN loop (bench/bare_kvm.c), under hvwb
# (bench/io_exits.lua) and under QEMU microvm; (2) process start to guest exit with N=0,
# hvwb against QEMU (and the bare loop for reference). Ends with a summary block, also
# written to bench/out/summary.txt; every single run is logged in bench/out/runs.txt.
# Normally started by `make bench` / `make bench-run`, which set the variables below.
set -euo pipefail
export LC_ALL=C		# EPOCHREALTIME and awk must use '.' as the decimal point

cd "$(dirname "$0")/.."
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

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# Median of the numbers on stdin, one a line.
median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1;
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# calc EXPR: floating-point arithmetic through awk.
calc() { awk "BEGIN { printf \"%.6g\", ($1) }"; }	# () or awk reads > as a redirection
fmt_rate() { awk -v r="$1" 'BEGIN { printf "%d", r + 0.5 }'; }
fmt_ms() { awk -v u="$1" 'BEGIN { m = u / 1000; printf(m < 100 ? "%.1f" : "%.0f", m) }'; }
fmt_x() { awk -v r="$1" 'BEGIN { printf(r < 10 ? "%.2f" : "%.1f", r) }'; }

# patch_image N FILE: a copy of the counter image that writes N times (N at offset 8, LE).
patch_image() {
	local n=$1 f=$2
	cp "$COUNTER" "$f"
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $((n >> 8 & 255)) \
		$((n >> 16 & 255)) $((n >> 24 & 255)))" |
		dd of="$f" bs=1 seek=8 conv=notrunc status=none
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
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || die "/dev/kvm is not usable by $(id -un)"
	[ -x "$HVWB" ] || die "$HVWB not built (run make)"
	[ -x "$BARE" ] || die "$BARE not built (run make bench-run)"
	[ -r "$COUNTER" ] || die "$COUNTER not built (run make)"
	command -v "$QEMU" >/dev/null || die "$QEMU not found (make deps installs qemu-system-x86)"
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

# --- report --------------------------------------------------------------------------

summary() {
	local r_bare r_qemu r_start
	r_bare=$(calc "$HVWB_RATE / $BARE_RATE")
	r_qemu=$(calc "$HVWB_RATE / $QEMU_RATE")
	r_start=$(calc "$HVWB_START / $QEMU_START")
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kernel: $(uname -r)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) cpus)"
	echo "kvm: $(ls /sys/module | grep -E '^kvm_(intel|amd|pvm)$' | paste -sd' ')"
	echo "qemu: $("$QEMU" --version | head -1), -M $QEMU_MACHINE"
	echo "N: $N port writes per I/O run, median of $IO_RUNS; start-to-exit median of $START_RUNS"
	echo "io-exits: hvwb $(fmt_rate "$HVWB_RATE")/s, bare $(fmt_rate "$BARE_RATE")/s" \
		"($(fmt_x "$r_bare")x), qemu $(fmt_rate "$QEMU_RATE")/s ($(fmt_x "$r_qemu")x)"
	echo "start-to-exit: hvwb $(fmt_ms "$HVWB_START") ms, qemu $(fmt_ms "$QEMU_START") ms" \
		"($(fmt_x "$r_start")x), bare $(fmt_ms "$BARE_START") ms"
	echo "goals: io-exits hvwb/bare >= 0.9x, hvwb/qemu >= 2x; start-to-exit hvwb/qemu <= 0.2x"
}

main() {
	check_tools
	echo "== hvwb benchmarks (N=$N), log of every run in $LOG"
	check_qemu

	echo "-- 1. port-I/O exits per second, counter guest, N=$N"
	bench_io
	echo "bare KVM_RUN loop:   $(fmt_rate "$BARE_RATE") exits/s (clock around the loop)"
	echo "hvwb:                $(fmt_rate "$HVWB_RATE") exits/s (vm:stats().run_time);" \
		"whole process $(fmt_ms "$HVWB_IO_WALL") ms = $(fmt_rate "$(calc "$N / ($HVWB_IO_WALL / 1e6)")") exits/s"
	echo "qemu $QEMU_MACHINE: $(fmt_rate "$QEMU_RATE") exits/s" \
		"(N/(t(N) - t(0)), t(N) $(fmt_ms "$QEMU_TN") ms, t(0) $(fmt_ms "$QEMU_T0") ms)"

	echo "-- 2. process start to guest exit, N=0"
	bench_start
	echo "hvwb -e: $(fmt_ms "$HVWB_START") ms, qemu: $(fmt_ms "$QEMU_START") ms," \
		"bare_kvm: $(fmt_ms "$BARE_START") ms"

	echo "-- summary (also in $OUT/summary.txt)"
	summary | tee "$OUT/summary.txt"
}

main "$@"
