-- workbench.lua's demo() boots every sample it offers, each the way the
-- sample needs (counter.bin at 0xF0000 from the reset vector, echo.bin with
-- input, devtest.elf with devices), and help() covers the whole API briefly.
local t = require "tap"
t.require_vm()
dofile("workbench.lua")   -- the tests run with --no-startup, from the source tree

local out = {}
local real_print, real_write = print, io.write
local function quiet(fn, ...)
  out = {}
  print = function(...) local p = table.pack(...)
    for i = 1, p.n do out[#out + 1] = tostring(p[i]) .. (i < p.n and "\t" or "\n") end end
  io.write = function(...) for _, s in ipairs{ ... } do out[#out + 1] = tostring(s) end end
  local r = table.pack(pcall(fn, ...))
  print, io.write = real_print, real_write
  return table.unpack(r, 1, r.n)
end

local expect = {
  { "boot16.bin", "exit", 0x10 }, { "mb32.elf", "exit", 0x20 }, { "hello64.elf", "exit", 0x30 },
  { "counter.bin", "exit", 0 }, { "devtest.elf", "exit", 0x40 }, { "echo.bin", "exit", 0x50 },
  { "halt.bin", "hlt" }, { "triple.bin", "crash" },
}
local help_words = { "step", "breakpoint", "snapshot", "clone", "gdb", "load_linux", "accel", "%%x" }
t.plan(#expect + 4 + #help_words)

for _, e in ipairs(expect) do
  local ok, vm = quiet(demo, e[1])
  local s = ok and vm.stop
  t.ok(ok and s.reason == e[2] and (e[3] == nil or s.code == e[3]),
    ("demo(%q) ends with %s %s (%s)"):format(e[1], e[2], e[3] or "", ok and tostring(s) or tostring(vm)))
end
local text = table.concat(out)
local ok, vm = quiet(demo, "counter.bin")
t.ok(ok and table.concat(out):find("counter: 10000 writes to port 0x600", 1, true),
  "demo counter.bin reports its port writes")
ok, vm = quiet(demo, "echo.bin")
t.ok(ok and vm:serial():find("echo> hello, echo", 1, true), "demo echo.bin types a line for it")
vm:destroy()
ok = quiet(demo, "nosuch.bin")
t.ok(not ok and out and true, "an unknown sample is refused")
t.like(select(2, pcall(demo, "nosuch.bin")), "no sample 'nosuch.bin' %(samples: boot16.bin, counter.bin",
  "and the error lists the samples")
quiet(help)
text = table.concat(out)
for _, w in ipairs(help_words) do
  t.like(text, w, "help() mentions " .. w)
end
t.done()
