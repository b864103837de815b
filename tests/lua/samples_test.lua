-- Every sample guest runs to its documented end: the bytes it printed on the
-- serial port and its debug-exit code.
local t = require "tap"
t.require_vm()
t.plan(21)

local function run(file, opts, before)
  local vm = assert(wb.vm{ mem = "16M" })
  assert(vm:load(t.samples .. "/" .. file, opts))
  if before then before(vm) end
  local stop = vm:run{ timeout = 20 }
  local out = vm:serial()
  local state = vm.state
  vm:destroy()
  return stop, out, state
end

local s, out = run("boot16.bin")
t.is(s.reason, "exit", "boot16: stops by debug-exit")
t.is(s.code, 0x10, "boot16: exit code 0x10")
t.is(out, "Hello from real mode!\r\n", "boot16: greets in real mode")

s, out = run("mb32.elf", { cmdline = "hello there" })
t.is(s.code, 0x20, "mb32: exit code 0x20")
t.like(out, "^multiboot: magic ok\n", "mb32: sees the multiboot magic in EAX")
t.like(out, "\ncmdline: hello there\n", "mb32: reads the command line from the info structure")
t.like(out, "\nmem_upper: 15360 KiB\n", "mb32: mem_upper is 16M minus the first 1M")
t.like(out, "\nmmap: 3 entries\n", "mb32: memory map has 3 entries")

s, out = run("hello64.elf")
t.is(s.code, 0x30, "hello64: exit code 0x30")
t.is(out, "Hello from long mode!\ntimer: 10 ticks\n", "hello64: prints and counts 10 PIT interrupts")

-- 32-bit protected mode, each timer interrupt returning with iret (which KVM
-- on a host without VT-x cannot emulate: hvwb completes it, engine/debug/fallback_iret.c).
s, out = run("irq32.elf")
t.ok(s.code == 0x60 and out == "timer: 10 ticks\n", "irq32: 10 timer interrupts in 32-bit mode, each ended by iret (" .. tostring(s) .. ")")

local state
s, out, state = run("halt.bin")
t.is(s.reason, "hlt", "halt: stops as hlt")
t.is(state, "halted", "halt: VM state is halted")
t.is(out, "halting\r\n", "halt: printed before halting")

s, out, state = run("triple.bin")
t.is(s.reason, "crash", "triple: stops as crash")
t.like(s.message, "^triple fault", "triple: the reason says triple fault")
t.is(out, "about to triple fault\r\n", "triple: printed once, no reset loop")

s, out = run("echo.bin", nil, function(vm) vm:send("hi\n") end)
t.is(s.code, 0x50, "echo: exit code 0x50")
t.is(out, "echo> hi\r\n", "echo: read our input from the UART and echoed it")

s, out = run("counter.bin", { addr = 0xF0000, entry = 0xFFFF0 })
t.is(s.reason, "exit", "counter: runs to its end")
t.is(s.code, 0, "counter: exit code 0")
t.done()
