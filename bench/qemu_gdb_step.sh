#!/bin/bash
# bench/qemu_gdb_step.sh: the reference for the single-step benchmark: gdb driving QEMU's
# gdbstub, what one uses today to step a guest instruction by instruction. QEMU (KVM,
# -M pc -cpu kvm64, held at the reset vector by -S) runs the step loop image as -bios, so
# the first instruction is the loop's `inc ax` at F000:FFF0; gdb connects, then does
# `stepi 1000` S/1000 times (each stepi is one single-step round trip through the stub and
# a register read, as for a user typing stepi). Only the stepping is timed, by gdb's own
# Python clock; AX must have grown by S/2 afterwards, or the run is not a measurement.
# Usage: bench/qemu_gdb_step.sh IMAGE S (S a multiple of 1000); prints one line with
# steps/s. Environment: BENCH_QEMU (qemu-system-x86_64), GDB (gdb).
set -euo pipefail
export LC_ALL=C

IMAGE=${1:?usage: qemu_gdb_step.sh IMAGE S}
S=${2:?usage: qemu_gdb_step.sh IMAGE S}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
GDB=${GDB:-gdb}
CHUNK=1000

die() { echo "qemu_gdb_step: $*" >&2; exit 1; }

[[ $S =~ ^[0-9]+$ ]] && ((S > 0 && S % CHUNK == 0)) || die "S must be a positive multiple of $CHUNK"
[ -r "$IMAGE" ] || die "$IMAGE not readable"
command -v "$QEMU" >/dev/null || die "$QEMU not found"
command -v "$GDB" >/dev/null || die "$GDB not found"

TMP=$(mktemp -d)
QEMU_PID=
cleanup() {
	if [ -n "$QEMU_PID" ]; then	# gdb's kill normally ended it already
		kill "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }

# A port nobody listens on; QEMU may still lose a race for it, so the caller retries.
pick_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		listening "$p" || { echo "$p"; return 0; }
	done
	die "no free TCP port found"
}

# Starts QEMU with its gdbstub on a free port and waits until the port listens (or QEMU
# has died, e.g. because another process took the port first). Sets PORT and QEMU_PID.
start_qemu() {
	local try i
	for try in 1 2 3; do
		PORT=$(pick_port)
		"$QEMU" -enable-kvm -M pc -cpu kvm64 -display none -nodefaults -no-user-config \
			-bios "$IMAGE" -gdb "tcp:127.0.0.1:$PORT" -S 2>"$TMP/qemu.stderr" &
		QEMU_PID=$!
		for ((i = 0; i < 1000; i++)); do
			listening "$PORT" && return 0
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.01	# polling a port: there is no event to wait on
		done
		kill "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
		QEMU_PID=
		echo "qemu_gdb_step: try $try: QEMU did not listen on $PORT: $(head -c 300 "$TMP/qemu.stderr")" >&2
	done
	die "QEMU's gdbstub never came up"
}

write_script() {
	cat >"$TMP/step.gdb" <<-GDB
	set pagination off
	set confirm off
	target remote 127.0.0.1:$PORT
	set architecture i8086
	printf "ax0=%d\n", \$eax & 0xffff
	python import time; t0 = time.monotonic()
	set \$i = 0
	while \$i < $((S / CHUNK))
	  stepi $CHUNK
	  set \$i = \$i + 1
	end
	python print("time=%.6f" % (time.monotonic() - t0))
	printf "ax1=%d\n", \$eax & 0xffff
	kill
	GDB
}

start_qemu
write_script
out=$("$GDB" -batch -nx -x "$TMP/step.gdb" 2>&1) || die "gdb failed: $(tail -5 <<<"$out")"
ax0=$(sed -n 's/^ax0=//p' <<<"$out")
ax1=$(sed -n 's/^ax1=//p' <<<"$out")
t=$(sed -n 's/^time=//p' <<<"$out")
[ -n "$ax0" ] && [ -n "$ax1" ] && [ -n "$t" ] || die "gdb output not understood: $(tail -5 <<<"$out")"
grown=$(((ax1 - ax0) & 0xffff))
want=$(((S / 2) & 0xffff))
[ "$grown" = "$want" ] || die "AX grew by $grown over $S steps, expected $want (is QEMU at the loop?)"
awk -v s="$S" -v t="$t" -v p="$PORT" 'BEGIN {
	printf "qemu_gdb_step: S=%d time=%.6f s rate=%.0f steps/s port=%d\n", s, t, s / t, p }'
