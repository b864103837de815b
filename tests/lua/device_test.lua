-- Devices written in Lua see exactly the guest's accesses, in order, with the
-- right addresses, sizes and values; what they return is what the guest reads.
-- The guest is samples/devtest.S (its sequence is documented there).
local t = require "tap"
t.require_vm()
t.plan(9)

local vm = assert(wb.vm{ mem = "4M" })
assert(vm:load(t.samples .. "/devtest.elf"))
local log = {}
local function record(kind) return function(addr, size, value)
  log[#log + 1] = ("%s %x/%d%s"):format(kind, addr, size, value and ("=%x"):format(value) or "")
  if not value then
    if kind == "pin" and addr == 0x501 then return 0x5a end
    if kind == "pin" and addr == 0x500 then return 0xcafef00d end
    if kind == "mr" and addr == 0xfe000004 then return 0x12345678 end
  end
end end
vm:device{ name = "pio", ports = { 0x500, 4 }, read = record("pin"), write = record("pout") }
vm:device{ name = "mmio", mmio = { 0xfe000000, 0x1000 }, read = record("mr"), write = record("mw") }

local s = vm:run{ timeout = 20 }
t.is(s.code, 0x40, "devtest runs to its end")
local want = {
  "pout 500/1=11", "pout 500/1=22", "pout 502/2=4455",
  "pin 501/1", "pout 503/1=5a",          -- the byte we returned comes back out
  "pin 500/4", "pout 500/4=cafef00d",
  "mw fe000000/4=deadbeef", "mr fe000004/4", "pout 500/4=12345678",
  "mw fe000008/1=7f",
}
t.is(#log, #want, "the devices saw exactly " .. #want .. " accesses")
t.is(table.concat(log, ", "), table.concat(want, ", "), "in the guest's order, with addresses, sizes, values")

-- A range already claimed is refused with the owner's name.
t.raises(function() vm:device{ ports = { 0x3f8, 1 }, write = function() end } end,
  "uart", "a device cannot take the UART's port")
t.raises(function() vm:device{ ports = { 0x502, 4 } } end, "pio", "overlapping ranges are refused")
vm:destroy()

-- A handler that raises puts the VM in `crashed` with the message, and nothing else breaks.
local bad = assert(wb.vm{ mem = "4M" })
assert(bad:load(t.samples .. "/devtest.elf"))
bad:device{ ports = { 0x500, 4 }, write = function() error("boom from the device") end }
s = bad:run{ timeout = 20 }
t.is(s.reason, "crash", "an error in a device handler crashes that VM")
t.like(s.message, "boom from the device", "the crash says what the handler raised")
t.is(bad.state, "crashed", "its state is crashed")
-- Calling a blocking API from inside a handler is refused, not a deadlock.
local again = assert(wb.vm{ mem = "4M" })
assert(again:load(t.samples .. "/devtest.elf"))
local inner
again:device{ ports = { 0x500, 4 }, write = function() inner = select(2, pcall(again.pause, again)) end }
again:run{ timeout = 20 }
t.like(inner, "cannot be called from inside", "vm:pause() inside a device handler raises instead of hanging")
t.done()
