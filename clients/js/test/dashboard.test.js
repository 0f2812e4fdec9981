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
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Client, Key } from 'lunet-client';
import { ROOT, startDev, failureTracker } from './helpers.js';

const CHROMIUM = process.env.LUNET_CHROMIUM || '/usr/bin/chromium';
// Without the background-networking flags Chromium's own connections are
// refused on a closed network and slow it down.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync'];

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
  let node, c, alice, browser, page, userDir, shots;
  const pageErrors = [];
  let shotN = 0;

  async function shot(name) {
    if (!shots || !page) return null;
    const path = join(shots, `${String(++shotN).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  }

  // The test's body; on failure a screenshot of the page as it was.
  const step = (name, fn) => t.wrap(async () => {
    try {
      await fn();
      assert.deepEqual(pageErrors, [], 'the page threw');
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
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.addInitScript(recordPaints);
    await page.goto(url);
    await page.waitForSelector('#view:not([hidden])', { timeout: 10000 });
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
    userDir = mkdtempSync(join(tmpdir(), 'lunet-chromium.'));
    browser = await chromium.launchPersistentContext(userDir, { executablePath: CHROMIUM, args: FLAGS, headless: true });
  });

  after(async () => {
    if (browser) await browser.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
    if (node) await node.stop(t.failed);
  });

  it('shows every card with its data on first paint, and times as dates', step('overview', async () => {
    await open(node.url + '/');
    const first = await page.evaluate(() => window.__firstShow);
    assert.ok(first && first.cards >= 6, `the view was first shown with ${first && first.cards} cards`);
    const painted = await page.evaluate(() => window.__cards);
    const names = painted.map((x) => x.card);
    for (const want of ['Head', 'Mempool and throughput', 'Validators', 'Plugins', 'Throughput, tx/s', 'Recent blocks']) {
      assert.ok(names.includes(want), `no ${want} card (cards: ${names.join(', ')})`);
    }
    // The chain's gov contract (admin.lua) is there from genesis, with no proposals yet.
    assert.match(painted.find((x) => x.card === 'Proposals')?.text ?? '', /No proposals/);
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

  it('lists the proposals of the gov contract and opens one', step('proposals', async () => {
    // admin.lua, the dev chain's policy: alice's proposal is carried out at once.
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

  it('says what is missing for an unknown block, transaction or account', step('not-found', async () => {
    await open(node.url + '/#/account/nobody');
    assert.match(await page.textContent('section[data-card="Not found"]'), /no account named nobody/);
    await open(node.url + '/#/tx/' + 'ab'.repeat(32));
    assert.match(await page.textContent('section[data-card="Transaction"]'), /unknown to this node/);
    await open(node.url + '/#/block/999999');
    assert.match(await page.textContent('section[data-card="Not found"]'), /no block at height 999999/);
    // The search box finds an account by name.
    await page.fill('#q', 'bob');
    await page.press('#q', 'Enter');
    await page.waitForSelector('section[data-card="Account bob"]');
  }));
});
