-- Lab: boot a real Linux kernel to a shell. Run with:
--   build/hvwb samples/labs/linux.lua [KERNEL] [SECONDS]
-- Debian's kernel (/boot/vmlinuz-*, `apt-get install linux-image-amd64`) with the
-- busybox initramfs of samples/mkinitramfs.sh (`make initramfs`; built here when
-- missing). The kernel's console is the serial port: everything it prints shows
-- up below as it comes. When a shell prompt appears, a few commands are typed
-- into it through the UART (vm:send), as a person at the console would.
--
-- On a host without hardware virtualization every ring-0 instruction of the
-- kernel is emulated by KVM, about a million a second, and that emulator lacks
-- some instructions. The lab hides the features behind them (cx16 with
-- vm:cpuid; xsave, smap, popcnt and the SIMD sets with the kernel's noxsave and
-- clearcpuid=, because PVM shows those whatever the VMM says) and reports how
-- far the kernel got and why it stopped. With VT-x or AMD-V it hides nothing.
local kernel = arg and arg[1] ~= "" and arg[1] or nil
local seconds = tonumber(arg and arg[2]) or 900
if not kernel then
  local p = io.popen("ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1")
  kernel = p:read("l"); p:close()
end
assert(kernel, "no kernel: apt-get install linux-image-amd64, or give its path")
local initrd = "samples/build/initramfs.cpio.gz"
-- What this kernel must not use where KVM's emulator lacks the instructions:
-- xsave/xrstor, clac/stac (smap), popcnt, and the SIMD code of its crypto
-- (blake2s for the random pool runs SSSE3 and ldmxcsr at boot). rodata=off skips
-- the check of every page table for W+X mappings, 8 emulated minutes here.
local WORKAROUNDS = "noxsave clearcpuid=smap,popcnt,ssse3,sse4_1,sse4_2,avx,avx2,avx512f," ..
  "pclmulqdq,aes,sha_ni rodata=off"
if not io.open(initrd) then assert(os.execute("samples/mkinitramfs.sh " .. initrd)) end

local cmdline = "console=ttyS0 earlyprintk=serial,ttyS0 nokaslr rdinit=/init"
local vm = assert(wb.vm{ name = "linux", mem = "512M" })
-- KVM on a host that emulates ring 0 shows itself by how it takes a ring-0
-- int3 (the soft CPU, or KVM with VT-x/AMD-V, runs everything).
local emulated = wb.host().accels[vm.accel].ring0.int3 == "emulation-failure"
if emulated then
  -- cmpxchg16b: hidden through CPUID. The others PVM shows whatever the VMM says
  -- (vm:cpuid().kept), so the kernel is told on its command line.
  local cpu = assert(vm:cpuid{ hide = { "cx16" } })
  cmdline = cmdline .. " " .. WORKAROUNDS
  print(("1. Ring 0 is emulated here: hidden through CPUID: %s; through the command line: %s")
    :format(table.concat(cpu.hidden, ", "), WORKAROUNDS))
else
  print(("1. Ring 0 runs on %s here, every instruction: no feature hidden"):format(vm.accel))
end
local info = assert(vm:load_linux{ kernel = kernel, initrd = initrd, cmdline = cmdline })
print(("2. %s: Linux %s, boot protocol %s, entered at its %s, %d symbols; initrd at 0x%x"):format(
  kernel, info.version, info.protocol, info.entered, info.symbols, info.initrd_addr))
print("3. Running; the serial console follows.\n")

local typed, seen = false, ""
vm:on("serial", function(_, bytes)
  io.write(bytes); io.stdout:flush()
  seen = (seen .. bytes):sub(-4096)
  -- busybox's line editor follows its prompt with a cursor-position query
  -- (ESC [6n): look at the text without escape sequences.
  if not typed and seen:gsub("\27%[[%d;]*%a", ""):find("[#$] $") then
    typed = true
    vm:send("uname -a; cat /proc/cpuinfo | grep -m1 'model name'; ls /\n")
  end
end)
-- Serial events are delivered while the script sleeps in wb.sleep, not during
-- a blocking vm:wait, so the lab sleeps in small steps while the kernel runs.
vm:start()
local waited = 0
while vm.state == "running" and waited < seconds do
  wb.sleep(0.25)
  waited = waited + 0.25
end
if vm.state == "running" then vm:pause() end
local stop = vm.stop
local lines = {}
for l in vm:serial():gmatch("[^\r\n]+") do lines[#lines + 1] = l end
print(("\n4. The VM stopped: %s after %.0f s of running"):format(stop.reason, vm:stats().run_time))
if stop.message then print("   " .. stop.message) end
print(("   where: %s (0x%x)"):format(vm:sym(vm.rip) or "?", vm.rip))
print(("   the kernel's last line: %s"):format(lines[#lines] or "(nothing)"))
print(typed and "   A shell prompt appeared and got commands." or
  "   No shell prompt: see README.md, 'Booting Linux', for why on hosts without VT-x.")
vm:destroy()
