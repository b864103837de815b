# gdb's remote protocol: real gdb in batch mode against `hvwb --gdb`, and a
# small Python client sending malformed packets. Ports are picked by the
# kernel (port 0) and read from hvwb's "waiting for gdb" line, so nothing
# sleeps for a fixed time and two runs in parallel never collide.
. tests/sh/tap.sh
vm_usable || skip_all "no VM can be made here: $(vm_why)"
command -v gdb >/dev/null || skip_all "gdb not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 45
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

# 4. x87, SSE and control registers written from gdb take effect and read back
#    (a 10-byte st0 write used to overflow a uint64_t on the stack).
serve fpu "$S/hello64.elf"
out=$(timeout 60 gdb -batch -nx -ex "file $S/hello64.elf" -ex "target remote 127.0.0.1:$PORT" \
	-ex 'set $st0 = 1.5' -ex 'p $st0' -ex 'set $st7 = -2.25' -ex 'p $st7' \
	-ex 'set $fctrl = 0x27f' -ex 'p/x $fctrl' -ex 'set $fop = 0x123' -ex 'p/x $fop' \
	-ex 'set $fioff = 0x1234' -ex 'p/x $fioff' -ex 'set $mxcsr = 0x1fa0' -ex 'p/x $mxcsr' \
	-ex 'set $xmm3.v4_int32[2] = 77' -ex 'p $xmm3.v4_int32' \
	-ex 'set $eflags = 0' -ex 'p/x $eflags' -ex 'stepi' -ex 'p $st0' -ex 'p $xmm3.v4_int32' -ex 'p/x $mxcsr' -ex 'kill' 2>&1)
wait
# fpu_like N VALUE "what": gdb's $N is VALUE, on every accelerator (the FPU
# is written through XSAVE, which marks x87 and SSE in use and carries MXCSR).
fpu_like() { like "$out" "\\\$$1 = $2" "$3"; }
fpu_like 1 '1\.5' "set \$st0 = 1.5 reads back"
fpu_like 2 '-2\.25' "set \$st7 reads back"
fpu_like 3 0x27f "fctrl reads back"
fpu_like 4 0x123 "fop reads back"
fpu_like 5 0x1234 "fioff reads back"
fpu_like 6 0x1fa0 "mxcsr reads back"
fpu_like 7 '\{0, 0, 77, 0\}' "an xmm element reads back"
like "$out" 'Could not write register "eflags"; remote failure reply .E16' "eflags without its fixed bit 1 is refused"
val() { sed -n "s/^\\\$$1 = //p" <<<"$out"; }
is "$(val 9) | $(val 10) | $(val 11)" "$(val 1) | $(val 7) | $(val 6)" \
	"st0, xmm3 and mxcsr read the same after a step: what reads back is what the guest has"
unlike_asan() { ! grep -q 'AddressSanitizer\|runtime error' "$1"; }
ok $(unlike_asan "$dir/fpu.err"; echo $?) "no sanitizer report from the FPU session"

# 5. Raw packets: register writes (P, G), resume, vCont, z and memory lengths.
serve raw64 "$S/hello64.elf"
out=$(timeout 60 python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
buf = b""
def cmd(p):
    global buf
    s.sendall(b"$" + p + b"#%02x" % (sum(p) & 255))
    while True:
        i = buf.find(b"$")
        j = buf.find(b"#", i)
        if i >= 0 and j >= 0 and len(buf) >= j + 3:
            r, buf = buf[i + 1:j], buf[j + 3:]
            return r.decode(errors="replace")
        d = s.recv(65536)
        if not d:
            return "<closed>"
        buf += d
cmd(b"QStartNoAckMode")
res = {}
st = "0000000000000080ff3f"                       # 1.0 as an 80-bit value
res["P18"] = cmd(b"P18=" + st.encode())
res["p18"] = cmd(b"p18")
res["P20"] = cmd(b"P20=7f020000")
res["p20"] = cmd(b"p20")
res["P22"] = cmd(b"P22=fcff0000")                 # ftag: st0 valid (the others empty)
res["p22"] = cmd(b"p22")
res["Pfctrl_wide"] = cmd(b"P20=00000100")
res["P3a"] = cmd(b"P3a=801f0000")                 # mxcsr
res["Pmxcsr_bad"] = cmd(b"P3a=00000100")
g = cmd(b"g")
res["glen"] = str(len(g))
res["G_echo"] = cmd(b"G" + g.encode())
res["p18_after_G"] = cmd(b"p18")
res["G_short"] = cmd(b"G" + g[:-8].encode())
res["G_long"] = cmd(b"G" + g.encode() + b"00")
res["P11_nofixed"] = cmd(b"P11=00000000")
res["P11_reserved"] = cmd(b"P11=22000000")
res["P10_noncanon"] = cmd(b"P10=0000000000800000")
res["P28_noncanon"] = cmd(b"P28=0000000000800000")
res["P29_canon"] = cmd(b"P29=000000000080ffff")
res["c_noncanon"] = cmd(b"c800000000000")
res["s_noncanon"] = cmd(b"s800000000000")
res["cZZ"] = cmd(b"cZZ")
res["c12zz"] = cmd(b"c12zz")
res["C_bad"] = cmd(b"Cxx")
res["vCont_x"] = cmd(b"vCont;x")
res["vCont_t"] = cmd(b"vCont;t:1")
res["vCont_s2"] = cmd(b"vCont;s:2")
res["vCont_s1junk"] = cmd(b"vCont;s:1junk")
res["vCont_empty"] = cmd(b"vCont;")
res["z5"] = cmd(b"z5,100000,1")
res["z9"] = cmd(b"z9,0,0")
res["Z5"] = cmd(b"Z5,100000,1")
res["Z3"] = cmd(b"Z3,100000,1")
res["M_huge"] = cmd(b"M0,8000000000000000:")
res["M_big"] = cmd(b"M0,ffffffff:00")
res["X_huge"] = cmd(b"X0,ffffffffffffffff:")
res["m_huge"] = str(len(cmd(b"m100000,ffffffffffffffff")))
res["rip_before"] = cmd(b"p10")
res["vCont_s1"] = cmd(b"vCont;s:1;c")
res["rip_after"] = cmd(b"p10")
s.sendall(b"$k#6b")
print(" ".join("%s=%s" % kv for kv in res.items()))
PY
)
wait
echo "# $out" | cut -c1-400
like "$out" "P18=OK p18=0000000000000080ff3f " "P18 with a 10-byte st0 is taken and reads back"
like "$out" "P20=OK p20=7f020000 " "P20 (fctrl) is taken and reads back"
like "$out" "P22=OK p22=fcff0000 " "ftag is taken and reads back"
like "$out" 'Pfctrl_wide=E16 P3a=OK Pmxcsr_bad=E16 ' "fctrl wider than 16 bits and reserved mxcsr bits are refused"
like "$out" "G_echo=OK p18_after_G=0000000000000080ff3f " \
	"G with what g returned is taken (it used to crash)"
