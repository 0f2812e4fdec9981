-- tests/net/support.lua -- real `lunet dev` processes on loopback for the
-- specs in tests/net/ (run by `build/lunet test tests/net`).
--
--   local support = dofile("tests/net/support.lua")
--   local node = support.node():start()   -- temp home, free port, /health up
--   node:call("chain_info")                -- JSON-RPC; raises on an error object
--   local res, err = node:rpc("tx_get", { hash = id })
--   local id = node:send("alice", "token", "transfer", { "bob", 10 })
--   local got = node:wait_committed(id)    -- tx_get once status is committed
--   node:kill("KILL"); node:start()        -- same home, same port
--   support.cleanup()                      -- in lazy_teardown: stops every node;
--                                          -- homes and logs kept if a test failed
--
-- HTTP is a small HTTP/1.1 client over luasocket (Debian: lua-socket), JSON
-- is dkjson (comes with busted), transactions are built and signed with
-- lunet.core. Nodes are spawned with posix_spawn (LuaJIT ffi) so this
-- process reaps them and sees their exit status (PID 1 here may not reap
-- orphans); a watchdog shell per node kills it if this process dies without
-- cleaning up.
-- Waiting is always a bounded poll: wait_until(tries, interval_ms, cond, msg).
--
-- Environment: LUNET_BIN runs another binary (default ROOT/build/lunet; the
-- ASan build's: a sanitizer report in a node's log fails cleanup());
-- LUNET_KEEP=1 keeps homes and logs even when every test passed.

local ffi = require "ffi"
local bit = require "bit"
local socket = require "socket"
local json = require "dkjson"
local core = require "lunet.core"

local M = { json = json, core = core }

ffi.cdef [[
typedef int ln_pid_t;
typedef struct { int allocated; int used; void *actions; int pad[16]; } ln_spawn_fa;
int posix_spawn_file_actions_init(ln_spawn_fa *fa);
int posix_spawn_file_actions_destroy(ln_spawn_fa *fa);
int posix_spawn_file_actions_addopen(ln_spawn_fa *fa, int fd, const char *path, int oflag, int mode);
int posix_spawn_file_actions_adddup2(ln_spawn_fa *fa, int fd, int newfd);
int pipe2(int fds[2], int flags);
int close(int fd);
int posix_spawn(ln_pid_t *pid, const char *path, const ln_spawn_fa *fa, const void *attr,
                char *const argv[], char *const envp[]);
int waitpid(ln_pid_t pid, int *status, int options);
int kill(ln_pid_t pid, int sig);
int getpid(void);
extern char **environ;
]]

local C = ffi.C
local SIG = { TERM = 15, KILL = 9, INT = 2 }
local WNOHANG = 1
local O_RDONLY, O_WRONLY, O_CREAT, O_APPEND, O_CLOEXEC = 0, 1, 0x40, 0x400, 0x80000

-- ---- small helpers ------------------------------------------------------

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
M.read_file, M.write_file, M.sh, M.quote = read_file, write_file, sh, q

-- The repository root: two folders above this file.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
M.ROOT = sh("cd " .. q(here .. "/../..") .. " && pwd")
M.BIN = os.getenv("LUNET_BIN") or (M.ROOT .. "/build/lunet")
M.CONFIG = M.ROOT .. "/configs/dev.lua"

function M.now() return socket.gettime() end

function M.sleep_ms(ms) socket.sleep(ms / 1000) end

-- Calls cond() up to `tries` times, interval_ms apart, until it returns a
-- true value, and returns that value; raises msg otherwise (a function is
-- called for the message then).
function M.wait_until(tries, interval_ms, cond, msg)
  for i = 1, tries do
    local v = cond()
    if v then return v end
    if i < tries then socket.sleep(interval_ms / 1000) end
  end
  if type(msg) == "function" then msg = msg() end
  error(msg, 2)
end

