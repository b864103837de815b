#!/bin/bash
# bench/gdb_step.sh: gdb `stepi` throughput through hvwb's gdb stub against QEMU's,
# on the same real-mode counter guest (a port-I/O loop, N patched to 2^31 so it never
# ends). Each stub is timed with `stepi 1` and `stepi 1+STEPS` in one gdb batch run
# each; the difference cancels gdb's start-up and the connection, leaving STEPS round
# trips of vCont;s / stop reply / register reads. Prints steps/s for both and the
# ratio (goal: hvwb >= 2x QEMU). Called at the end of bench/run.sh; runs alone too.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
STEPS=${BENCH_GDB_STEPS:-2000}
HVWB=${HVWB:-build/hvwb}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
COUNTER=${COUNTER:-samples/build/counter.bin}
OUT=bench/out
mkdir -p "$OUT"
IMG=$OUT/counter-forever.bin
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

die() { echo "gdb_step: $*" >&2; exit 1; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
command -v gdb >/dev/null || die "gdb not installed"
cp "$COUNTER" "$IMG"
printf '\xff\xff\xff\x7f' | dd of="$IMG" bs=1 seek=8 conv=notrunc status=none

# gdb_time PORT N: wall µs of one gdb run doing `stepi N` on the stub at PORT.
gdb_time() {
	local t0 t1
	t0=$(now_us)
	timeout 300 gdb -batch -nx -ex "target remote 127.0.0.1:$1" -ex "stepi $2" -ex kill \
		>>"$OUT/gdb_step.log" 2>&1 || die "gdb on port $1 failed (see $OUT/gdb_step.log)"
	t1=$(now_us)
	echo $((t1 - t0))
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_listen() { # PORT PID
	for _ in $(seq 1 400); do
		ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.025
	done
	return 1
}

# One timed gdb session against a fresh hvwb; echoes µs.
hvwb_run() {
	local err=$TMP/hvwb-$1.err port=
	rm -f "$err"
	timeout 300 "$HVWB" --no-startup --gdb 127.0.0.1:0 -e "local vm = wb.vm{ name = 'gdb', mem = '2M' }
		assert(vm:load('$IMG', { addr = 0xF0000, entry = 0xFFFF0 }))" 2>"$err" &
	for _ in $(seq 1 400); do
		[ -e "$err" ] && port=$(sed -n 's/.*waiting for gdb on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$err")
		[ -n "$port" ] && break
		sleep 0.025
	done
	[ -n "$port" ] || die "hvwb did not listen: $(cat "$err")"
	gdb_time "$port" "$1"
	wait
}

qemu_run() {
	local port pid
	port=$(free_port)
	timeout 300 "$QEMU" -enable-kvm -M microvm,x-option-roms=off,rtc=off -display none -nodefaults \
		-no-user-config -device isa-debug-exit,iobase=0xf4,iosize=4 -bios "$IMG" \
		-gdb "tcp:127.0.0.1:$port" -S 2>>"$OUT/gdb_step.log" &
	pid=$!
	wait_listen "$port" "$pid" || die "QEMU did not listen on $port"
	gdb_time "$port" "$1"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

: >"$OUT/gdb_step.log"
h1=$(hvwb_run 1); hn=$(hvwb_run $((STEPS + 1)))
q1=$(qemu_run 1); qn=$(qemu_run $((STEPS + 1)))
[ "$hn" -gt "$h1" ] && [ "$qn" -gt "$q1" ] || die "a longer run was not slower: timing noise, try again"
rate() { awk -v n="$STEPS" -v a="$1" -v b="$2" 'BEGIN { printf "%d", n / ((b - a) / 1e6) + 0.5 }'; }
HR=$(rate "$h1" "$hn"); QR=$(rate "$q1" "$qn")
echo "gdb stepi ($STEPS steps, counter guest): hvwb $HR steps/s, qemu $QR steps/s" \
	"($(awk -v a="$HR" -v b="$QR" 'BEGIN { printf "%.2f", a / b }')x; goal >= 2x)"
