// dashboard.test.js -- the node's dashboard (core/dashboard.html at GET /)
// as a user sees it, in headless Chromium (Debian's, driven by
// playwright-core) against a real `lunet dev`: every card has its data when
// it first appears, times are dates, and a user clicks from the head block
// to a transaction to its sender's account, and to a proposal.
//
// A failed test saves a screenshot and says where; LUNET_SHOTS=DIR saves
// one of every page visited.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Key } from 'lunet-client';
import { ROOT, startDev, failureTracker, launchChromium, pageProblems } from './helpers.js';

// Runs in the page before its own script: records each card as it is added
// to the page, and the view's content when it is first shown.
function recordPaints() {
  window.__cards = [];
  window.__firstShow = null;
  const body = (s) => [...s.childNodes].filter((n) => n.nodeName !== 'H2').map((n) => n.textContent).join('').trim();
  new MutationObserver((muts) => {
    for (const m of muts) {
      for (const n of m.addedNodes) {
        if (n.nodeType === 1 && n.matches('section[data-card]')) {
          window.__cards.push({ card: n.dataset.card, text: body(n), canvas: !!n.querySelector('canvas') });
        }
      }
      if (m.type === 'attributes' && m.target.id === 'view' && !m.target.hidden && !window.__firstShow) {
        window.__firstShow = { cards: m.target.querySelectorAll('section').length, text: m.target.textContent.length };
      }
    }
  }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['hidden'] });
}

