-- Registers, memory, events and statistics of a VM, as a user inspects them.
local t = require "tap"
t.require_vm()
t.plan(24)

local vm = assert(wb.vm{ name = "inspect", mem = "16M" })
t.is(vm.name, "inspect", "vm.name")
t.is(vm.mem, 16 << 20, "vm.mem is the size in bytes")
t.is(vm.vcpus, 1, "vm.vcpus")
t.is(vm.state, "created", "a new VM is created")

-- Memory: physical reads and writes, little-endian helpers.
vm:write(0x2000, "\x11\x22\x33\x44\x55\x66\x77\x88")
t.is(vm:read(0x2000, 8), "\x11\x22\x33\x44\x55\x66\x77\x88", "write then read back")
t.is(vm:read16(0x2000), 0x2211, "read16 is little endian")
t.is(vm:read32(0x2004), 0x88776655, "read32")
t.is(vm:read64(0x2000), 0x8877665544332211, "read64")
vm:write64(0x3000, -1)
t.is(vm:read(0x3000, 8), ("\xff"):rep(8), "write64 of -1 fills all bytes")
vm:write16(0x3000, 0xbeef)
t.is(vm:read32(0x3000), 0xffffbeef, "write16 changes only two bytes")

-- Registers: loading sets the entry; assignment sticks.
assert(vm:load(t.samples .. "/boot16.bin"))
t.is(vm.rip, 0x7c00, "a boot sector is entered at 0x7c00")
t.is(vm.cs, 0, "with CS = 0 in real mode")
t.is(vm:regs().cr0 & 1, 0, "protection is off in real mode")
vm.rax = 0x1234
t.is(vm:regs().rax, 0x1234, "vm.rax = ... sets the register")

local stops, serial_seen = {}, {}
vm:on("stop", function(v, s) stops[#stops + 1] = s.reason .. ":" .. tostring(s.code) end)
vm:on("serial", function(v, bytes) serial_seen[#serial_seen + 1] = bytes end)
local s = vm:run{ timeout = 10 }
t.is(s.code, 0x10, "boot16 ran")
t.is(table.concat(stops, ","), "exit:16", "the stop handler ran once with the stop")
t.is(table.concat(serial_seen), "Hello from real mode!\r\n", "the serial handler got every byte")
t.ok(vm.rip > 0x7c00 and vm.rip < 0x7e00, ("after the exit RIP is inside the boot sector (0x%x)"):format(vm.rip))

-- Statistics.
local st = vm:stats()
local ports = 0
for _, n in pairs(st.ports) do ports = ports + n end
t.is(ports, st.exits.io, "per-port counts add up to the I/O exits")
t.ok(st.guest_time > 0 and st.run_time >= st.guest_time * 0.5, "time in the guest and in the run are measured")
t.ok(st.resident >= 4096 and st.resident < st.mem, "resident memory counts only touched pages")
if t.accel() == "kvm" then
  t.ok(next(st.kvm) ~= nil, "KVM's own binary statistics are there")
else
  t.skip(1, "KVM's own binary statistics: the VMs here run on " .. t.accel())
end
vm:destroy()

-- Two vCPUs: the second waits for a SIPI that never comes; halting is still seen.
local smp = assert(wb.vm{ mem = "4M", vcpus = 2 })
assert(smp:load(t.samples .. "/halt.bin"))
s = smp:run{ timeout = 10 }
t.is(s.reason, "hlt", "a 2-vCPU VM whose BSP halts with interrupts off stops as hlt")
t.is(#smp:stats().vcpus + 1, 2, "stats report each vCPU")
smp:destroy()
t.done()
