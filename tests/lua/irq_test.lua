-- vm:irq: a script drives an interrupt line as a device model does, and the
-- guest takes the interrupt through its own PIC set-up and vector table.
local t = require "tap"
t.require_vm()
t.plan(4)

-- Real mode at 0x7c00: remap the PIC to vectors 8-15 with only IRQ4 unmasked,
-- point vector 0x0c at a handler that writes 0x77 to the debug-exit port, then
-- wait with `sti; hlt` in a loop.
local code = table.concat{
  "\xfa", "\x31\xc0", "\x8e\xd8",               -- cli; xor ax, ax; mov ds, ax
  "\xc7\x06\x30\x00\x29\x7c",                   -- mov word [0x30], 0x7c29 (handler)
  "\xc7\x06\x32\x00\x00\x00",                   -- mov word [0x32], 0
  "\xb0\x11\xe6\x20", "\xb0\x08\xe6\x21",       -- ICW1, ICW2: vectors from 8
  "\xb0\x04\xe6\x21", "\xb0\x01\xe6\x21",       -- ICW3, ICW4
  "\xb0\xef\xe6\x21",                           -- OCW1: only IRQ4
  "\xfb", "\xf4", "\xeb\xfc",                   -- sti; hlt; jmp back to sti
  "\xb0\x77\xe6\xf4", "\xf4",                   -- handler: exit 0x77
}
local path = os.tmpname()
local f = assert(io.open(path, "wb")); f:write(code); f:close()
local vm = assert(wb.vm{ mem = "2M" })
assert(vm:load(path, { format = "raw" }))
os.remove(path)
vm:start()
wb.sleep(0.2)
t.is(vm.state, "running", "the guest waits in sti; hlt")
vm:irq(4, 1); vm:irq(4, 0)
local s = vm:wait{ timeout = 10 }
t.is(s.code, 0x77, "an edge on GSI 4 from vm:irq runs its handler (" .. tostring(s) .. ")")
t.raises(function() vm:irq(24, 1) end, "GSI must be from 0 to 23", "a GSI out of range is refused")
t.raises(function() vm:irq(4, 2) end, "level must be 0, 1", "a level other than 0/1/false/true is refused")
vm:destroy()
