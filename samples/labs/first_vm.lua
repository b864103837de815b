-- Lab 1: your first VM. Run with: build/hvwb samples/labs/first_vm.lua
-- A boot sector is 512 bytes that a PC's firmware loads at 0x7c00 and jumps to
-- in 16-bit real mode. Here hvwb plays the firmware.
local vm = assert(wb.vm{ name = "lab1", mem = "16M" })
assert(vm:load(sample("boot16.bin")))          -- raw file, loaded at 0x7c00, real mode

print(("1. The CPU starts at CS:IP = %04x:%04x (linear 0x%x)"):format(vm.cs, vm.rip, vm.cs * 16 + vm.rip))
print(("2. The first bytes there: %s"):format((vm:read(0x7c00, 8):gsub(".", function(c)
  return ("%02x "):format(c:byte()) end))))
print(("3. The last two bytes of the sector are the boot signature: %04x"):format(vm:read16(0x7dfe)))

local stop = vm:run{ timeout = 5 }
print("4. The guest ran until: " .. tostring(stop))
io.write("5. It printed on its serial port: ", vm:serial())

local st = vm:stats()
print(("6. It left the CPU %d times, all for port I/O:"):format(st.exits.total))
for port, n in pairs(st.ports) do print(("     port 0x%x: %d times"):format(port, n)) end
print("   0x3f8 is the UART's data register, 0x3fd its line status; 0xf4 ends the VM.")
print("Question: why are there as many reads of 0x3fd as writes to 0x3f8?")
vm:destroy()
