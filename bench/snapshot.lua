-- snapshot.lua: hvwb's snapshot, restore and clone costs for VMs of 256 MiB and 1 GiB
-- that touched 16 MiB. Each figure is the median of several runs of the engine call
-- alone (the seconds the Lua method returns), in ms:
--   save       vm:save(file): state + non-zero pages + fsync + rename + directory fsync
--   snapshot   vm:snapshot() in memory (freezes RAM copy-on-write)
--   restore    vm:restore(snapshot) after 16 MiB were written again since it was taken
--   restore-file  vm:restore(file);  load  wb.load(file)
--   clone      vm:clone() of a VM whose RAM is already shared (the common case)
--   clone-dirty   vm:clone() after 16 MiB were written since the last share
-- Usage: build/hvwb --no-startup bench/snapshot.lua [dir for the files] [runs]
local dir = arg[1] or "/tmp"
local runs = tonumber(arg[2] or "") or 7
local TOUCH = 16 * 1024 * 1024
local data = string.rep("hvwb", TOUCH // 4)

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local function ms(t) return ("%.2f"):format(median(t) * 1000) end

local function touch(vm, gen) vm:write(0x100000, data:sub(1, TOUCH - 8) .. ("%08d"):format(gen)) end

local function bench(size)
  local vm = assert(wb.vm{ mem = size })
  touch(vm, 0)
  local path = ("%s/hvwb-bench-%s.snap"):format(dir, size)
  local t = { save = {}, snapshot = {}, restore = {}, restore_file = {}, load = {}, clone = {}, clone_dirty = {} }
  for i = 1, runs do
    local _, dt = assert(vm:save(path)); t.save[#t.save + 1] = dt
    local s, ds = assert(vm:snapshot()); t.snapshot[#t.snapshot + 1] = ds
    touch(vm, i)
    local _, dr = assert(vm:restore(s)); t.restore[#t.restore + 1] = dr
    s:delete()
    local c, dc = assert(vm:clone()); t.clone[#t.clone + 1] = dc; c:destroy()
    touch(vm, i + 100)
    local c2, dd = assert(vm:clone()); t.clone_dirty[#t.clone_dirty + 1] = dd; c2:destroy()
    local _, df = assert(vm:restore(path)); t.restore_file[#t.restore_file + 1] = df
    local l, dl = assert(wb.load(path)); t.load[#t.load + 1] = dl; l:destroy()
  end
  local f = io.open(path, "rb"); local bytes = f:seek("end"); f:close()
  os.remove(path)
  vm:destroy()
  print(("snapshot-%s: save %s ms (file %d MiB), snapshot %s ms, restore %s ms, restore-file %s ms, "
    .. "load %s ms, clone %s ms, clone-dirty %s ms")
    :format(size, ms(t.save), bytes // 1048576, ms(t.snapshot), ms(t.restore), ms(t.restore_file),
      ms(t.load), ms(t.clone), ms(t.clone_dirty)))
end

bench("256M")
bench("1G")
print("goals: save <= 30 ms and restore <= 5 ms at 256M, clone <= 5 ms at 1G")
