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

local SPIN = [[
local M = {}
function M.spin() local i = 0 while true do i = i + 1 end end
return M
]]

-- a and b are written together; check() reads a, works a while, reads b.
local PAIR = [[
local M = {}
function M.set(n) storage.set("a", n) storage.set("b", n) end
function M.check()
  local a = storage.get("a")
  local i = 0
  while i < 1000000 do i = i + 1 end
  return { a = a or 0, b = storage.get("b") or 0 }
end
return M
]]

-- Sends a JSON-RPC POST and returns the connection, to read the answer later.
local function post_later(port, body)
  local c = socket.tcp()
  c:settimeout(60)
  assert(c:connect("127.0.0.1", port))
  c:send("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" ..
         "Content-Length: " .. #body .. "\r\n\r\n" .. body)
  return c
end

local function read_answer(c)
  local data, err, partial = c:receive("*a")
  c:close()
  data = data or partial
  assert(data and data ~= "", "no answer: " .. tostring(err))
  return support.decode_json(data:match("\r\n\r\n(.*)$"))
end

local function query_batch(n, contract, method)
  local calls = {}
  for i = 1, n do
    calls[i] = string.format('{"jsonrpc":"2.0","id":%d,"method":"contract_query",' ..
                             '"params":{"contract":"%s","method":"%s","args":[]}}', i, contract, method)
  end
  return "[" .. table.concat(calls, ",") .. "]"
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
    r = node:deploy_source("alice", "spinner", SPIN)
    assert(r.receipt.ok, "deploy spinner: " .. tostring(r.receipt.error))
    r = node:deploy_source("alice", "pair", PAIR)
    assert(r.receipt.ok, "deploy pair: " .. tostring(r.receipt.error))
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

  describe("queries", function()
    it("stops a looping query at query_gas_max (10,000,000 by default) with -32060 EGAS", function()
      local res, e = node:rpc("contract_query", { contract = "spinner", method = "spin", args = {} })
      assert.is_nil(res)
      assert.equal(-32060, e.code)
      assert.equal("EGAS", e.data.name)
      assert.is_true(e.data.gas_used > 9000000 and e.data.gas_used <= 10000000, tostring(e.data.gas_used))
      local st, body = node:http("GET", "/c/spinner/spin")
      assert.equal(400, st)
      assert.equal(-32060, support.decode_json(body).error.code)
    end)

    it("reads one committed state per query while blocks commit", function()
      for k = 1, 4 do
        local id = node:send("alice", "pair", "set", { k })
        local committed = false
        local seen = 0
        while not committed do
          local got = read_answer(post_later(node.port, query_batch(8, "pair", "check")))
          for _, a in ipairs(got) do
            assert.is_table(a.result, support.json.encode(a))
            assert.equal(a.result.result.a, a.result.result.b)
            assert.is_true(a.result.result.a >= k - 1)
            seen = seen + 1
          end
          committed = node:rpc("tx_get", { hash = id }).status == "committed"
        end
        assert.is_true(seen > 0)
      end
      assert.equal(4, node:call("contract_query", { contract = "pair", method = "check", args = {} }).result.a)
    end)
  end)
end)

describe("http queries off the loop", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "slowq" }):start({ args = { "--query-gas-max", "30000000" } })
    local r = node:deploy_source("alice", "spinner", SPIN)
    assert(r.receipt.ok, "deploy spinner: " .. tostring(r.receipt.error))
  end)

  lazy_teardown(function() support.cleanup() end)

  it("answers GET /health while a batch of 20 looping queries runs", function()
    local c = post_later(node.port, query_batch(20, "spinner", "spin"))
    support.wait_until(200, 10, function() return metric(node, "lunet_queries_running") > 0 end,
                       "the queries never started")
    local h, err = node:health()
    assert.is_truthy(h, "GET /health: " .. tostring(err))
    assert.is_true(h.ok)
    local still = metric(node, "lunet_queries_running") + metric(node, "lunet_queries_waiting")
    assert.is_true(still > 0, "the queries were over before /health answered")
    local got = read_answer(c)
    assert.equal(20, #got)
    for _, a in ipairs(got) do
      assert.equal(-32060, a.error.code)
      assert.equal(30000000, a.error.data.gas_used)
    end
  end)
end)

