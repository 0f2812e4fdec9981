// cors.test.js -- a web app on another origin uses a node, as a browser
// does it: a page served by a static server on one loopback port loads the
// browser build (dist/lunet-client.js, built here by scripts/build.js) and
// calls a `lunet dev` on another port, started with `--cors` for the page's
// origin. The page reads chain_info, makes a key, has alice create its
// account, signs and sends a transfer with it, waits for the receipt and
// sees the block on /events (the client's stream and the browser's own
// EventSource). The same page against a node without --cors, and against
// one that allows only another origin, is refused by the browser: the fetch
// rejects (ENETWORK) and Chromium says why on its console.
// The preflight a JSON POST needs is checked here header by header.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Key } from 'lunet-client';
import { build } from '../scripts/build.js';
import { startDev, failureTracker, launchChromium, pageProblems } from './helpers.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>app</title>
<link rel="icon" href="data:,">
<script type="module">import * as lunet from "/lunet-client.js"; window.lunet = lunet;</script>`;

// The app's origin: a page and the browser build, nothing else.
function serveApp(bundle) {
  const js = readFileSync(bundle);
  const srv = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    else if (path === '/lunet-client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(404).end();
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

// One raw HTTP request (Node's fetch will not send Origin as asked):
// {status, headers, body}.
function raw(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// In the page: what the app does against the node at url. Bounded: each
// wait gives up after ms.
async function appRun({ url, aliceSecret, ms }) {
  const { Client, Key } = window.lunet;
  const within = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('no ' + what)), ms))]);
  const c = new Client(url);
  const info = await c.info();
  const es = new EventSource(url + '/events');
  const esBlocks = [];
  es.addEventListener('block', (m) => esBlocks.push(JSON.parse(m.data)));
  await within(new Promise((res, rej) => { es.onopen = res; es.onerror = () => rej(new Error('EventSource failed')); }), 'EventSource open');
  const events = c.events();
  await within(events.ready, 'events ready');
  const alice = Key.fromSecretHex(aliceSecret, 'alice');
  const web = Key.generate('webapp');
  const made = await c.sendActions(alice, [
    { contract: 'sys', method: 'newaccount', args: ['webapp', web.publicKeyHex] },
    { contract: 'sys', method: 'transfer', args: ['webapp', 1000000000] },
  ]);
  const sent = await c.send(web, 'sys', 'transfer', ['bob', 7]);
  let block = null;
  await within((async () => {
    for await (const ev of events) if (ev.type === 'block' && ev.height === sent.height) { block = ev; break; }
  })(), 'block event');
  await within((async () => {
    while (!esBlocks.some((b) => b.height === sent.height)) await new Promise((r) => setTimeout(r, 20));
  })(), 'EventSource block');
  es.close();
  return { info, made: made.receipt, sent, block, esBlock: esBlocks.find((b) => b.height === sent.height), web: web.publicKeyHex };
}

// In the page: the same calls against a node that does not let this origin
// in. Each outcome: 'resolved' or the error's {name, code, message}.
async function appRefused({ url, ms }) {
  const { Client } = window.lunet;
  const c = new Client(url);
  const outcome = (p) => p.then(() => 'resolved', (e) => ({ name: e.name, code: e.code, message: e.message }));
  const events = c.events({ reconnect: false });
  const out = {
    info: await outcome(c.info()),
    health: await outcome(fetch(url + '/health')),
    events: await outcome(events.ready),
  };
  events.close();
  out.eventSource = await new Promise((res) => {
    const es = new EventSource(url + '/events');
    const t = setTimeout(() => { es.close(); res('no answer within ' + ms + ' ms'); }, ms);
    es.onopen = () => { clearTimeout(t); es.close(); res('opened'); };
    es.onerror = () => { clearTimeout(t); es.close(); res('error'); };
  });
  return out;
}

describe('a page on another origin in headless Chromium', () => {
  const t = failureTracker();
  let dir, app, origin, allowed, plain, other, browser;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lunet-cors.'));
    app = await serveApp(await build(join(dir, 'lunet-client.js')));
    origin = `http://127.0.0.1:${app.address().port}`;
    allowed = await startDev({ name: 'cors', args: ['--cors', origin] });
    plain = await startDev({ name: 'nocors' });
    // The same host and port by another name is another origin.
    other = await startDev({ name: 'corsother', args: ['--cors', `http://localhost:${app.address().port}`] });
    browser = await launchChromium();
  });

  after(async () => {
    if (browser) await browser.close();
    if (app) app.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const n of [allowed, plain, other]) if (n) await n.stop(t.failed);
  });

  async function openApp() {
    const page = await browser.context.newPage();
    const problems = pageProblems(page);
    await page.goto(origin + '/');
    await page.waitForFunction(() => window.lunet, null, { timeout: 10000 }).catch(() => {
      throw new Error('lunet-client did not load in the page: ' + problems.join('; '));
    });
    return { page, problems };
  }

  it('reads chain_info, sends a transaction signed in the page, waits for it and sees its block', t.wrap(async () => {
    const { page, problems } = await openApp();
    const alice = Key.fromFile(allowed.keyPath('alice'));
    const c = new Client(allowed.url);
    const bobBefore = (await c.account('bob')).balance;
    const r = await page.evaluate(appRun, { url: allowed.url, aliceSecret: alice.secretHex(), ms: 20000 });
    assert.deepEqual(problems, [], 'the page logged errors');
    assert.equal(r.info.chain_id, 'lunet-dev');
    assert.equal(r.made.ok, true, r.made.error);
    assert.equal(r.sent.status, 'committed');
    assert.equal(r.sent.receipt.ok, true, r.sent.receipt.error);
    assert.equal(r.block.height, r.sent.height);
    assert.ok(r.block.txs >= 1);
    assert.deepEqual({ ...r.esBlock, type: 'block' }, r.block);
    // What the page did is on the chain.
    assert.equal((await c.account('bob')).balance, bobBefore + 7);
    assert.equal((await c.account('webapp')).permissions.active.keys[0].key, '0x' + r.web);
    const blk = await c.block(r.sent.height);
    assert.equal(blk.hash, r.block.hash);
    assert.ok(blk.txs.some((x) => x.hash === r.sent.hash && x.account === 'webapp'));
    await page.close();
  }));

  for (const [which, why] of [['plain', 'without --cors'], ['other', 'that lets only http://localhost:PORT in']]) {
    it(`is refused by the browser against a node ${why}`, t.wrap(async () => {
      const node = which === 'plain' ? plain : other;
      // The node is up and answers the same call from outside a browser.
      assert.equal((await new Client(node.url).info()).chain_id, 'lunet-dev');
      const { page, problems } = await openApp();
      const r = await page.evaluate(appRefused, { url: node.url, ms: 5000 });
      for (const k of ['info', 'events']) {
        assert.equal(r[k].name, 'ENETWORK', `${k}: ${JSON.stringify(r[k])}`);
        assert.equal(r[k].code, null);
        assert.match(r[k].message, /--cors/, 'the message does not point at --cors');
      }
      assert.equal(r.health.name, 'TypeError', JSON.stringify(r.health));
      assert.equal(r.eventSource, 'error');
      const cors = problems.filter((p) => /blocked by CORS policy/.test(p));
      assert.ok(cors.length >= 3, `Chromium did not report CORS refusals: ${problems.join('\n')}`);
      await page.close();
    }));
  }

  it('answers the preflight of a JSON POST for the allowed origin only', t.wrap(async () => {
    const ask = { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' };
    const ok = await raw(allowed.url + '/', 'OPTIONS', ask);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], origin);
    assert.deepEqual(ok.headers['access-control-allow-methods'].split(/,\s*/).sort(), ['GET', 'OPTIONS', 'POST']);
    assert.equal(ok.headers['access-control-allow-headers'].toLowerCase(), 'content-type');
    assert.equal(ok.headers['access-control-max-age'], '600');
    assert.match(ok.headers.vary, /\bOrigin\b/);
    assert.equal(ok.body, '');
    // An origin not in the list: 403 and nothing that lets it in.
    for (const [node, o] of [[allowed, 'http://127.0.0.1:1'], [allowed, 'http://localhost:' + app.address().port], [other, origin]]) {
      const no = await raw(node.url + '/', 'OPTIONS', { ...ask, Origin: o });
      assert.equal(no.status, 403, o);
      assert.equal(no.headers['access-control-allow-origin'], undefined, o);
      assert.equal(JSON.parse(no.body).error.code, -32600);
      const post = await raw(node.url + '/', 'POST', { Origin: o, 'content-type': 'application/json' },
                             '{"jsonrpc":"2.0","id":1,"method":"chain_info","params":{}}');
      assert.equal(post.status, 200);
      assert.equal(post.headers['access-control-allow-origin'], undefined, o);
    }
    // No --cors: no preflight at all.
    const none = await raw(plain.url + '/', 'OPTIONS', ask);
    assert.equal(none.status, 405);
    assert.equal(none.headers['access-control-allow-origin'], undefined);
  }));
});
