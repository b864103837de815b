-- Issue 17's hardening of the debugger from Lua: writes at planted software
-- breakpoints, ids and sizes range-checked before they become C ints.
local t = require "tap"
t.require_vm()
t.plan(6)

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
t.done()
