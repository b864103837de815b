-- A guest's own int3 and fwait in ring 0. Where KVM's emulator cannot run them
-- (hosts without VT-x, see engine/fallback.c) hvwb completes them itself; a
-- host with VT-x runs them natively. Either way the guest must see what a real
-- CPU does: fwait with no x87 exception pending does nothing and takes one
-- byte, and int3 raises #BP with the return address just past it.
local t = require "tap"
t.require_vm()
t.plan(4)

local EXIT_EXCEPTION = 0x3e  -- samples/machine.h: hello64's exception handler exits with it
local CODE = 0x200000        -- free RAM inside hello64's identity-mapped 2 MiB pages

local vm = assert(wb.vm{ mem = "16M" })
assert(vm:load(t.samples .. "/hello64.elf"))
-- Stop once the guest has its IDT (idt_init has run), then put `fwait; int3` at CODE.
vm:breakpoint("pic_init")
t.is(vm:run{ timeout = 10 }.reason, "breakpoint", "hello64 stops at pic_init, its IDT installed")
vm:delete(1)
vm:write(CODE, "\x9b\xcc")
vm.rip = CODE
local s = vm:run{ timeout = 10 }
t.is(s.reason, "exit", "fwait then int3 ends in the guest's exception handler, not a crash: " .. tostring(s))
t.is(s.code, EXIT_EXCEPTION, "which exits with its own code")
t.like(vm:serial(), ("exception: vector 3 error 0x0 rip 0x%x\n"):format(CODE + 2),
  "#BP (vector 3) arrives with RIP after the int3, so fwait took exactly its one byte")
vm:destroy()
