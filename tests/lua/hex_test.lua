-- Addresses stay Lua integers (so a kernel address is negative), but wherever
-- hvwb prints one it is in hex.
local t = require "tap"
t.require_vm()
t.plan(6)

local vm = assert(wb.vm{ name = "hex", mem = "2M" })
local map = os.tmpname()
local f = assert(io.open(map, "w"))
f:write("ffffffff81000000 T start_kernel\nffffffff81000100 T rest_init\n")
f:close()
t.is(vm:symbols(map), 2, "a System.map with kernel addresses loads")
os.remove(map)
local a = vm:addr("start_kernel")
t.ok(math.type(a) == "integer" and a < 0, "a kernel address is a (negative) integer")
t.is(("%x"):format(a), "ffffffff81000000", "and %x prints it as the address")
vm:breakpoint("rest_init+0x10", { soft = true })
t.is(tostring(vm:breakpoints()[1]), "1: software at 0xffffffff81000110 <rest_init+0x10>, enabled, 0 hits",
  "a breakpoint prints its address in hex, with its symbol")
t.raises(function() vm.rip = 0x0000800000000000 end, "rip 0x800000000000 does not fit",
  "a RIP too wide for the mode is quoted in hex")
vm.rip = 0x7c00
t.like(tostring(vm:cpu()), "rip +0000000000007c00", "print(vm:cpu()) shows registers in hex")
vm:destroy()
t.done()
