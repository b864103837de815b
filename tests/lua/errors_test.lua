-- Errors name the function as the user wrote it (vm:load, wb.vm), however it
-- was called (as a method, through pcall, with an option in a table), and an
-- error about an option lists the values allowed.
local t = require "tap"
t.require_vm()

local vm = assert(wb.vm{ name = "errors", mem = "2M" })

-- The message of fn's error without its "file:line: " position.
local function err(fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then return "no error" end
  return (tostring(e):gsub("^[^:]*:%d+: ", ""))
end

local cases = {
  { function() vm:load("x", { format = "pe" }) end,
    [[bad argument #2 to 'vm:load' (invalid option 'pe' for format: use "auto", "raw", "elf" or "multiboot")]],
    "an unknown load format names vm:load and lists the formats" },
  { function() vm:load("x", { mode = "warp" }) end,
    [[bad argument #2 to 'vm:load' (invalid option 'warp' for mode: use "real", "protected" or "long")]],
    "an unknown mode lists the modes" },
  { function() vm:breakpoint("nosuch") end,
    [[bad argument #1 to 'vm:breakpoint' (no symbol 'nosuch']],
    "an unknown symbol names vm:breakpoint" },
  { function() vm:watch(0x1000, 4, "x") end,
    [[bad argument #3 to 'vm:watch' (invalid option 'x': use "w" or "rw")]],
    "an unknown watch mode lists the modes" },
  { function() vm:on("explode", print) end,
    [[bad argument #1 to 'vm:on' (invalid option 'explode': use "stop" or "serial")]],
    "an unknown event lists the events" },
  { function() vm:read(1) end, [[bad argument #2 to 'vm:read' (number expected, got no value)]],
    "a missing argument names vm:read" },
  { function() vm:continue("x") end, [[bad argument #1 to 'vm:continue' (table expected, got string)]],
    "an alias is named as the user wrote it" },
  { function() wb.vm{ mem = "12Q" } end, [[bad argument #1 to 'wb.vm' (size '12Q']],
    "a wb function is named wb.vm" },
  { function() wb.vm{ accel = "fast" } end, [[bad argument #1 to 'wb.vm' (accel must be "auto", "kvm" or "soft")]],
    "an unknown accelerator lists the accelerators" },
  { function() vm.load(5, "x") end, [[calling 'vm:load' on bad self (VM expected, got number)]],
    "a method called on a non-VM" },
  { function() vm:disasm(0, 1, { bits = 8 }) end, [[vm:disasm: option 'bits' must be 16, 32 or 64]],
    "other errors of a method start with its name" },
  { function() vm:load_linux{ kernel = "k", how = "magic" } end,
    [[bad argument #1 to 'vm:load_linux' (invalid option 'magic' for how: use "auto", "vmlinux" or "bzimage")]],
    "load_linux's how lists its values" },
}
t.plan(#cases + 3)
for _, c in ipairs(cases) do
  local e = err(c[1])
  t.ok(e:find(c[2], 1, true) == 1, c[3] .. " (" .. e .. ")")
end

-- Through pcall or a helper, where Lua itself cannot tell the name: the same.
t.is(err(vm.load, vm, "x", { format = "pe" }),
  [[bad argument #2 to 'vm:load' (invalid option 'pe' for format: use "auto", "raw", "elf" or "multiboot")]],
  "vm.load called through pcall still says vm:load and counts after self")
t.is(err(wb.sleep, "x"), [[bad argument #1 to 'wb.sleep' (number expected, got string)]],
  "wb.sleep through pcall")
vm:destroy()
t.like(err(function() vm:run() end), "^vm:run: attempt to use a destroyed VM", "a destroyed VM names the method")
t.done()
