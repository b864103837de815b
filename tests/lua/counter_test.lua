-- The counter guest writes port 0x600 exactly N times (N at 0xF0008, set by
-- us): every write is one I/O exit, counted once, no more, no less.
local t = require "tap"
t.require_vm()
t.plan(9)

local COUNT_ADDR, PORT = 0xF0008, 0x600

local function counter_vm(n)
  local vm = assert(wb.vm{ mem = "2M" })
  assert(vm:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
  vm:write32(COUNT_ADDR, n)
  return vm
end

for _, n in ipairs{ 0, 1, 12345 } do
  local vm = counter_vm(n)
  local s = vm:run{ timeout = 30 }
  t.is(s.code, 0, ("N=%d: counter exits with code 0"):format(n))
  t.is(vm:stats().ports[PORT] or 0, n, ("N=%d: exactly N writes to port 0x600 counted"):format(n))
  vm:destroy()
end

-- Port 0x600 has no device: every write is unclaimed, plus none elsewhere.
local vm = counter_vm(100)
vm:run{ timeout = 30 }
local st = vm:stats()
t.is(st.unclaimed, 100, "writes to a port no device claims are counted as unclaimed")
t.is(st.exits.io, 101, "I/O exits are the 100 writes plus the debug-exit write")
if t.accel() == "soft" then
  -- the reset jump, 5 set-up instructions, 4 per write, then mov and out: exactly.
  t.is(st.instructions, 1 + 5 + 4 * 100 + 2, "the soft CPU counts every instruction it retired")
else
  t.is(st.instructions, nil, t.accel() .. " does not count instructions: stats say nothing")
end
vm:destroy()
t.done()
