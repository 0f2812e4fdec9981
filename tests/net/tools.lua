-- tests/net/tools.lua -- build/lunet-proxy and build/lunet-peer for the specs
-- in tests/net, as processes under support.lua's cleanup.
--
--   local tools = dofile(dir .. "tools.lua")
--   local support = tools.support          -- use this one for nodes too, so
--                                           -- one support.cleanup() stops all
--   local px = tools.proxy({ [listen] = target })   -- waits for `ready`
--   px:cut({ listen, ... })                 -- no list: every listen port
--   px:heal()  px:heal({ listen })          px:status()  -> { [listen] = {...} }
--   px:stop()                               -- SIGTERM; how, code
--
--   local p = tools.peer({ key = path, chain = id, connect = "127.0.0.1:port",
--                          timeout_ms = 5000, max_frame = n })
--   -- returns once the peer printed `up` (p.up) or exited (p.refused, p.code)
--   p:send(bytes)  p:garbage(n)  p:big(n)  p:sleep(ms)  -- queued, in order
--   p:file(path)         -- one frame with a file's bytes (frames too big for a line)
--   p:flood(n, bytes)    -- the frame n times over
--   p:quiet()            -- count the frames received from now on, not print them
--   p:count()            -- frames, bytes received while quiet (waits for the answer)
--   p:wait_down(ms)      -- the remote's reason for dropping us, or nil if still up
--   p:lines()            -- what it printed so far (its stderr lines start "lunet-peer:")
--   p:recv()             -- the frames it received, as bytes
--   p:close()            -- end of stdin: flush, exit; how, code
--
-- The binaries sit beside LUNET_BIN (default build/), so an ASan run uses
-- its own. Every wait is a bounded poll that says what did not happen.

local ffi = require "ffi"
local socket = require "socket"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "support.lua")
local core = support.core

local M = { support = support }

pcall(ffi.cdef, "long write(int fd, const void *buf, size_t n);")
local C = ffi.C
local O_CLOEXEC = 0x80000

local bindir = support.BIN:match("^(.*)/[^/]*$") or "."
M.PEER_BIN, M.PROXY_BIN = bindir .. "/lunet-peer", bindir .. "/lunet-proxy"

local count = 0

-- A process slot under support's cleanup (a Node never started: its stop,
-- alive, kill and watchdog work for any pid), running argv.
local function launch(prefix, argv, stdin_fd)
  count = count + 1
  local proc = support.node({ name = prefix .. count })
  proc.pid = support.spawn(argv, proc.log, stdin_fd)
  proc:start_watchdog()
  return proc
end

local function split_lines(s)
  local out = {}
  for l in s:gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

local function unhex(h)
  return (h:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end))
end

-- ---- the proxy ----------------------------------------------------------------

local Proxy = {}
Proxy.__index = Proxy