describe('dashboard in headless Chromium', () => {
  const t = failureTracker();
  let node, c, alice, browser, page, shots;
  const problems = [];          // page errors and console errors of every page opened
  let shotN = 0;

  async function shot(name) {
    if (!shots || !page) return null;
    const path = join(shots, `${String(++shotN).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  }

  // The test's body; on failure a screenshot of the page as it was.
  const step = (name, fn) => t.wrap(async () => {
    problems.length = 0;
    try {
      await fn();
      assert.deepEqual(problems, [], 'the page threw or logged an error');
      await shot(name.replace(/\W+/g, '-'));
    } catch (e) {
      if (page) {
        const dir = shots || mkdtempSync(join(tmpdir(), 'lunet-dashboard-failed.'));
        const path = join(dir, 'failed-' + name.replace(/\W+/g, '-') + '.png');
        await page.screenshot({ path, fullPage: true }).catch(() => {});
        process.stderr.write(`\ndashboard test failed at ${page.url()}; screenshot ${path}\n`);
      }
      throw e;
    }
  });

  // Opens url in a fresh page that records its paints; waits for the view.
  async function open(url) {
    if (page) await page.close();
    page = await browser.context.newPage({ viewport: { width: 1280, height: 900 } });
    pageProblems(page, problems);
    await page.addInitScript(recordPaints);
    page.setDefaultTimeout(10000);
    await page.goto(url);
    await page.waitForSelector('#view:not([hidden])');
  }

  before(async () => {
    if (process.env.LUNET_SHOTS) mkdirSync(shots = process.env.LUNET_SHOTS, { recursive: true });
    node = await startDev({ name: 'dashboard' });
    c = new Client(node.url);
    alice = Key.fromFile(node.keyPath('alice'));
    const r = await c.deploy(alice, 'token', readFileSync(join(ROOT, 'contracts/token.lua'), 'utf8'), ['LUN', 1000000]);
    assert.ok(r.receipt.ok, r.receipt.error);
    const sent = [];
    for (let i = 1; i <= 5; i++) sent.push(await c.send(alice, 'token', 'transfer', ['bob', i], { wait: false }));
    await Promise.all(sent.map((h) => c.wait(h)));
    browser = await launchChromium();
  });

  after(async () => {
    if (browser) await browser.close();
    if (node) await node.stop(t.failed);
  });

  it('shows every card with its data on first paint, and times as dates', step('overview', async () => {
    await open(node.url + '/');
    const first = await page.evaluate(() => window.__firstShow);
    assert.ok(first && first.cards >= 6, `the view was first shown with ${first && first.cards} cards`);
    const painted = await page.evaluate(() => window.__cards);
    const names = painted.map((x) => x.card);
    for (const want of ['Head', 'Mempool and throughput', 'Validators', 'Plugins', 'Proposals', 'Throughput, tx/s', 'Recent blocks']) {
      assert.ok(names.includes(want), `no ${want} card (cards: ${names.join(', ')})`);
    }
    assert.match(painted.find((x) => x.card === 'Proposals').text, /No proposals/);
    assert.match(painted.find((x) => x.card === 'Plugins').text, /governanceadmin0/);
    for (const x of painted) {
      assert.ok(x.canvas || x.text.length > 0, `the ${x.card} card was added empty`);
    }
    assert.equal(await page.isVisible('#loading'), false);
    const info = await c.info();
    assert.equal(await page.textContent('section[data-card="Head"] .big'), String(info.height));
    const time = (await page.textContent('section[data-card="Head"] time')).trim();
    assert.match(time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, `head time shows as "${time}"`);
    assert.match(await page.getAttribute('section[data-card="Head"] time', 'title'), new RegExp(`unix ${info.time}\\)`));
    const cells = await page.$$eval('section[data-card="Recent blocks"] td', (tds) => tds.map((td) => td.textContent.trim()));
    assert.ok(!cells.some((s) => /^\d{9,}$/.test(s)), 'a unix time in the recent blocks');
    assert.ok(cells.includes(String(info.height)));
    assert.equal(await page.textContent('section[data-card="Plugins"] td:nth-child(2)'), 'poa');
    // The chart has axes: labelled ticks drawn on the canvas.
    const inked = await page.$eval('#chart', (cv) => {
      const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
      return n;
    });
    assert.ok(inked > 1000, `the chart drew ${inked} pixels`);
  }));

  it('renders the plugins in force and the swaps pending in chain_info\'s shape (DESIGN "Plugins")', step('plugins', async () => {
    await open(node.url + '/');
    const text = await page.evaluate(() => pluginsCard({ info: {
      consensus: 'bft',
      plugins: {
        consensus: { name: 'bft', hash: 'ab'.repeat(32), since: 0, params: {} },
        governance: { name: 'council', hash: 'cd'.repeat(32), since: 12, params: { voting_blocks: 100 } },
        pricing: { name: 'flat', hash: 'ef'.repeat(32), since: 0, params: {} },
      },
      pending: [{ slot: 'pricing', name: 'fee_market', hash: '01'.repeat(32), at: 40, ready: ['node0', 'node1'] }],
    } }).textContent);
    for (const want of ['consensusbft', 'governancecouncil12', 'pricingflat', 'Swaps pending', 'pricingfee_market402 ready']) {
      assert.ok(text.includes(want), `"${want}" not in "${text}"`);
    }
  }));

  it('clicks from the head block to a transaction to its sender\'s account', step('click-through', async () => {
    await open(node.url + '/');
    const info = await c.info();
    const head = await c.block(info.height);
    assert.equal(head.txs[0].account, 'alice');
    await page.click('section[data-card="Head"] .big a');
    await page.waitForSelector(`section[data-card="Block ${info.height}"]`);
    assert.equal(new URL(page.url()).hash, `#/block/${info.height}`);
    assert.match(await page.textContent(`section[data-card="Block ${info.height}"]`), new RegExp(head.hash));
    await shot('block');
    await page.click(`section[data-card="Transactions"] a[href="#/tx/${head.txs[0].hash}"]`);
    await page.waitForSelector('section[data-card="Receipt"]');
    assert.equal(new URL(page.url()).hash, `#/tx/${head.txs[0].hash}`);
    const tx = await page.textContent('section[data-card="Transaction"]');
    assert.match(tx, new RegExp(head.txs[0].hash));
    assert.match(tx, /committed in block/);
    assert.match(await page.textContent('section[data-card="Receipt"]'), /ok/);
    assert.match(await page.textContent('section[data-card="Events"]'), /"from":"alice"/);
    assert.match(await page.textContent('section[data-card="Actions"]'), /transfer/);
    await shot('tx');
    await page.click('section[data-card="Transaction"] a[href="#/account/alice"]');
    await page.waitForSelector('section[data-card="Account alice"]');
    const acct = await c.account('alice');
    const text = await page.textContent('section[data-card="Account alice"]');
    assert.match(text, new RegExp(acct.balance.toLocaleString('en-US')));
    assert.match(await page.textContent('section[data-card="Permissions"]'), new RegExp(alice.publicKeyHex));
    // Back to the overview by the header's link.
    await page.click('header h1 a');
    await page.waitForSelector('section[data-card="Head"]');
  }));

  it('lists the governance contract\'s proposals and opens one', step('proposals', async () => {
    // The dev chain's admin (alice) decides at once under admin.lua.
    const p = await c.send(alice, 'gov', 'propose', ['param', { name: 'block_gas_max', value: 5000000 }]);
    assert.ok(p.receipt.ok, p.receipt.error);
    await open(node.url + '/');
    const card = 'section[data-card="Proposals"]';
    await page.waitForSelector(card);
    assert.match(await page.textContent(card), /executed/);
    await page.click(`${card} a[href="#/proposal/${p.receipt.result}"]`);
    await page.waitForSelector(`section[data-card="Proposal #${p.receipt.result}"]`);
    const text = await page.textContent(`section[data-card="Proposal #${p.receipt.result}"]`);
    assert.match(text, /block_gas_max/);
    assert.match(text, /executed/);
    assert.ok(await page.$('section[data-card^="Proposal"] a[href="#/account/alice"]'), 'the proposer is not a link');
  }));

  // Types q into the search box and presses Enter.
  async function search(q) {
    await page.fill('#q', q);
    await page.press('#q', 'Enter');
  }

  // Goes to another page first, so that the next search is seen to move.
  async function away() {
    await page.evaluate(() => { location.hash = '#/account/eve'; });
    await page.waitForSelector('section[data-card="Account eve"]');
  }

  it('finds a block or a transaction from a hash pasted with or without 0x, in either case', step('paste', async () => {
    const r = await c.send(alice, 'token', 'transfer', ['carol', 1]);
    const blk = await c.block(r.height);
    await open(node.url + '/');
    for (const q of [r.hash, '0x' + r.hash, r.hash.toUpperCase(), '0X' + r.hash.toUpperCase(), ` 0x${r.hash}\t`]) {
      await away();
      await search(q);
      await page.waitForSelector('section[data-card="Receipt"]');
      assert.equal(new URL(page.url()).hash, `#/tx/${r.hash}`, `searched "${q}"`);
      assert.ok(await page.$('section[data-card="Transaction"] a[href="#/account/alice"]'), `searched "${q}": no sender`);
    }
    for (const q of [blk.hash, '0x' + blk.hash, blk.hash.toUpperCase()]) {
      await away();
      await search(q);
      await page.waitForSelector(`section[data-card="Block ${r.height}"]`);
      assert.equal(new URL(page.url()).hash, `#/block/${blk.hash}`, `searched "${q}"`);
    }
    // Links written by hand, with 0x and in upper case.
    await open(`${node.url}/#/tx/0x${r.hash.toUpperCase()}`);
    await page.waitForSelector('section[data-card="Receipt"]');
    assert.ok(await page.$('section[data-card="Transaction"] a[href="#/account/alice"]'), 'no sender');
    assert.match(await page.textContent('section[data-card="Actions"]'), /carol/);
    await open(`${node.url}/#/block/0x${blk.hash.toUpperCase()}`);
    assert.match(await page.textContent(`section[data-card="Block ${r.height}"]`), new RegExp(blk.hash));
    assert.ok(await page.$(`section[data-card="Transactions"] a[href="#/tx/${r.hash}"]`));
  }));

  it('says clearly what is unknown or malformed, with no error in the console', step('unknown', async () => {
    await open(node.url + '/');
    const unknown = 'cd'.repeat(32);
    const cases = [
      ['0x' + unknown, 'section[data-card="Transaction"]', /no transaction or block with this hash is known to this node/],
      ['999999', 'section[data-card="Not found"]', /no block at height 999999/],
      ['nobody', 'section[data-card="Not found"]', /no account named nobody/],
      ['#4242', 'section[data-card="Not found"]', /no proposal 4242/],
    ];
    for (const [q, sel, want] of cases) {
      await away();
      await search(q);
      await page.waitForSelector(sel);
      assert.match(await page.textContent(sel), want, `searched "${q}"`);
    }
    for (const q of ['not a thing!', '12345678901234567890', '0x' + unknown.slice(2)]) {
      await away();
      await search(q);
      await page.waitForFunction(() => document.getElementById('err').textContent !== '');
      assert.match(await page.textContent('#err'), /not a height, hash, account name or #proposal/, `searched "${q}"`);
      assert.ok(await page.$('section[data-card="Account eve"]'), `searched "${q}": the page moved`);
    }
    for (const [hash, want] of [['block/xyz', /a block is a height or a 64-digit hash/], ['block/-1', /a block is a height/],
                                ['block/99999999999999999999', /a block is a height/], ['tx/xyz', /a transaction hash is 64 hex digits/],
                                ['tx/' + unknown, /no transaction or block/], ['account/Bad%20Name', /not an account name/],
                                ['account/%E0%A4%A', /not an account name/], ['proposal/x', /no proposal x|gov/]]) {
      await open(`${node.url}/#/${hash}`);
      await page.waitForSelector('main section');
      assert.match(await page.textContent('main'), want, hash);
    }
  }));

  it('shows an account that sent hundreds of transactions, and a block full of them', step('long-history', async () => {
    const carol = Key.fromFile(node.keyPath('carol'));
    const N = 400;
    const hashes = await Promise.all(Array.from({ length: N }, (_, i) =>
      c.send(carol, 'token', 'transfer', ['dave', 1 + (i % 3)], { wait: false })));
    const done = await Promise.all(hashes.map((h) => c.wait(h)));
    const perBlock = new Map();
    for (const r of done) perBlock.set(r.height, (perBlock.get(r.height) || 0) + 1);
    const [height, n] = [...perBlock].sort((a, b) => b[1] - a[1])[0];
    const acct = await c.account('carol');
    await open(node.url + '/#/account/carol');
    const card = await page.textContent('section[data-card="Account carol"]');
    assert.match(card, new RegExp('nonce' + acct.nonce.toLocaleString('en-US')));
    await open(`${node.url}/#/block/${height}`);
    const rows = await page.$$eval('section[data-card="Transactions"] tbody tr', (trs) => trs.map((tr) => tr.textContent));
    const blk = await c.block(height);
    assert.equal(rows.length, blk.txs.length);
    assert.equal(rows.filter((x) => x.includes('carol')).length, n);
    assert.match(await page.textContent(`section[data-card="Block ${height}"]`), new RegExp('transactions' + blk.txs.length));
  }));

  it('shows a contract event with binary data as hex, within the page\'s width', step('binary', async () => {
    const d = await c.deploy(alice, 'blob', readFileSync(join(ROOT, 'clients/js/test/fixtures/blob.lua'), 'utf8'));
    assert.ok(d.receipt.ok, d.receipt.error);
    const r = await c.send(alice, 'blob', 'blob');
    assert.ok(r.receipt.ok, r.receipt.error);
    const all = '0x' + Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join('');
    await open(`${node.url}/#/tx/${r.hash}`);
    const events = await page.textContent('section[data-card="Events"]');
    assert.ok(events.includes(`"all":"${all}"`), 'every byte value is not shown as hex');
    assert.ok(events.includes('"nul":"0x610062"'));
    assert.ok(events.includes('"text":"h\u00e9llo <b>x</b>"'));
    assert.ok(events.includes(all.slice(2).repeat(40)), 'the 10 KiB event is not shown whole');
    assert.equal(await page.$('section[data-card="Events"] b'), null, 'markup in event data became markup');
    // Long data shows shortened, with its size, and whole on a click.
    const long = 'section[data-card="Events"] tr:nth-child(2) details';
    assert.match(await page.textContent(`${long} summary`), /^0x000102\S*\u2026 \(10,240 bytes\)$/);
    assert.equal(await page.isVisible(`${long} > span.mono`), false);
    await page.click(`${long} summary`);
    assert.equal(await page.isVisible(`${long} > span.mono`), true);
    assert.match(await page.textContent('section[data-card="Receipt"]'), /returned0x[0-9a-f]{64}/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
  }));

  it('says what is missing for an unknown block, transaction or account', step('not-found', async () => {
    await open(node.url + '/#/account/nobody');
    assert.match(await page.textContent('section[data-card="Not found"]'), /no account named nobody/);
    await open(node.url + '/#/tx/' + 'ab'.repeat(32));
    assert.match(await page.textContent('section[data-card="Transaction"]'), /no transaction or block with this hash is known to this node/);
    await open(node.url + '/#/block/999999');
    assert.match(await page.textContent('section[data-card="Not found"]'), /no block at height 999999/);
    // The search box finds an account by name.
    await page.fill('#q', 'bob');
    await page.press('#q', 'Enter');
    await page.waitForSelector('section[data-card="Account bob"]');
  }));
});
