-- Issue 17's hardening of the debugger from Lua: writes at planted software
-- breakpoints, ids and sizes range-checked before they become C ints.
local t = require "tap"
t.require_vm()
t.plan(26)

-- A write at an address holding a planted int3 lands in the saved byte, so
-- the next stop does not put the old byte back.
local vm = assert(wb.vm{ name = "plantwrite", mem = "16M" })
assert(vm:load(t.samples .. "/loop.elf"))
local at = 0x100010          -- inside the multiboot header: never executed
local old = vm:read8(at)
vm:breakpoint(at, { soft = true })
vm:start()
vm:write(at, "B")
t.is(vm:read8(at), 0x42, "a read while the int3 is planted shows the new byte")
vm:pause()
t.is(vm:read8(at), 0x42, "the write survives the stop (the saved byte was updated)")
vm:write(at, string.char(old))

-- Ids and watch sizes are checked before they are truncated to int.
local b1 = vm:breakpoint(0x100020)
t.raises(function() vm:delete(2^32 + 1 | 0) end, "no breakpoint or watchpoint 4294967297",
  "vm:delete(2^32 + 1) is refused ...")
t.is(#vm:breakpoints(), 2, "... and does not delete breakpoint 1")
t.raises(function() vm:watch(0x100040, (2^32 + 4) | 0) end, "1, 2, 4 or 8 bytes",
  "vm:watch(addr, 2^32 + 4) is refused, not made a 4-byte watch")
t.is(#vm:breakpoints(), 2, "and no watchpoint was added")
vm:delete(b1)
vm:destroy()

-- Breakpoint conditions are judged by the engine where the stop happens, so
-- every way of running honours them, not only vm:run.
vm = assert(wb.vm{ name = "condwait", mem = "16M" })
assert(vm:load(t.samples .. "/hello64.elf"))
local ticks = vm:addr("timer_ticks")
local calls = 0
local cond = vm:breakpoint("timer_handler", function(v) calls = calls + 1; return v:read32(ticks) == 3 end)
vm:start()
local s = vm:wait{ timeout = 10 }
t.is(s.breakpoint, cond, "vm:start() + vm:wait() stops at the conditional breakpoint ...")
t.is(vm:read32(ticks), 3, "... only once its condition holds")
t.ok(calls >= 4, "the condition was asked at every hit (" .. calls .. ")")
vm:delete(cond)
local failing = vm:breakpoint("timer_handler", function() error("boom") end)
vm:start()
t.raises(function() vm:wait{ timeout = 10 } end, "the condition of breakpoint %d+ failed: .*boom",
  "an error in a condition reaches the caller of vm:wait")
t.is(vm.state, "paused", "and the stop stands")
vm:delete(failing)
local never = vm:breakpoint("timer_handler", function() return false end)
s = vm:run{ timeout = 0.5 }
t.ok(s.reason ~= "breakpoint", "a condition that never holds never stops the VM (" .. s.reason .. ")")
vm:destroy()

-- vm:step takes a timeout, and Ctrl-C ends it with a stop, as vm:run.
vm = assert(wb.vm{ name = "steptime", mem = "16M" })
assert(vm:load(t.samples .. "/loop.elf"))
s = vm:step(1000000000000, { timeout = 0.2 })
t.is(s.reason, "timeout", "vm:step(n, {timeout = s}) ends with a timeout stop")
t.ok(s.steps > 0 and vm.state == "paused", "having run some steps, the VM paused (" .. s.steps .. ")")
-- SIGINT to hvwb itself, as Ctrl-C in its terminal
os.execute([[p=$(cut -d' ' -f4 /proc/$$/stat); (sleep 0.1; kill -INT $p) &]])
local ok, st = pcall(vm.step, vm, 1000000000000)
t.ok(ok, "Ctrl-C during vm:step raises no error: " .. tostring(ok or st))
t.is(ok and st.reason, "interrupt", "it ends the step with an interrupt stop")
t.is(vm:step(1).reason, "step", "and the VM steps on afterwards")
vm:destroy()
-- An emulation failure's stop has the instruction's own bytes (not the
-- whole window the accelerator hands over), and its message shows the bytes
-- and the symbol. The soft CPU has no x87 arithmetic: fld1 fails there.
if t.accel() == "soft" then
  vm = assert(wb.vm{ name = "emufail", mem = "16M" })
  assert(vm:load(t.samples .. "/hello64.elf"))
  local k = vm:addr("kmain")
  vm:write(k, "\xd9\xe8" .. string.rep("\x90", 14))
  vm.rip = k
  s = vm:run{ timeout = 5 }
  t.is(s.bytes, "\xd9\xe8", "the stop's bytes are fld1's two")
  t.like(s.message, "`fld1` %(bytes d9 e8%) <kmain%+0x0>", "the message shows the bytes and the symbol")
  vm:destroy()
else
  t.skip(2, "needs an instruction this accelerator cannot emulate (the soft CPU's x87)")
end
-- Errors that name the real problem.
local dir = os.tmpname(); os.remove(dir); os.execute("mkdir " .. dir)
local v, msg = wb.load(dir)
t.like(msg, "is a directory", "wb.load(dir) says it is a directory (not \"No such device\")")
local sv = assert(wb.vm{ mem = "2M" })
local sok, smsg = sv:symbols(dir)
t.ok(sok == nil and smsg:find("is a directory"), "vm:symbols(dir) says it is a directory (not \"no symbols found\")")
sv:destroy()
os.execute("rmdir " .. dir)
vm = assert(wb.vm{ name = "errs", mem = "5G" })
t.raises(function() vm:load(t.samples .. "/halt.bin", { format = "raw", addr = -1 }) end,
  "addr 0xffffffffffffffff is outside the VM's RAM", "vm:load with addr = -1 blames the address, not the entry")
t.raises(function() vm:vread(0, 2^33 | 0) end, "length must be from 0 to 5368709120",
  "vm:vread's limit on a 5G VM is 5G (no int truncation)")
vm:destroy()
t.raises(function() wb.vm{ name = "a\0b" } end, "name must not contain a zero byte",
  "a name with a zero byte is refused, not cut")
-- A device registered from inside a device handler (the vCPU is in the
-- handler): the bus no longer holds its lock across the call, so no deadlock.
vm = assert(wb.vm{ name = "devreg", mem = "2M" })
assert(vm:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
vm:write32(0xF0008, 3)
local added, late = 0, 0
vm:device{ name = "first", ports = { 0x600, 1 }, write = function()
  added = added + 1
  if added == 1 then
    vm:device{ name = "late", ports = { 0x610, 1 }, write = function() late = late + 1 end }
  end
end }
s = vm:run{ timeout = 10 }
t.is(s.reason, "exit", "the guest ran to its end (no deadlock)")
t.is(added, 3, "and the handler that registered a device saw every write")
vm:destroy()
t.done()
