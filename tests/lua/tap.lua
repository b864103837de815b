-- tap: a small TAP producer for Lua tests run inside hvwb.
-- local t = require "tap"; t.plan(3); t.ok(x, "what"); t.is(a, b, "what"); t.done()
local t = {}
local n, failed = 0, 0

function t.plan(count) print("1.." .. count) end

function t.skip_all(why)
  print("1..0 # SKIP " .. why)
  os.exit(0)
end

-- The accelerator the tests' VMs get: HVWB_ACCEL (how tests/run picks one),
-- else hvwb's own choice (kvm where usable, else soft).
function t.accel() return os.getenv("HVWB_ACCEL") or wb.host().accel end

-- What that accelerator can do here: wb.host().accels[t.accel()].
function t.host()
  local host = wb.host()
  return host.accels[t.accel()] or host
end

-- Skips the whole file unless VMs can run here (with the soft CPU they always can).
function t.require_vm()
  local host = wb.host()
  if not host.accel then t.skip_all("no accelerator can run VMs here: " .. tostring(host.error)) end
  local a = t.host()
  if not a.usable then t.skip_all(t.accel() .. " cannot run here: " .. tostring(a.error)) end
end

-- Skips the whole file unless the tests run on KVM (tests about KVM itself).
function t.require_kvm()
  t.require_vm()
  if t.accel() ~= "kvm" then t.skip_all("about KVM itself, and the VMs here run on " .. t.accel()) end
end

local function report(cond, name, detail)
  n = n + 1
  print((cond and "ok " or "not ok ") .. n .. " - " .. (name or ""))
  if not cond then
    failed = failed + 1
    local info = debug.getinfo(3, "Sl") or debug.getinfo(2, "Sl")
    print(("#   failed at %s:%d"):format(info.short_src, info.currentline))
    if detail then print("#   " .. detail:gsub("\n", "\n#   ")) end
  end
  io.stdout:flush()
  return cond
end

function t.ok(cond, name) return report(not not cond, name) end

function t.is(got, want, name)
  return report(got == want, name, ("got %s, want %s"):format(
    type(got) == "string" and ("%q"):format(got) or tostring(got),
    type(want) == "string" and ("%q"):format(want) or tostring(want)))
end

function t.like(got, pattern, name)
  return report(type(got) == "string" and got:find(pattern) ~= nil, name,
    ("%q does not match %q"):format(tostring(got), pattern))
end

-- Checks that fn raises an error whose message matches pattern.
function t.raises(fn, pattern, name)
  local ok, err = pcall(fn)
  return report(not ok and tostring(err):find(pattern) ~= nil, name,
    ok and "no error was raised" or ("error %q does not match %q"):format(tostring(err), pattern))
end

function t.skip(count, why)
  for _ = 1, count do n = n + 1; print(("ok %d # skip %s"):format(n, why)) end
end

function t.done()
  if failed > 0 then os.exit(1) end
end

-- The directory of built samples, from the repository root (where make check runs).
t.samples = os.getenv("HVWB_SAMPLES") or "samples/build"

return t
