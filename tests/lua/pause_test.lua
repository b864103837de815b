-- A VM running in the background can be paused, inspected and resumed, and
-- finishes exactly as if it had never been interrupted.
local t = require "tap"
t.require_vm()
t.plan(12)

-- More writes than any accelerator makes in the 0.2 s below; once paused, the
-- rest is cut short so the test ends soon on any host.
local N = 100000000
local vm = assert(wb.vm{ name = "pausable", mem = "2M" })
assert(vm:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
vm:write32(0xF0008, N)

t.is(vm.state, "created", "a loaded VM is created")
vm:start()
t.is(vm.state, "running", "start() runs it in the background")
wb.sleep(0.2)
vm:pause()
t.is(vm.state, "paused", "pause() parks it")
local done = vm:stats().ports[0x600] or 0
t.ok(done > 0 and done < N, ("paused mid-way (%d of %d writes done)"):format(done, N))
t.ok(vm.rip >= 0 and vm.rip < 0x10000, "registers can be read while paused")
wb.sleep(0.1)
t.is(vm:stats().ports[0x600], done, "no exits while paused")
vm:resume()
t.is(vm.state, "running", "resume() runs it again")
vm:pause()
local rest = 1000
require("guest").counter_cut(vm, rest)
local expected = vm:stats().ports[0x600] + rest
vm:resume()
local s = vm:wait{ timeout = 60 }
t.is(s.code, 0, "it ends normally")
t.is(vm:stats().ports[0x600], expected, "every write happened exactly once across the pause")
t.raises(function() vm:resume() end, "exited", "an exited VM cannot be resumed")
vm:destroy()

-- Pausing at once after starting, before a vCPU has even entered the guest,
-- must settle every time (it once waited forever).
local quick = assert(wb.vm{ mem = "2M" })
assert(quick:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
quick:write32(0xF0008, 100000000)
local settled = 0
for _ = 1, 300 do
  quick:start()
  quick:pause()
  if quick.state == "paused" then settled = settled + 1 end
end
t.is(settled, 300, "start() then pause() at once settles as paused, 300 times out of 300")
local s2 = quick:run{ timeout = 0 }
t.is(s2.reason, "timeout", "run with a zero timeout stops at once as timeout")
quick:destroy()
t.done()
