-- One register check in the engine (vm_check_regs/vm_check_sregs) for every
-- way of setting registers: the Lua fields, vm:setcpu and the gdb stub. It
-- refuses what a CPU would not hold, naming the register and the bits, and a
-- value the accelerator drops is reported rather than silently lost.
local t = require "tap"
t.require_vm()
t.plan(17)

local vm = assert(wb.vm{ name = "regcheck", mem = "16M" })
assert(vm:load(t.samples .. "/hello64.elf"))   -- long mode
local before = vm:cpu()

t.raises(function() vm.rflags = -1 end, "rflags 0x%x+: bits 63%.%.22, 15, 5, 3 must be 0",
  "vm.rflags = -1 is refused, naming the reserved bits")
t.raises(function() vm.efer = -1 end, "efer 0x%x+: bits 63%.%.16, 9, 7%.%.1 must be 0",
  "vm.efer = -1 is refused")
t.raises(function() vm.cr8 = 16 end, "cr8 0x10: bit 4 must be 0", "vm.cr8 = 16 is refused")
t.raises(function() vm.cr0 = -1 end, "cr0 0x%x+: bits 63%.%.32, 28%.%.19, 17, 15%.%.6 must be 0",
  "vm.cr0 = -1 names the reserved bits")
t.raises(function() vm:setcpu{ cr4 = 0x80000000 } end, "cr4 0x80000000: bit 31 must be 0",
  "vm:setcpu{cr4 = 0x80000000} is refused")
t.raises(function() vm:setcpu{ efer = 0x100 } end, "efer 0x100: LMA %(bit 10%) must be 1",
  "vm:setcpu{efer = LME only} in long mode is refused (it would read 0x500)")
t.raises(function() vm:setcpu{ fs = { base = 0x0000800000000000 } } end,
  "fs.base 0x800000000000 is not a canonical address", "a non-canonical fs.base is refused")
t.raises(function() vm:setcpu{ ss = { dpl = 3 } } end, "ss.dpl 3 must equal cs.dpl 0",
  "ss.dpl 3 at CPL 0 is refused")
t.raises(function() vm.rip = 0x0000800000000000 end, "not a canonical address", "a non-canonical rip is refused")
local after = vm:cpu()
t.ok(after.rflags == before.rflags and after.efer == before.efer and after.cr0 == before.cr0 and
  after.cr4 == before.cr4 and after.fs.base == before.fs.base and after.ss.dpl == before.ss.dpl,
  "refused writes change nothing")
vm.rflags = 0x202
t.is(vm.rflags, 0x202, "a good rflags is taken")
vm.cr8 = 3
t.is(vm:cpu().cr8, 3, "cr8 up to 15 is taken")
local stop = vm:run{ timeout = 5 }
t.ok(stop.reason ~= "crash", "the VM still runs after the refused writes: " .. stop.reason)
vm:destroy()

-- 32-bit protected mode: rip has 32 bits.
vm = assert(wb.vm{ name = "regcheck32", mem = "16M" })
assert(vm:load(t.samples .. "/mb32.elf"))
t.raises(function() vm.rip = 0x100000000 end, "rip 0x100000000 does not fit the 32%-bit instruction pointer",
  "vm.rip = 0x100000000 is refused in 32-bit mode")
t.raises(function() vm:setcpu{ rip = 0x100000000 } end, "does not fit", "and through vm:setcpu")
t.ok(vm:setcpu{ rip = 0xfffffff0 }, "a 32-bit rip is taken")
t.raises(function() vm:setcpu{ cr0 = 0x80000000 } end, "PG %(bit 31%) needs PE", "PG without PE is refused")
vm:destroy()
t.done()
