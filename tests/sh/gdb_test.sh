# gdb's remote protocol: real gdb in batch mode against `hvwb --gdb`, and a
# small Python client sending malformed packets. Ports are picked by the
# kernel (port 0) and read from hvwb's "waiting for gdb" line, so nothing
# sleeps for a fixed time and two runs in parallel never collide.
. tests/sh/tap.sh
vm_usable || skip_all "no VM can be made here: $(vm_why)"
command -v gdb >/dev/null || skip_all "gdb not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 17
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
S=samples/build

# serve NAME ARGS...: starts hvwb in the background; sets PORT once it listens.
serve() {
	local name=$1; shift
	timeout 60 "$HVWB" --no-startup --gdb 127.0.0.1:0 "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	PORT=
	for _ in $(seq 1 300); do
		PORT=$(sed -n 's/.*waiting for gdb on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/$name.err")
		[ -n "$PORT" ] && return 0
		kill -0 $! 2>/dev/null || break
		sleep 0.05
	done
	echo "# hvwb did not start listening: $(cat "$dir/$name.err")"
	return 1
}

# 1. hello64 (64-bit): registers, stepi, break, memory, register and memory writes,
#    watchpoint, hbreak, running to the guest's exit.
serve hello64 "$S/hello64.elf"
out=$(timeout 60 gdb -batch -nx -ex "file $S/hello64.elf" -ex "target remote 127.0.0.1:$PORT" \
	-ex 'show architecture' -ex 'info registers rip' -ex 'stepi' -ex 'info registers rip' \
	-ex 'break kmain' -ex 'continue' -ex 'x/4xb kmain' \
	-ex 'set var $rbx = 0x1234abcd' -ex 'p/x $rbx' -ex 'set var timer_ticks = 5' -ex 'p timer_ticks' \
	-ex 'delete' -ex 'watch timer_ticks' -ex 'continue' \
	-ex 'delete' -ex 'hbreak timer_handler' -ex 'continue' -ex 'delete' -ex 'continue' 2>&1)
wait
like "$out" 'currently "?i386:x86-64' "gdb takes the x86-64 target description"
like "$out" 'rip +0x100000 +0x100000 <_start>' "info registers rip at the entry"
like "$out" 'rip +0x100001 +0x100001 <_start\+1>' "stepi moves RIP by one instruction"
like "$out" 'Breakpoint 1, kmain \(\)' "break kmain + continue stops at kmain"
like "$out" 'kmain>:[[:space:]]+0x48[[:space:]]+0x83[[:space:]]+0xec[[:space:]]+0x08' "x/4xb reads guest memory"
like "$out" '\$1 = 0x1234abcd' "a register write reads back"
like "$out" '\$2 = 5' "a memory write reads back"
like "$(tr '\n' ' ' <<<"$out")" 'Old value = 5 +New value = 6' "watch stops when the guest writes the variable"
like "$out" 'Breakpoint 3, .*timer_handler' "hbreak stops in the timer handler"
like "$out" 'exited with code 060' "continue to the end reports the guest's exit code"
like "$(cat "$dir/hello64.err")" 'session ended: disconnect' "hvwb returns when gdb goes away"

# 2. boot16 (real mode): i386 layout; detach leaves the VM paused.
serve boot16 "$S/boot16.bin"
out=$(timeout 60 gdb -batch -nx -ex "target remote 127.0.0.1:$PORT" -ex 'show architecture' \
	-ex 'info registers eip' -ex 'stepi' -ex 'info registers eip' -ex 'detach' 2>&1)
wait
like "$out" 'currently "?i386"?\)' "a real-mode guest gets the i386 description"
like "$out" 'eip +0x7c01' "stepi in real mode"
like "$(cat "$dir/boot16.err")" 'session ended: detach' "detach ends the session"

# 3. Malformed input, then valid packets still answered; interrupt; kill.
serve raw -e 'local vm = wb.vm{ name = "gdb", mem = "2M" }
assert(vm:load("'"$S"'/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
vm:write32(0xF0008, 0x7fffffff)'
out=$(timeout 60 python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
def pkt(p):
    return b"$" + p + b"#%02x" % (sum(p) & 255)
def until(marker):
    buf = b""
    while marker not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf
out = []
s.sendall(b"garbage\x00\xff}}##+++")
s.sendall(b"$?#00")                       # bad checksum: a nak
out.append(b"nak" if until(b"-") else b"no-nak")
s.sendall(b"$" + b"A" * (1 << 20) + b"#00")  # 1 MiB: an error reply
out.append(until(b"#a6"))
s.sendall(b"$unterminated" + pkt(b"qAttached"))   # a '$' restarts the packet
out.append(until(b"#31"))
s.sendall(pkt(b"X0,0:"))                  # binary write of nothing
out.append(until(b"#9a"))
s.sendall(pkt(b"m\x00\x00,4"))            # embedded NULs: an error
out.append(until(b"#"))
s.sendall(pkt(b"QStartNoAckMode"))
out.append(until(b"#9a"))
s.sendall(pkt(b"?"))
out.append(until(b"#"))
s.sendall(pkt(b"c"))
time.sleep(0.2)
s.sendall(b"\x03")
out.append(until(b"#"))
s.sendall(pkt(b"k"))
print(b" ".join(out).decode(errors="replace"))
PY
)
wait
like "$out" '^nak ' "a bad checksum gets a nak"
like "$out" '\$E01#a6.*\$1#31.*\$OK#9a.*\$E16#.*\$OK#9a.*\$T05thread:1;.*\$T02thread' \
	"oversized, unterminated and NUL packets get errors; ?, X, c and 0x03 still work"
like "$(cat "$dir/raw.err")" 'session ended: kill' "k ends the session as a kill"
done_testing
