-- workbench.lua: loaded when hvwb starts (skip with --no-startup).
-- It sets up the default environment: where the samples are, help() for a tour
-- and demo() that boots a sample guest. Change it freely: it is plain Lua.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
wb.root = here

-- sample("hello64.elf") -> the path of a built sample guest.
function sample(name)
  return wb.root .. "/samples/build/" .. name
end

local tour = [[
hvwb: the hypervisor workbench. Everything is Lua; the `wb` module drives KVM.

  vm = wb.vm{ name = "demo", mem = "64M", vcpus = 1 }  -- create a VM
  vm:load(sample("hello64.elf"))    -- ELF, multiboot or raw; sets entry and CPU mode
  vm:run{ timeout = 5 }             -- run until it stops: exit, hlt, crash, timeout
  vm:serial()                       -- what the guest printed on its serial port
  vm:send("text\n")                 -- type into the guest's serial port
  vm.rip, vm.rax, vm:regs()         -- registers (assign to change: vm.rax = 1)
  vm:read(addr, n), vm:read32(addr) -- guest-physical memory (and write, write32...)
  vm:start(); vm:pause(); vm:resume(); vm:wait{ timeout = 5 }   -- in the background
  vm:stats()                        -- exits by reason and port, time in guest, memory
  vm:device{ ports = {0x500, 4}, read = function(port, size) return 42 end,
             write = function(port, size, value) print(port, value) end }
  vm:on("stop", function(vm, stop) print(stop) end)
  wb.vms(), wb.find("demo"), wb.host(), wb.sleep(0.5)
  vm:destroy()

Samples (samples/build): boot16.bin, mb32.elf, hello64.elf, counter.bin, devtest.elf,
echo.bin, halt.bin, triple.bin.  Try demo() to boot one.
]]

function help()
  io.write(tour)
end

-- demo([file]): creates (or reuses) the VM "demo", runs a sample and shows its output.
function demo(file)
  file = file or "hello64.elf"
  local old = wb.find("demo")
  if old then old:destroy() end
  local vm = assert(wb.vm{ name = "demo", mem = "64M" })
  assert(vm:load(sample(file)))
  local stop = vm:run{ timeout = 10 }
  io.write(vm:serial())
  print(stop)
  return vm
end
