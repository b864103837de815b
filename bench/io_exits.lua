-- io_exits.lua: hvwb's side of the port-I/O exit benchmark. Runs the counter guest with
-- N writes to port 0x600 and prints the exit rate over the time the VM spent running
-- (vm:stats().run_time, the engine's own clock), so process start and VM set-up are left
-- out; bench/run.sh times the whole process from outside for the wall-clock figure.
-- Usage: build/hvwb --no-startup bench/io_exits.lua N [counter.bin]
-- (on the accelerator of --accel / HVWB_ACCEL; bench/soft.sh runs it with --accel soft)
local COUNT_ADDR, PORT = 0xF0008, 0x600

local n = math.tointeger(tonumber(arg[1] or ""))
if not n or n < 0 or n > 0xffffffff then
  error("usage: io_exits.lua N [counter.bin]  (N: number of port writes, 0..2^32-1)")
end
local image = arg[2] or "samples/build/counter.bin"

local vm = assert(wb.vm{ mem = "2M" })
assert(vm:load(image, { addr = 0xF0000, entry = 0xFFFF0 }))
vm:write32(COUNT_ADDR, n)
local stop = vm:run{ timeout = 120 }
if stop.reason ~= "exit" or stop.code ~= 0 then
  error(("counter guest did not exit cleanly: %s %s"):format(stop.reason, stop.message or ""))
end

local st = vm:stats()
local seen = st.ports[PORT] or 0
if seen ~= n then
  error(("expected %d writes to port 0x600, counted %d"):format(n, seen))
end
local rate = st.run_time > 0 and n / st.run_time or 0
print(("hvwb: accel=%s N=%d io_exits=%d run_time=%.6f s guest_time=%.6f s handle_time=%.6f s rate=%.0f exits/s")
  :format(vm.accel, n, st.exits.io, st.run_time, st.guest_time or 0, st.handle_time or 0, rate))
vm:destroy()
