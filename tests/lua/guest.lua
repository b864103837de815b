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

return guest
