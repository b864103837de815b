-- Snapshots in memory and in files: restoring gives back exactly the registers,
-- memory and serial output of the moment taken, on every sample; a restored guest
-- with no outside input runs the same way each time; bad files are refused and
-- change nothing.
local t = require "tap"
t.require_vm()

local count = 0
local function ok(c, name) count = count + 1; return t.ok(c, name) end
local function is(a, b, name) count = count + 1; return t.is(a, b, name) end
local function like(a, p, name) count = count + 1; return t.like(a, p, name) end
local function raises(f, p, name) count = count + 1; return t.raises(f, p, name) end

local MEM = 4 * 1024 * 1024
local dir = os.getenv("TMPDIR") or "/tmp"
local tmp = ("%s/hvwb-snap-%d-%d"):format(dir, os.time(), math.random(1, 1e9))

local regs = require("guest").regs

local function outcome(vm, stop)
  return { reason = stop.reason, code = stop.code, regs = regs(vm), mem = vm:read(0, MEM),
           serial = vm:serial(), state = vm.state }
end

local function same(a, b)
  return a.reason == b.reason and a.code == b.code and a.regs == b.regs and a.mem == b.mem
    and a.serial == b.serial and a.state == b.state
end

local function sample(name) return t.samples .. "/" .. name end

local counter_setup = function(vm)
  assert(vm:load(sample("counter.bin"), { addr = 0xF0000, entry = 0xFFFF0 }))
  vm:write32(0xF0008, 6000)
end

-- name, how to load, how long the first part runs, input to give after the snapshot.
local cases = {
  { "counter", counter_setup, function(vm) vm:step(8000) end },
  { "boot16", function(vm) assert(vm:load(sample("boot16.bin"))) end, 0 },
  { "mb32", function(vm) assert(vm:load(sample("mb32.elf"), { cmdline = "snap" })) end, 0 },
  { "hello64", function(vm) assert(vm:load(sample("hello64.elf"))) end, 0 },
  { "halt", function(vm) assert(vm:load(sample("halt.bin"))) end, 0 },
  { "triple", function(vm) assert(vm:load(sample("triple.bin"))) end, 0 },
  { "echo", function(vm) assert(vm:load(sample("echo.bin"))) end, 0.05, "hi\n" },
}

for _, c in ipairs(cases) do
  local name, setup, part, input = c[1], c[2], c[3], c[4]
  local vm = assert(wb.vm{ mem = MEM })
  setup(vm)
  -- part 0: snapshot before the first instruction (a run with timeout 0 could
  -- still let a short guest reach its end on a busy machine)
  if type(part) == "function" then part(vm) elseif part > 0 then vm:run{ timeout = part } end
  local s = vm:snapshot(name)
  local before = { regs = regs(vm), mem = vm:read(0, MEM), serial = vm:serial(), state = vm.state }
  if input then vm:send(input) end
  local first = outcome(vm, vm:run{ timeout = 30 })
  local all_same, restored_same = true, true
  -- hello64 counts PIT ticks in real time: its end state is the same, but the
  -- registers at the exit are compared too only for the guests without a timer.
  for _ = 1, 2 do
    assert(vm:restore(s))
    restored_same = restored_same and regs(vm) == before.regs and vm:read(0, MEM) == before.mem
      and vm:serial() == before.serial and vm.state == before.state
    if input then vm:send(input) end
    local again = outcome(vm, vm:run{ timeout = 30 })
    all_same = all_same and same(first, again)
  end
  ok(restored_same, name .. ": restore gives back registers, memory, serial output and state")
  ok(all_same, name .. ": run to the end twice more from the snapshot, same registers, memory and serial ("
    .. first.reason .. ")")
  vm:destroy()
end

-- Determinism over many runs of the counter from a mid-way snapshot.
do
  local vm = assert(wb.vm{ mem = MEM })
  counter_setup(vm)
  vm:step(8000)   -- a third of the way, whatever the host's speed
  local s = vm:snapshot()
  local ref = outcome(vm, vm:run{ timeout = 30 })
  local n = 0
  for _ = 1, 5 do
    vm:restore(s)
    if same(ref, outcome(vm, vm:run{ timeout = 30 })) then n = n + 1 end
  end
  is(n, 5, "counter restored 5 times ends with identical registers, memory and serial each time")
  vm:destroy()
end