-- A port nobody listens on now, below the kernel's ephemeral range
-- (/proc/sys/net/ipv4/ip_local_port_range, 32768 and up here): a port the
-- kernel hands out for port 0 may be taken, before a node binds it, as the
-- source port of some outgoing connection (nodes dial each other all the
-- time), and the node then fails with "address in use". Never the same
-- port twice in one process.
local given, port_seed = {}, (C.getpid() * 7919 + math.floor(socket.gettime() * 1000)) % 2147483647
function M.free_port()
  for _ = 1, 200 do
    port_seed = (port_seed * 48271) % 2147483647
    local port = 20000 + port_seed % 12000
    if not given[port] then
      local s = socket.bind("127.0.0.1", port)
      if s then
        s:close()
        given[port] = true
        return port
      end
    end
  end
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = bit.bor(bit.lshift(a, 16), bit.lshift(b or 0, 8), c or 0)
    local function ch(k) local v = bit.band(bit.rshift(n, k), 63) + 1; return B64:sub(v, v) end
    out[#out + 1] = ch(18) .. ch(12) .. (b and ch(6) or "=") .. (c and ch(0) or "=")
  end
  return table.concat(out)
end

function M.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- Strips "0x" from a hex string (header hashes are bin, so "0x"-prefixed).
function M.plain_hex(s)
  if type(s) ~= "string" then return s end
  return (s:gsub("^0x", ""))
end

-- A JSON object, even when empty (dkjson writes {} as []).
function M.object(t) return setmetatable(t or {}, { __jsontype = "object" }) end

function M.decode_json(s)
  local v, _, err = json.decode(s)
  if err then return nil, err end
  return v
end

-- ---- failures: keep the logs ------------------------------------------------

local state = { failed = false, nodes = {}, dir = nil }
do
  local ok, busted = pcall(require, "busted")
  if ok and busted and busted.subscribe then
    local function mark() state.failed = true; return nil, true end
    busted.subscribe({ "failure" }, mark)
    busted.subscribe({ "error" }, mark)
  end
end

-- The folder of this spec file's nodes: /tmp/lunet-net.XXXXXX.
function M.run_dir()
  if not state.dir then state.dir = sh("mktemp -d /tmp/lunet-net.XXXXXX") end
  return state.dir
end

-- A config like configs/dev.lua whose proposer looks at the mempool once a
-- day: what is submitted waits there for as long as a test runs. Its path.
function M.idle_config()
  local cfg = read_file(M.CONFIG):gsub("block_ms = 50", "block_ms = 86400000")
  assert(cfg:find("86400000", 1, true), "configs/dev.lua has no block_ms = 50 to change")
  local path = M.run_dir() .. "/idle-dev.lua"
  write_file(path, cfg)
  return path
end

-- ---- HTTP -------------------------------------------------------------------

-- One request on a fresh connection. opts: headers (table), timeout (s),
-- length (a Content-Length to declare instead of #body), content_type.
-- Returns status, body, headers (lowercase names), or nil and an error.
function M.http(port, method, path, body, opts)
  opts = opts or {}
  local c = socket.tcp()
  c:settimeout(opts.timeout or 10)
  local ok, err = c:connect("127.0.0.1", port)
  if not ok then c:close(); return nil, "connect: " .. tostring(err) end
  local lines = { method .. " " .. path .. " HTTP/1.1", "Host: 127.0.0.1:" .. port,
                  "Connection: close" }
  if body or opts.length then
    lines[#lines + 1] = "Content-Type: " .. (opts.content_type or "application/json")
    lines[#lines + 1] = "Content-Length: " .. (opts.length or #body)
  end
  for k, v in pairs(opts.headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or ""))
  local data, rerr, partial = c:receive("*a")
  c:close()
  data = data or partial
  if not data or data == "" then return nil, "no response: " .. tostring(rerr) end
  local status = tonumber(data:match("^HTTP/1%.%d (%d%d%d)"))
  local head, rest = data:match("^(.-)\r\n\r\n(.*)$")
  if not status or not head then return nil, "malformed response: " .. data:sub(1, 200) end
  local headers = {}
  for k, v in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[k:lower()] = v end
  local len = tonumber(headers["content-length"])
  if len then rest = rest:sub(1, len) end
  return status, rest, headers
end

-- ---- nodes ------------------------------------------------------------------

local Node = {}
Node.__index = Node

-- A node description (not started): a fresh home under the run dir, free
-- RPC and P2P ports. opts.name names the home folder.
function M.node(opts)
  opts = opts or {}
  local dir = M.run_dir()
  local name = opts.name or ("node" .. (#state.nodes + 1))
  local n = setmetatable({
    name = name,
    home = dir .. "/" .. name,
    port = M.free_port(),
    p2p = M.free_port(),
    starts = 0,
  }, Node)
  n.log = n.home .. ".log"
  n.url = "http://127.0.0.1:" .. n.port
  state.nodes[#state.nodes + 1] = n
  return n
end

local function cstrings(list)
  local keep, arr = {}, ffi.new("char *[?]", #list + 1)
  for i, s in ipairs(list) do
    keep[i] = ffi.new("char[?]", #s + 1, s)
    arr[i - 1] = keep[i]
  end
  arr[#list] = nil
  return arr, keep
end

-- Spawns argv with stdout+stderr appended to log and stdin from /dev/null,
-- or from the fd `stdin_fd` when given.
local function spawn(argv, log, stdin_fd)
  local fa = ffi.new("ln_spawn_fa")
  C.posix_spawn_file_actions_init(fa)
  if stdin_fd then
    C.posix_spawn_file_actions_adddup2(fa, stdin_fd, 0)
  else
    C.posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)
  end
  C.posix_spawn_file_actions_addopen(fa, 1, log, bit.bor(O_WRONLY, O_CREAT, O_APPEND), 420)
  C.posix_spawn_file_actions_addopen(fa, 2, log, bit.bor(O_WRONLY, O_CREAT, O_APPEND), 420)
  local args, keep = cstrings(argv)
  local pid = ffi.new("ln_pid_t[1]")
  local rc = C.posix_spawn(pid, argv[1], fa, nil, args, C.environ)
  C.posix_spawn_file_actions_destroy(fa)
  local _ = keep
  if rc ~= 0 then error("posix_spawn " .. argv[1] .. " failed: errno " .. rc, 3) end
  return pid[0]
end

-- Reaps pid if it has exited: returns "exit", code or "signal", n; nil while
-- it runs. block: wait for it.
local function reap(pid, block)
  local st = ffi.new("int[1]")
  local r = C.waitpid(pid, st, block and 0 or WNOHANG)
  if r ~= pid then return nil end
  local s = st[0]
  if bit.band(s, 0x7f) == 0 then return "exit", bit.band(bit.rshift(s, 8), 0xff) end
  return "signal", bit.band(s, 0x7f)
end

-- Lines of the node's log from this start on (the last n lines).
function Node:log_tail(n)
  local s = read_file(self.log) or ""
  s = s:sub((self.log_from or 0) + 1)
  local lines = {}
  for l in (s .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  local from = math.max(1, #lines - (n or 20))
  return table.concat(lines, "\n", from)
end

-- The log's length now: a mark for log_since, so a spec can wait for what
-- a node logs after something it did.
function Node:log_mark()
  return #(read_file(self.log) or "")
end

-- What the log gained since mark (a log_mark).
function Node:log_since(mark)
  return (read_file(self.log) or ""):sub(mark + 1)
end

-- true while the process runs; records how it ended otherwise.
function Node:alive()
  if not self.pid then return false end
  local how, v = reap(self.pid)
  if how then
    self.ended = { how = how, value = v }
    self.pid = nil
    self:stop_watchdog()
    return false
  end
  return true
end

function Node:stop_watchdog()
  for _, k in ipairs({ "watchdog", "killer" }) do
    if self[k] then
      C.kill(self[k], SIG.KILL)
      reap(self[k], true)
      self[k] = nil
    end
  end
  if self.watchdog_fd then
    C.close(self.watchdog_fd)
    self.watchdog_fd = nil
  end
end

-- A shell that kills the node if this process dies without stopping it: it
-- reads a pipe whose only write end this process holds (close-on-exec, so
-- no other child has it); end of file means this process is gone. It runs
-- only shell builtins, so killing it leaves no orphan behind.
function Node:start_watchdog()
  local fds = ffi.new("int[2]")
  assert(C.pipe2(fds, O_CLOEXEC) == 0, "pipe2 failed")
  self.watchdog = spawn({ "/bin/sh", "-c", 'read x; kill -9 "$0" 2>/dev/null', tostring(self.pid) },
                        "/dev/null", fds[0])
  C.close(fds[0])
  self.watchdog_fd = fds[1]
end

-- Fault injection: a helper process sends SIG`sig` (default KILL) to the
-- node `seconds` from now, whatever this process is doing then.
function Node:kill_after(seconds, sig)
  assert(self.pid and not self.killer, "kill_after: node not running or already scheduled")
  self.killer = spawn({ "/bin/sh", "-c", 'sleep "$0"; kill -' .. (sig or "KILL") .. ' "$1"',
                        string.format("%.3f", seconds), tostring(self.pid) }, "/dev/null")
end

-- Starts `lunet dev` on the home (created on the first start) and waits
-- until GET /health answers. Extra argv in opts.args; opts.bin runs another
-- binary, opts.cwd runs it in that folder, opts.config = false gives no
-- --config.
function Node:start(opts)
  opts = opts or {}
  assert(not self.pid, self.name .. " is already running")
  self.starts = self.starts + 1
  local f = io.open(self.log, "ab")
  f:write(string.format("==== start %d of %s (%s)\n", self.starts, self.name, os.date("!%H:%M:%S")))
  f:close()
  self.log_from = #(read_file(self.log) or "")
  local argv = { opts.bin or M.BIN, opts.command or "dev", "--home", self.home,
                 "--rpc", "127.0.0.1:" .. self.port, "--p2p", "127.0.0.1:" .. self.p2p }
  if opts.config ~= false then
    argv[#argv + 1] = "--config"
    argv[#argv + 1] = opts.config or M.CONFIG
  end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  if opts.cwd then                     -- the shell execs the node: same pid
    table.insert(argv, 1, opts.cwd)
    table.insert(argv, 1, 'cd "$0" && exec "$@"')
    table.insert(argv, 1, "-c")
    table.insert(argv, 1, "/bin/sh")
  end
  self.ended = nil
  self.pid = spawn(argv, self.log)
  self:start_watchdog()
  local tries = opts.tries or 100
  M.wait_until(tries, 100, function()
    if not self:alive() then
      error(string.format("%s exited (%s %s) before answering /health; log %s:\n%s", self.name,
                          self.ended.how, tostring(self.ended.value), self.log, self:log_tail(30)), 0)
    end
    local st = M.http(self.port, "GET", "/health", nil, { timeout = 1 })
    return st == 200
  end, function()
    return string.format("%s never answered GET /health on port %d; log %s:\n%s", self.name,
                         self.port, self.log, self:log_tail(30))
  end)
  return self
end

-- Sends SIGTERM (default) or SIGKILL and waits for the process to end.
-- Returns how it ended: "exit", code or "signal", n.
function Node:kill(sig)
  sig = sig or "TERM"
  assert(self.pid, self.name .. " is not running")
  local pid = self.pid
  C.kill(pid, SIG[sig])
  M.wait_until(100, 50, function() return not self:alive() end,
               string.format("%s (pid %d) still runs 5 s after SIG%s", self.name, pid, sig))
  return self.ended.how, self.ended.value
end

-- Stops the node if it runs (SIGTERM, then SIGKILL after 5 s).
function Node:stop()
  if not self:alive() then return end
  local ok = pcall(self.kill, self, "TERM")
  if not ok and self.pid then
    C.kill(self.pid, SIG.KILL)
    reap(self.pid, true)
    self.pid = nil
  end
  self:stop_watchdog()
end

-- Stops every node. If a test failed, keeps the run dir (homes and logs)
-- and says where; else removes it.
-- The first line of a sanitizer report (ASan, LSan, UBSan) in a node's
-- log, or nil: a node built with -fsanitize reports there and may go on.
local SANITIZER = { "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ",
                    "WARNING: ThreadSanitizer" }
local function sanitizer_report(log)
  local s = read_file(log) or ""
  for _, pat in ipairs(SANITIZER) do
    local at = s:find(pat, 1, true)
    if at then
      local from = at
      while from > 1 and s:sub(from - 1, from - 1) ~= "\n" do from = from - 1 end
      return s:match("^[^\n]*", from)
    end
  end
end

-- Stops every node; raises when a node's log holds a sanitizer report
-- (homes and logs are then kept).
function M.cleanup()
  for _, n in ipairs(state.nodes) do n:stop() end
  local reports = {}
  for _, n in ipairs(state.nodes) do
    local r = sanitizer_report(n.log)
    if r then reports[#reports + 1] = n.log .. ": " .. r end
  end
  if #reports > 0 then state.failed = true end
  if state.dir then
    if state.failed or os.getenv("LUNET_KEEP") then
      io.stderr:write("\ntests/net: node homes and logs kept in " .. state.dir .. "\n")
      for _, n in ipairs(state.nodes) do
        if state.failed then
          io.stderr:write("---- " .. n.log .. " (last lines)\n" .. n:log_tail(15) .. "\n")
        end
      end
    else
      os.execute("rm -rf " .. q(state.dir))
    end
  end
  state.nodes, state.dir = {}, nil
  if #reports > 0 then
    error("sanitizer report in a node's log:\n" .. table.concat(reports, "\n"), 2)
  end
end

-- ---- HTTP and JSON-RPC on a node --------------------------------------------

function Node:http(method, path, body, opts)
  return M.http(self.port, method, path, body, opts)
end

-- POSTs a raw body to /; returns status, decoded JSON (nil if not JSON), body.
function Node:post(body, opts)
  local st, resp = M.http(self.port, "POST", "/", body, opts)
  if not st then error(self.name .. ": POST / failed: " .. tostring(resp), 2) end
  return st, (resp ~= "" and M.decode_json(resp) or nil), resp
end

local next_id = 0

-- One JSON-RPC call: result, or nil and the error object. Raises when the
-- node does not answer with a JSON-RPC response.
function Node:rpc(method, params)
  next_id = next_id + 1
  local body = json.encode({ jsonrpc = "2.0", id = next_id, method = method,
                             params = params or M.object() })
  local st, resp, raw = self:post(body)
  if st ~= 200 or type(resp) ~= "table" then
    error(string.format("%s: %s: HTTP %s %s", self.name, method, tostring(st), tostring(raw)), 2)
  end
  if resp.error then return nil, resp.error end
  return resp.result
end

-- Like rpc, raising on an error object.
function Node:call(method, params)
  local res, err = self:rpc(method, params)
  if not res and err then
    error(string.format("%s: %s: %s %s", self.name, method, tostring(err.code),
                        tostring(err.message)), 2)
  end
  return res
end

-- The value of one metric of GET /metrics (the first line of that name), or nil.
function Node:metric(name)
  local st, body = self:http("GET", "/metrics", nil, { timeout = 2 })
  if st ~= 200 then return nil end
  for line in body:gmatch("[^\n]+") do
    local n, v = line:match("^([%w_]+)%s+(%S+)$")
    if n == name then return tonumber(v) end
  end
end

function Node:health()
  local st, body = self:http("GET", "/health", nil, { timeout = 2 })
  if st ~= 200 then return nil, body end
  return M.decode_json(body)
end

-- ---- keys and transactions --------------------------------------------------

-- Writes a key file as `lunet keys new` does (JSON, mode 0600) at path,
-- making its folder; pk and sk are raw bytes.
function M.write_key(path, name, pk, sk)
  os.execute("mkdir -p " .. q(path:match("^(.*)/[^/]*$") or "."))
  write_file(path, string.format('{"account": "%s", "public_key": "%s", "secret_key": "%s"}',
                                 name, core.hex(pk), core.hex(sk)))
  os.execute("chmod 600 " .. q(path))
end

-- The dev key of `name` from HOME/keys/NAME.key: {account, pk, sk}.
function Node:key(name)
  self.keys = self.keys or {}
  if self.keys[name] then return self.keys[name] end
  local text = read_file(self.home .. "/keys/" .. name .. ".key")
  if not text then error("no key file for " .. name .. " in " .. self.home .. "/keys", 2) end
  local k = assert(M.decode_json(text))
  self.keys[name] = { account = k.account, pk = core.unhex(k.public_key), sk = core.unhex(k.secret_key) }
  return self.keys[name]
end

-- The signed transaction of `actions` from `account`: bytes, id (hex).
-- opts: nonce (default account_get's), expires, max_fee, chain_id, sk.
function Node:tx(account, actions, opts)
  opts = opts or {}
  local info = (opts.chain_id and opts.expires) and {} or self:call("chain_info")
  local nonce = opts.nonce
  if not nonce then nonce = self:call("account_get", { account = account }).nonce end
  local tx = {
    account = account,
    actions = actions,
    chain_id = opts.chain_id or info.chain_id,
    expires = opts.expires or (info.height + 100),
    max_fee = opts.max_fee or 10000000,
    nonce = nonce,
  }
  local bytes, id = core.sign_tx(tx, { opts.sk or self:key(account).sk })
  if not bytes then error("sign_tx: " .. tostring(id), 2) end
  return bytes, id
end

-- tx_submit of encoded bytes: result ({hash}) or nil and the error object.
function Node:submit(bytes)
  return self:rpc("tx_submit", { tx = M.base64(bytes) })
end

-- Signs and submits one call; returns the id. Raises if refused.
function Node:send(account, contract, method, args, opts)
  local bytes, id = self:tx(account, { { contract = contract, method = method,
                                         args = args or {} } }, opts)
  local res, err = self:submit(bytes)
  if not res then
    error(string.format("%s: tx_submit %s.%s refused: %s %s", self.name, contract, method,
                        tostring(err.code), tostring(err.message)), 2)
  end
  assert(res.hash == id, "tx_submit returned hash " .. tostring(res.hash) .. ", expected " .. id)
  return id
end

-- tx_get of id once its status is committed, or final (a bounded poll).
function Node:wait_committed(id, tries)
  return M.wait_until(tries or 100, 50, function()
    local r = self:call("tx_get", { hash = id })
    return (r.status == "committed" or r.status == "final") and r
  end, self.name .. ": transaction " .. id .. " never committed")
end

-- Sends and waits; returns tx_get's answer ({status, height, receipt}).
function Node:send_wait(account, contract, method, args, opts)
  return self:wait_committed(self:send(account, contract, method, args, opts))
end

-- Deploys Lua source to account `name` (sys.deploy), waits for the receipt.
function Node:deploy_source(from, name, src, init_args)
  local args = { name, src }
  for _, a in ipairs(init_args or {}) do args[#args + 1] = a end
  return self:send_wait(from, "sys", "deploy", args)
end

-- ---- Server-Sent Events -----------------------------------------------------

local Stream = {}
Stream.__index = Stream

-- Opens GET /events; returns a stream once the response headers are in.
function Node:events()
  local c = socket.tcp()
  c:settimeout(5)
  assert(c:connect("127.0.0.1", self.port))
  assert(c:send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"))
  local status = assert(c:receive("*l"))
  local headers = {}
  while true do
    local l = assert(c:receive("*l"))
    if l == "" then break end
    local k, v = l:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  return setmetatable({ c = c, status = tonumber(status:match("^HTTP/1%.%d (%d+)")),
                        headers = headers }, Stream)
end

-- The next event {event = name, data = decoded JSON} within timeout seconds
-- (comments and pings are skipped), or nil and "timeout".
function Stream:next(timeout)
  local deadline = M.now() + (timeout or 5)
  local ev = {}
  while true do
    local left = deadline - M.now()
    if left <= 0 then return nil, "timeout" end
    self.c:settimeout(left)
    local l, err = self.c:receive("*l")
    if not l then return nil, err end
    if l == "" then
      if ev.event or ev.data then
        if ev.data then ev.data = M.decode_json(ev.data) end
        return ev
      end
    elseif l:sub(1, 1) ~= ":" then
      local k, v = l:match("^(%w+):%s?(.*)$")
      if k == "event" then ev.event = v
      elseif k == "data" then ev.data = (ev.data and ev.data .. "\n" or "") .. v end
    end
  end
end

-- The next event named `name` matching pred (optional) within timeout s.
function Stream:wait_for(name, pred, timeout)
  local deadline = M.now() + (timeout or 5)
  while true do
    local ev, err = self:next(deadline - M.now())
    if not ev then return nil, err end
    if ev.event == name and (not pred or pred(ev.data)) then return ev end
  end
end

function Stream:close() self.c:close() end

-- ---- the CLI ----------------------------------------------------------------

-- Runs build/lunet with args (a list, each shell-quoted); returns exit code,
-- stdout, stderr. No --rpc/--home are added: pass them.
function M.lunet(args)
  local dir = M.run_dir()
  local out, err = dir .. "/cli.out", dir .. "/cli.err"
  local parts = { q(M.BIN) }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local cmd = table.concat(parts, " ") .. " >" .. q(out) .. " 2>" .. q(err) .. " </dev/null"
  local a, b, c = os.execute(cmd)
  local code
  if type(a) == "number" then code = a / 256 else code = c end   -- 5.1 vs 5.2 rules
  if type(a) == "number" and a % 256 ~= 0 then code = 128 + a % 256 end
  return code, read_file(out) or "", read_file(err) or ""
end

function Node:cli(...)
  local args = { ... }
  args[#args + 1] = "--rpc"
  args[#args + 1] = self.url
  args[#args + 1] = "--home"
  args[#args + 1] = self.home
  return M.lunet(args)
end

M.Node = Node

-- For other processes under the same cleanup (tests/net/tools.lua): spawn(argv,
-- log, stdin_fd) returns a pid; reap(pid, block) returns how it ended or nil.
M.spawn, M.reap = spawn, reap
return M
