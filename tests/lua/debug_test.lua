-- Stepping, breakpoints and watchpoints on real guests, with exact counts.
local t = require "tap"
t.require_vm()
t.plan(43)

local function counter(n)
  local vm = assert(wb.vm{ mem = "2M" })
  assert(vm:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
  vm:write32(0xF0008, n)
  return vm
end

-- The counter with N = 5 executes: ljmp, 5 set-up instructions, 4 per
-- iteration (mov, out, dec, jnz), then mov al and the final out: 27
-- instructions before the debug-exit write.
local vm = counter(5)
local s = vm:step()
t.is(s.reason, "step", "one step stops as step")
t.is(vm.cs * 16 + vm.rip, 0xF0010, "the reset vector's far jump took us to start (F000:0010)")
s = vm:step(26)
t.is(s.reason, "step", "26 more steps stop as step")
t.is(s.steps, 26, "the stop says how many instructions ran")
t.is(vm:stats().ports[0x600], 5, "each out to port 0x600 ran exactly once: I/O instructions are counted once")
t.is(vm:read8(vm.cs * 16 + vm.rip), 0xe6, "RIP is at the final `out 0xf4, al`")
s = vm:step()
t.is(s.reason, "exit", "the 28th instruction is the debug-exit write")
t.is(s.code, 0, "with exit code 0")
vm:destroy()

-- step(n) lands where n single steps land.
local a, b = counter(3), counter(3)
a:step(13)
for _ = 1, 13 do b:step() end
t.is(a.rip, b.rip, "step(13) and 13 x step(1) reach the same RIP")
t.is(a.rcx, b.rcx, "... with the same registers")
a:destroy(); b:destroy()

-- Breakpoints by symbol, with hit counts, conditions, software breakpoints.
local hello = t.samples .. "/hello64.elf"
vm = assert(wb.vm{ mem = "16M" })
assert(vm:load(hello))
local kmain = vm:addr("kmain")
local id = vm:breakpoint("kmain")
s = vm:run{ timeout = 10 }
t.is(s.reason, "breakpoint", "a breakpoint on a symbol stops the VM")
t.is(s.breakpoint, id, "the stop names the breakpoint")
t.is(vm.rip, kmain, "RIP is the symbol's address")
t.is(vm.state, "paused", "the VM is paused at a breakpoint")
local list = vm:breakpoints()
t.is(#list == 1 and list[1].symbol, "kmain", "vm:breakpoints() lists it with its symbol")
t.is(list[1].hits, 1, "and one hit")
vm:delete(id)

local ticks = vm:addr("timer_ticks")
local cond = vm:breakpoint("timer_handler", function(v) return v:read32(ticks) == 3 end)
s = vm:run{ timeout = 10 }
t.is(s.breakpoint, cond, "a conditional breakpoint stops ...")
t.is(vm:read32(ticks), 3, "... only when its Lua condition holds")
vm:delete(cond)

local w = vm:watch("timer_ticks", 4, "w")
s = vm:run{ timeout = 10 }
t.is(s.reason, "watch", "a watchpoint stops the VM when the value is written")
t.is(s.address, ticks, "it reports the address")
t.is(s.old .. " -> " .. s.new, "3 -> 4", "and the old and new values")
if t.host().ring0.hw_watch then
  t.skip(1, "this host has data breakpoints: the writing instruction is not known")
else
  t.like(s.pc and vm:sym(s.pc) or "", "^timer_handler%+", "and the instruction that wrote")
end
s = vm:run{ timeout = 10 }
t.is(s.old .. " -> " .. s.new, "4 -> 5", "the next write is reported from the new value")
vm:delete(w)
s = vm:run{ timeout = 10 }
t.is(s.code, 0x30, "after the debugging the guest runs to its normal end")
t.is(vm:serial(), "Hello from long mode!\ntimer: 10 ticks\n", "and prints as it would have")
vm:destroy()

vm = assert(wb.vm{ mem = "16M" })
assert(vm:load(hello))
local orig = vm:read8(kmain)
vm:breakpoint("kmain", { soft = true })
s = vm:run{ timeout = 10 }
t.is(s.reason == "breakpoint" and vm.rip, kmain, "a software breakpoint stops at its address")
t.is(vm:read8(kmain), orig, "reading guest memory never shows the planted int3")
s = vm:run{ timeout = 10 }
t.is(s.code, 0x30, "continuing from a software breakpoint runs the guest to its end")
vm:destroy()

-- finish runs to the caller; next steps over calls.
vm = assert(wb.vm{ mem = "16M" })
assert(vm:load(hello))
id = vm:breakpoint("idt_init"); s = vm:run{ timeout = 10 }; vm:delete(id)
t.is(vm:sym(vm.rip), "idt_init", "at idt_init")
t.is(s.symbol, "idt_init", "the breakpoint stop names the symbol it stopped at")
local listing = vm:disasm(vm.rip, 1)
t.ok(s.instruction and listing:find(s.instruction, 1, true), "and the instruction there: " .. tostring(s.instruction))
s = vm:step()
t.is(s.symbol, vm:sym(vm.rip), "a step's stop names where it landed: " .. tostring(s.symbol))
t.like(tostring(s), "^step: stepped 1 instruction; at 0x%x+ <idt_init%+0x%x+>: ", "and prints it: " .. tostring(s))
s = vm:finish()
t.is(s.reason, "step", "finish() stops as a step")
t.like(vm:sym(vm.rip), "^kmain%+", "finish() returns to the caller, kmain")
local inside = true
for _ = 1, 8 do
  s = vm:next()
  inside = inside and s.reason == "step" and vm:sym(vm.rip):find("^kmain%+") ~= nil
end
t.ok(inside, "eight next() calls in kmain never leave it (calls are stepped over)")
local a = vm:breakpoint("timer_handler"); vm:delete(a)
vm:next(); vm:next()
local b = vm:breakpoint("timer_handler"); vm:delete(b)
t.is(b, a + 1, "breakpoint ids stay consecutive across next() (its temporary ones count apart)")
s = vm:run{ timeout = 10 }
t.is(s.code, 0x30, "and the guest still runs to its end")
vm:destroy()

-- Interrupts while stepping: held by default, taken with {interrupts = true};
-- either way the guest goes on as if nobody had stepped it.
vm = assert(wb.vm{ mem = "16M" })
assert(vm:load(hello))
id = vm:breakpoint("timer_handler"); vm:run{ timeout = 10 }; vm:delete(id)
for _ = 1, 100 do vm:step(1, { interrupts = true }); if vm:sym(vm.rip):find("^kmain") then break end end
local left = false
for _ = 1, 200 do vm:step(); if not vm:sym(vm.rip):find("^kmain") then left = true break end end
t.ok(not left, "200 steps with interrupts held stay in kmain's wait loop")
local entered
for _ = 1, 200 do
  vm:step(1, { interrupts = true })
  if not vm:sym(vm.rip):find("^kmain") then entered = vm:sym(vm.rip) break end
end
t.like(entered or "", "^isr_timer", "with {interrupts = true} a step enters the timer interrupt")
s = vm:run{ timeout = 10 }
t.is(s.code, 0x30, "after stepping into a handler the guest runs on normally (no single-step flag left behind)")
vm:destroy()

-- Misuse and host limits are explained.
vm = assert(wb.vm{ mem = "16M" })
assert(vm:load(hello))
t.raises(function() vm:watch(0x1000, 3) end, "1, 2, 4 or 8 bytes", "a watchpoint of 3 bytes is refused")
for i = 1, 4 do vm:breakpoint(0x100000 + i) end
t.raises(function() vm:breakpoint(0x100010) end, "DR0%-DR3", "a fifth hardware breakpoint is refused, naming the debug registers")
vm:destroy()
t.done()
