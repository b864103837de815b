-- Inspection of real guests: page-table walks (the engine's tables and ones
-- this test builds), virtual memory, hexdump, disassembly with symbols,
-- symbol tables, MSRs, FPU/SSE state, the register view and what changed.
local t = require "tap"
t.require_vm()
t.plan(105)

local vm = assert(wb.vm{ name = "inspect", mem = "16M" })

-- ---- hello64: long mode, the engine's identity map of 2 MiB pages ----
assert(vm:load(t.samples .. "/hello64.elf"))
local w = vm:translate(0x100000)
t.ok(w.mapped, "0x100000 is mapped in hello64")
t.is(w.pa, 0x100000, "identity mapping")
t.is(w.mode, "4-level", "4-level paging")
t.is(#w.levels, 3, "the walk has three levels (2 MiB page)")
t.is(w.levels[1].name .. " " .. w.levels[2].name .. " " .. w.levels[3].name, "PML4 PDPT PD",
  "PML4, PDPT, PD")
t.ok(w.levels[3].ps and w.levels[3].leaf, "PS is set on the PD entry")
t.ok(not w.levels[1].ps, "not on the PML4 entry")
t.is(w.levels[1].table, vm.cr3 & ~0xfff, "the PML4 is where CR3 points")
t.is(w.page_size, 2 << 20, "2 MiB page")
t.like(tostring(w), "PD%s+0x%x+%s+%d+%s+0x0*83%s+P RW PS", "tostring prints the walk as a table")
t.like(tostring(w), "=> physical 0x100000", "and the result")
w = vm:translate(0x800000000000)
t.ok(not w.mapped, "non-canonical address is not mapped")
t.like(w.reason, "canonical", "and the reason says why")

t.is(vm:sym(vm:addr("kmain") + 0x10), "kmain+0x10", "vm:sym gives name+0xoff")
t.is(vm:sym(vm:addr("kmain")), "kmain", "vm:sym at a symbol is its name")
t.is(vm:addr("_start"), 0x100000, "vm:addr finds _start at the entry")
t.ok(vm:addr("kmain") >= 0x100000 and vm:addr("kmain") < 0x110000, "kmain is in the loaded image")
local none, msg = vm:addr("no_such_symbol")
t.is(none, nil, "vm:addr of an unknown name is nil")
t.like(msg, "no symbol", "with a message")
t.is(vm:sym(0x10), nil, "no symbol below the image")

local text = vm:disasm("kmain", 4)
t.like(text, "^0x%x+ <kmain%+0>", "the first line is named kmain+0")
t.like(text, ("call 0x%x <serial_puts>"):format(vm:addr("serial_puts")), "a call names its target")
local list = vm:disasm(vm:addr("kmain"), 4, { table = true })
t.is(#list, 4, "table form gives 4 instructions")
local calls = 0
for _, i in ipairs(list) do if i.is_call then calls = calls + 1 end end
t.ok(calls >= 1, "a call is marked is_call")
t.is(list[2].addr, list[1].addr + list[1].len, "instructions follow one another")
t.is(vm:disasm(0x100000, 1), "0x100000 <_start+0>  fa                       cli\n", "the exact line layout")

t.is(vm:msr(0x1b), 0xfee00900, "IA32_APIC_BASE of the BSP")
t.ok(vm:msr(0xc0000102, 0x123456789a), "writing KERNEL_GS_BASE")
t.is(vm:msr(0xc0000102), 0x123456789a, "reads back")
local nv, nmsg = vm:msr(0xdeadbeef)
t.ok(nv == nil and nmsg:find("MSR 0xdeadbeef"), "an unknown MSR is nil, message")

local d = vm:dump(0x100000, 20)
t.like(d, "^00100000  fa fc", "hexdump address and first bytes")
t.like(d, "|%.%.H", "with the ASCII column")
local lines = select(2, d:gsub("\n", ""))
t.is(lines, 2, "20 bytes make 2 lines")

vm:cpu()   -- the view the next vm:cpu() compares with
local s = vm:run{ timeout = 20 }
t.is(s and s.code, 0x30, "hello64 ran to its exit")
local f = vm:fpu()
t.is(f.fcw, 0x37f, "FCW after FNINIT-like state")
t.is(f.mxcsr, 0x1f80, "MXCSR default")
t.like(f.xmm0, "^0x" .. ("%x"):rep(32) .. "$", "xmm0 as 32 hex digits")
t.like(f.st0, "^0x" .. ("%x"):rep(20) .. "$", "st0 as 20 hex digits")
local c = vm:cpu()
t.is(c.mode, "long 64-bit", "vm:cpu() mode")
t.ok(c.cs.l and c.cs.present and c.cs.dpl == 0, "CS descriptor decoded: L, present, DPL 0")
t.ok(c.gdtr.limit > 0, "GDTR limit")
t.is(type(c.dr7), "number", "DR7 present")
t.ok(c.xcr0 & 1 == 1, "XCR0 has x87")
t.is(c.rflags_names:find("ZF") ~= nil, c.rflags & 0x40 ~= 0, "rflags_names has ZF exactly when RFLAGS.ZF is set")
t.ok(c.changed.rip, "rip changed since the load")

-- ---- page tables built by hand: PML4 0x200000, PDPT 0x201000, PD 0x202000, PT 0x203000 ----
local P, RW, US, PS, NX = 1, 2, 4, 0x80, 1 << 63
vm:write(0x200000, ("\0"):rep(0x4000))
local V = 0x7f0000000000                              -- PML4 index 254
vm:write64(0x200000 + 254 * 8, 0x201000 | P | RW | US)
vm:write64(0x201000 + 0 * 8, 0x202000 | P | RW | US)
vm:write64(0x201000 + 1 * 8, 0x0 | P | RW | PS)       -- 1 GiB page at 0
vm:write64(0x202000 + 0 * 8, 0x203000 | P | RW | US)
vm:write64(0x202000 + 1 * 8, 0x400000 | P | RW | PS)  -- 2 MiB page at 4 MiB
vm:write64(0x203000 + 0 * 8, 0x300000 | P | RW | US | NX)
vm:write64(0x203000 + 1 * 8, 0x305000 | P | US)       -- read-only, not contiguous
vm.cr3 = 0x200000
w = vm:translate(V + 0x123)
t.is(w.pa, 0x300123, "own tables: 4 KiB page")
t.is(#w.levels, 4, "four levels")
t.is(w.levels[4].name, "PT", "the last is the PT")
t.ok(w.levels[4].nx and w.levels[4].flags:find("NX"), "NX decoded on the PT entry")
t.is(w.levels[1].index, 254, "PML4 index 254")
w = vm:translate(V + 0x1010)
t.ok(w.mapped and not w.writable and w.user, "read-only user page")
w = vm:translate(V + (2 << 20) + 0x4567)
t.is(w.pa, 0x404567, "2 MiB page")
t.is(w.page_size, 2 << 20, "2 MiB page size")
w = vm:translate(V + (1 << 30) + 0x1234)
t.is(w.pa, 0x1234, "1 GiB page")
t.is(#w.levels, 2, "walk ends at the PDPT")
w = vm:translate(V + 0x2000)
t.ok(not w.mapped, "PT entry 2 is not present")
t.is(w.failed, "PT", "the walk fails at the PT")
t.ok(w.levels[4].failed, "that level is marked failed")
t.like(tostring(w), "stops here", "tostring shows where it stops")
t.is(vm:translate(0x100000).failed, "PML4", "the old identity map is gone: fails at the PML4")

vm:write(0x300ffc, "abcd")
vm:write(0x305000, "efgh")
t.is(vm:vread(V + 0xffc, 8), "abcdefgh", "vread across a page boundary")
t.ok(vm:vwrite(V + 0xffe, "XYZW"), "vwrite across a page boundary")
t.is(vm:read(0x300ffe, 2) .. vm:read(0x305000, 2), "XYZW", "landed on both frames")
local r, e = vm:vread(V + 0x1ffc, 8)
t.ok(r == nil and e:find("not mapped"), "vread into an unmapped page fails: " .. tostring(e))
vm:write(0x305ffc, "1234")
t.is(vm:vwrite(V + 0x1ffc, "abcdefgh"), nil, "vwrite into an unmapped page fails")
t.is(vm:read(0x305ffc, 4), "1234", "and writes nothing")
t.like(vm:dump(V + 0xffc, 8, { virtual = true }), "^00007f0000000ffc  61 62 58 59 5a 57 67 68 ", "virtual dump")

-- ---- boot16: real mode disassembly, symbols from a separate ELF, changed registers ----
assert(vm:load(t.samples .. "/boot16.bin"))
t.ok(vm:symbols(t.samples .. "/obj/boot16.elf") > 0, "vm:symbols adds an ELF's symbols")
text = vm:disasm(0x7c00, 3)
t.like(text, "^0x7c00 <_start%+0>  fa%s+cli\n", "boot16 starts with cli")
t.like(text, "xor ax, ax", "16-bit code: xor ax, ax")
t.like(text, "mov ds, ax", "then mov ds, ax")
t.is(vm:addr("main"), 0x7c12, "ELF symbols of the boot sector")
t.is(vm:dump(0x7c00, 18), "00007c00  fa 31 c0 8e d8 8e c0 8e  d0 bc 00 7c fc ea 12 7c  |.1.........|...||\n" ..
  "00007c10  00 00" .. (" "):rep(45) .. "|..|\n", "the classic hexdump layout")
t.like(vm:disasm(0x7c15, 1), "call 0x7c37 <puts16>", "a 16-bit call names its target")
t.is(vm:translate("0x7c0:0x10").pa, 0x7c10, "seg:off arithmetic in real mode")

local map = os.tmpname()
local fh = assert(io.open(map, "w"))
fh:write("ffffffff81000000 T _text\nffffffff81000100 T start_kernel\n")
fh:close()
t.is(vm:symbols(map), 2, "vm:symbols reads a System.map")
os.remove(map)
t.is(vm:sym(0xffffffff81000110), "start_kernel+0x10", "System.map symbols resolve")

-- Part-way: a jmp $ planted at main stops the guest there; then the real code runs to the end.
vm:cpu()                                             -- the view at load time
local orig = vm:read(0x7c12, 2)
vm:write(0x7c12, "\xeb\xfe")
for _ = 1, 50 do   -- a loaded machine may need more than one slice to get there
  s = vm:run{ timeout = 0.1 }
  if vm.rip == 0x7c12 then break end
end
t.is(vm.rip, 0x7c12, "stopped at the planted loop")
c = vm:cpu()
t.ok(c.changed.rsp and c.changed.rip, "part-way: rsp and rip changed since the load")
vm:write(0x7c12, orig)
s = vm:run{ timeout = 10 }
t.is(s.code, 0x10, "boot16 ran to its exit")
c = vm:cpu()
t.ok(c.changed.rip and c.changed.rsi and c.changed.rax, "to the end: rip, rsi, rax changed")
t.ok(not c.changed.rsp and not c.changed.rbx, "rsp came back after the call, rbx untouched")

t.like(tostring(c), "rip%s+0000000000007c%x%x%*", "the text view marks rip as changed")
t.like(tostring(c), "rbx%s+0000000000000000 ", "and leaves rbx unmarked")

-- ---- setting registers with validation ----
t.is(vm:setcpu{ rax = 5, ds = { selector = 0x10, base = 0x100 }, dr7 = 0x401,
  gdtr = { base = 0x500, limit = 0x17 } }, true, "vm:setcpu sets several registers")
c = vm:cpu()
t.ok(c.rax == 5 and c.ds.selector == 0x10 and c.ds.base == 0x100 and c.ds.limit == 0xffff,
  "a segment is changed field by field")
t.ok(c.dr7 & 0x401 == 0x401 and c.gdtr.base == 0x500 and c.gdtr.limit == 0x17, "DR7 and GDTR set")
t.raises(function() vm:setcpu{ rax = 7, rflags = 0 } end, "bit 1 must be 1", "reserved RFLAGS bits")
t.is(vm:cpu().rax, 5, "a refused vm:setcpu changes nothing")
t.raises(function() vm:setcpu{ cr0 = 0x80000000 } end, "cr0 0x80000000: PG %(bit 31%) needs PE", "paging without protection")
t.raises(function() vm:setcpu{ cs = { dpl = 4 } } end, "dpl must be from 0 to 0x3", "DPL range")
t.raises(function() vm:setcpu{ cs = { l = true, db = true } } end, "L and DB", "L with DB")
t.raises(function() vm:setcpu{ efer = 1 << 20 } end, "efer 0x100000: bit 20 must be 0", "unknown EFER bit")
t.raises(function() vm:setcpu{ rip = 1 << 40 } end, "rip 0x10000000000 does not fit the 32%-bit instruction pointer of real mode", "rip range")
t.raises(function() vm:setcpu{ dr7 = 1 << 40 } end, "DR6 and DR7", "DR7 is 32 bits")
t.raises(function() vm:setcpu{ foo = 1 } end, "no register 'foo'", "unknown register")

-- ---- wrong arguments ----
t.raises(function() vm:translate("no_such_symbol") end, "no symbol", "unknown symbol as an address")
t.raises(function() vm:translate(0x1000, 7) end, "vCPU", "bad vCPU")
t.raises(function() vm:disasm(0x7c00, 0) end, "count", "zero instructions")
t.raises(function() vm:disasm(0x7c00, 1, { bits = 8 }) end, "16, 32 or 64", "bad bits option")
t.raises(function() vm:dump(0, -1) end, "length", "negative dump length")
t.raises(function() vm:msr(-1) end, "MSR number", "negative MSR")
t.raises(function() vm:vread({}, 1) end, "address", "table as an address")
t.is(vm:symbols("/nonexistent/System.map"), nil, "missing symbol file: nil, message")
vm:destroy()
t.raises(function() vm:cpu() end, "destroyed", "destroyed VM")
t.done()
