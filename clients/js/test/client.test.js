// client.test.js -- lunet-client against a real `lunet dev` on loopback:
// chain info, deploy, many transactions of one key in flight at once, queries,
// accounts, blocks, transactions, the event stream, and the node's refusals
// as LunetErrors with its code and name.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Key, LunetError } from 'lunet-client';
import { ROOT, startDev, freePort, failureTracker } from './helpers.js';

const TOKEN = readFileSync(join(ROOT, 'contracts/token.lua'), 'utf8');

// The next value of an event iterator that satisfies pred, within ms.
async function nextMatching(events, pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    let timer;
    const timeout = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`no ${what} within ${ms} ms`)), left); });
    try {
      const r = await Promise.race([events.next(), timeout]);
      if (r.done) throw new Error(`the event stream ended before ${what}`);
      if (pred(r.value)) return r.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

describe('lunet-client against lunet dev', () => {
  const t = failureTracker();
  let node, c, alice, bob;

  before(async () => {
    node = await startDev({ name: 'client' });
    c = new Client(node.url);
    alice = Key.fromFile(node.keyPath('alice'));
    bob = Key.fromFile(node.keyPath('bob'));
  });

  after(async () => { if (node) await node.stop(t.failed); });

  it('info gives the chain id, the head and the consensus plugin', t.wrap(async () => {
    const info = await c.info();
    assert.equal(info.chain_id, 'lunet-dev');
    assert.equal(info.consensus, 'poa');
    assert.match(info.head, /^[0-9a-f]{64}$/);
    assert.equal(typeof info.height, 'number');
  }));

  it('deploys a contract and waits for its receipt', t.wrap(async () => {
    const r = await c.deploy(alice, 'token', TOKEN, ['LUN', 1000000]);
    assert.equal(r.status, 'committed');
    assert.equal(r.receipt.ok, true, r.receipt.error);
    assert.match(r.hash, /^[0-9a-f]{64}$/);
    assert.equal(await c.query('token', 'symbol'), 'LUN');
    assert.match((await c.account('token')).code_hash, /^[0-9a-f]{64}$/);
  }));

  it('sends 40 transactions of one key without waiting; all commit, in the order sent', t.wrap(async () => {
    const before = await c.account('alice');
    const bobBefore = await c.query('token', 'balance_of', ['bob']);
    // All 40 in flight at once: the client gives them consecutive nonces.
    const hashes = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      c.send(alice, 'token', 'transfer', ['bob', i + 1], { wait: false })));
    assert.equal(new Set(hashes).size, 40);
    const done = await Promise.all(hashes.map((h) => c.wait(h)));
    assert.ok(done.every((r) => r.status === 'committed' && r.receipt.ok), 'a transfer failed');
    const nonces = [];
    let lastHeight = -1;
    for (const [i, r] of done.entries()) {
      const b = await c.block(r.height);
      const tx = b.txs.find((x) => x.hash === hashes[i]);
      assert.ok(tx, `transaction ${i} is not in block ${r.height}`);
      assert.deepEqual(tx.actions[0].args, ['bob', i + 1]);
      assert.ok(r.height >= lastHeight, `transaction ${i} committed in a block before transaction ${i - 1}'s`);
      lastHeight = r.height;
      nonces.push(tx.nonce);
    }
    assert.deepEqual(nonces, Array.from({ length: 40 }, (_, i) => before.pending_nonce + i));
    const after = await c.account('alice');
    assert.equal(after.nonce, before.nonce + 40);
    assert.equal(after.pending_nonce, after.nonce);
    assert.equal(await c.query('token', 'balance_of', ['bob']), bobBefore + 820);
  }));

  it('query returns the method\'s result', t.wrap(async () => {
    assert.equal(await c.query('token', 'balance_of', ['nobody']), 0);
    assert.equal(typeof await c.query('token', 'balance_of', ['alice']), 'number');
  }));

  it('account gives nonce, pending_nonce, balance and permissions', t.wrap(async () => {
    const a = await c.account('bob');
    assert.equal(a.account, 'bob');
    assert.equal(a.pending_nonce, a.nonce);
    assert.equal(typeof a.balance, 'number');
    assert.equal(a.permissions.active.keys[0].key, '0x' + bob.publicKeyHex);
  }));

  it('block and tx give what was committed', t.wrap(async () => {
    const r = await c.send(bob, 'token', 'transfer', ['carol', 2]);
    assert.equal(r.receipt.ok, true, r.receipt.error);
    const byHeight = await c.block(r.height);
    assert.deepEqual(await c.block(byHeight.hash), byHeight);
    assert.equal(byHeight.header.height, r.height);
    assert.ok(byHeight.txs.some((x) => x.hash === r.hash && x.account === 'bob'));
    const head = await c.block();
    assert.ok(head.header.height >= r.height);
    const got = await c.tx(r.hash);
    assert.equal(got.status, 'committed');
    assert.equal(got.height, r.height);
    assert.deepEqual(got.receipt.events.map((e) => e.name), ['transfer']);
  }));

  it('events follow blocks and contract events', t.wrap(async () => {
    const events = c.events();
    try {
      await events.ready;
      const hash = await c.send(alice, 'token', 'transfer', ['dave', 7], { wait: false });
      const ev = await nextMatching(events, (e) => e.type === 'contract' && e.tx === hash, 10000, 'contract event');
      assert.equal(ev.contract, 'token');
      assert.equal(ev.name, 'transfer');
      assert.deepEqual(ev.data, { from: 'alice', to: 'dave', amount: 7 });
      const next = await c.send(alice, 'token', 'transfer', ['dave', 1]);
      const blk = await nextMatching(events, (e) => e.type === 'block' && e.height === next.height, 10000, 'block event');
      assert.equal(blk.hash, (await c.block(next.height)).hash);
      assert.ok(blk.txs >= 1);
      assert.equal(typeof blk.time, 'number');
    } finally {
      await events.close();
    }
  }));

  it('a call that fails is committed with ok false and its error', t.wrap(async () => {
    const r = await c.send(bob, 'token', 'transfer', ['alice', 10 ** 15]);
    assert.equal(r.status, 'committed');
    assert.equal(r.receipt.ok, false);
    assert.match(r.receipt.error, /insufficient balance/);
  }));

  it('refusals are LunetErrors with the node\'s code and name', t.wrap(async () => {
    const cases = [
      [() => c.account('nobody'), -32001, 'ENOTFOUND'],
      [() => c.query('nosuch', 'x'), -32063, 'ENOCODE'],
      [() => c.query('token', 'nope'), -32064, 'ENOMETHOD'],
      [() => c.block(10 ** 9), -32001, 'ENOTFOUND'],
      [() => c.rpc('no_such_method'), -32601, 'EMETHOD'],
      [() => c.tx('xyz'), -32602, 'EPARAMS'],
      // bob's key does not hold alice's authority.
      [() => c.send(bob.withAccount('alice'), 'token', 'transfer', ['bob', 1]), -32045, 'EAUTH'],
      [() => c.send(alice, 'token', 'transfer', ['bob', 1], { nonce: 0 }), -32042, 'ENONCE'],
      [() => c.send(Key.generate('nobody'), 'token', 'symbol', []), -32044, 'ENOACCOUNT'],
      // Refused before anything is sent, with the code the node would give.
      [() => c.send(alice, 'token', 'transfer', ['bob', 1.5]), -32013, 'EFLOAT'],
    ];
    for (const [call, code, name] of cases) {
      await assert.rejects(call, (e) => {
        assert.ok(e instanceof LunetError, `not a LunetError: ${e}`);
        assert.equal(e.name, name, e.message);
        assert.equal(e.code, code, e.message);
        assert.ok(e.message.length > 0);
        return true;
      });
    }
    const nonce = (await c.account('alice')).nonce;
    await assert.rejects(c.send(alice, 'token', 'transfer', ['bob', 1], { nonce: nonce - 1 }),
                         (e) => e.name === 'ENONCE' && /nonce/.test(e.message));
    // Waiting: a hash the node never saw, and a transaction behind a nonce gap.
    await assert.rejects(c.wait('ab'.repeat(32)), (e) => e instanceof LunetError && e.name === 'EDROPPED' && e.code === null);
    const eve = Key.fromFile(node.keyPath('eve'));
    const gap = await c.send(eve, 'token', 'symbol', [], { nonce: (await c.account('eve')).nonce + 1, wait: false });
    await assert.rejects(c.wait(gap, { timeoutMs: 300 }), (e) => e.name === 'ETIMEDOUT' && e.message.includes('still pending'));
    assert.equal((await c.account('eve')).pending_nonce, (await c.account('eve')).nonce);
    // Nothing listens on a fresh port.
    const dead = new Client(`http://127.0.0.1:${await freePort()}`);
    await assert.rejects(dead.info(), (e) => e instanceof LunetError && e.name === 'ENETWORK' && e.code === null);
  }));

  it('the README\'s ten lines are examples/quickstart.js', t.wrap(async () => {
    const lines = readFileSync(new URL('../examples/quickstart.js', import.meta.url), 'utf8').trim();
    for (const readme of [join(ROOT, 'README.md'), join(ROOT, 'clients/js/README.md')]) {
      assert.ok(readFileSync(readme, 'utf8').includes('```js\n' + lines + '\n```'), `${readme} does not show examples/quickstart.js`);
    }
  }));

  it('the README\'s ten-line script deploys, sends without waiting, follows events and queries', t.wrap(async () => {
    const script = fileURLToPath(new URL('../examples/quickstart.js', import.meta.url));
    const fresh = await startDev({ name: 'quickstart' });
    let ok = false;
    try {
      const out = await new Promise((res, rej) => {
        execFile(process.execPath, [script], {
          cwd: ROOT, timeout: 60000, env: { ...process.env, LUNET_RPC: fresh.url, LUNET_HOME: fresh.home },
        }, (err, stdout, stderr) => (err ? rej(new Error(`${err.message}\n${stdout}\n${stderr}`)) : res(stdout)));
      });
      const lines = out.trim().split('\n');
      assert.deepEqual(lines, [
        "transfer { amount: 1000000, from: '', to: 'alice' }",     // init mints
        "transfer { amount: 1, from: 'alice', to: 'bob' }",
        "transfer { amount: 2, from: 'alice', to: 'bob' }",
        "transfer { amount: 3, from: 'alice', to: 'bob' }",
        'bob has 6',
      ]);
      ok = true;
    } finally {
      await fresh.stop(!ok);
    }
  }));
});
