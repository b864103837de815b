-- Debian's kernel boots to a busybox shell on the serial console, and a
-- command typed into the UART (vm:send) runs there: the whole path of a real
-- system, from the boot protocol to interrupts, paging, system calls and the
-- 16550's receive interrupts. Only where the accelerator runs every kernel
-- instruction: the soft CPU, or KVM with VT-x/AMD-V (KVM on a host without
-- them emulates ring 0 and lacks instructions: README, "Booting Linux").
local t = require "tap"
t.require_vm()
local p = io.popen("ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1")
local kernel = p:read("l"); p:close()
if not kernel then t.skip_all("no kernel in /boot (apt-get install linux-image-amd64)") end
local initrd = "samples/build/initramfs.cpio.gz"
if not io.open(initrd) then t.skip_all(initrd .. " is missing (make initramfs)") end
if t.host().ring0.int3 == "emulation-failure" then
  t.skip_all("KVM on this host emulates ring 0 and stops before the shell (README: Booting Linux)")
end
t.plan(4)

local vm = assert(wb.vm{ name = "shell", mem = "256M" })
local info = assert(vm:load_linux{ kernel = kernel, initrd = initrd,
  cmdline = "console=ttyS0 nokaslr rdinit=/init quiet" })
t.ok(info.initrd_size > 0, "the kernel and the busybox initramfs load")

-- Waits (serving the VM) until the serial output without escape sequences
-- matches pattern, or the time runs out.
local function wait_for(pattern, seconds)
  local deadline = os.time() + seconds
  while os.time() < deadline and vm.state == "running" do
    if vm:serial():gsub("\27%[[%d;]*%a", ""):find(pattern) then return true end
    wb.sleep(0.2)
  end
  return vm:serial():gsub("\27%[[%d;]*%a", ""):find(pattern) ~= nil
end

vm:start()
local prompt = wait_for("[#$] $", 600)
t.ok(prompt, "the shell's prompt appears on the serial console (" .. vm.state .. ")")
vm:send("echo hvwb-$((6 * 7)); uname -m\n")
t.ok(wait_for("hvwb%-42", 120), "a command typed through the UART runs: its output comes back")
t.ok(wait_for("x86_64", 30), "and the kernel says it runs on x86_64")
if vm.state == "running" then vm:pause() end
if not prompt then print("# last output: " .. vm:serial():sub(-400):gsub("\n", "\n# ")) end
vm:destroy()
