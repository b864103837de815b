-- "seg:off" addresses are hex in both parts, with or without 0x, as in every
-- debugger: "0000:7c00" is 0x7c00.
local t = require "tap"
t.require_vm()
t.plan(9)

local vm = assert(wb.vm{ name = "segoff", mem = "2M" })
assert(vm:load(t.samples .. "/boot16.bin"))
t.is(vm:translate("0000:7c00").pa, 0x7c00, "0000:7c00 is 0x7c00")
t.is(vm:translate("07c0:0010").pa, 0x7c10, "07c0:0010 is seg * 16 + off, both hex")
t.is(vm:translate("0x7c0:0x10").pa, 0x7c10, "0x7c0:0x10 still works")
t.is(vm:translate("f000:fff0").pa, 0xffff0, "f000:fff0 is the reset vector")
t.is(vm:translate("ds:7c00").pa, 0x7c00, "a register's offset is hex too")
t.raises(function() vm:translate("0000:zz") end, "offset after ':' must be a hex number", "a non-hex offset is refused")
t.raises(function() vm:translate("10000:0") end, "16%-bit", "a real-mode segment above ffff is refused")
local id = vm:breakpoint("0000:7c00")
t.is(vm:breakpoints()[1].addr, 0x7c00, "a breakpoint takes seg:off")
vm:delete(id)
t.like(vm:disasm("0000:7c00", 1), "^0x7c00 ", "disasm takes seg:off")
vm:destroy()
t.done()
