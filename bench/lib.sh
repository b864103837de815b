# bench/lib.sh: helpers shared by bench/run.sh and bench/soft.sh (sourced, not run).
# Needs LC_ALL=C in the caller: EPOCHREALTIME and awk must use '.' as the decimal point.

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
fmt_ns() { awk -v n="$1" 'BEGIN { printf(n < 100 ? "%.1f" : "%.0f", n) }'; }
# fmt_g RATE: a large rate in short form, 2.28e9 -> "2.28G", 175e6 -> "175M"
fmt_g() { awk -v r="$1" 'BEGIN { if (r >= 1e9) printf "%.2fG", r / 1e9;
	else if (r >= 1e6) printf "%.1fM", r / 1e6; else printf "%d", r + 0.5 }'; }

# patch32 FILE OFFSET N: writes N as 32-bit little-endian at byte OFFSET of FILE.
patch32() {
	local f=$1 off=$2 n=$3
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $((n >> 8 & 255)) \
		$((n >> 16 & 255)) $((n >> 24 & 255)))" |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# kvm_usable: /dev/kvm is a device this user may open read-write.
kvm_usable() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
