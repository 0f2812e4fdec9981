// browser.test.js -- lunet-client's browser entry (src/index.js) in headless
// Chromium: loaded as plain ES modules with an import map (no bundler), it
// encodes like the node (the wire fixture) and signs a transaction that a
// real `lunet dev` commits. The page and the node are on different origins
// and this node has no --cors, so the page signs and this process submits
// (cors.test.js has a page do it all against a node started with --cors).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Key } from 'lunet-client';
import { startDev, failureTracker, launchChromium, pageProblems } from './helpers.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="importmap">{"imports": {
  "lunet-client": "/src/index.js",
  "@noble/curves/": "/node_modules/@noble/curves/esm/",
  "@noble/hashes/": "/node_modules/@noble/hashes/esm/"}}</script>
<script type="module">import * as lunet from "lunet-client"; window.lunet = lunet;</script>`;

// Serves the package folder (and PAGE at /) on loopback; a module path
// without an extension gets its .js file, as bundlers resolve it.
function serve() {
  const srv = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(PAGE); return; }
    let file = normalize(join(PKG, path));
    if (!file.startsWith(PKG)) { res.writeHead(403); res.end(); return; }
    if (!existsSync(file) && existsSync(file + '.js')) file += '.js';
    if (!existsSync(file) || !statSync(file).isFile()) { res.writeHead(404); res.end(); return; }
    const type = { '.js': 'text/javascript', '.json': 'application/json' }[extname(file)] || 'text/plain';
    res.writeHead(200, { 'content-type': type });
    res.end(readFileSync(file));
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

describe('lunet-client in headless Chromium', () => {
  const t = failureTracker();
  let node, srv, browser, page, problems;

  before(async () => {
    node = await startDev({ name: 'browser' });
    srv = await serve();
    browser = await launchChromium();
    page = await browser.context.newPage();
    problems = pageProblems(page);
    await page.goto(`http://127.0.0.1:${srv.address().port}/`);
    await page.waitForFunction(() => window.lunet, null, { timeout: 10000 }).catch(() => {
      throw new Error('lunet-client did not load in the page: ' + problems.join('; '));
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (srv) srv.close();
    if (node) await node.stop(t.failed);
  });

  it('encodes every wire fixture value as the node does', t.wrap(async () => {
    const fx = JSON.parse(readFileSync(join(PKG, 'test/fixtures/wire.json'), 'utf8'));
    const small = fx.values.filter((e) => e.hex !== undefined && !JSON.stringify(e.value).includes('$'));
    assert.ok(small.length > 30);
    const got = await page.evaluate((vals) => vals.map((v) => [...window.lunet.encode(v)]
      .map((b) => b.toString(16).padStart(2, '0')).join('')), small.map((e) => e.value));
    assert.deepEqual(got, small.map((e) => e.hex));
    assert.deepEqual(problems, []);
  }));

  it('signs a transaction in the page that the node commits', t.wrap(async () => {
    const c = new Client(node.url);
    const alice = Key.fromFile(node.keyPath('alice'));
    const [info, acct] = [await c.info(), await c.account('alice')];
    const signed = await page.evaluate(({ secret, chainId, height, nonce }) => {
      const { Key, unsignedTx, signTx, base64 } = window.lunet;
      const key = Key.fromSecretHex(secret, 'alice');
      let fromFile;
      try { Key.fromFile('/x'); } catch (e) { fromFile = e.name + ': ' + e.message; }
      const u = unsignedTx({ account: 'alice', actions: [{ contract: 'sys', method: 'transfer', args: ['bob', 5] }],
                             chainId, expires: height + 100, maxFee: 10000000, nonce });
      const s = signTx(u, key);
      return { tx: base64(s.bytes), hash: s.hash, fromFile, fresh: Key.generate('eve').publicKeyHex };
    }, { secret: alice.secretHex(), chainId: info.chain_id, height: info.height, nonce: acct.pending_nonce });
    assert.match(signed.fromFile, /^EINVAL: Key.fromFile needs Node/);
    assert.match(signed.fresh, /^[0-9a-f]{64}$/);
    const bobBefore = (await c.account('bob')).balance;
    assert.equal((await c.rpc('tx_submit', { tx: signed.tx })).hash, signed.hash);
    const r = await c.wait(signed.hash);
    assert.equal(r.receipt.ok, true, r.receipt.error);
    assert.equal((await c.account('bob')).balance, bobBefore + 5);
    assert.deepEqual(problems, []);
  }));
});
