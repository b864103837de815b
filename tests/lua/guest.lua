-- guest: helpers the Lua tests share for looking at a VM's state.
local guest = {}

-- Every register vm:regs() shows, as one string, so two states compare with ==.
function guest.regs(vm)
  local r, keys, out = vm:regs(), {}, {}
  for k in pairs(r) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. tostring(r[k]) end
  return table.concat(out, " ")
end

-- A paused counter.bin (samples/counter.S) is brought to its loop's head
-- (mov al, cl; out dx, al), where ECX is exactly the number of writes still to
-- come, and left with `rest` of them: tests start it with more writes than any
-- accelerator makes meanwhile, then end it soon whatever the host's speed.
function guest.counter_cut(vm, rest)
  local loop = vm:read(0xF0000, 0x10000):find("\x88\xc8\xee", 1, true) - 1
  for _ = 1, 10 do if vm.rip == loop then break end vm:step() end
  assert(vm.rip == loop, "the counter is not in its loop")
  vm.rcx = rest
end

return guest
