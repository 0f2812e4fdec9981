-- tests/net/http_spec.lua -- the HTTP server of a real `lunet dev` process
-- under hostile or awkward clients, over TCP on loopback: URLs of every
-- length, slow readers, floods of idle connections, and CORS.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

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
end)
