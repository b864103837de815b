-- A Lua device only gets accesses that can reach it: not guest RAM, not the
-- ports and pages of the interrupt controllers and timers (the accelerator
-- emulates those itself), and asking for those is refused with the reason.
-- vm:pause() inside a handler does not crash the VM: the VM pauses once the
-- access has completed.
local t = require "tap"
t.require_vm()
t.plan(14)

local vm = assert(wb.vm{ name = "devrules", mem = "16M" })
local function refused(range, pattern, name)
  t.raises(function() vm:device(range) end, pattern, name)
end
refused({ mmio = { 0x100000, 0x1000 } }, "bad argument #1 to 'vm:device' %(mmio = {0x100000, 0x1000} overlaps guest RAM %(0x0..0xffffff%)",
  "MMIO over guest RAM is refused")
refused({ mmio = { 0xfff000, 0x2000 } }, "overlaps guest RAM", "MMIO across the end of RAM is refused")
refused({ ports = { 0x20, 1 } }, "ports 0x20..0x21 belong to the master PIC", "the PIC's ports are refused")
refused({ ports = { 0x40, 4 } }, "ports 0x40..0x43 belong to the PIT", "the PIT's ports are refused")
refused({ ports = { 0x60, 4 } }, "0x61 belong to the PIT's port B", "port 0x61 is refused")
refused({ mmio = { 0xfee00000, 0x1000 } }, "mmio 0xfee00000..0xfee00fff belongs to the local APIC", "the LAPIC page is refused")
refused({ mmio = { 0xfec00000, 0x1000 } }, "belongs to the IOAPIC", "the IOAPIC is refused")
t.ok(pcall(vm.device, vm, { mmio = { 0x1000000, 0x1000 } }), "MMIO right above RAM is accepted")
t.ok(pcall(vm.device, vm, { ports = { 0x22, 2 } }), "ports next to the PIC are accepted")
vm:destroy()

-- vm:pause() inside a handler: the access completes, then the VM pauses.
vm = assert(wb.vm{ name = "devpause", mem = "4M" })
assert(vm:load(t.samples .. "/devtest.elf"))
local writes = 0
vm:device{ ports = { 0x500, 4 }, read = function() return 0 end,
  write = function() writes = writes + 1; if writes == 1 then vm:pause() end end }
local s = vm:run{ timeout = 20 }
t.is(s.reason, "pause", "vm:pause() in a handler pauses the VM (" .. tostring(s) .. ")")
t.is(vm.state, "paused", "it is paused, not crashed")
t.ok(writes >= 1 and writes < 6, ("it paused part-way (%d of 6 writes to 0x500)"):format(writes))
s = vm:run{ timeout = 20 }
t.is(s.code, 0x40, "and runs on to its end when resumed")
t.is(writes, 6, "every write reached the device once")
vm:destroy()
t.done()
