-- tests/net/http_spec.lua -- the HTTP server of a real `lunet dev` process
-- under hostile or awkward clients, over TCP on loopback: URLs of every
-- length, slow readers, floods of idle connections, and CORS.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local ffi = require "ffi"
local socket = require "socket"

ffi.cdef [[
typedef struct { unsigned long cur, max; } ln_http_spec_rlimit;
int getrlimit(int resource, ln_http_spec_rlimit *rl);
int setrlimit(int resource, const ln_http_spec_rlimit *rl);
]]
local RLIMIT_NOFILE = 7

-- This process holds the flood's sockets: room for them beyond a soft
-- limit of 1024 descriptors.
local function raise_nofile(want)
  local rl = ffi.new("ln_http_spec_rlimit")
  assert(ffi.C.getrlimit(RLIMIT_NOFILE, rl) == 0)
  if rl.cur < want then
    rl.cur = math.min(want, tonumber(rl.max))
    ffi.C.setrlimit(RLIMIT_NOFILE, rl)
  end
  ffi.C.getrlimit(RLIMIT_NOFILE, rl)
  return tonumber(rl.cur)
end

local function metric(node, name)
  local st, body = node:http("GET", "/metrics")
  assert.equal(200, st)
  return tonumber(body:match("\n" .. name .. " (%d+)\n"))
end

describe("http", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "http" }):start()
    local r = node:deploy_source("alice", "token", support.read_file(support.ROOT .. "/contracts/token.lua"),
                                 { "LUN", 1000000 })
    assert(r.receipt.ok, "deploy token: " .. tostring(r.receipt.error))
    node:send_wait("alice", "token", "transfer", { "bob", 42 })
  end)

  lazy_teardown(function() support.cleanup() end)

  describe("urls", function()
    -- The request's path and query are copied inside a buffer that doubles
    -- as it grows: every length up to past 2 KiB crosses each doubling.
    it("answers GET /health?xxx... at every query length up to 2100", function()
      for n = 0, 2100 do
        local path = n == 0 and "/health" or "/health?" .. string.rep("x", n)
        local st, body = node:http("GET", path)
        assert.equal(200, st, "query of " .. n .. " bytes: " .. tostring(body))
        assert.is_true(support.decode_json(body).ok, "query of " .. n .. " bytes: " .. body)
      end
    end)

    it("keeps the args of GET /c/... whatever the length of the rest of the query", function()
      local args = "args=" .. support.urlencode('["bob"]')
      for n = 0, 2100, 3 do
        local st, body = node:http("GET", "/c/token/balance_of?" .. args .. "&pad=" .. string.rep("p", n))
        assert.equal(200, st, "pad of " .. n .. " bytes: " .. tostring(body))
        assert.equal(42, support.decode_json(body).result, "pad of " .. n .. " bytes: " .. body)
      end
    end)
  end)

  describe("connection flood", function()
    it("still answers GET /health with 1,150 idle connections open", function()
      local n = 1150
      assert.is_true(raise_nofile(n + 200) >= n + 100, "cannot open enough sockets here")
      local socks = {}
      finally(function() for _, c in ipairs(socks) do c:close() end end)
      for i = 1, n do
        local c = socket.tcp()
        c:settimeout(5)
        assert(c:connect("127.0.0.1", node.port))
        socks[i] = c
      end
      local h, err = node:health()
      assert.is_truthy(h, "GET /health with " .. n .. " idle connections: " .. tostring(err))
      assert.is_true(h.ok)
      assert.is_true(metric(node, "lunet_rpc_connections_shed_total") > 0)
      assert.is_true(metric(node, "lunet_rpc_connections") <= 1024)
    end)
  end)
end)
