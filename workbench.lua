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
hvwb: the hypervisor workbench. Everything is Lua; the `wb` module drives the VMs.

  vm = wb.vm{ name = "demo", mem = "64M", vcpus = 1 }  -- create a VM
      -- accel = "kvm" (/dev/kvm) or "soft" (hvwb's own x86 CPU); wb.host() says
      -- which one new VMs get here, vm.accel which one a VM has
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

Debugging:
  vm:breakpoint("kmain")            -- address, symbol, "kmain+0x10" or "0000:7c00"; an id
  vm:step(), vm:next(), vm:finish() -- one instruction, over a call, out of the function
  vm:step(10, { vcpu = 1 })         -- ten instructions of vCPU 1 alone; vm:next{vcpu = 1} too
  vm:watch("timer_ticks", 4)        -- stop when the guest writes there
  vm:breakpoints(), vm:delete(id)   -- also vm:disable(id), vm:enable(id)
  vm:cpu(), vm:disasm(), vm:translate(addr), vm:dump(addr, 64), vm:addr("kmain")
  vm:gdbserve(1234)                 -- let gdb in: target remote 127.0.0.1:1234
                                    -- (or from the shell: hvwb --gdb 1234 guest.elf)
Snapshots and clones:
  s = vm:snapshot("before"); vm:restore(s)       -- back to exactly that moment
  vm:save("vm.snap"); wb.load("vm.snap")         -- to a file and back, as a new VM
  twin = vm:clone{ name = "twin" }               -- a copy-on-write twin
Linux:
  vm:load_linux{ kernel = "/boot/vmlinuz-...", initrd = ..., cmdline = "console=ttyS0" }
      -- in a VM of 512M or more; or from the shell: hvwb --kernel FILE

Numbers are Lua integers, so a kernel address is negative: ("%x"):format(a) prints it.

Samples (samples/build): boot16.bin, mb32.elf, hello64.elf, counter.bin, devtest.elf,
echo.bin, halt.bin, triple.bin.  demo("name") boots one; demo() boots hello64.elf.
]]

function help()
  io.write(tour)
end

-- How demo() runs each sample (see samples/README.md): load options, what to
-- do before the run, input to type, how long to let it run.
local demos = {
  ["boot16.bin"] = {},
  ["mb32.elf"] = { load = { cmdline = "hello from demo()" } },
  ["hello64.elf"] = {},
  -- a 64 KiB real-mode image at the top of the first MiB, entered at the reset vector;
  -- it writes N times to port 0x600 (N at 0xF0008: 100000 by default, 10000 here)
  ["counter.bin"] = { load = { addr = 0xF0000, entry = 0xFFFF0 },
    setup = function(vm) vm:write32(0xF0008, 10000) end,
    after = function(vm) print(("counter: %d writes to port 0x600"):format(vm:stats().ports[0x600] or 0)) end },
  -- it talks to devices at ports 0x500-0x503 and MMIO 0xfe000000: show its accesses
  ["devtest.elf"] = { setup = function(vm)
      local function show(kind) return function(addr, size, value)
        print(("devtest: %s %d bytes at 0x%x%s"):format(value and "write" or "read", size, addr,
          value and (" <- 0x%x"):format(value) or ""))
        if not value then return 0x12345678 >> (8 * (4 - size)) end
      end end
      vm:device{ ports = { 0x500, 4 }, name = "demo-ports", read = show(), write = show() }
      vm:device{ mmio = { 0xfe000000, 0x1000 }, name = "demo-mmio", read = show(), write = show() }
    end },
  ["echo.bin"] = { input = "hello, echo\n" },
  ["halt.bin"] = { timeout = 1 },     -- it halts with interrupts off: it never ends by itself
  ["triple.bin"] = {},
}

-- demo([file]): (re)creates the VM "demo", boots a sample and shows its output.
function demo(file)
  file = file or "hello64.elf"
  local how = demos[file]
  if not how then
    local names = {}
    for k in pairs(demos) do names[#names + 1] = k end
    table.sort(names)
    error(("demo: no sample '%s' (samples: %s); for your own guest: vm:load(path)")
      :format(tostring(file), table.concat(names, ", ")), 2)
  end
  local old = wb.find("demo")
  if old then old:destroy() end
  local vm = assert(wb.vm{ name = "demo", mem = "64M" })
  assert(vm:load(sample(file), how.load))
  if how.setup then how.setup(vm) end
  if how.input then vm:send(how.input) end
  local stop = vm:run{ timeout = how.timeout or 10 }
  io.write(vm:serial())
  if how.after then how.after(vm) end
  print(stop)
  return vm
end