like "$out" 'G_short=E16 G_long=E16 ' "G with fewer or more bytes than the register block is refused"
like "$out" 'P11_nofixed=E16 P11_reserved=E16 P10_noncanon=E16 P28_noncanon=E16 P29_canon=OK ' \
	"eflags, rip and fs_base writes get the register checks"
like "$out" 'c_noncanon=E16 s_noncanon=E16 cZZ=E16 c12zz=E16 C_bad=E16 ' \
	"c/s/C with a non-canonical or malformed address are refused"
like "$out" 'vCont_x=E16 vCont_t=E16 vCont_s2=E16 vCont_s1junk=E16 vCont_empty=E16 ' \
	"vCont with unknown actions, t, unknown threads or junk is refused"
like "$out" 'z5=E16 z9=E16 Z5=E16 Z3= ' "z/Z of unknown types are refused (Z3 is unsupported: empty)"
like "$out" 'M_huge=E16 M_big=E16 X_huge=E16 m_huge=16384 ' "m/M/X lengths are checked before use"
like "$out" 'rip_before=0000100000000000 vCont_s1=T05thread:1;.* rip_after=0100100000000000' \
	"vCont;s:1;c steps vCPU 0"
ok $(unlike_asan "$dir/raw64.err"; echo $?) "no sanitizer report from the raw session"
like "$(cat "$dir/raw64.err")" 'session ended: kill' "the raw session survives to its kill"

# 6. Two running vCPUs (samples/smp32.S: the AP counts in a real-mode loop at
#    linear 0x8009): vCont;s:2 and Hc2 + s step thread 2 alone; thread 1 stays.
serve smp -e 'local vm = wb.vm{ name = "smp", mem = "4M", vcpus = 2 }
assert(vm:load("'"$S"'/smp32.elf"))
local bp = vm:breakpoint("bsp_idle")
assert(vm:run{ timeout = 30 }.breakpoint == bp, "the AP did not start")
vm:delete(bp)'
out=$(timeout 60 python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
buf = b""
def cmd(p):
    global buf
    s.sendall(b"$" + p + b"#%02x" % (sum(p) & 255))
    while True:
        i = buf.find(b"$")
        j = buf.find(b"#", i)
        if i >= 0 and j >= 0 and len(buf) >= j + 3:
            r, buf = buf[i + 1:j], buf[j + 3:]
            return r.decode(errors="replace")
        d = s.recv(65536)
        if not d:
            return "<closed>"
        buf += d
def eip(thread):
    cmd(b"Hg%d" % thread)
    return int.from_bytes(bytes.fromhex(cmd(b"p8")), "little")
cmd(b"QStartNoAckMode")
out = [cmd(b"qfThreadInfo")]
bsp, ap = eip(1), eip(2)
out.append(cmd(b"vCont;s:2")[:12])
ap1 = eip(2)
out.append(cmd(b"Hc2"))
out.append(cmd(b"s")[:12])
ap2 = eip(2)
out += ["ap:%x,%x,%x" % (ap, ap1, ap2), "bsp_moved:%s" % (eip(1) != bsp)]
out += [cmd(b"vCont;s:3"), cmd(b"vCont;s:1")[:12]]
s.sendall(b"$k#6b")
print(" ".join(out))
PY
)
wait
echo "# $out"
like "$out" '^m1,2 T05thread:2; OK T05thread:2; ' "vCont;s:2 and Hc2 + s step thread 2"
like "$out" ' ap:(9,e,14|e,14,c|14,c,9|c,9,e) bsp_moved:False ' \
	"thread 2 walks its loop (call, lock incl, ret, jmp) while thread 1 stays"
like "$out" ' E16 T05thread:1;$' "vCont;s:3 names no thread; s:1 steps thread 1"
# 7. A breakpoint condition set from Lua is judged where the stop happens:
#    gdb's continue stops only once it holds (issue 17).
serve cond -e 'local vm = wb.vm{ name = "cond", mem = "16M" }
assert(vm:load("'"$S"'/hello64.elf"))
local ticks = vm:addr("timer_ticks")
vm:breakpoint("timer_handler", function(v) return v:read32(ticks) == 3 end)'
out=$(timeout 60 gdb -batch -nx -ex "file $S/hello64.elf" -ex "target remote 127.0.0.1:$PORT" \
	-ex 'continue' -ex 'p timer_ticks' -ex 'kill' 2>&1)
wait
like "$out" '\$1 = 3' "gdb's continue honours a Lua breakpoint condition"
done_testing
