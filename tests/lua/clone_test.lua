-- Clones: a new VM in the same state whose RAM is shared copy-on-write with its
-- parent. Parent and clone diverge without seeing each other's writes, whichever
-- path the memory took (first share, a base updated in place, a new base), and a
-- hundred clones of one VM are cheap.
local t = require "tap"
t.require_vm()

local count = 0
local function ok(c, name) count = count + 1; return t.ok(c, name) end
local function is(a, b, name) count = count + 1; return t.is(a, b, name) end
local function raises(f, p, name) count = count + 1; return t.raises(f, p, name) end

local MEM = 4 * 1024 * 1024

local regs = require("guest").regs

local function counter(vm, n)
  assert(vm:load(t.samples .. "/counter.bin", { addr = 0xF0000, entry = 0xFFFF0 }))
  vm:write32(0xF0008, n)
end

-- Same state at the moment of cloning; both then run to the same end.
local parent = assert(wb.vm{ name = "parent", mem = MEM })
counter(parent, 6000)
parent:write(0x2000, "parent data")
parent:step(8000)   -- a third of the way, whatever the host's speed
local clone, secs = assert(parent:clone{ name = "child" })
is(clone.name, "child", "the clone has the name asked for")
ok(type(secs) == "number" and secs >= 0, "clone returns the time it took")
is(clone.state, parent.state, "in the parent's state")
is(regs(clone), regs(parent), "with the parent's registers")
ok(clone:read(0, MEM) == parent:read(0, MEM), "and the parent's memory")
local a, b = parent:run{ timeout = 30 }, clone:run{ timeout = 30 }
ok(a.code == 0 and b.code == 0 and regs(clone) == regs(parent), "both run to the same end")

-- Divergence.
parent:write(0x2000, "PARENT")
is(clone:read(0x2000, 11), "parent data", "a parent write is not seen by the clone")
clone:write(0x3000, "CHILD")
is(parent:read(0x3000, 5), string.rep("\0", 5), "a clone write is not seen by the parent")
is(parent:read(0x2000, 6), "PARENT", "the parent keeps its own write")

-- A second clone after the parent wrote (its base is shared: a new base is made).
local second = assert(parent:clone())
is(second:read(0x2000, 6), "PARENT", "a later clone sees the parent's newer writes")
is(clone:read(0x2000, 6), "parent", "the first clone still sees the old data")
parent:write(0x2000, "third!")
is(second:read(0x2000, 6), "PARENT", "and the later clone is independent too")

-- The loaders write through the copy-on-write mapping like any other writer.
assert(second:load(t.samples .. "/boot16.bin"))
local st = second:run{ timeout = 10 }
ok(st.code == 0x10 and second:serial():find("Hello from real mode!", 1, true),
  "a program loaded into a clone runs")
is(parent:read(0x7c00, 16), string.rep("\0", 16), "and the load did not reach the parent's memory")

-- A clone of a clone.
local grand = assert(clone:clone{ name = "grandchild" })
is(grand:read(0x3000, 5), "CHILD", "a clone of a clone sees its parent's writes")
grand:write(0x3000, "grand")
is(clone:read(0x3000, 5), "CHILD", "and diverges from it")

-- The base updated in place: the only user of a base is the VM itself.
local solo = assert(wb.vm{ mem = MEM })
solo:write(0x4000, "one")
local s = solo:snapshot()
s:delete()
solo:write(0x4000, "two")
solo:write(MEM - 3, "end")
local c2 = assert(solo:clone())
ok(c2:read(0x4000, 3) == "two" and c2:read(MEM - 3, 3) == "end", "a clone after an in-place base update sees the latest writes")
solo:write(0x4000, "six")
is(c2:read(0x4000, 3), "two", "and stays apart from its parent")
local s2 = solo:snapshot()
solo:write(0x4000, "ten")
solo:restore(s2)
is(solo:read(0x4000, 3), "six", "a snapshot after clones still restores its own memory")
is(c2:read(0x4000, 3), "two", "without touching the clone")

-- Live: cloning a running VM pauses it only for the moment.
local runner = assert(wb.vm{ mem = MEM })
counter(runner, 100000000)   -- more than any accelerator writes before the clone
runner:start()
local live = assert(runner:clone())
is(runner.state, "running", "the parent runs on after a live clone")
is(live.state, "paused", "the clone is paused where the parent was")
runner:pause()
require("guest").counter_cut(runner, 1000)
require("guest").counter_cut(live, 1000)
local r1, r2 = runner:run{ timeout = 30 }, live:run{ timeout = 30 }
ok(r1.code == 0 and r2.code == 0 and regs(live) == regs(runner), "both finish the count the same way")

-- Lua devices are cloned with their hooks.
local dev = assert(wb.vm{ mem = MEM })
assert(dev:load(t.samples .. "/devtest.elf"))
local writes = 0
dev:device{ ports = { 0x500, 4 }, read = function() return 0 end,
  write = function() writes = writes + 1 end, save = function() return "" end,
  restore = function() end }
dev:device{ mmio = { 0xfe000000, 16 }, read = function() return 0 end }
local dclone = assert(dev:clone())
is(dclone:run{ timeout = 10 }.code, 0x40, "a clone of a VM with Lua devices runs devtest")
is(writes, 6, "through the cloned device's handlers")

raises(function() parent:clone{ name = "child" } end, "already exists", "a clone's name must be free")
raises(function() parent:clone{ name = 5 } end, "name must be a string", "and a string")

-- A hundred clones of a 64 MiB VM that touched 8 MiB.
local function kib(file, field)
  local f = io.open(file)
  if not f then return 0 end
  local v = f:read("a"):match(field .. ":%s*(%d+) kB")
  f:close()
  return tonumber(v) or 0
end
local function used() return kib("/proc/self/smaps_rollup", "Anonymous") + kib("/proc/meminfo", "Shmem") end
local big = assert(wb.vm{ mem = "64M" })
big:write(0, string.rep("x", 8 * 1024 * 1024))
big:write(0x100000, "marker")
local used_before = used()
local clones, good = {}, 0
for i = 1, 100 do
  local c = big:clone()
  if c then
    clones[#clones + 1] = c
    c:write(0x100000, ("clone%03d"):format(i))
  end
end
is(#clones, 100, "a hundred clones of one VM")
for i, c in ipairs(clones) do
  if c:read(0x100000, 8) == ("clone%03d"):format(i) and c:read(0x7ff000, 4) == "xxxx" then good = good + 1 end
end
is(good, 100, "each with its own write and the shared data")
is(big:read(0x100000, 6), "marker", "the parent untouched by any of them")
local grown = used() - used_before
-- Each clone is a whole VM (threads, buffers: about 0.7 MiB); a copy of the
-- touched memory each would add 800 MiB.
ok(grown < 400 * 1024, ("the clones share the parent's pages: anonymous + shmem memory grew by %d KiB, "
  .. "not the 800 MiB of a copy each"):format(grown))
for _, c in ipairs(clones) do c:destroy() end

t.plan(count)
t.done()