function M.proxy(map)
  local ports, argv = {}, nil
  for listen in pairs(map) do ports[#ports + 1] = listen end
  table.sort(ports)
  local control = support.free_port()
  argv = { M.PROXY_BIN, "--control", "127.0.0.1:" .. control }
  for _, p in ipairs(ports) do argv[#argv + 1] = p .. "=" .. map[p] end
  local proc = launch("proxy", argv)
  support.wait_until(50, 100, function()
    if not proc:alive() then
      error("lunet-proxy exited before `ready`: " .. proc:log_tail(5), 0)
    end
    return (support.read_file(proc.log) or ""):find("ready\n", 1, true)
  end, function() return "lunet-proxy never printed `ready`: " .. proc:log_tail(5) end)
  return setmetatable({ proc = proc, control = control, ports = ports }, Proxy)
end

-- One control line; returns the `ok ...` answer, raises on `error ...`.
function Proxy:command(line)
  local c = socket.tcp()
  c:settimeout(5)
  local ok, err = c:connect("127.0.0.1", self.control)
  if not ok then c:close(); error("lunet-proxy control: " .. tostring(err), 2) end
  c:send(line .. "\n")
  local reply, rerr = c:receive("*l")
  c:close()
  if not reply then error("lunet-proxy: no answer to '" .. line .. "': " .. tostring(rerr), 2) end
  if reply:sub(1, 2) ~= "ok" then error("lunet-proxy: " .. line .. ": " .. reply, 2) end
  return reply
end

local function port_list(ports)
  if type(ports) == "number" then return { ports } end
  return ports
end

function Proxy:cut(ports)
  return self:command("cut " .. table.concat(port_list(ports) or self.ports, " "))
end

function Proxy:heal(ports)
  ports = port_list(ports)
  return self:command(ports and ("heal " .. table.concat(ports, " ")) or "heal")
end

-- { [listen] = { target = n, cut = bool, conns = n } }
function Proxy:status()
  local out = {}
  for l, t, st, n in self:command("status"):gmatch("(%d+)=(%d+):(%a+):(%d+)") do
    out[tonumber(l)] = { target = tonumber(t), cut = st == "cut", conns = tonumber(n) }
  end
  return out
end

function Proxy:stop()
  if not self.proc:alive() then return self.proc.ended.how, self.proc.ended.value end
  return self.proc:kill("TERM")
end

-- ---- the peer -----------------------------------------------------------------

local Peer = {}
Peer.__index = Peer

function M.peer(opts)
  assert(opts.key and opts.chain and opts.connect, "tools.peer: key, chain and connect are required")
  local timeout = opts.timeout_ms or 5000
  local argv = { M.PEER_BIN, "--key", opts.key, "--chain", opts.chain, "--connect", opts.connect,
                 "--timeout-ms", tostring(timeout) }
  if opts.max_frame then
    argv[#argv + 1] = "--max-frame"
    argv[#argv + 1] = tostring(opts.max_frame)
  end
  local fds = ffi.new("int[2]")
  assert(C.pipe2(fds, O_CLOEXEC) == 0, "pipe2 failed")
  local proc = launch("peer", argv, fds[0])
  C.close(fds[0])
  local p = setmetatable({ proc = proc, fd = fds[1] }, Peer)
  support.wait_until(math.floor(timeout / 50) + 60, 50, function()
    for _, l in ipairs(p:lines()) do
      if l == "up" then p.up = true; return true end
    end
    if not proc:alive() then
      p.code = proc.ended.value
      for _, l in ipairs(p:lines()) do p.refused = p.refused or l:match("^refused (.*)$") end
      return true
    end
  end, function() return "lunet-peer neither came up nor exited: " .. proc:log_tail(5) end)
  return p
end

function Peer:lines()
  return split_lines(support.read_file(self.proc.log) or "")
end

-- The frames the remote sent so far, as bytes.
function Peer:recv()
  local out = {}
  for _, l in ipairs(self:lines()) do
    local h = l:match("^recv (%x*)$")
    if h then out[#out + 1] = unhex(h) end
  end
  return out
end

-- Queues one command line (the tool runs them in order).
function Peer:command(line)
  assert(self.fd, "lunet-peer: stdin already closed")
  if not self.proc:alive() then
    error("lunet-peer exited (" .. tostring(self.proc.ended.value) .. "): " .. self.proc:log_tail(5), 2)
  end
  local s = line .. "\n"
  local off = 0
  while off < #s do
    local n = tonumber(C.write(self.fd, ffi.cast("const char *", s) + off, #s - off))
    if n <= 0 then error("lunet-peer: writing its stdin failed", 2) end
    off = off + n
  end
end

function Peer:send(bytes) self:command("send " .. core.hex(bytes)) end
function Peer:garbage(n) self:command("garbage " .. n) end
function Peer:big(n) self:command("big " .. n) end
function Peer:sleep(ms) self:command("sleep " .. ms) end
function Peer:file(path) self:command("file " .. path) end
function Peer:flood(n, bytes) self:command("repeat " .. n .. " " .. core.hex(bytes)) end
function Peer:quiet() self:command("quiet") end

-- Frames and bytes received while quiet; nil once the tool has exited.
function Peer:count()
  local function answers()
    local out = {}
    for _, l in ipairs(self:lines()) do
      local f, b = l:match("^count (%d+) (%d+)$")
      if f then out[#out + 1] = { tonumber(f), tonumber(b) } end
    end
    return out
  end
  if not self.proc:alive() then return nil end
  local before = #answers()
  self:command("count")
  local got = support.wait_until(200, 20, function()
    local a = answers()
    if #a > before then return a[#a] end
    if not self.proc:alive() then return { false } end
  end, function() return "lunet-peer never answered count: " .. self.proc:log_tail(5) end)
  if not got[1] then return nil end
  return got[1], got[2]
end

local function results(p)
  local n, last = 0, nil
  for _, l in ipairs(p:lines()) do
    if l == "still-up" or l:match("^down ") then n, last = n + 1, l end
  end
  return n, last
end

-- Waits up to ms for the remote to drop us: its reason ("closed by the
-- remote", ...), or nil if the peer is still up.
function Peer:wait_down(ms)
  local before = results(self)
  self:command("wait-down " .. ms)
  local line = support.wait_until(math.floor(ms / 20) + 150, 20, function()
    local n, last = results(self)
    return n > before and last
  end, function() return "lunet-peer never answered wait-down: " .. self.proc:log_tail(5) end)
  return line:match("^down (.*)$")
end

-- Ends its stdin: it flushes, closes and exits. Returns how it ended.
function Peer:close()
  if self.fd then
    C.close(self.fd)
    self.fd = nil
  end
  local ok = pcall(support.wait_until, 100, 50, function() return not self.proc:alive() end, "")
  if not ok then self.proc:stop() end
  local e = self.proc.ended or {}
  return e.how, e.value
end

return M
