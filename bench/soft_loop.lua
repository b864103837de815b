-- soft_loop.lua: hvwb's side of the soft CPU's compute benchmark (bench/soft.sh). Runs
-- samples/build/loop.elf (32-bit multiboot, `inc; cmp; jne` N times, then the debug-exit
-- with 0x60) on the soft accelerator and prints guest instructions per second over the
-- time the VM ran (vm:stats().run_time), so process start and VM set-up stay out; soft.sh
-- times the whole process from outside as well.
-- Usage: build/hvwb --no-startup bench/soft_loop.lua N [loop.elf]
local TAG_ADDR, COUNT_ADDR, EXIT_LOOP = 0x10000c, 0x100014, 0x60

local n = math.tointeger(tonumber(arg[1] or ""))
if not n or n < 0 or n > 0xffffffff then
  error("usage: soft_loop.lua N [loop.elf]  (N: loop iterations, 0..2^32-1)")
end
local image = arg[2] or "samples/build/loop.elf"

local vm = assert(wb.vm{ mem = "2M", accel = "soft" })
assert(vm.accel == "soft", "the VM did not get the soft accelerator: " .. tostring(vm.accel))
assert(vm:load(image))
assert(vm:read(TAG_ADDR, 8) == "hvwbloop", image .. " is not the loop guest (no tag at 0x10000c)")
vm:write32(COUNT_ADDR, n)
local stop = vm:run{ timeout = 600 }
if stop.reason ~= "exit" or stop.code ~= EXIT_LOOP then
  error(("loop guest did not exit cleanly: %s %s %s"):format(stop.reason, tostring(stop.code),
    stop.message or ""))
end
-- EAX counted to N, then `mov $0x60, %al` replaced its low byte.
local want = (n & 0xffffff00) | EXIT_LOOP
if vm.rax & 0xffffffff ~= want then
  error(("EAX is 0x%x, expected 0x%x: the loop did not run N times"):format(vm.rax, want))
end
-- Instructions: cli, mov, xor, test, jz, then 3 per iteration, then mov, out (a jz
-- taken at N = 0 skips the loop).
local insns = 5 + 3 * n + 2
local st = vm:stats()
local rate = st.run_time > 0 and insns / st.run_time or 0
print(("hvwb soft loop: accel=%s N=%d insns=%d run_time=%.6f s rate=%.0f insns/s")
  :format(vm.accel, n, insns, st.run_time, rate))
vm:destroy()
