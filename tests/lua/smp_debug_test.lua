-- Debugging a guest with two running vCPUs (samples/smp32.S): the BSP starts
-- the AP with INIT and SIPI; the AP counts at 0x9000 in a four-instruction
-- real-mode loop: at linear 0x8009 `call ap_count`, `jmp` back; ap_count
-- (0x800e) does `lock incl` and `ret`.
local t = require "tap"
t.require_vm()
t.plan(25)

local AP_LOOP, AFTER_CALL, AP_COUNT, COUNTER = 0x8009, 0x800c, 0x800e, 0x9000
local vm = assert(wb.vm{ name = "smp", mem = "4M", vcpus = 2 })
assert(vm:load(t.samples .. "/smp32.elf"))
local function count() return vm:read32(COUNTER) end

-- An AP the guest has not started has nothing to step.
t.raises(function() vm:step(1, { vcpu = 1 }) end, "vCPU 1 has not been started",
  "stepping an AP that waits for its start-up IPI is refused with the reason")
t.raises(function() vm:step(1, { vcpu = 2 }) end, "vcpu must be an integer from 0",
  "a vCPU the VM does not have is refused")

vm:start()
t.raises(function() vm:step(1, { vcpu = 1 }) end, "is running: pause it first",
  "a step while the VM runs is refused before any vCPU is asked")
t.is(vm.state, "running", "and the VM runs on")
vm:pause()
local bsp_idle = vm:breakpoint("bsp_idle")
local s = vm:run{ timeout = 30 }
t.is(s.breakpoint, bsp_idle, "the BSP reaches bsp_idle once the AP runs")
t.like(vm:serial(), "ap: running", "the AP was started by the guest")
vm:delete(bsp_idle)

-- vm:step{vcpu = 1} steps the AP alone.
local bsp_rip, c0 = vm:regs(0).rip, count()
local rips, counts = {}, {}
for i = 1, 8 do
  s = vm:step(1, { vcpu = 1 })
  rips[i] = vm:regs(1).rip
  counts[i] = count() - c0
end
t.is(s.vcpu, 1, "the stop names the stepped vCPU")
t.is(s.kind or s.reason, "step", "and is a step")
local distinct, ndistinct = {}, 0
for i = 1, 4 do
  if not distinct[rips[i]] then distinct[rips[i]], ndistinct = true, ndistinct + 1 end
end
t.ok(ndistinct == 4 and rips[1] == rips[5] and rips[2] == rips[6] and rips[3] == rips[7] and rips[4] == rips[8],
  "the AP's RIP walks its four-instruction loop one step at a time (" .. table.concat(rips, ",") .. ")")
t.is(counts[8] - counts[4], 1, "one pass of the loop adds exactly one to the counter")
t.is(vm:regs(0).rip, bsp_rip, "the BSP did not move while the AP stepped")
s = vm:step(5, { vcpu = 1 })
t.is(s.steps, 5, "vm:step(n, {vcpu = 1}) runs n instructions of the AP")

-- A breakpoint the AP hits: the next run steps the AP off it (it used to stop
-- again at once, without the AP moving, because only vCPU 0 stepped off).
local bp = vm:breakpoint(AP_LOOP)
local deltas, who = {}, {}
for i = 1, 3 do
  local before = count()
  s = vm:run{ timeout = 10 }
  deltas[i], who[i] = count() - before, s.vcpu
end
t.is(table.concat(who, ","), "1,1,1", "the AP's hits are reported on vCPU 1")
t.is(deltas[2] .. "," .. deltas[3], "1,1",
  "each run from the breakpoint goes round the loop once before the next hit")

-- Conditions are judged inside one vm:step(n) too.
local calls = 0
vm:delete(bp)
s = vm:step(1, { vcpu = 1 })                      -- off the loop head
while vm:regs(1).rip + 0x8000 ~= AP_LOOP do s = vm:step(1, { vcpu = 1 }) end
local c1 = count()
bp = vm:breakpoint(AP_LOOP, function() calls = calls + 1; return false end)
s = vm:step(30, { vcpu = 1 })
t.is(s.kind or s.reason, "step", "a condition that says no does not end vm:step(30)")
t.is(s.steps, 30, "... which runs all 30 instructions")
t.is(count() - c1, 8, "... eight increments (one each 4 instructions, the first at the second)")
t.is(calls, 7, "... and asks the condition at each of the seven hits after the first instruction")
vm:delete(bp)
local target = count() + 3
bp = vm:breakpoint(AP_LOOP, function(v) return v:read32(COUNTER) == target end)
s = vm:step(100, { vcpu = 1 })
t.ok(s.reason == "breakpoint" and s.breakpoint == bp and count() == target and s.steps < 100,
  "a condition that holds ends vm:step(n) at the breakpoint (" .. s.reason .. ", " .. s.steps .. " steps)")
vm:delete(bp)

-- next and finish on vCPU 1: over the call, and out of ap_count.
while vm:regs(1).rip + 0x8000 ~= AP_LOOP do vm:step(1, { vcpu = 1 }) end
local c2 = count()
s = vm:next{ vcpu = 1 }
t.is(s.kind or s.reason, "step", "vm:next{vcpu = 1} at the call is one step ...")
t.is(vm:regs(1).rip + 0x8000, AFTER_CALL, "... that lands after the call")
t.is(count() - c2, 1, "... having run ap_count once")
vm:step(2, { vcpu = 1 })                           -- jmp, call: into ap_count
t.is(vm:regs(1).rip + 0x8000, AP_COUNT, "two steps later vCPU 1 is in ap_count")
s = vm:finish{ vcpu = 1 }
t.ok(vm:regs(1).rip + 0x8000 == AFTER_CALL and s.vcpu == 1,
  "vm:finish{vcpu = 1} returns to the caller (" .. s.reason .. ")")
t.raises(function() vm:next{ vcpu = 7 } end, "vcpu must be an integer from 0",
  "vm:next with a vCPU the VM does not have is refused")
vm:destroy()
t.done()
