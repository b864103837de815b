#!/bin/bash
# bench/soft.sh: the soft accelerator's section of the benchmarks (hvwb's own x86
# interpreter, `--accel soft`), each figure a ratio against QEMU TCG in the same run.
# Needs no /dev/kvm. Run by bench/run.sh (`bench/run.sh soft` runs only this) or alone:
#   bench/soft.sh
# (1) guest instructions per second on an inc/cmp/jne loop (samples/build/loop.elf, a
#     multiboot kernel) under hvwb soft (bench/soft_loop.lua) and under
#     qemu-system-x86_64 -accel tcg -M pc -kernel loop.elf;
# (2) port-I/O round trips (samples/build/counter.bin, N `out`s to port 0x600) under hvwb
#     soft (bench/io_exits.lua) and QEMU TCG with the same bytes as -bios;
# (3) vm:step() and vm:step(n) rates under soft (bench/step.lua);
# (4) process start to guest exit of a guest that does nothing: counter.bin with N=0 and
#     loop.elf with N=0, hvwb soft against QEMU TCG.
# Rounds of (1)-(3) back to back, BENCH_SOFT_RUNS of them, medians, so a change in the
# host's load hits both alike. Prints the figures, then a summary block whose lines start
# with "soft-"; the block also goes to bench/out/soft_summary.txt (run.sh copies it into
# its summary). Every single run is logged in bench/out/soft_runs.txt. Never fails on a
# slow figure, only when a run itself goes wrong.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh

HVWB=${HVWB:-build/hvwb}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
COUNTER=${COUNTER:-samples/build/counter.bin}
LOOP=${BENCH_LOOP:-samples/build/loop.elf}
RUNS=${BENCH_SOFT_RUNS:-5}
LOOP_N=${BENCH_SOFT_LOOP_N:-100000000}		# hvwb soft: iterations of inc/cmp/jne
QEMU_LOOP_N=${BENCH_SOFT_QEMU_LOOP_N:-2000000000}	# QEMU TCG, ~20x faster: more of them
IO_N=${BENCH_SOFT_IO_N:-2000000}		# port writes, hvwb soft
QEMU_IO_N=${BENCH_SOFT_QEMU_IO_N:-20000000}	# port writes, QEMU TCG
STEP_S=${BENCH_SOFT_STEP_S:-1000000}		# steps per vm:step() loop and per vm:step(S)
START_RUNS=${BENCH_SOFT_START_RUNS:-10}
QEMU_MACHINE=${BENCH_QEMU_MACHINE:-microvm,x-option-roms=off,rtc=off}	# for -bios
QEMU_KERNEL_MACHINE=${BENCH_SOFT_QEMU_KERNEL_MACHINE:-pc}	# for -kernel (multiboot)
OUT=bench/out
LOG=$OUT/soft_runs.txt
EXIT_LOOP=$((0x60))		# loop.elf's debug-exit value; QEMU exits with (v << 1) | 1

mkdir -p "$OUT"
: >"$LOG"
: >"$OUT/soft_qemu.stderr"

die() { echo "bench soft: $*" >&2; exit 1; }
log() { echo "$*" >>"$LOG"; }

[ -x "$HVWB" ] || die "$HVWB not built (run make)"
[ -r "$COUNTER" ] || die "$COUNTER not built (run make)"
[ -r "$LOOP" ] || die "$LOOP not built (run make)"
command -v "$QEMU" >/dev/null || die "$QEMU not found (make deps installs qemu-system-x86)"

QEMU_TCG=(-accel tcg -display none -serial none -nodefaults -no-user-config
	-device isa-debug-exit,iobase=0xf4,iosize=4)

# qemu_time RC ARGS...: wall µs of one QEMU TCG run from exec to exit; the guest's
# debug-exit must have made QEMU exit with RC, or the run is not a measurement.
qemu_time() {
	local want=$1 t0 t1 rc=0
	shift
	t0=$(now_us)
	timeout 300 "$QEMU" "${QEMU_TCG[@]}" "$@" 2>>"$OUT/soft_qemu.stderr" || rc=$?
	t1=$(now_us)
	[ "$rc" = "$want" ] || die "QEMU $* exited with $rc, expected $want (see $OUT/soft_qemu.stderr)"
	echo $((t1 - t0))
}
qemu_loop() { qemu_time $((EXIT_LOOP << 1 | 1)) -M "$QEMU_KERNEL_MACHINE" -kernel "$1"; }
qemu_counter() { qemu_time 1 -M "$QEMU_MACHINE" -bios "$1"; }

