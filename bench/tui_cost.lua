-- tui_cost.lua: the VMs of the dashboard benchmark (bench/tui_cost.sh). Makes N VMs
-- (default 64) that run the given idle guest, `sti; hlt; jmp` loaded raw at 0x7c00: each
-- stays in state running, its vCPU asleep in the guest's hlt, so the VMs themselves cost
-- little and what is measured is the dashboard watching them. Then -i opens the dashboard.
-- Usage: build/hvwb -i --no-startup bench/tui_cost.lua IMAGE [N]
local image = assert(arg[1], "usage: tui_cost.lua IMAGE [N]")
local n = math.tointeger(tonumber(arg[2] or "64"))
for i = 1, n do
  local vm = assert(wb.vm{ name = ("idle%02d"):format(i), mem = "2M" })
  assert(vm:load(image, { format = "raw" }))
  vm:start()
end
