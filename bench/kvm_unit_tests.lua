-- kvm_unit_tests.lua: runs the KVM project's x86 unit tests (kvm-unit-tests,
-- built elsewhere; see docs/kvm-unit-tests.md) on one of hvwb's accelerators
-- and prints one line per entry of x86/unittests.cfg plus totals.
--
--   build/hvwb --no-startup bench/kvm_unit_tests.lua [options] [entry...]
--
-- options:
--   --dir DIR       the suite (default $KUT_DIR or /work/shared/kvm-unit-tests)
--   --accel NAME    soft (default) or kvm
--   --timeout S     seconds per entry (default 90; an entry's own `timeout` is ignored)
--   --logs DIR      keep each entry's serial output as DIR/<entry>.log
--   --lines N       failing check lines shown per FAIL (default 3)
--   --list          only list the entries
-- Entries are named as in unittests.cfg; none named means all of them.
-- Not part of `make check`: users do not have the suite.

local opts = { dir = os.getenv("KUT_DIR") or "/work/shared/kvm-unit-tests", accel = "soft",
	timeout = 90, lines = 3 }
local wanted, wanted_list = {}, {}
do
	local i = 1
	while arg[i] do
		local a = arg[i]
		local function val()
			i = i + 1
			if not arg[i] then error("option " .. a .. " needs a value") end
			return arg[i]
		end
		if a == "--dir" then opts.dir = val()
		elseif a == "--accel" then opts.accel = val()
		elseif a == "--timeout" then opts.timeout = assert(tonumber(val()), "--timeout takes seconds")
		elseif a == "--logs" then opts.logs = val()
		elseif a == "--lines" then opts.lines = assert(math.tointeger(tonumber(val())), "--lines takes a count")
		elseif a == "--list" then opts.list = true
		elseif a == "-h" or a == "--help" then
			print("usage: hvwb --no-startup bench/kvm_unit_tests.lua [--dir DIR] [--accel soft|kvm]"
				.. " [--timeout S] [--logs DIR] [--lines N] [--list] [entry...]")
			os.exit(0)
		elseif a:sub(1, 2) == "--" then error("unknown option " .. a)
		else wanted[a] = true; wanted_list[#wanted_list + 1] = a end
		i = i + 1
	end
end

-- unittests.cfg: [name] sections of `key = value` lines; '#' starts a comment
-- line (a commented-out section such as "#[init]" is not an entry).
local function parse_cfg(path)
	local f = assert(io.open(path, "r"))
	local entries, cur = {}, nil
	for line in f:lines() do
		if line:match("^%s*#") or line:match("^%s*$") then
			-- comment or blank
		elseif line:match("^%s*%[") then
			local name = assert(line:match("^%s*%[([^%]]+)%]"), "bad section line: " .. line)
			cur = { name = name }
			entries[#entries + 1] = cur
		else
			local k, v = line:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
			if k and cur then
				local q = v:sub(1, 1)
				if (q == "'" or q == '"') and v:sub(-1) == q then v = v:sub(2, -2) end
				cur[k] = v
			end
		end
	end
	f:close()
	return entries
end

-- QEMU's -m: a number of MiB, or with a suffix (k, m, g, t).
local function mem_mib(params)
	local m = params and (params:match("%-m%s+(%S+)"))
	if not m then return 256 end
	local n, unit = m:match("^(%d+)([kKmMgGtT]?)[bB]?$")
	n = tonumber(n)
	if not n then return 256 end
	unit = unit:lower()
	if unit == "k" then return n // 1024
	elseif unit == "g" then return n * 1024
	elseif unit == "t" then return n * 1024 * 1024 end
	return n
end

-- Features that QEMU's -cpu turns off with "-name" and that vm:cpuid{hide=} knows.
local function cpu_hides(params)
	local hides = {}
	local cpu = params and params:match("%-cpu%s+(%S+)")
	if cpu then
		for feat in cpu:gmatch(",%-([%w_%-]+)") do hides[#hides + 1] = feat:gsub("%-", "_") end
	end
	return hides
end

local function file_exists(p)
	local f = io.open(p, "rb")
	if f then f:close() return true end
	return false
end

-- pc-testdev as QEMU has it: a 4-byte scratch port at 0xe0 (any access size,
-- any byte lane), the flush port at 0xe4 (a no-op here: there is no TLB to
-- flush from outside), 24 IRQ-line ports at 0x2000 and 64 KiB of RAM-like MMIO
-- at 0xff000000.
local function add_testdevs(vm, note)
	local scratch = 0
	vm:device{ name = "pc-testdev-io", ports = { 0xe0, 4 },
		read = function(addr, size)
			local shift = (addr & 3) * 8
			local mask = (size >= 4) and 0xffffffff or ((1 << (size * 8)) - 1)
			return (scratch >> shift) & mask
		end,
		write = function(addr, size, value)
			local shift = (addr & 3) * 8
			local mask = ((size >= 4) and 0xffffffff or ((1 << (size * 8)) - 1)) << shift
			scratch = ((scratch & ~mask) | ((value << shift) & mask)) & 0xffffffff
		end }
	vm:device{ name = "pc-testdev-flush", ports = { 0xe4, 4 },
		read = function() return 0 end, write = function() end }
	-- A write of v to port 0x2000 + n sets IRQ line n to v (vm:irq).
	vm:device{ name = "pc-testdev-irq", ports = { 0x2000, 24 },
		read = function() return 0 end,
		write = function(addr, size, value)
			note.irq = (note.irq or 0) + 1
			vm:irq(addr - 0x2000, (value & 1) == 1)
		end }
	local base, mem = 0xff000000, {}
	vm:device{ name = "pc-testdev-mem", mmio = { base, 0x10000 },
		read = function(addr, size)
			local off = addr >= base and addr - base or addr
			local v = 0
			for i = size - 1, 0, -1 do v = (v << 8) | (mem[off + i] or 0) end
			return v
		end,
		write = function(addr, size, value)
			local off = addr >= base and addr - base or addr
			for i = 0, size - 1 do mem[off + i] = (value >> (8 * i)) & 0xff end
		end }
end

local function first_lines(text, pred, n)
	local out = {}
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		line = line:gsub("\r", "")
		if pred(line) then
			out[#out + 1] = line
			if #out >= n then break end
		end
	end
	return out
end

local function last_line(text)
	local last
	for line in text:gmatch("[^\n]+") do
		if line:match("%S") then last = line end
	end
	return last
end

local tmpdir = os.getenv("TMPDIR") or "/tmp"

-- Wall-clock seconds with a fraction (os.time() has whole seconds only).
local function uptime()
	local f = io.open("/proc/uptime")
	if not f then return os.time() end
	local v = f:read("n")
	f:close()
	return v
end

local function run_entry(e)
	local res = { name = e.name }
	local params = e.qemu_params or ""
	if e.accel == "kvm" or params:match("%-enable%-kvm") then
		if opts.accel ~= "kvm" then
			res.verdict, res.why = "KVM-ONLY", "accel = kvm or -enable-kvm: not run under " .. opts.accel
			return res
		end
	end
	local flat = opts.dir .. "/x86/" .. e.file
	if not file_exists(flat) then
		res.verdict = "SKIP"
		res.why = (e.arch and e.arch ~= "x86_64") and ("arch = " .. e.arch .. ": " .. e.file .. " not built (x86_64 build)")
			or (e.file .. " missing")
		return res
	end
	local smp = tonumber(e.smp) or 1
	local mib = mem_mib(params)
	local env = string.format("%s/kut-env-%s-%d.txt", tmpdir, e.name, math.random(1 << 30))
	local f = assert(io.open(env, "w"))
	f:write(string.format("NR_CPUS=%d\nMEMSIZE=%d\n", smp, mib))
	f:close()
	local args = e.test_args or ""
	args = args:gsub("`date %+%%s`", tostring(os.time()))
	local cmdline = flat .. (args ~= "" and (" " .. args) or "")

	local vm, err = wb.vm{ name = "kut-" .. e.name, accel = opts.accel, mem = mib .. "M", vcpus = smp }
	if not vm then
		os.remove(env)
		res.verdict, res.why = "CRASH", "wb.vm: " .. tostring(err)
		return res
	end
	local hides = cpu_hides(params)
	local hidden = {}
	for _, h in ipairs(hides) do
		if pcall(vm.cpuid, vm, { hide = { h } }) then hidden[#hidden + 1] = h end
	end
	-- vm:cpuid{hide=} replaces the hidden set: hide the accepted ones together.
	if #hidden > 0 then vm:cpuid{ hide = hidden } end
	res.hidden = hidden
	local note = {}
	add_testdevs(vm, note)
	local ok, lerr = vm:load(flat, { format = "multiboot", cmdline = cmdline, modules = { env } })
	if not ok and tostring(lerr):match("overlaps multiboot information") then
		-- hvwb's multiboot loader puts its information at 0x9000, where
		-- realmode.flat has code: load the ELF as it is and hand the kernel
		-- an empty multiboot information (flags 0) above it instead.
		ok, lerr = vm:load(flat, { format = "elf", mode = "protected" })
		if ok then
			local mbi = 0x80000
			vm:write(mbi, string.rep("\0", 128))
			vm.rax, vm.rbx = 0x2BADB002, mbi
			res.loaded_as = "ELF (multiboot information at 0x9000 overlaps it)"
		end
	end
	if not ok then
		os.remove(env)
		vm:destroy()
		res.verdict, res.why = "CRASH", "load: " .. tostring(lerr)
		return res
	end
	local stop = vm:run{ timeout = opts.timeout }
	res.stop = stop
	local serial = vm:serial() or ""
	res.serial = serial
	res.irq = note.irq
	if opts.logs then
		local lf = io.open(opts.logs .. "/" .. e.name .. ".log", "w")
		if lf then
			lf:write(serial)
			lf:write(string.format("\n--- hvwb stop: %s %s %s\n", tostring(stop.reason),
				tostring(stop.code), tostring(stop.message)))
			lf:close()
		end
	end
	if stop.reason == "timeout" then
		-- where each vCPU was when the time ran out, by symbol
		local at = {}
		for i = 0, smp - 1 do
			local ok, r = pcall(vm.regs, vm, i)
			if ok and r and r.rip then
				local oks, sym = pcall(vm.sym, vm, r.rip)
				at[#at + 1] = string.format("vCPU%d %#x%s", i, r.rip,
					(oks and sym) and (" <" .. tostring(sym) .. ">") or "")
			end
		end
		res.at = table.concat(at, ", ")
	end
	vm:destroy()
	os.remove(env)
	local fails = function()
		local l = first_lines(serial, function(s)
			return (s:match("FAIL") and not s:match("^SUMMARY")) or s:match("Unhandled exception")
				or s:match("assert failed") or s:match("^%s*rax=")
		end, opts.lines)
		return table.concat(l, " | ")
	end
	if stop.reason == "exit" then
		if stop.code == 0 then res.verdict = "PASS"
		elseif stop.code == 0x26 then
			res.verdict = "SKIP"
			local l = first_lines(serial, function(s) return s:match("SKIP") end, 1)
			res.why = l[1] or last_line(serial:gsub("SUMMARY[^\n]*", ""))
		else
			res.verdict = "FAIL"
			local w = fails()
			if w == "" then w = "exit code " .. stop.code .. "; last line: " .. tostring(last_line(serial)) end
			res.why = w
		end
	elseif stop.reason == "timeout" then
		res.verdict = "TIMEOUT"
		local w = fails()
		res.why = (w ~= "" and (w .. " || ") or "") .. "last line: " .. tostring(last_line(serial))
			.. (res.at ~= "" and (" || at " .. res.at) or "")
	else
		res.verdict = "CRASH"
		res.why = tostring(stop.reason) .. ": " .. tostring(stop.message)
		if stop.bytes and not tostring(stop.message):match("`") then
			res.why = res.why .. " (bytes " .. (stop.bytes:gsub(".", function(c)
				return string.format("%02x ", c:byte()) end)):gsub(" $", "") .. ")"
		end
		local w = fails()
		if w ~= "" then res.why = res.why .. " || " .. w end
		res.why = res.why .. " || last line: " .. tostring(last_line(serial))
	end
	return res
end

local entries = parse_cfg(opts.dir .. "/x86/unittests.cfg")
if opts.list then
	for _, e in ipairs(entries) do
		print(string.format("%-42s %-22s smp=%s %s", e.name, e.file, e.smp or 1, e.test_args or ""))
	end
	print(#entries .. " entries")
	os.exit(0)
end
local known = {}
for _, e in ipairs(entries) do known[e.name] = true end
for _, n in ipairs(wanted_list) do
	if not known[n] then error("no entry '" .. n .. "' in unittests.cfg") end
end

math.randomseed(os.time())
print(string.format("kvm-unit-tests from %s on accel %s, %g s per entry, %s", opts.dir, opts.accel,
	opts.timeout, os.date("!%Y-%m-%d %H:%M UTC")))
local totals, order = {}, { "PASS", "SKIP", "FAIL", "TIMEOUT", "CRASH", "KVM-ONLY" }
local n, t_all = 0, os.time()
for _, e in ipairs(entries) do
	if next(wanted) == nil or wanted[e.name] then
		local start = uptime()
		local r = run_entry(e)
		local secs = uptime() - start
		n = n + 1
		totals[r.verdict] = (totals[r.verdict] or 0) + 1
		local extra = ""
		if r.hidden and #r.hidden > 0 then extra = " [hid " .. table.concat(r.hidden, ",") .. "]" end
		if r.loaded_as then extra = extra .. " [loaded as " .. r.loaded_as .. "]" end
		if r.irq then extra = extra .. " [wanted pc-testdev IRQ x" .. r.irq .. "]" end
		print(string.format("%-42s %-8s %7.1f s%s%s", e.name, r.verdict, secs,
			r.why and ("  " .. r.why) or "", extra))
		io.stdout:flush()
	end
end
local parts = {}
for _, v in ipairs(order) do
	if totals[v] then parts[#parts + 1] = totals[v] .. " " .. v end
end
print(string.format("totals (%d entries, %d s): %s", n, os.time() - t_all, table.concat(parts, ", ")))