# hvwb_line VAR CMD...: runs CMD (an hvwb run), logs its output with the process wall time,
# checks that it ran on the soft accelerator; the output goes to VAR, the wall µs to VAR_WALL.
hvwb_line() {
	local var=$1 out t0 t1
	shift
	t0=$(now_us)
	out=$("$@" 2>&1) || die "'$*' failed: $out"
	t1=$(now_us)
	log "$out wall=$((t1 - t0)) us"
	grep -q 'accel=soft' <<<"$out" || die "'$*' did not run on the soft accelerator: $out"
	printf -v "$var" '%s' "$out"
	printf -v "${var}_WALL" '%s' $((t1 - t0))
}

rate_of() { sed -n "s/.*$1.*rate=\([0-9.]*\).*/\1/p"; }

# The loop image for QEMU with N patched after the "hvwbloop" tag (hvwb writes guest memory).
loop_image() {
	local n=$1 f=$OUT/loop-$1.elf off
	cp "$LOOP" "$f"
	off=$(grep -obUa hvwbloop "$f" | head -1 | cut -d: -f1)
	[ -n "$off" ] || die "$LOOP has no hvwbloop tag"
	patch32 "$f" $((off + 8)) "$n"
	echo "$f"
}
counter_image() {
	local f=$OUT/counter-$1.bin
	cp "$COUNTER" "$f"
	patch32 "$f" 8 "$1"
	echo "$f"
}

STEP_IMAGE=$OUT/steploop.bin	# the same step loop as run.sh's section 4
make_step_image() {
	head -c $((0x10000)) /dev/zero >"$1"
	printf '\x40\xeb\xfd' | dd of="$1" bs=1 seek=$((0xFFF0)) conv=notrunc status=none
}

# --- (1)-(3) in rounds ---------------------------------------------------------------

bench_rounds() {
	local i t line qloopn qloop0 qion qio0
	local h_loop=() h_loopw=() q_loopn=() q_loop0=() h_io=() h_iow=() q_ion=() q_io0=()
	local s_loop=() s_many=()
	qloopn=$(loop_image "$QEMU_LOOP_N"); qloop0=$(loop_image 0)
	qion=$(counter_image "$QEMU_IO_N"); qio0=$(counter_image 0)
	make_step_image "$STEP_IMAGE"
	for ((i = 0; i < RUNS; i++)); do
		hvwb_line line "$HVWB" --no-startup bench/soft_loop.lua "$LOOP_N" "$LOOP"
		h_loop+=("$(rate_of 'soft loop' <<<"$line")"); h_loopw+=("$line_WALL")
		t=$(qemu_loop "$qloopn"); q_loopn+=("$t"); log "qemu tcg loop N=$QEMU_LOOP_N wall=$t us"
		t=$(qemu_loop "$qloop0"); q_loop0+=("$t"); log "qemu tcg loop N=0 wall=$t us"

		hvwb_line line "$HVWB" --accel soft --no-startup bench/io_exits.lua "$IO_N" "$COUNTER"
		h_io+=("$(rate_of 'hvwb:' <<<"$line")"); h_iow+=("$line_WALL")
		t=$(qemu_counter "$qion"); q_ion+=("$t"); log "qemu tcg counter N=$QEMU_IO_N wall=$t us"
		t=$(qemu_counter "$qio0"); q_io0+=("$t"); log "qemu tcg counter N=0 wall=$t us"

		hvwb_line line "$HVWB" --accel soft --no-startup bench/step.lua "$STEP_S" "$STEP_IMAGE"
		s_loop+=("$(rate_of 'step()' <<<"$line")"); s_many+=("$(rate_of 'step(n)' <<<"$line")")
	done
	LOOP_RATE=$(printf '%s\n' "${h_loop[@]}" | median)
	LOOP_WALL=$(printf '%s\n' "${h_loopw[@]}" | median)
	Q_LOOPN=$(printf '%s\n' "${q_loopn[@]}" | median)
	Q_LOOP0=$(printf '%s\n' "${q_loop0[@]}" | median)
	[ "$(calc "$Q_LOOPN > $Q_LOOP0")" = 1 ] || die "QEMU's loop with N=$QEMU_LOOP_N was not slower than N=0"
	# QEMU's instructions: 3 per iteration; the 7 around the loop are in t(0) too.
	Q_LOOP_RATE=$(calc "3 * $QEMU_LOOP_N / (($Q_LOOPN - $Q_LOOP0) / 1e6)")
	# hvwb's whole process, for reference: 3N + 7 instructions over exec to exit.
	LOOP_WALL_RATE=$(calc "(3 * $LOOP_N + 7) / ($LOOP_WALL / 1e6)")

	IO_RATE=$(printf '%s\n' "${h_io[@]}" | median)
	IO_WALL=$(printf '%s\n' "${h_iow[@]}" | median)
	Q_ION=$(printf '%s\n' "${q_ion[@]}" | median)
	Q_IO0=$(printf '%s\n' "${q_io0[@]}" | median)
	[ "$(calc "$Q_ION > $Q_IO0")" = 1 ] || die "QEMU's counter with N=$QEMU_IO_N was not slower than N=0"
	Q_IO_RATE=$(calc "$QEMU_IO_N / (($Q_ION - $Q_IO0) / 1e6)")

	STEP_LOOP=$(printf '%s\n' "${s_loop[@]}" | median)
	STEP_MANY=$(printf '%s\n' "${s_many[@]}" | median)
}

