#!/bin/bash
# bench/linux_boot.sh: process start to the kernel's first serial line ("Linux
# version ..."), hvwb against QEMU, the same bzImage and command line, on this
# machine. Both write the guest's serial output to their stdout, which a pipe
# into `grep -m1` watches: the time is from just before the VMM is started to
# grep seeing the line, then the VMM is killed. Prints one line per run to
# stderr and a summary line on stdout:
#   linux-boot: hvwb X ms, qemu Y ms (R x), runs N, kernel K
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
	local t0 t1 pidfile; pidfile=$(mktemp)
	t0=$(now_us)
	if ( "$@" 2>/dev/null & echo $! >"$pidfile"; wait ) |
		timeout "$LIMIT" grep -a -q -m1 'Linux version'; then
		t1=$(now_us)
	else
		t1=
	fi
	kill "$(cat "$pidfile")" 2>/dev/null || true
	rm -f "$pidfile"
	[ -n "$t1" ] || { echo "linux-boot: '$1' did not print 'Linux version' in ${LIMIT}s" >&2; return 1; }
	echo $((t1 - t0))
}

# hvwb: --kernel makes and loads the VM; the serial handler copies the console out.
HVWB_CODE='linux:on("serial", function(_, b) io.write(b); io.stdout:flush() end)
linux:start(); while linux.state == "running" do wb.sleep(0.002) end'
run_hvwb() { time_to_line "$HVWB" --no-startup --kernel "$KERNEL" --append "$APPEND" -e "$HVWB_CODE"; }
run_qemu() {
	time_to_line "$QEMU" -enable-kvm -M pc -cpu kvm64 -m 512M -kernel "$KERNEL" -append "$APPEND" \
		-serial stdio -display none -monitor none -nodefaults -no-user-config
}

hv=() qe=()
for ((i = 0; i < RUNS; i++)); do
	t=$(run_hvwb) && hv+=("$t") && echo "linux-boot run $i: hvwb $t us" >&2
	t=$(run_qemu) && qe+=("$t") && echo "linux-boot run $i: qemu $t us" >&2
done
H=$( [ ${#hv[@]} -gt 0 ] && printf '%s\n' "${hv[@]}" | median || echo 0)
Q=$( [ ${#qe[@]} -gt 0 ] && printf '%s\n' "${qe[@]}" | median || echo 0)
awk -v h="$H" -v q="$Q" -v n="$RUNS" -v k="$(basename "$KERNEL")" 'BEGIN {
	printf "linux-boot: hvwb %.0f ms, qemu %s, medians of %d runs, %s\n", h / 1000,
		q > 0 ? sprintf("%.0f ms (hvwb/qemu %.3fx)", q / 1000, h / q) : "failed", n, k }'
