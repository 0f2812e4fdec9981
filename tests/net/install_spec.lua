-- tests/net/install_spec.lua -- `make install`: the binary and the files it
-- looks for go to DESTDIR/PREFIX, and the installed binary works from any
-- folder: it scaffolds a contract whose spec passes, runs a dev chain from
-- its own configs and plugins, and never reads the source tree it was
-- built from.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local q = support.quote

local function sh(cmd)
  local out = support.run_dir() .. "/sh.out"
  local a, _, c = os.execute("(" .. cmd .. ") >" .. q(out) .. " 2>&1 </dev/null")
  local code = type(a) == "number" and a / 256 or c
  return code, support.read_file(out) or ""
end

describe("make install", function()
  local dest, bin, share, work

  lazy_setup(function()
    local build = support.BIN:match("^(.*)/[^/]*$")
    dest = support.run_dir() .. "/dest"
    local code, out = sh("DESTDIR=" .. q(dest) .. " cmake --install " .. q(build) .. " --prefix /usr/local")
    assert(code == 0, "cmake --install failed:\n" .. out)
    bin = dest .. "/usr/local/bin/lunet"
    share = dest .. "/usr/local/share/lunet"
    work = support.run_dir() .. "/elsewhere"
    os.execute("mkdir -p " .. q(work))
  end)

  lazy_teardown(function() support.cleanup() end)

  -- The installed lunet with args, run in dir.
  local function lunet(dir, ...)
    local parts = { "cd", q(dir), "&&", q(bin) }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = q(a) end
    return sh(table.concat(parts, " "))
  end

  it("puts the binary in PREFIX/bin and its files in PREFIX/share/lunet", function()
    assert.is_truthy(io.open(bin), bin)
    for _, f in ipairs({ "configs/dev.lua", "configs/consortium-bft.lua", "consensus/poa.lua",
                         "consensus/bft.lua", "contracts/token.lua", "templates/contract.lua",
                         "templates/contract_spec.lua", "lua/lunet/testing.lua",
                         "lua/lunet/output.lua" }) do
      assert.is_truthy(io.open(share .. "/" .. f), share .. "/" .. f)
    end
  end)

  it("make install passes PREFIX and DESTDIR to cmake --install", function()
    local code, out = sh("make -n -C " .. q(support.ROOT) .. " install DESTDIR=/tmp/pkg PREFIX=/opt/ln")
    assert.equal(0, code, out)
    assert.matches('DESTDIR="/tmp/pkg" cmake --install build --prefix "/opt/ln"', out, 1, true)
  end)

  it("scaffolds a contract from another folder whose spec passes under lunet test", function()
    local code, out = lunet(work, "new", "counter")
    assert.equal(0, code, out)
    code, out = lunet(work, "test")
    assert.equal(0, code, out)
    assert.matches("lunet test: 3 passed, 0 failed", out, 1, true)
  end)

  it("runs lunet dev from another folder with its own config and consensus plugin", function()
    local node = support.node({ name = "installed" })
    node:start({ bin = bin, cwd = work, config = false })
    local info = node:call("chain_info")
    assert.equal("lunet-dev", info.chain_id)
    assert.equal("poa", info.consensus)
    assert.is_true(node:send_wait("alice", "sys", "transfer", { "bob", 1 }).receipt.ok)
    node:stop()
  end)

  it("never falls back to the source tree it was built from", function()
    os.execute("rm -rf " .. q(share .. "/templates"))
    local code, out = lunet(work, "new", "other")
    assert.equal(1, code)
    assert.matches("cannot find templates/contract.lua", out, 1, true)
    assert.is_nil(io.open(work .. "/contracts/other.lua"))
  end)
end)