describe("http CORS", function()
  local listed, any, plain
  local APP = "https://app.example"

  lazy_setup(function()
    listed = support.node({ name = "cors" }):start({ args = { "--cors", APP, "--cors", "http://localhost:3000" } })
    any = support.node({ name = "corsany" }):start({ args = { "--cors", "*" } })
    plain = support.node({ name = "nocors" }):start()
  end)

  lazy_teardown(function() support.cleanup() end)

  local RPC = '{"jsonrpc":"2.0","id":1,"method":"chain_info","params":{}}'

  -- The response headers of the SSE stream (the body never ends).
  local function events_headers(port, origin)
    local c = socket.tcp()
    c:settimeout(5)
    assert(c:connect("127.0.0.1", port))
    c:send("GET /events HTTP/1.1\r\nHost: x\r\nOrigin: " .. origin .. "\r\n\r\n")
    local headers = {}
    local status = c:receive("*l")
    while true do
      local line = c:receive("*l")
      if not line or line == "" then break end
      local k, v = line:match("^([^:]+):%s*(.*)$")
      headers[k:lower()] = v
    end
    c:close()
    return status, headers
  end

  it("echoes an allowed origin with Vary: Origin on JSON-RPC, /c/, /health and /events", function()
    local h = { Origin = APP }
    local cases = {
      { "POST", "/", RPC }, { "GET", "/health" }, { "GET", "/c/nobody/x" },
    }
    for _, c in ipairs(cases) do
      local st, body, headers = listed:http(c[1], c[2], c[3], { headers = h })
      assert.is_number(st, tostring(body))
      assert.equal(APP, headers["access-control-allow-origin"], c[1] .. " " .. c[2])
      assert.matches("Origin", headers["vary"] or "", 1, true)
    end
    local status, headers = events_headers(listed.port, APP)
    assert.matches(" 200 ", status, 1, true)
    assert.equal(APP, headers["access-control-allow-origin"])
  end)

  it("sends no Access-Control-Allow-Origin to an origin not in the list", function()
    local st, _, headers = listed:http("POST", "/", RPC, { headers = { Origin = "https://evil.example" } })
    assert.equal(200, st)
    assert.is_nil(headers["access-control-allow-origin"])
    local status, eh = events_headers(listed.port, "https://evil.example")
    assert.matches(" 200 ", status, 1, true)
    assert.is_nil(eh["access-control-allow-origin"])
  end)

  it("answers a preflight from an allowed origin with 204 and the methods and headers", function()
    local st, _, headers = listed:http("OPTIONS", "/", nil, { headers = {
      Origin = "http://localhost:3000", ["Access-Control-Request-Method"] = "POST",
      ["Access-Control-Request-Headers"] = "content-type" } })
    assert.equal(204, st)
    assert.equal("http://localhost:3000", headers["access-control-allow-origin"])
    assert.matches("POST", headers["access-control-allow-methods"], 1, true)
    assert.matches("content-type", headers["access-control-allow-headers"]:lower(), 1, true)
    assert.matches("Origin", headers["vary"], 1, true)
    assert.equal("600", headers["access-control-max-age"])
  end)

  it("refuses a preflight from an origin not in the list with 403", function()
    local st, body, headers = listed:http("OPTIONS", "/", nil, { headers = {
      Origin = "https://evil.example", ["Access-Control-Request-Method"] = "POST" } })
    assert.equal(403, st)
    assert.is_nil(headers["access-control-allow-origin"])
    assert.equal(-32600, support.decode_json(body).error.code)
  end)

  it("with --cors '*' echoes any origin, preflights included", function()
    local st, _, headers = any:http("GET", "/health", nil, { headers = { Origin = "https://x.example:8443" } })
    assert.equal(200, st)
    assert.equal("https://x.example:8443", headers["access-control-allow-origin"])
    st, _, headers = any:http("OPTIONS", "/c/token/balance_of", nil, { headers = {
      Origin = "https://y.example", ["Access-Control-Request-Method"] = "GET" } })
    assert.equal(204, st)
    assert.equal("https://y.example", headers["access-control-allow-origin"])
  end)

  it("without --cors sends no CORS headers and answers OPTIONS with 405", function()
    local st, _, headers = plain:http("POST", "/", RPC, { headers = { Origin = APP } })
    assert.equal(200, st)
    assert.is_nil(headers["access-control-allow-origin"])
    assert.is_nil(headers["vary"])
    st, _, headers = plain:http("OPTIONS", "/", nil, { headers = {
      Origin = APP, ["Access-Control-Request-Method"] = "POST" } })
    assert.equal(405, st)
    assert.is_nil(headers["access-control-allow-origin"])
  end)

  it("refuses to start with an origin that has a path", function()
    local n = support.node({ name = "badcors" })
    local code, _, err = support.lunet({ "dev", "--home", n.home, "--rpc", "127.0.0.1:" .. n.port,
                                         "--p2p", "127.0.0.1:" .. n.p2p, "--cors", "https://a.example/app" })
    assert.are_not.equal(0, code)
    assert.matches("--cors", err, 1, true)
  end)
end)

describe("http settings in node.lua", function()
  lazy_teardown(function() support.cleanup() end)

  it("lunet start takes cors and query_gas_max from HOME/node.lua", function()
    local node = support.node({ name = "nodelua" })
    node:start()                                   -- lunet dev makes the home and keys
    local r = node:deploy_source("alice", "spinner", SPIN)
    assert(r.receipt.ok, "deploy spinner: " .. tostring(r.receipt.error))
    node:stop()
    support.write_file(node.home .. "/node.lua",
                       'return { cors = { "https://nl.example" }, query_gas_max = 2000000 }\n')
    node:start({ command = "start" })
    local st, _, headers = node:http("GET", "/health", nil, { headers = { Origin = "https://nl.example" } })
    assert.equal(200, st)
    assert.equal("https://nl.example", headers["access-control-allow-origin"])
    local _, e = node:rpc("contract_query", { contract = "spinner", method = "spin", args = {} })
    assert.equal(-32060, e.code)
    assert.equal(2000000, e.data.gas_used)
  end)
end)
