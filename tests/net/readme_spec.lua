-- tests/net/readme_spec.lua -- the README's curl lines paste into a shell
-- as they are: each runs against a real node (its port in place of 8765)
-- and curl exits 0 with an answer.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

-- The README's shell commands that start with curl (continuation lines joined).
local function curl_lines()
  local text = support.read_file(support.ROOT .. "/README.md")
  local out, cur = {}, nil
  for line in text:gmatch("([^\n]*)\n") do
    local cmd = line:match("^    (curl .*)$")
    if cur then
      cur = cur .. " " .. line:gsub("^%s+", "")
    elseif cmd then
      cur = cmd
    end
    if cur and not cur:match("\\$") then
      out[#out + 1] = cur
      cur = nil
    elseif cur then
      cur = cur:gsub("%s*\\$", "")
    end
  end
  return out
end

describe("README", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "readme" }):start()
    local r = node:deploy_source("alice", "token", support.read_file(support.ROOT .. "/contracts/token.lua"),
                                 { "LUN", 1000000 })
    assert(r.receipt.ok, r.receipt.error)
  end)

  lazy_teardown(function() support.cleanup() end)

  it("has curl lines, and each runs as written against a node", function()
    local lines = curl_lines()
    assert.is_true(#lines >= 3, "the README has " .. #lines .. " curl lines")
    for _, cmd in ipairs(lines) do
      local run = cmd:gsub("127%.0%.0%.1:8765", "127.0.0.1:" .. node.port)
      if run:find("/events", 1, true) then run = run .. " --max-time 1" end
      local out = support.run_dir() .. "/curl.out"
      local a, _, c = os.execute(run .. " >" .. support.quote(out) .. " 2>&1")
      local code = type(a) == "number" and a / 256 or c
      if run:find("/events", 1, true) then
        assert.equal(28, code, cmd)              -- the stream runs until the time is up
        assert.matches(": lunet events", support.read_file(out) or "", 1, true)
      else
        assert.equal(0, code, cmd .. "\n" .. (support.read_file(out) or ""))
        assert.is_true(#(support.read_file(out) or "") > 0, cmd)
      end
    end
  end)
end)
