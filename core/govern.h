/*
** govern.h -- the governance plugin as the contract of the system account
** `gov` (DESIGN, "Governance plugin"): its code is the governance slot's,
** and only it is given the `system` table through which a policy carries
** out what it decided:
**
**   system.schedule(slot, code, params, at [, name]) -> hash (hex)
**   system.set_param(name, value)        a chain param (params.h), or
**                                        "consensus.KEY" / "pricing.KEY":
**                                        the plugin's param, from the next block
**   system.add_member(key) / remove_member(key)
**   system.add_validator(name, key [, power]) / remove_validator(name)
**   system.spend(to, amount)             from the account `treasury`
**   system.deposit(amount)               from the account calling gov, with its
**                                        authority, to gov (a proposal deposit)
**   system.set_code(contract, source)    when gov@active holds its owner permission
**   system.validators() -> {{name, key}} / members() -> {key} / params() -> {name = value}
**   system.stake(account), system.total_stake()   bonded stake (stake.h)
**   system.check(kind, body)             raises what applying it would refuse
**   system.apply(kind, body)             carries out a proposal of that kind
**
** Proposal kinds and bodies: plugin {slot, code, params, at, name}, param
** {name, value}, member {op = "add"|"remove", key}, validator {op, name,
** key, power}, spend {to, amount, memo}, code {contract, source}. Policies
** decide whether; these decide how, so every policy applies a kind alike.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_GOVERN_H
#define LN_GOVERN_H

#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "registry.h"

#define LN_GOVERN_INIT_GAS  50000000ull   /* instructions of a policy's init */

/* Puts the governance slot's plugin in force at bi->height in place as the
** code of `gov` (its storage kept) and runs its init(params). At genesis
** (bi->height 0) an init that fails is the error (LN_EPLUGIN, why); at a
** swap the code stays and init's writes are undone (LN_EPLUGIN, why): the
** chain goes on either way. */
int ln_govern_install(ln_overlay *ov, const ln_blockinfo *bi, char *why, size_t whylen);

/* What block 0 holds besides ln_genesis_build's state: the governance
** slot's plugin installed (its init run) and the pricing slot's loaded
** once, on ov, with block time `time`. The node's genesis and the check of
** a home against a --config both make it so, and so agree. LN_ECONFIG with
** err when a slot's plugin does not work. */
int ln_govern_genesis(ln_overlay *ov, uint64_t time, char *err, size_t errlen);

/* Would code load as the plugin of slot? It is compiled and run in a
** scratch sandbox: a consensus plugin's init(node, params) runs against
** the validators in ov, a governance policy's init(params) over a
** savepoint of ov that is undone, a pricing model is loaded with its params
** as the pricing host loads it (ln_pricing_check). Deterministic: the same code on the same state gives the same
** answer on every node. 0 with the NAME field the code's table gives (or
** "") in name; LN_EPLUGIN with why. */
int ln_govern_probe(ln_overlay *ov, const ln_blockinfo *bi, ln_slot slot, const char *code,
                    size_t len, const uint8_t *params, size_t plen, char name[LN_PLUGIN_NAME_MAX + 1],
                    char *why, size_t whylen);

#endif