-- Handles: listing, names, deletion.
do
  local vm = assert(wb.vm{ name = "handles", mem = MEM })
  counter_setup(vm)
  local a = vm:snapshot("first")
  local b = vm:snapshot()
  is(#vm:snapshots(), 2, "vm:snapshots() lists both")
  is(vm:snapshots()[1].name, "first", "in the order taken, with their names")
  like(b.name, "^snap%d+$", "an unnamed snapshot gets a name")
  ok(vm:snapshots()[2] == b, "handles of the same snapshot compare equal")
  a:delete()
  is(#vm:snapshots(), 1, "s:delete() removes it")
  raises(function() vm:restore(a) end, "no longer exists", "a deleted snapshot cannot be restored")
  vm:delete_snapshot(b)
  is(#vm:snapshots(), 0, "vm:delete_snapshot(s) removes it too")
  local other = assert(wb.vm{ mem = "2M" })
  local c = vm:snapshot()
  local r, msg = other:restore(c)
  ok(r == nil and msg:find("MiB"), "a snapshot does not fit a VM of another size: " .. tostring(msg))
  raises(function() vm:restore(42) end, "snapshot", "restore wants a snapshot or a file name")
  other:destroy()
  vm:destroy()
  raises(function() return c.name end, "no longer exists", "snapshots go away with their VM")
end

-- A snapshot of a running VM pauses it for the moment and lets it go on. The
-- counter gets more writes than any accelerator makes meanwhile; each run to
-- the end first cuts the rest short (the same end state from any point).
do
  local cut = require("guest").counter_cut
  local function to_end(vm)
    if vm.state == "running" then vm:pause() end
    cut(vm, 1000)
    return vm:run{ timeout = 30 }
  end
  local vm = assert(wb.vm{ mem = MEM })
  counter_setup(vm)
  vm:write32(0xF0008, 100000000)
  vm:start()
  local s = vm:snapshot("live")
  is(vm.state, "running", "live snapshot: the VM runs on")
  local first = to_end(vm)
  local end_regs = regs(vm)
  is(first.code, 0, "and ends normally")
  vm:restore(s)
  is(vm.state, "paused", "restoring a snapshot taken live leaves the VM paused")
  local again = to_end(vm)
  ok(again.code == 0 and regs(vm) == end_regs, "and it runs to the same end")
  local live_path = tmp .. ".live"
  vm:restore(s)
  vm:start()
  ok(vm:save(live_path) and vm.state == "running", "vm:save of a running VM lets it run on")
  to_end(vm)
  local copy = assert(wb.load(live_path))
  is(copy.state, "paused", "the file of a running VM loads as paused")
  ok(to_end(copy).code == 0 and regs(copy) == end_regs, "and runs to the same end")
  copy:destroy()
  os.remove(live_path)
  vm:destroy()
end

-- Lua devices keep their state through save/restore hooks.
do
  local vm = assert(wb.vm{ mem = MEM })
  assert(vm:load(sample("devtest.elf")))
  local log = {}
  vm:device{ ports = { 0x500, 4 }, name = "probe",
    read = function() return 0x42 end,
    write = function(addr, size, v) log[#log + 1] = ("%x:%d:%x"):format(addr, size, v) end,
    save = function() return table.concat(log, ",") end,
    restore = function(s)
      log = {}
      for item in s:gmatch("[^,]+") do log[#log + 1] = item end
    end }
  vm:device{ mmio = { 0xfe000000, 16 }, read = function() return 0x1234 end }
  log = { "before" }
  local s = vm:snapshot()
  local st = vm:run{ timeout = 10 }
  local first = table.concat(log, ",")
  is(st.code, 0x40, "devtest runs with Lua devices")
  vm:restore(s)
  is(table.concat(log, ","), "before", "restore hands the saved string back to the device")
  vm:run{ timeout = 10 }
  is(table.concat(log, ","), first, "and the second run logs the same accesses")
  vm:destroy()
end

-- Files.
local path = tmp .. ".snap"
local vm = assert(wb.vm{ name = "saver", mem = MEM })
counter_setup(vm)
vm:step(8000)
vm:send("queued")
local saved_regs = regs(vm)
ok(vm:save(path), "vm:save writes a file")
local ref = outcome(vm, vm:run{ timeout = 30 })
local loaded = assert(wb.load(path, "loaded"))
is(loaded.name, "loaded", "wb.load makes a new VM with the given name")
is(regs(loaded), saved_regs, "with the registers saved")
ok(same(ref, outcome(loaded, loaded:run{ timeout = 30 })), "and it runs to the same end as the original")
loaded:destroy()
ok(vm:restore(path), "vm:restore(path) loads a file into an existing VM")
ok(same(ref, outcome(vm, vm:run{ timeout = 30 })), "which then runs to the same end")

-- Corruption: every section, one flipped byte in its header and in its payload;
-- truncations; wrong magic and version. Each is refused and changes nothing.
local function read_file(p) local f = assert(io.open(p, "rb")); local d = f:read("a"); f:close(); return d end
local function write_file(p, d) local f = assert(io.open(p, "wb")); f:write(d); f:close() end
local good = read_file(path)
local sections, pos = {}, 17
while pos <= #good do
  local typ, _, len = string.unpack("<I4I4I8", good, pos)
  sections[#sections + 1] = { type = typ, at = pos, len = len }
  pos = pos + 24 + len
end
is(#sections, 6, "the file has a VM, vCPU, platform, device, memory and end section")
is(sections[#sections].type, 6, "the last is the end marker")

vm:restore(path)
local keep_regs, keep_mem, nvms = regs(vm), vm:read(0, MEM), #wb.vms()
local function refused(data, want, what)
  local bad = tmp .. ".bad"
  write_file(bad, data)
  local v, msg = wb.load(bad)
  local r, msg2 = vm:restore(bad)
  os.remove(bad)
  return ok(v == nil and r == nil and tostring(msg):find(want) and tostring(msg2):find(want)
    and #wb.vms() == nvms and regs(vm) == keep_regs and vm:read(0, MEM) == keep_mem,
    what .. ": refused (" .. tostring(msg) .. "), nothing changed")
end
local function flip(data, i) return data:sub(1, i - 1) .. string.char(data:byte(i) ~ 0x5a) .. data:sub(i + 1) end

for _, s in ipairs(sections) do
  refused(flip(good, s.at + 8), "corrupt", ("section %d: a flipped byte in its header"):format(s.type))
  if s.len > 0 then
    refused(flip(good, s.at + 24 + s.len // 2), "corrupt", ("section %d: a flipped byte in its payload"):format(s.type))
  end
end
for _, cut in ipairs({ 0, 10, 16, 30, sections[2].at + 100, sections[5].at + 24 + 5000, #good - 24, #good - 1 }) do
  refused(good:sub(1, cut), cut < 16 and "shorter" or "truncated", ("truncated to %d bytes"):format(cut))
end
refused("XXXXSNAP" .. good:sub(9), "magic", "wrong magic")
refused(good:sub(1, 8) .. string.pack("<I4", 2) .. good:sub(13), "version 2", "a version from the future")
-- A file with good checksums whose contents KVM refuses (CR0.PG without CR0.PE)
-- is caught when applied: the VM is put back as it was, no new VM is left behind.
local crc_t = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c >> 1) ~ (0x82f63b78 & -(c & 1)) end
  crc_t[i] = c
end
local function crc32c(str)
  local c = 0xffffffff
  for i = 1, #str do c = crc_t[(c ~ str:byte(i)) & 0xff] ~ (c >> 8) end
  return c ~ 0xffffffff
end
do
  local v = sections[2]
  local payload = good:sub(v.at + 24, v.at + 24 + v.len - 1)
  local p = 5                                   -- after the vCPU index
  while p < #payload do
    local tag, len = string.unpack("<I4I4", payload, p)
    if tag == 5 then                            -- struct kvm_sregs; cr0 at byte 224
      local at = p + 8 + 224
      payload = payload:sub(1, at - 1) .. string.pack("<I8", 0x80000000) .. payload:sub(at + 8)
      break
    end
    p = p + 8 + len
  end
  local head = string.pack("<I4I4I8I4", v.type, 0, #payload, crc32c(payload))
  head = head .. string.pack("<I4", crc32c(head))
  local bad = tmp .. ".kvm"
  write_file(bad, good:sub(1, v.at - 1) .. head .. payload .. good:sub(v.at + 24 + v.len))
  local l, lmsg = wb.load(bad)
  ok(l == nil and lmsg:find("refuses vCPU 0's system registers") and #wb.vms() == nvms,
    "the accelerator refusing a well-formed file's registers: wb.load fails, no VM is left (" .. tostring(lmsg) .. ")")
  local r, rmsg = vm:restore(bad)
  ok(r == nil and tostring(rmsg):find("left as it was") and regs(vm) == keep_regs and vm:read(0, MEM) == keep_mem,
    "and vm:restore puts the VM back as it was (" .. tostring(rmsg) .. ")")
  os.remove(bad)
end

local r, msg = wb.load(tmp .. ".missing")
ok(r == nil and msg:find("cannot open"), "a missing file: " .. tostring(msg))

-- The usual debugging moment: stopped at a breakpoint, a few steps taken.
-- Such a VM must snapshot, save and load like any other.
do
  local dbg = assert(wb.vm{ mem = "4M" })
  assert(dbg:load(sample("hello64.elf")))
  dbg:breakpoint("kmain")
  is(dbg:run{ timeout = 30 }.reason, "breakpoint", "debugging: stopped at kmain")
  is(dbg:step(3).reason, "step", "and stepped")
  local at, at_regs = dbg.rip, regs(dbg)
  local snap_path = tmp .. ".stepped"
  ok(dbg:save(snap_path), "a VM stopped by a step saves to a file")
  local back, lmsg = wb.load(snap_path)
  ok(back and back.rip == at and regs(back) == at_regs, "and loads with the same registers" .. (back and "" or " (" .. tostring(lmsg) .. ")"))
  local s = dbg:snapshot()
  dbg:delete(1)
  local first = dbg:run{ timeout = 30 }
  local ok_restore, rmsg = dbg:restore(s)
  ok(ok_restore and dbg.rip == at and regs(dbg) == at_regs, "an in-memory snapshot taken there restores" .. (ok_restore and "" or " (" .. tostring(rmsg) .. ")"))
  local again = dbg:run{ timeout = 30 }
  ok(first.code == 0x30 and again.code == 0x30 and dbg:serial():find("timer: 10 ticks"),
    "and runs to the same end")
  if back then back:destroy() end
  dbg:destroy()
  os.remove(snap_path)
end

vm:destroy()
os.remove(path)
t.plan(count)
t.done()
