-- step.lua: hvwb's side of the single-step benchmark. Runs the step loop image (64 KiB
-- real mode, `inc ax; jmp short -3` at F000:FFF0, written by bench/run.sh) two ways:
-- S calls of vm:step() from a Lua loop, the rate a user's script gets, and one
-- vm:step(S), the engine's own stepping loop. Both are wall-clock rates: a Lua loop pays
-- for the call and the hand-over to the vCPU thread at every step, and that is exactly
-- what is measured. AX must grow by the number of `inc ax` executed, so a step that did
-- not execute exactly one instruction cannot go unnoticed.
-- Usage: build/hvwb --no-startup bench/step.lua S IMAGE
-- (on the accelerator of --accel / HVWB_ACCEL; bench/soft.sh runs it with --accel soft)
local s = math.tointeger(tonumber(arg[1] or ""))
local image = arg[2]
if not s or s < 1 or not image then
  error("usage: step.lua S IMAGE  (S: number of steps >= 1; IMAGE: the 64 KiB step loop)")
end

-- wb has no clock and os.clock is CPU time, so the wall clock comes from date(1); the
-- fork it costs (about a millisecond) is small against a run of a second or more.
local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return assert(t, "date +%s.%N gave no number")
end

local vm = assert(wb.vm{ mem = "2M" })
assert(vm:load(image, { addr = 0xF0000, entry = 0xFFFF0 }))
-- inc, jmp: back at the inc. The first KVM_RUN of a vCPU also does one-time work that
-- stays out of the timing this way.
vm:step(2)
local start = vm.rip

-- The loop alternates inc/jmp from the inc at FFF0: after k steps from there, AX has
-- grown by ceil(k / 2). Each part starts at the inc again (the loader enters F000:FFF0
-- as FFFF:0000, so the start is taken from RIP rather than written down).
local function check(label, k)
  local ax = vm.rax & 0xffff
  local want = ((k + 1) // 2) & 0xffff
  if ax ~= want then
    error(("%s: after %d steps AX is 0x%x, expected 0x%x"):format(label, k, ax, want))
  end
  vm.rax, vm.rip = 0, start
end

local function report(label, t)
  print(("hvwb %s: accel=%s S=%d time=%.6f s rate=%.0f steps/s"):format(label, vm.accel, s, t, s / t))
end

vm.rax = 0

local step = vm.step
local t0 = now()
for _ = 1, s do
  step(vm)
end
local t1 = now()
check("step()", s)
report("step()", t1 - t0)

t0 = now()
local stop = vm:step(s)
t1 = now()
if stop.reason ~= "step" or stop.steps ~= s then
  error(("vm:step(%d) stopped with %s after %s steps"):format(s, tostring(stop.reason), tostring(stop.steps)))
end
check("step(n)", s)
report("step(n)", t1 - t0)
vm:destroy()
