-- The two accelerators behind one seam: every VM says which one it runs on,
-- a VM picks one by name, and a snapshot saved under one restores and runs
-- under the other (where both exist), since both speak KVM's state structs.
local t = require "tap"
t.require_vm()
local host = wb.host()
t.plan(16)

local function sample(name) return t.samples .. "/" .. name end

t.ok(host.accels.soft and host.accels.soft.usable, "the soft CPU is usable on every host")
t.is(host.accel, host.kvm and "kvm" or "soft", "new VMs get kvm where it is usable, else soft")
local s = assert(wb.vm{ accel = "soft", mem = "16M" })
t.is(s.accel, "soft", "vm.accel names the accelerator")
t.raises(function() wb.vm{ accel = "tcg" } end, 'accel must be "auto", "kvm" or "soft"',
         "an unknown accelerator is refused with the choices")
s:destroy()

-- hello64 stopped at kmain under one accelerator, saved, loaded under the
-- other: the same registers, then the same output and exit.
local function stopped_at_kmain(accel, path)
  local vm = assert(wb.vm{ accel = accel, mem = "16M" })
  assert(vm:load(sample("hello64.elf")))
  vm:breakpoint("kmain")
  local stop = vm:run{ timeout = 30 }
  assert(stop.reason == "breakpoint", tostring(stop))
  vm:delete(1)
  assert(vm:save(path))
  return vm
end

local function cross(from, to)
  local path = os.tmpname()
  local a = stopped_at_kmain(from, path)
  local regs = require("guest").regs(a)
  local b, err = wb.load(path, { accel = to })
  t.ok(b and b.accel == to, from .. " -> " .. to .. ": the file loads (" .. tostring(err) .. ")")
  if not b then t.skip(3, "no VM") a:destroy() os.remove(path) return end
  t.is(require("guest").regs(b), regs, from .. " -> " .. to .. ": with the same registers")
  local ea, eb = a:run{ timeout = 30 }, b:run{ timeout = 30 }
  t.ok(ea.code == 0x30 and eb.code == 0x30, from .. " -> " .. to .. ": both run to the end (" ..
       tostring(ea) .. " / " .. tostring(eb) .. ")")
  t.is(b:serial(), a:serial(), from .. " -> " .. to .. ": and print the same")
  a:destroy(); b:destroy(); os.remove(path)
end

cross("soft", "soft")
if host.kvm then
  cross("kvm", "soft")
else
  t.skip(4, "kvm -> soft needs /dev/kvm: " .. tostring(host.kvm_error))
end
if host.kvm then
  cross("soft", "kvm")
else
  t.skip(4, "soft -> kvm needs /dev/kvm: " .. tostring(host.kvm_error))
end
t.done()
