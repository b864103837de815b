-- Several VMs at once: eight run in the background side by side, each with its
-- own memory, devices and serial output; a triple-faulting guest crashes only
-- its own VM while another keeps running.
local t = require "tap"
t.require_vm()
t.plan(16)

local files = { "boot16.bin", "hello64.elf", "mb32.elf", "echo.bin" }
local expect = { ["boot16.bin"] = 0x10, ["hello64.elf"] = 0x30, ["mb32.elf"] = 0x20, ["echo.bin"] = 0x50 }
local vms = {}
for i = 1, 8 do
  local file = files[(i - 1) % #files + 1]
  local vm = assert(wb.vm{ name = "multi" .. i, mem = "16M" })
  assert(vm:load(t.samples .. "/" .. file, { cmdline = "vm number " .. i }))
  if file == "echo.bin" then vm:send("from " .. i .. "\n") end
  vm:start()
  vms[i] = { vm = vm, file = file }
end
t.is(#wb.vms(), 8, "wb.vms() lists all eight")
local all_ok = true
for i, e in ipairs(vms) do
  local s = e.vm:wait{ timeout = 60 }
  if s.code ~= expect[e.file] then all_ok = false; print("# " .. i .. " " .. tostring(s)) end
end
t.ok(all_ok, "all eight VMs ran to their own exit codes")
t.like(vms[3].vm:serial(), "cmdline: vm number 3\n", "each multiboot VM got its own command line")
t.like(vms[7].vm:serial(), "cmdline: vm number 7\n", "... including the seventh")
t.is(vms[4].vm:serial(), "echo> from 4\r\n", "each echo VM read its own input")
t.is(vms[8].vm:serial(), "echo> from 8\r\n", "... including the eighth")
for _, e in ipairs(vms) do e.vm:destroy() end
t.is(#wb.vms(), 0, "destroyed VMs leave the list")

-- A guest that triple-faults (samples/triple.S: empty IDT, divide by zero).
local runner = assert(wb.vm{ name = "survivor", mem = "2M" })
assert(runner:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
runner:write32(0xF0008, 100000000)   -- more than any accelerator writes meanwhile
runner:start()
local doomed = assert(wb.vm{ name = "doomed", mem = "2M" })
assert(doomed:load(t.samples .. "/triple.bin"))
local s = doomed:run{ timeout = 10 }
t.is(s.reason, "crash", "the triple-faulting VM stops as crash")
t.like(s.message, "triple fault", "the reason names the triple fault")
t.is(doomed.state, "crashed", "its state is crashed")
t.is(runner.state, "running", "the other VM is still running")
t.raises(function() doomed:run() end, "crashed", "a crashed VM refuses to run until reloaded")
-- An instruction this host's emulator may not run: the stop names it and says why.
local path = os.tmpname()
local f = assert(io.open(path, "wb")); f:write("\x48\x0f\xc7\x0e\xf4"); f:close() -- cmpxchg16b [rsi]
local odd = assert(wb.vm{ mem = "2M" })
assert(odd:load(path, { addr = 0x10000, mode = 64 }))
os.remove(path)
local os_ = odd:run{ timeout = 10 }
if os_.reason == "crash" then
  t.is(os_.bytes:sub(1, 4), "\x48\x0f\xc7\x0e", "an emulation failure keeps the instruction's bytes")
  t.is(os_.instruction, "cmpxchg16b xmmword ptr [rsi]", "and their disassembly")
  t.like(os_.message, "emulator", "and says which host limitation it likely is")
else
  t.skip(3, t.accel() .. " runs cmpxchg16b here (hardware virtualization or the soft CPU): no emulation failure to explain")
end
runner:pause()
require("guest").counter_cut(runner, 1000)
runner:resume()
local rs = runner:wait{ timeout = 60 }
t.is(rs.code, 0, "the other VM finished its work")
t.done()
