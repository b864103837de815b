-- wb.load() gives the loaded VM the name saved in the file when that name is
-- free, a fresh vmN when it is taken, and the name asked for when given.
local t = require "tap"
t.require_vm()
t.plan(5)

local dir = os.tmpname(); os.remove(dir)
local path = dir .. ".snap"
local vm = assert(wb.vm{ name = "kept", mem = "2M" })
assert(vm:save(path))
local twin = assert(wb.load(path))
t.ok(twin.name ~= "kept" and twin.name:match("^vm%d+$"), "the saved name is taken: vmN (" .. twin.name .. ")")
twin:destroy()
vm:destroy()
local back = assert(wb.load(path))
t.is(back.name, "kept", "the saved name is free: the loaded VM gets it")
back:destroy()
back = assert(wb.load(path, { accel = os.getenv("HVWB_ACCEL") }))
t.is(back.name, "kept", "also with an options table without a name")
back:destroy()
back = assert(wb.load(path, "other"))
t.is(back.name, "other", "a name given wins")
back:destroy()
back = assert(wb.load(path, { name = "third" }))
t.is(back.name, "third", "also in the options table")
back:destroy()
os.remove(path)
t.done()
