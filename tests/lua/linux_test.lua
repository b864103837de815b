-- Booting Debian's kernel (linux-image-amd64): load the bzImage, stop at
-- start_kernel, step, read linux_banner through the guest's page tables, and run
-- until the serial console shows the kernel's "Linux version" line. Then the ways
-- load_linux and cpuid refuse bad input. Every run is bounded by a timeout; on a
-- host without VT-x the kernel's ring-0 code is emulated, so this takes seconds.
local t = require "tap"
t.require_vm()

local function newest_kernel()
  local p = io.popen("ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1")
  local k = p:read("l"); p:close()
  return k
end
local kernel = newest_kernel()
if not kernel then
  t.skip_all("Debian's kernel is not installed and could not be installed " ..
             "(scripts/linux-kernel.sh: apt-get install linux-image-amd64)")
end
t.plan(39)

-- start_kernel as System.map says, when /boot has a real one (Debian ships a
-- placeholder: the real map is in the -dbg package).
local function sysmap_addr(name)
  local f = io.open((kernel:gsub("vmlinuz", "System.map")))
  if not f then return nil end
  for line in f:lines() do
    local a, n = line:match("^(%x+) %a (%S+)$")
    if n == name then f:close(); return tonumber(a, 16) end
  end
  f:close()
end

local CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0 nokaslr"
local f
local vm = assert(wb.vm{ name = "linux", mem = "256M" })
local c = vm:cpuid{ hide = { "cx16" } }
t.is(c.features.cx16, false, "vm:cpuid{hide={'cx16'}} takes cmpxchg16b away from the guest")
local info, err = vm:load_linux{ kernel = kernel, cmdline = CMDLINE }
t.ok(info, "load_linux takes Debian's bzImage " .. kernel .. (err and (": " .. err) or ""))
info = info or {}
t.ok((tonumber(info.protocol) or 0) >= 2.06, "its boot protocol is 2.06 or later (" .. tostring(info.protocol) .. ")")
t.is(info.entered, "vmlinux", "the vmlinux is taken out of the xz payload on the host")
t.ok((info.symbols or 0) > 10000, "the kernel's symbols are loaded (" .. tostring(info.symbols) .. ")")
t.is(vm.rip, 0x1000000, "vCPU 0 starts at startup_64's physical address")
t.is(table.concat(vm:cpuid().hidden, ","), "cx16", "the hidden features stay hidden across load_linux")
t.is(vm.rsi, 0x7000, "RSI points at the zero page")
t.is(vm:read32(0x7000 + 0x202), 0x53726448, "the zero page holds the kernel's setup header (HdrS)")
t.is(vm:read8(0x7000 + 0x210), 0xff, "type_of_loader is 0xff")
t.is(vm:read(vm:read32(0x7000 + 0x228), #CMDLINE), CMDLINE, "cmd_line_ptr points at the command line")

local sk = vm:addr("start_kernel")
local from_map = sysmap_addr("start_kernel")
if from_map then
  t.is(sk, from_map, "start_kernel is where System.map says")
else
  t.ok(sk >= 0xffffffff81000000, "start_kernel (from the kernel's kallsyms: /boot's System.map is " ..
       "Debian's placeholder) is a kernel text address")
end
local id = vm:breakpoint("start_kernel")
local s = vm:run{ timeout = 300 }
t.is(s.reason, "breakpoint", "the kernel reaches the breakpoint on start_kernel")
t.is(vm.rip, sk, "RIP is start_kernel's address")
t.is(vm:sym(vm.rip), "start_kernel", "vm:sym names it")
t.ok(vm.cr3 ~= 0x1000, "the kernel runs on its own page tables by then")

s = vm:step(3)
t.is(s.reason, "step", "three steps stop as step")
t.is(s.steps, 3, "and ran three instructions")
t.like(vm:sym(vm.rip) or "", "^start_kernel", "still inside start_kernel")

local banner = vm:vread(vm:addr("linux_banner"), 64)
t.like(banner, "^Linux version ", "linux_banner, read at its virtual address, begins with 'Linux version'")
t.like(banner, info.version and info.version:gsub("%p", "%%%0") or "", "and names the kernel's version")

vm:delete(id)
vm:start()
local deadline, out = 300 / 0.1, ""
for _ = 1, deadline do
  out = vm:serial()
  if out:find("Command line:[^\n]*\n") or vm.state ~= "running" then break end
  wb.sleep(0.1)
end
if vm.state == "running" then vm:pause() end
t.like(out, "Linux version %d", "the serial console shows the kernel's 'Linux version' line")
t.like(out, "Command line: " .. CMDLINE:gsub("%p", "%%%0"), "and the command line we gave")
vm:destroy()

-- Where ring 0 is emulated (PVM), the kernel soon needs cmpxchg16b, which the
-- emulator lacks: the stop must name the instruction and the feature to hide.
if t.host().ring0.int3 == "emulation-failure" then
  vm = assert(wb.vm{ mem = "256M" })
  assert(vm:load_linux{ kernel = kernel })
  s = vm:run{ timeout = 300 }
  t.is(s.reason, "crash", "without hiding anything the kernel stops on this host")
  t.like(s.message or "", 'cmpxchg16b.*feature cx16.*vm:cpuid{hide = {"cx16"}}',
         "the stop names cmpxchg16b and says to hide cx16")
  vm:destroy()
else
  t.skip(2, t.accel() .. " runs cmpxchg16b here (hardware virtualization or the soft CPU): only KVM on a host that emulates ring 0 stops on it")
end

-- symbols = a System.map: those symbols instead of the kernel's own.
local map = os.tmpname()
f = assert(io.open(map, "w"))
f:write("ffffffff81000000 T my_startup\nffffffff81000100 t my_helper\n"); f:close()
vm = assert(wb.vm{ mem = "256M" })
info = assert(vm:load_linux{ kernel = kernel, symbols = map })
t.ok(info.symbols == 2 and vm:addr("my_helper") == 0xffffffff81000100,
     "symbols = a System.map loads that map (" .. tostring(info.symbols) .. " symbols)")
os.remove(map); vm:destroy()
-- Debian's /boot/System.map-* is a one-line placeholder: said, and the
-- kernel's own symbols used instead.
f = assert(io.open(map, "w"))
f:write("ffffffffffffffff B The real System.map is in the linux-image-6.1-dbg package\n"); f:close()
vm = assert(wb.vm{ mem = "256M" })
info = assert(vm:load_linux{ kernel = kernel, symbols = map })
t.ok((info.symbols_note or ""):find("placeholder") and vm:addr("start_kernel") ~= nil,
     "a placeholder System.map is reported and start_kernel still resolves: " .. tostring(info.symbols_note))
os.remove(map); vm:destroy()

-- The other way in: the bzImage's own decompressor at its 64-bit entry.
vm = assert(wb.vm{ mem = "256M" })
info = assert(vm:load_linux{ kernel = kernel, how = "bzimage" })
t.is(info.entered, "bzimage", "how = 'bzimage' enters the kernel's decompressor")
t.ok(vm.rip == 0x1000200 and vm.cs == 0x10 and vm.ds == 0x18,
     "at pref_address + 0x200 with __BOOT_CS 0x10 and __BOOT_DS 0x18")
vm:destroy()

-- Bad input: nil and a message, nothing loaded; wrong types raise.
vm = assert(wb.vm{ mem = "64M" })
local ok, msg = vm:load_linux{ kernel = kernel, initrd = "/nonexistent/initrd" }
t.ok(not ok and msg:find("nonexistent"), "a missing initrd is refused: " .. tostring(msg))
ok, msg = vm:load_linux{ kernel = kernel, cmdline = ("x"):rep(5000) }
t.ok(not ok and msg:find("command line"), "a command line longer than cmdline_size is refused: " .. tostring(msg))
local small = assert(wb.vm{ mem = "16M" })
ok, msg = small:load_linux{ kernel = kernel }
t.ok(not ok and msg:find("RAM"), "a VM too small for the kernel says so: " .. tostring(msg))
local big = os.tmpname()
f = assert(io.open(big, "wb")); f:write(("\0"):rep(24 << 20)); f:close()
local mid = assert(wb.vm{ mem = "96M" })
ok, msg = mid:load_linux{ kernel = kernel, initrd = big }
t.ok(not ok and msg:find("initrd .* does not fit"), "an initrd too big for the RAM above the kernel is refused: " .. tostring(msg))
os.remove(big); mid:destroy()
local trunc = os.tmpname()
f = assert(io.open(kernel, "rb")); local bytes = f:read(4096); f:close()
f = assert(io.open(trunc, "wb")); f:write(bytes); f:close()
ok, msg = vm:load_linux{ kernel = trunc }
t.ok(not ok and msg:find("truncated"), "a truncated bzImage is refused: " .. tostring(msg))
os.remove(trunc)
t.raises(function() vm:load_linux{ kernel = 42 } end, "kernel must be a string", "kernel = 42 raises")
t.raises(function() vm:load_linux{ kernel = kernel, how = "magic" } end, "invalid option", "an unknown how raises")
t.raises(function() vm:cpuid{ hide = { "warp_drive" } } end, "known features are .*cx16",
         "an unknown feature name raises and lists the known ones")
assert(vm:load(t.samples .. "/boot16.bin"))
local ran = vm:run{ timeout = 0.05 }
-- popcnt: shown by KVM and by the soft CPU alike, so hiding it is a change.
ok, msg = vm:cpuid{ hide = { "cx16", "popcnt" } }
t.ok(not ok and msg:find("already run"), "CPUID cannot change once the VM ran: " .. tostring(msg) .. " (" .. tostring(ran) .. ")")
vm:destroy(); small:destroy()

-- The command line: --kernel makes the VM `linux` and loads the kernel into it.
local hvwb = os.getenv("HVWB") or "build/hvwb"
local p = io.popen(("%s --no-startup --kernel %s --hide cx16 -e %q 2>&1"):format(hvwb, kernel,
  "print(linux.name, linux.rip, linux:cpuid().features.cx16, linux:read(linux:addr('linux_banner') - 0xffffffff80000000, 13))"))
local cli = p:read("a"); p:close()
t.like(cli, "linux\t16777216\tfalse\tLinux version", "hvwb --kernel K --hide cx16 gives a loaded VM `linux`")
t.done()
