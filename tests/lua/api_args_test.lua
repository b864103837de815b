-- Every API function refuses wrong arguments with an error that says what is
-- wrong, and no input from Lua can crash the process.
local t = require "tap"
t.require_vm()

local vm = assert(wb.vm{ name = "args", mem = "2M" })
local cases = {
  { function() wb.vm(42) end, "table expected", "wb.vm with a number" },
  { function() wb.vm{ mem = "lots" } end, "not a number like 64M", "wb.vm with a bad size" },
  { function() wb.vm{ mem = "100K" } end, "too small", "wb.vm below 1M" },
  { function() wb.vm{ mem = "1048577" } end, "multiple of 4K", "wb.vm with an unaligned size" },
  { function() wb.vm{ mem = {} } end, "mem must be", "wb.vm with a table as mem" },
  { function() wb.vm{ vcpus = 0 } end, "vcpus must be from 1", "wb.vm with 0 vCPUs" },
  { function() wb.vm{ vcpus = 100000 } end, "vcpus must be from 1", "wb.vm with too many vCPUs" },
  { function() wb.vm{ vcpus = 1.5 } end, "vcpus must be an integer", "wb.vm with fractional vCPUs" },
  { function() wb.vm{ name = 7 } end, "name must be a string", "wb.vm with a numeric name" },
  { function() wb.vm{ name = "args" } end, "already exists", "wb.vm with a taken name" },
  { function() wb.sleep("x") end, "number expected", "wb.sleep with a string" },
  { function() wb.sleep(-1) end, "seconds must be", "wb.sleep with a negative time" },
  { function() vm:load() end, "string expected", "load without a path" },
  { function() vm:load("x", { format = "exe" }) end, "invalid option 'exe'", "load with an unknown format" },
  { function() vm:load("x", { mode = 48 }) end, "mode must be 16, 32 or 64", "load with a bad mode" },
  { function() vm:load("x", { mode = "warp" }) end, "invalid option 'warp'", "load with a bad mode name" },
  { function() vm:load("x", { addr = "here" }) end, "addr must be an integer", "load with a bad address" },
  { function() vm:run{ timeout = -1 } end, "timeout must be", "run with a negative timeout" },
  { function() vm:run{ timeout = "soon" } end, "timeout must be", "run with a string timeout" },
  { function() vm:wait(5) end, "table expected", "wait with a bare number" },
  { function() vm:read(-5, 4) end, "outside", "read below RAM" },
  { function() vm:read(0x1000000, 4) end, "outside", "read above RAM" },
  { function() vm:read(0x1ffffe, 4) end, "outside", "read across the end of RAM" },
  { function() vm:read(0, -1) end, "length out of range", "read with a negative length" },
  { function() vm:read("a", 1) end, "number expected", "read with a string address" },
  { function() vm:write(0x200000, "x") end, "outside", "write past RAM" },
  { function() vm:write(0, 5) end, nil, "write with a number (coerced to a string) is allowed" },
  { function() vm:read8(0x200000) end, "outside", "read8 past RAM" },
  { function() vm:read64(0x1ffffc) end, "outside", "read64 straddling the end" },
  { function() vm:write16(0, 0x10000) end, "does not fit in 2 bytes", "write16 of a too-wide value" },
  { function() vm:write8(0, -129) end, "does not fit in 1 bytes", "write8 of a too-negative value" },
  { function() vm:write32(0x200000, 1) end, "outside", "write32 past RAM" },
  { function() vm:send() end, "string expected", "send without data" },
  { function() vm:regs(5) end, "vCPU must be from 0 to 0", "regs of a vCPU that does not exist" },
  { function() vm.rip = "start" end, "takes an integer", "rip set to a string" },
  { function() vm.rip = 0x0000800000000000 end, "rip 0x800000000000 does not fit the 32%-bit instruction pointer of real mode", "rip set beyond the mode (real mode: 32 bits)" },
  { function() vm.cs = 8 end, "cannot be set by selector alone", "cs set by selector" },
  { function() vm.color = 1 end, "only registers", "setting an unknown field" },
  { function() return vm.bogus end, "no method or field 'bogus'", "reading an unknown field" },
  { function() vm:device() end, "table expected", "device without a table" },
  { function() vm:device{} end, "exactly one of ports", "device without a range" },
  { function() vm:device{ ports = { 0x500, 4 }, mmio = { 0, 4 } } end, "exactly one of ports", "device with both ranges" },
  { function() vm:device{ ports = { 0x500, 0 } } end, "length > 0", "device with an empty range" },
  { function() vm:device{ ports = { 0x500, 1 }, read = 3 } end, "read must be a function", "device with a non-function handler" },
  { function() vm:device{ ports = { 0xfffff, 1 } } end, "port", "device beyond the port space" },
  { function() vm:on("explode", print) end, "invalid option 'explode'", "on with an unknown event" },
  { function() vm:on("stop") end, "function expected", "on without a handler" },
  { function() vm.regs(42) end, "calling 'vm:regs' on bad self %(VM expected", "a method called on a non-VM" },
  { function() vm:resume() end, "only a paused VM", "resume of a VM that never ran" },
}
t.plan(#cases + 9)
for _, c in ipairs(cases) do
  if c[2] then t.raises(c[1], c[2], c[3]) else t.ok(pcall(c[1]), c[3]) end
end

-- Failures of the outside world return nil, message, errno (the io.open habit).
local ok, msg, errno = vm:load("/nonexistent/file.elf")
t.ok(ok == nil and errno ~= nil, "loading a missing file returns nil, message, errno")
t.like(msg, "file.elf", "the message names the file")
local junk = os.tmpname()
local f = assert(io.open(junk, "wb")); f:write("\127ELF\2\1\1" .. ("\0"):rep(9) .. "garbage"); f:close()
ok, msg = vm:load(junk, { format = "elf" })
t.ok(ok == nil and msg ~= nil, "a corrupt ELF is refused: " .. tostring(msg))
t.is(vm:read(0x7c00, 16), ("\0"):rep(16), "and nothing was written to guest RAM")
os.remove(junk)

-- A destroyed VM refuses everything, and destroying again is harmless.
vm:destroy()
t.raises(function() vm:run() end, "destroyed VM", "run on a destroyed VM")
t.raises(function() return vm.rip end, "destroyed VM", "a register of a destroyed VM")
t.raises(function() vm:serial() end, "destroyed VM", "serial of a destroyed VM")
t.ok(pcall(vm.destroy, vm), "destroying twice is harmless")
t.is(tostring(vm), "vm (destroyed)", "tostring says it is destroyed")
t.done()