# --- (4) process start to guest exit -------------------------------------------------

START_CODE='
local vm = assert(wb.vm{ mem = "2M" })
assert(vm.accel == "soft", "not on the soft accelerator")
assert(vm:load(arg_image, { addr = 0xF0000, entry = 0xFFFF0 }))
vm:write32(0xF0008, 0)
local s = vm:run{ timeout = 30 }
assert(s.reason == "exit" and s.code == 0, "counter guest did not exit: " .. tostring(s.reason))'

START_LOOP_CODE='
local vm = assert(wb.vm{ mem = "2M" })
assert(vm.accel == "soft", "not on the soft accelerator")
assert(vm:load(arg_image))
vm:write32(0x100014, 0)
local s = vm:run{ timeout = 30 }
assert(s.reason == "exit" and s.code == 0x60, "loop guest did not exit: " .. tostring(s.reason))'

time_cmd() {
	local t0 t1
	t0=$(now_us)
	"$@" >>"$LOG" 2>&1 || die "'$*' failed (see $LOG)"
	t1=$(now_us)
	echo $((t1 - t0))
}

bench_start() {
	local i t c0 l0 hc=() qc=() hl=() ql=()
	c0=$(counter_image 0); l0=$(loop_image 0)
	local code="local arg_image = \"$COUNTER\"$START_CODE"
	local lcode="local arg_image = \"$LOOP\"$START_LOOP_CODE"
	# One untimed run of each first, so every timed run finds the binaries in the page cache.
	time_cmd "$HVWB" --accel soft --no-startup -e "$code" >/dev/null
	time_cmd "$HVWB" --accel soft --no-startup -e "$lcode" >/dev/null
	qemu_counter "$c0" >/dev/null
	qemu_loop "$l0" >/dev/null
	for ((i = 0; i < START_RUNS; i++)); do
		t=$(time_cmd "$HVWB" --accel soft --no-startup -e "$code"); hc+=("$t"); log "hvwb soft start counter wall=$t us"
		t=$(qemu_counter "$c0"); qc+=("$t"); log "qemu tcg start counter wall=$t us"
		t=$(time_cmd "$HVWB" --accel soft --no-startup -e "$lcode"); hl+=("$t"); log "hvwb soft start loop wall=$t us"
		t=$(qemu_loop "$l0"); ql+=("$t"); log "qemu tcg start loop wall=$t us"
	done
	START_HC=$(printf '%s\n' "${hc[@]}" | median)
	START_QC=$(printf '%s\n' "${qc[@]}" | median)
	START_HL=$(printf '%s\n' "${hl[@]}" | median)
	START_QL=$(printf '%s\n' "${ql[@]}" | median)
}

# --- report --------------------------------------------------------------------------

# verdict RATIO OP GOAL: "met" or "MISSED"
verdict() { [ "$(calc "$1 $2 $3")" = 1 ] && echo met || echo MISSED; }

