-- vm:setcpu checks a segment selector as the CPU checks a segment load: in
-- protected mode it must point inside the GDT to a present descriptor of the
-- right kind, and a selector alone loads that descriptor; in real mode a
-- selector alone sets the base to selector * 16.
local t = require "tap"
t.require_vm()
t.plan(14)

local vm = assert(wb.vm{ name = "setcpu", mem = "16M" })
assert(vm:load(t.samples .. "/mb32.elf"))   -- protected mode; GDT: null, code 0x08, data 0x10
local c = vm:cpu()
t.is(c.gdtr.limit, 0x17, "mb32's GDT has three entries")
t.raises(function() vm:setcpu{ ds = { selector = 0x99 } } end,
  "vm:setcpu: ds selector 0x99 is outside the GDT %(limit 0x17: entries 0 to 2%)", "a selector outside the GDT is refused")
t.raises(function() vm:setcpu{ cs = { selector = 0x10 } } end,
  "cs selector 0x10: the descriptor there is a data segment; cs needs a code segment", "cs on a data segment is refused")
t.raises(function() vm:setcpu{ ss = { selector = 0x08 } } end,
  "ss needs a writable data segment", "ss on a code segment is refused")
t.raises(function() vm:setcpu{ cs = { selector = 0 } } end, "cs cannot hold the null selector", "a null cs is refused")
t.raises(function() vm:setcpu{ ds = { selector = 0x0c } } end, "there is no LDT", "an LDT selector without an LDT is refused")
t.raises(function() vm:setcpu{ ds = { selector = 0x99, base = 0 } } end, "outside the GDT",
  "the selector is checked even with descriptor fields")
t.is(vm:cpu().ds.selector, 0x10, "a refused vm:setcpu changes nothing")

-- A selector alone loads its descriptor, as mov ds, ax would.
vm:write64(0x510, 0x00cf92001000ffff)   -- entry 2 becomes data, base 0x1000, not yet accessed
t.ok(vm:setcpu{ ds = { selector = 0x10 } }, "a good selector is accepted")
c = vm:cpu()
t.ok(c.ds.base == 0x1000 and c.ds.limit == 0xffffffff and c.ds.type == 3 and c.ds.db and c.ds.g,
  "and its descriptor is loaded (base, limit, type with accessed, DB, G)")
t.ok(vm:setcpu{ es = { selector = 0 } } and vm:cpu().es.unusable, "a null data selector makes the segment unusable")
t.ok(vm:setcpu{ fs = { selector = 0x10, base = 0x2000 } } and vm:cpu().fs.base == 0x2000,
  "fields given with the selector override the descriptor")
vm:destroy()

-- Real mode: the base follows the selector.
vm = assert(wb.vm{ name = "setcpu16", mem = "2M" })
assert(vm:load(t.samples .. "/boot16.bin"))
t.ok(vm:setcpu{ ds = { selector = 0x7c0 } }, "real mode takes any selector")
t.is(vm:cpu().ds.base, 0x7c00, "and sets the base to selector * 16")
vm:destroy()
t.done()
