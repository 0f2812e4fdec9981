/*
** lmod.h -- `lunet.core`, the C module that host Lua states (lunet test,
** scripts) use to reach the node's own code: keys, hashing, the canonical
** codec, transaction signing, and in-memory chains that apply blocks with
** exactly the code a node uses.
**
**   core.keypair([seed32]) -> pk, sk        core.hash(s) -> 32 bytes
**   core.sign(sk, s) -> 64-byte signature   core.verify(pk, sig, s) -> bool
**   core.hex(s) / core.unhex(hex)           core.encode(v) / core.decode(s)
**   core.sign_tx(unsigned, {sk...}) -> bytes, id_hex
**   core.chain{chain_id=, time=, accounts={{name=, key=pk, balance=}}}
**     chain:apply({txbytes...} [, time]) -> {receipt...}, root_hex
**     chain:query(contract, method, args) -> ok, value|error, gas, code
**     chain:account(name) -> table|nil     chain:get(key) -> bytes|nil
**     chain:prove(key) -> proof            core.verify_proof(root, k, v|nil, proof)
**     chain:root() chain:head() chain:height() chain:time()
**   core.fingerprint() -> hex of the VM fingerprint
*/
#ifndef LN_LMOD_H
#define LN_LMOD_H

#include <lua.h>

int luaopen_lunet_core(lua_State *L);

#endif