summary() {
	local r_loop r_io r_sc r_sl ns_h ns_q
	r_loop=$(calc "$LOOP_RATE / $Q_LOOP_RATE")
	r_io=$(calc "$Q_IO_RATE / $IO_RATE")	# time per out, hvwb over QEMU
	ns_h=$(calc "1e9 / $IO_RATE"); ns_q=$(calc "1e9 / $Q_IO_RATE")
	r_sc=$(calc "$START_HC / $START_QC")
	r_sl=$(calc "$START_HL / $START_QL")
	echo "soft-setup: $("$QEMU" --version | head -1); TCG -M $QEMU_KERNEL_MACHINE -kernel (loop)," \
		"-M $QEMU_MACHINE -bios (counter); medians of $RUNS rounds, start-to-exit of $START_RUNS"
	echo "soft-compute: hvwb soft $(fmt_g "$LOOP_RATE") insns/s, qemu tcg $(fmt_g "$Q_LOOP_RATE") insns/s" \
		"($(fmt_x "$r_loop")x, goal >= 0.1x: $(verdict "$r_loop" '>=' 0.1)); inc/cmp/jne," \
		"hvwb N=$LOOP_N in $(calc "3 * $LOOP_N / $LOOP_RATE") s run_time" \
		"($(fmt_g "$LOOP_WALL_RATE")/s over the whole process), qemu N=$QEMU_LOOP_N t(N)-t(0)" \
		"$(fmt_ms "$Q_LOOPN") - $(fmt_ms "$Q_LOOP0") ms"
	echo "soft-io: hvwb soft $(fmt_ns "$ns_h") ns/out ($(fmt_rate "$IO_RATE")/s), qemu tcg" \
		"$(fmt_ns "$ns_q") ns/out ($(fmt_rate "$Q_IO_RATE")/s) ($(fmt_x "$r_io")x the time," \
		"goal <= 2x: $(verdict "$r_io" '<=' 2)); hvwb N=$IO_N run_time, whole process" \
		"$(fmt_ms "$IO_WALL") ms; qemu N=$QEMU_IO_N t(N)-t(0) $(fmt_ms "$Q_ION") - $(fmt_ms "$Q_IO0") ms"
	echo "soft-step: vm:step() $(fmt_rate "$STEP_LOOP")/s (goal >= 1000000/s:" \
		"$(verdict "$STEP_LOOP" '>=' 1000000)), vm:step(n) $(fmt_rate "$STEP_MANY")/s" \
		"($(verdict "$STEP_MANY" '>=' 1000000)); S=$STEP_S"
	echo "soft-start-to-exit: counter N=0 hvwb soft $(fmt_ms "$START_HC") ms, qemu tcg -bios" \
		"$(fmt_ms "$START_QC") ms ($(fmt_x "$r_sc")x, goal <= 0.2x: $(verdict "$r_sc" '<=' 0.2));" \
		"loop N=0 (multiboot) hvwb soft $(fmt_ms "$START_HL") ms, qemu tcg -kernel" \
		"$(fmt_ms "$START_QL") ms ($(fmt_x "$r_sl")x: $(verdict "$r_sl" '<=' 0.2))"
	echo "soft-goals: compute hvwb/tcg >= 0.1x; io time per out hvwb/tcg <= 2x;" \
		"vm:step() >= 1M/s; start-to-exit hvwb/qemu <= 0.2x"
}

main() {
	echo "== soft accelerator vs QEMU TCG, log of every run in $LOG"
	echo "-- soft 1-3: compute loop, port I/O, single-step; $RUNS rounds"
	bench_rounds
	echo "compute (inc/cmp/jne): hvwb soft $(fmt_g "$LOOP_RATE") insns/s (run_time, N=$LOOP_N)," \
		"whole process $(fmt_ms "$LOOP_WALL") ms; qemu tcg $(fmt_g "$Q_LOOP_RATE") insns/s" \
		"(3N/(t(N) - t(0)), N=$QEMU_LOOP_N, t(N) $(fmt_ms "$Q_LOOPN") ms, t(0) $(fmt_ms "$Q_LOOP0") ms)"
	echo "port I/O: hvwb soft $(fmt_rate "$IO_RATE") outs/s (run_time, N=$IO_N), whole process" \
		"$(fmt_ms "$IO_WALL") ms; qemu tcg $(fmt_rate "$Q_IO_RATE") outs/s (N=$QEMU_IO_N," \
		"t(N) $(fmt_ms "$Q_ION") ms, t(0) $(fmt_ms "$Q_IO0") ms)"
	echo "single-step: vm:step() in a Lua loop $(fmt_rate "$STEP_LOOP")/s, one vm:step(S)" \
		"$(fmt_rate "$STEP_MANY")/s (S=$STEP_S)"
	echo "-- soft 4: process start to guest exit, guests that do nothing; $START_RUNS runs"
	bench_start
	echo "counter.bin N=0: hvwb soft $(fmt_ms "$START_HC") ms, qemu tcg -bios $(fmt_ms "$START_QC") ms;" \
		"loop.elf N=0: hvwb soft $(fmt_ms "$START_HL") ms, qemu tcg -kernel $(fmt_ms "$START_QL") ms"
	echo "-- soft summary (also in $OUT/soft_summary.txt)"
	summary | tee "$OUT/soft_summary.txt"
}

main "$@"
