#!/bin/bash
# bench/linux_boot.sh: process start to the kernel's first serial line ("Linux
# version ..."), hvwb against QEMU, the same bzImage and command line, on this
# machine. Both write the guest's serial output to their stdout, which a pipe
# into `grep -m1` watches: the time is from just before the VMM is started to
# grep seeing the line, then the VMM is killed. QEMU runs the same kernel two
# ways: `-kernel vmlinux` (the ELF from the payload, entered through its PVH
# note, no decompressor, as hvwb does) and `-kernel bzImage` (the kernel's
# decompressor runs in the guest, emulated where there is no VT-x: once,
# bounded by LIMIT). One line per run on stderr, a summary line on stdout.
# Usage: bench/linux_boot.sh [RUNS]   (HVWB, BENCH_QEMU, BENCH_KERNEL override)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
RUNS=${1:-3}
HVWB=${HVWB:-build/hvwb}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
KERNEL=${BENCH_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
APPEND="console=ttyS0 earlyprintk=serial,ttyS0 nokaslr"
LIMIT=${BENCH_LINUX_LIMIT:-300}	# seconds a run may take before it counts as failed
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || { echo "linux-boot: skipped, no kernel in /boot" ; exit 0; }

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# time_to_line CMD...: µs from starting CMD to "Linux version" on its stdout.
time_to_line() {
	local t0 t1= pid fifo
	fifo=$(mktemp -u); mkfifo "$fifo"
	t0=$(now_us)
	"$@" >"$fifo" 2>/dev/null &
	pid=$!
	# grep ends at the first match; the VMM is killed right after, not waited for.
	timeout "$LIMIT" grep -a -q -m1 'Linux version' <"$fifo" && t1=$(now_us)
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$fifo"
	[ -n "$t1" ] || { echo "linux-boot: '$1' did not print 'Linux version' in ${LIMIT}s" >&2; return 1; }
	echo $((t1 - t0))
}

# hvwb: --kernel makes and loads the VM; the serial handler copies the console out.
HVWB_CODE='linux:on("serial", function(_, b) io.write(b); io.stdout:flush() end)
linux:start(); while linux.state == "running" do wb.sleep(0.002) end'
run_hvwb() { time_to_line "$HVWB" --no-startup --kernel "$KERNEL" --append "$APPEND" -e "$HVWB_CODE"; }
run_qemu() {	# KERNEL: the bzImage, or the vmlinux (QEMU enters it through its PVH note)
	time_to_line "$QEMU" -enable-kvm -M pc -cpu kvm64 -m 512M -kernel "$1" -append "$APPEND" \
		-serial stdio -display none -monitor none -nodefaults -no-user-config
}

# The vmlinux inside the bzImage, for QEMU's decompressor-free way in (PVH).
VMLINUX=$(mktemp)
trap 'rm -f "$VMLINUX"' EXIT
off=$(grep -obUaP -m1 '\xfd7zXZ\x00' "$KERNEL" | head -1 | cut -d: -f1)
tail -c +$((off + 1)) "$KERNEL" | xz -dc >"$VMLINUX" 2>/dev/null || true

hv=() qv=()
for ((i = 0; i < RUNS; i++)); do
	t=$(run_hvwb) && hv+=("$t") && echo "linux-boot run $i: hvwb $t us" >&2
	t=$(run_qemu "$VMLINUX") && qv+=("$t") && echo "linux-boot run $i: qemu vmlinux $t us" >&2
done
# QEMU with the bzImage runs the kernel's decompressor, emulated on hosts without
# VT-x: once, bounded by LIMIT.
QB=$(run_qemu "$KERNEL") && echo "linux-boot: qemu bzImage $QB us" >&2 || QB=0
med() { [ $# -gt 0 ] && printf '%s\n' "$@" | median || echo 0; }
H=$(med "${hv[@]}") QV=$(med "${qv[@]}")
awk -v h="$H" -v q="$QV" -v b="$QB" -v n="$RUNS" -v lim="$LIMIT" -v k="$(basename "$KERNEL")" 'BEGIN {
	qs = q > 0 ? sprintf("%.0f ms (hvwb/qemu %.2fx)", q / 1000, h / q) : "failed"
	bs = b > 0 ? sprintf("%.0f ms (hvwb/qemu %.3fx)", b / 1000, h / b) : ("over " lim " s (not reached)")
	printf("linux-boot: hvwb %.0f ms, qemu -kernel vmlinux (PVH) %s, qemu -kernel bzImage %s; medians of %d, %s\n",
		h / 1000, qs, bs, n, k) }'
