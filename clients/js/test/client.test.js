// client.test.js -- lunet-client against a real `lunet dev` on loopback:
// chain info, deploy, many transactions of one key in flight at once, queries,
// accounts, blocks, transactions, the event stream, and the node's refusals
// as LunetErrors with its code and name.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Key, LunetError, base64, signTx, unsignedTx } from 'lunet-client';
import { ROOT, startDev, freePort, failureTracker } from './helpers.js';

const TOKEN = readFileSync(join(ROOT, 'contracts/token.lua'), 'utf8');
const BLOB = readFileSync(new URL('fixtures/blob.lua', import.meta.url), 'utf8');
const SPIN = 'local M = {}\nfunction M.spin() while true do end end\nreturn M\n';

// The error object of the node's JSON-RPC answer to one call, fetched
// without the client.
async function nodeError(url, method, params) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
                                 body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = await res.json();
  assert.ok(body.error, `${method} did not fail: ${JSON.stringify(body)}`);
  return body.error;
}

// A plain HTTP server on loopback that answers every request with status,
// content type and body: what sits at a wrong address, or a proxy whose
// node is down.
function notANode(status, type, body) {
  const srv = createServer((req, res) => { req.resume(); res.writeHead(status, { 'content-type': type }).end(body); });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

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

  it('every JSON-RPC error is a LunetError with the node\'s code, name, message and why', t.wrap(async () => {
    assert.ok((await c.deploy(alice, 'spin', SPIN)).receipt.ok);
    const info = await c.info();
    const nonce = (await c.account('alice')).pending_nonce;
    const tx = (over) => signTx(unsignedTx({ account: 'alice', actions: [{ contract: 'sys', method: 'transfer', args: ['bob', 1] }],
                                             chainId: info.chain_id, expires: info.height + 100, maxFee: 10000000, nonce, ...over }), alice).bytes;
    const badSig = tx({});
    badSig[badSig.length - 1] ^= 1;                  // the signature is the encoding's last field
    const calls = [
      ['chain_info', { note: '\ud800' }, -32700],     // JSON with a lone surrogate: not UTF-8 on the node's side
      ['no_such_method', {}, -32601],
      ['tx_get', { hash: 'xyz' }, -32602],
      ['block_get', { height: 2 ** 53 }, -32602],
      ['tx_submit', { tx: 'not base64!' }, -32602],
      ['account_get', { account: 'nobody' }, -32001],
      ['block_get', { hash: 'ab'.repeat(32) }, -32001],
      ['contract_query', { contract: 'nosuch', method: 'x', args: [] }, -32063],
      ['contract_query', { contract: 'token', method: 'nope', args: [] }, -32064],
      ['contract_query', { contract: 'spin', method: 'spin', args: [] }, -32060],
      ['tx_submit', { tx: base64(new Uint8Array([0xc1])) }, null],               // a codec refusal: -32010..-32022
      ['tx_submit', { tx: base64(badSig) }, -32030],
      ['tx_submit', { tx: base64(tx({ chainId: 'other-chain' })) }, -32041],
      ['tx_submit', { tx: base64(tx({ nonce: 0 })) }, -32042],
      ['tx_submit', { tx: base64(tx({ expires: 0 })) }, -32043],
    ];
    // In a batch, each call fails alone; but a body that is not JSON to the
    // node fails as a whole.
    const batchable = calls.map(([m, p]) => [m, p]).filter(([m, p]) => !p.note);
    const settled = await c.batchSettled(batchable);
    for (const [i, [method, params, code]] of calls.entries()) {
      const raw = await nodeError(node.url, method, params);
      const what = `${method} ${JSON.stringify(params).slice(0, 60)}`;
      if (code !== null) assert.equal(raw.code, code, `${what}: the node answered ${JSON.stringify(raw)}`);
      else assert.ok(raw.code <= -32010 && raw.code >= -32022, `${what}: not a codec refusal: ${JSON.stringify(raw)}`);
      const check = (e) => {
        assert.ok(e instanceof LunetError && e instanceof Error, `${what}: not a LunetError: ${e}`);
        assert.equal(typeof e.code, 'number', what);
        assert.equal(e.code, raw.code, what);
        // A parse error says where: the client's request ids differ from nodeError's.
        const at = (m) => (raw.code === -32700 ? m.replace(/at byte \d+/, 'at byte N') : m);
        assert.equal(at(e.message), at(raw.message), what);
        assert.equal(e.name, raw.data?.name ?? { '-32700': 'EPARSE', '-32601': 'EMETHOD', '-32602': 'EPARAMS' }[raw.code], what);
        assert.equal(e.why, raw.data?.why, what);
        assert.deepEqual(e.data, raw.data, what);
        return true;
      };
      await assert.rejects(c.rpc(method, params), check);
      if (!params.note) check(settled[i - 1].error);     // the same inside a batch
    }
    // The batch itself refused: an empty one.
    await assert.rejects(c.batch([]), (e) => e instanceof LunetError && e.code === -32600 && e.name === 'EREQUEST' &&
                                               e.message === 'empty batch');
  }));

  it('a failed connection, a server that is not a node and an oversized transaction are told apart', t.wrap(async () => {
    const isRpc = (e) => typeof e.code === 'number';
    // Nothing listens: ENETWORK, code null, the fetch's error as the cause.
    const port = await freePort();
    await assert.rejects(new Client(`http://127.0.0.1:${port}`).info(), (e) => {
      assert.ok(e instanceof LunetError);
      assert.equal(e.name, 'ENETWORK');
      assert.equal(e.code, null);
      assert.ok(!isRpc(e));
      assert.ok(e.cause instanceof Error, 'no cause');
      assert.match(e.message, new RegExp(`^chain_info: no answer from http://127\\.0\\.0\\.1:${port}/: `));
      assert.doesNotMatch(e.message, /--cors/, 'outside a browser CORS is not the reason');
      return true;
    });
    // Something else answers: EHTTP with its status.
    for (const [status, type, body] of [[502, 'text/html', '<h1>Bad Gateway</h1>'], [200, 'text/html', '<!doctype html>'],
                                        [200, 'application/json', '']]) {
      const srv = await notANode(status, type, body);
      try {
        const other = new Client(`http://127.0.0.1:${srv.address().port}`);
        await assert.rejects(other.info(), (e) => e instanceof LunetError && e.name === 'EHTTP' && e.code === null &&
                                                  e.status === status && e.message.startsWith(`chain_info: HTTP ${status}`));
        await assert.rejects(other.events().ready, (e) => e.name === 'EHTTP' && e.status === status);
      } finally {
        srv.close();
      }
    }
    // A transaction over the node's size limit is refused before it is
    // sent, with the node's code (sent, 800 KiB would be over the node's
    // HTTP body limit: 413, no JSON-RPC answer); the node refuses one just
    // over the limit with the same code.
    const before = await c.account('alice');
    await assert.rejects(c.deploy(alice, 'huge', 'x'.repeat(800 * 1024)),
                         (e) => e.name === 'ETXSIZE' && e.code === -32049 && /131072/.test(e.message));
    const info = await c.info();
    const big = 'x'.repeat(129 * 1024);
    const bytes = signTx(unsignedTx({ account: 'alice', actions: [{ contract: 'sys', method: 'deploy', args: ['huge', big] }],
                                      chainId: info.chain_id, expires: info.height + 100, maxFee: 10000000,
                                      nonce: before.pending_nonce }), alice).bytes;
    const raw = await nodeError(node.url, 'tx_submit', { tx: base64(bytes) });
    assert.equal(raw.code, -32049);
    assert.equal(raw.data.name, 'ETXSIZE');
    assert.equal((await c.account('alice')).pending_nonce, before.pending_nonce);
  }));

  it('takes hashes with or without 0x in either case, heights as strings, and says what is unknown', t.wrap(async () => {
    const r = await c.send(alice, 'token', 'transfer', ['carol', 3]);
    const up = '0X' + r.hash.toUpperCase();
    assert.equal((await c.tx(up)).status, 'committed');
    assert.equal((await c.tx('0x' + r.hash)).height, r.height);
    const waited = await c.wait(up);
    assert.equal(waited.hash, r.hash);
    const blk = await c.block(r.height);
    assert.deepEqual(await c.block('0x' + blk.hash.toUpperCase()), blk);
    assert.deepEqual(await c.block(String(r.height)), blk);
    assert.deepEqual(await c.block(BigInt(r.height)), blk);
    // Unknown things: a transaction is a status, the rest are ENOTFOUND.
    const unknown = 'cd'.repeat(32);
    assert.deepEqual(await c.tx(unknown), { hash: unknown, status: 'unknown', height: null, receipt: null });
    for (const call of [() => c.block(unknown), () => c.block(10 ** 9), () => c.account('nobody')]) {
      await assert.rejects(call, (e) => e.name === 'ENOTFOUND' && e.code === -32001 && /^not found: no /.test(e.message));
    }
    await assert.rejects(c.block(-1), (e) => e.name === 'EPARAMS' && e.code === -32602);
  }));

  it('gives events and receipts with binary data as 0x hex, the same on the stream and in tx_get', t.wrap(async () => {
    assert.ok((await c.deploy(alice, 'blob', BLOB)).receipt.ok);
    const events = c.events();
    try {
      await events.ready;
      const r = await c.send(alice, 'blob', 'blob');
      assert.equal(r.receipt.ok, true, r.receipt.error);
      const all = '0x' + Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join('');
      const [bytes, long] = r.receipt.events;
      assert.equal(bytes.name, 'bytes');
      assert.deepEqual(bytes.data, { all, digest: r.receipt.result, nul: '0x610062', text: 'h\u00e9llo <b>x</b>' });
      assert.match(r.receipt.result, /^0x[0-9a-f]{64}$/);
      assert.equal(long.data, '0x' + all.slice(2).repeat(40));
      const seen = [];
      while (seen.length < 2) seen.push(await nextMatching(events, (e) => e.type === 'contract' && e.tx === r.hash, 10000, 'blob event'));
      assert.deepEqual(seen.map((e) => [e.name, e.data]), [['bytes', bytes.data], ['long', long.data]]);
    } finally {
      await events.close();
    }
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
