// client.js -- a lunet node over JSON-RPC 2.0 (POST /) and Server-Sent
// Events (GET /events): README "JSON-RPC" lists the methods.
//
// Transactions of one account sent through one Client are signed and
// submitted one after the other (each takes account_get's pending_nonce,
// the nonce after the account's transactions already waiting in the node's
// mempool), so any number may be in flight at once with {wait: false}.

import { LunetError } from './errors.js';
import { Key } from './key.js';
import { MAX_BYTES, base64, signTx, unsignedTx } from './tx.js';

const DEFAULTS = {
  maxFee: 10_000_000,        // as `lunet send`
  expiresAfter: 100,         // blocks after the head, as `lunet send`
  pollMs: 100,               // tx_get while waiting for a commit
  waitMs: 60_000,            // give up waiting for a commit (ETIMEDOUT)
};

// Resolves after ms, or at once when signal aborts.
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done);
  });
}

// A page's request that CORS refused fails like one that got no answer at
// all: the browser tells the page nothing more. Said so when the page's
// origin is not the node's.
function corsHint(url) {
  const here = globalThis.location?.origin;
  if (typeof here !== 'string') return '';
  if (here === 'null') return " (a page without an origin, as from file://, is answered only by a node started with --cors '*')";
  if (new URL(url, here).origin === here) return '';
  return ` (is the node started with --cors ${here}? Without it the browser refuses its answers to this page)`;
}

function networkError(what, url, e) {
  return new LunetError(`${what}: no answer from ${url}: ${e.message}${corsHint(url)}`, { name: 'ENETWORK', cause: e });
}

function httpError(method, status, text) {
  return new LunetError(`${method}: HTTP ${status}${text ? ': ' + text.slice(0, 200) : ''}`,
                        { name: 'EHTTP', status });
}

export class Client {
  // url: the node's RPC address (default http://127.0.0.1:8765). opts:
  // fetch (another fetch function), maxFee, expiresAfter, pollMs, waitMs.
  constructor(url = 'http://127.0.0.1:8765', opts = {}) {
    this.url = String(url).endsWith('/') ? String(url) : String(url) + '/';
    const f = opts.fetch || globalThis.fetch;
    if (typeof f !== 'function') throw new LunetError('no fetch: pass opts.fetch', { name: 'EINVAL', client: true });
    this.fetch = (...a) => f(...a);
    this.opts = { ...DEFAULTS, ...opts };
    this.nextId = 1;
    this.lanes = new Map();    // account -> the promise of its last submission
    this.waiters = new Map();  // hash -> [{resolve, reject, until, timeout}] (wait)
    this.poller = null;        // the timer of the next tx_get poll
  }

  async post(body, what) {
    let res;
    try {
      res = await this.fetch(this.url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
    } catch (e) {
      throw networkError(what, this.url, e);
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw httpError(what, res.status, text);
    }
    if (json && !Array.isArray(json) && json.error && json.jsonrpc === undefined) {
      throw LunetError.fromRpc(json.error);      // a refusal of the route (404, 405): not JSON-RPC's
    }
    if (!res.ok || json === null) throw httpError(what, res.status, text);
    return json;
  }

  // One JSON-RPC call: its result, or a LunetError with the node's code.
  async rpc(method, params = {}) {
    const id = this.nextId++;
    const r = await this.post({ jsonrpc: '2.0', id, method, params }, method);
    if (r.error) throw LunetError.fromRpc(r.error);
    return r.result;
  }

  // Several calls in one request ([[method, params], ...]): their results in
  // order; the first error is thrown.
  async batch(calls) {
    return (await this.batchSettled(calls)).map((r) => {
      if (r.error) throw r.error;
      return r.result;
    });
  }

  // Like batch, but each call's outcome: {result} or {error: LunetError}.
  async batchSettled(calls) {
    const body = calls.map(([method, params = {}]) => ({ jsonrpc: '2.0', id: this.nextId++, method, params }));
    const out = await this.post(body, calls.length === 1 ? calls[0][0] : `batch of ${calls.length}`);
    if (!Array.isArray(out)) throw LunetError.fromRpc(out.error || { message: 'batch: not an array' });
    const byId = new Map(out.map((r) => [r.id, r]));
    return body.map((c) => {
      const r = byId.get(c.id);
      if (!r) return { error: new LunetError(`${c.method}: no answer in the batch`, { name: 'EHTTP' }) };
      return r.error ? { error: LunetError.fromRpc(r.error) } : { result: r.result };
    });
  }

  info() { return this.rpc('chain_info'); }

  account(name) { return this.rpc('account_get', { account: name }); }

  tx(hash) { return this.rpc('tx_get', { hash }); }

  // A block by height (a number, a BigInt or a string of digits, as a form
  // field gives it) or hash (hex, with or without 0x); the head without one.
  async block(which) {
    if (which === undefined || which === null) which = (await this.info()).height;
    if (typeof which === 'string' && !/^\d+$/.test(which.trim())) return this.rpc('block_get', { hash: which.trim() });
    return this.rpc('block_get', { height: Number(typeof which === 'string' ? which.trim() : which) });
  }

  // A read-only call: the method's result.
  async query(contract, method, args = []) {
    return (await this.rpc('contract_query', { contract, method, args })).result;
  }

  // tx_submit of a signed encoding (Uint8Array): the hash. One over the
  // node's size limit is refused here, as the node would (ETXSIZE): sent,
  // its body could be over the node's HTTP limit, which a browser reports
  // as no answer at all.
  async submit(bytes) {
    if (bytes.length > MAX_BYTES) {
      throw new LunetError(`transaction too large: ${bytes.length} bytes, at most ${MAX_BYTES}`, { name: 'ETXSIZE', client: true });
    }
    return (await this.rpc('tx_submit', { tx: base64(bytes) })).hash;
  }

  // Waits until hash is committed: {hash, status, height, receipt}. A
  // receipt with ok false is a committed call that failed (fee charged).
  // opts: timeoutMs (default waitMs). Every wait of a Client shares one
  // poller: each pollMs one batch of tx_get (up to 100 calls) asks for all.
  wait(hash, opts = {}) {
    const timeout = opts.timeoutMs ?? this.opts.waitMs;
    if (typeof hash === 'string' && /^(0x)?[0-9a-f]{64}$/i.test(hash)) hash = hash.replace(/^0x/i, '').toLowerCase();
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(hash) || [];
      list.push({ resolve, reject, until: Date.now() + timeout, timeout });
      this.waiters.set(hash, list);
      if (!this.poller) this.poller = setTimeout(() => this.pollWaiters(), 0);
    });
  }

  async pollWaiters() {
    const hashes = [...this.waiters.keys()];
    const settle = (hash, fn) => {
      const list = this.waiters.get(hash) || [];
      this.waiters.delete(hash);
      for (const w of list) fn(w);
    };
    for (let i = 0; i < hashes.length; i += 100) {
      const chunk = hashes.slice(i, i + 100);
      let got;
      try {
        got = await this.batchSettled(chunk.map((hash) => ['tx_get', { hash }]));
      } catch (e) {
        for (const hash of chunk) settle(hash, (w) => w.reject(e));
        continue;
      }
      chunk.forEach((hash, k) => {
        const { result: r, error } = got[k];
        if (error) return settle(hash, (w) => w.reject(error));
        if (r.status === 'committed' || r.status === 'final') return settle(hash, (w) => w.resolve({ ...r, hash }));
        if (r.status === 'unknown') {
          return settle(hash, (w) => w.reject(new LunetError(`transaction ${hash} is unknown to the node: never ` +
            'admitted, or dropped (it expired, or another transaction took its nonce)', { name: 'EDROPPED' })));
        }
        const now = Date.now(), list = this.waiters.get(hash) || [];
        const late = list.filter((w) => now >= w.until);
        if (!late.length) return;
        const left = list.filter((w) => now < w.until);
        if (left.length) this.waiters.set(hash, left); else this.waiters.delete(hash);
        for (const w of late) {
          w.reject(new LunetError(`transaction ${hash} still ${r.status} after ${w.timeout} ms`, { name: 'ETIMEDOUT' }));
        }
      });
    }
    this.poller = this.waiters.size ? setTimeout(() => this.pollWaiters(), this.opts.pollMs) : null;
  }

  // Signs and submits actions ([{contract, method, args}]) from key.account.
  // opts: nonce (default: account_get's pending_nonce), maxFee, expires
  // (a height; default head + expiresAfter), keys (more Keys to sign with),
  // wait (default true): {hash, status, height, receipt}; false: the hash
  // once the node has admitted it.
  async sendActions(key, actions, opts = {}) {
    if (!(key instanceof Key)) throw new LunetError('send: the first argument must be a Key', { name: 'EINVAL', client: true });
    const account = key.account;
    if (!account) throw new LunetError('send: the key has no account (Key.fromSecretHex(hex, account))', { name: 'EBADNAME', client: true });
    const submitOne = async () => {
      const [info, acct] = await this.batch([['chain_info', {}], ['account_get', { account }]]).catch((e) => {
        if (e.name !== 'ENOTFOUND') throw e;
        throw new LunetError(`unknown account: ${account}`, { code: -32044, name: 'ENOACCOUNT', why: e.message });
      });
      const unsigned = unsignedTx({
        account, actions, chainId: info.chain_id,
        expires: opts.expires ?? info.height + this.opts.expiresAfter,
        maxFee: opts.maxFee ?? this.opts.maxFee,
        nonce: opts.nonce ?? acct.pending_nonce ?? acct.nonce,
      });
      const { bytes, hash } = signTx(unsigned, [key, ...(opts.keys || [])]);
      const got = await this.submit(bytes);
      if (got !== hash) throw new LunetError(`tx_submit answered hash ${got}, the client computed ${hash}`, { name: 'EINTERNAL' });
      return hash;
    };
    // One submission at a time per account: each sees the one before it in
    // the mempool, whatever the caller awaits.
    const prev = this.lanes.get(account) || Promise.resolve();
    const mine = prev.then(submitOne, submitOne);
    const tail = mine.then(() => {}, () => {});
    this.lanes.set(account, tail);
    tail.then(() => { if (this.lanes.get(account) === tail) this.lanes.delete(account); });
    const hash = await mine;
    if (opts.wait === false) return hash;
    return this.wait(hash, opts);
  }

  send(key, contract, method, args = [], opts = {}) {
    return this.sendActions(key, [{ contract, method, args }], opts);
  }

  // Deploys source (Lua text) to account name (sys.deploy); args go to init.
  deploy(key, name, source, args = [], opts = {}) {
    return this.send(key, 'sys', 'deploy', [name, source, ...args], opts);
  }

  // The node's events as an async iterator: {type: 'block', height, hash,
  // txs, time} for each committed block and {type: 'contract', height, tx,
  // contract, name, data} for each event a contract emitted. The connection
  // opens at once; `await it.ready` resolves once the node streams to it, so
  // nothing committed after that is missed. opts: signal (an AbortSignal
  // ends it), reconnect (default true: after a lost connection it connects
  // again after the node's retry time; what was committed meanwhile is not
  // replayed). Leaving a for-await loop, or it.close(), closes the stream.
  events(opts = {}) {
    const ctl = new AbortController();
    const outer = opts.signal;
    if (outer) {
      if (outer.aborted) ctl.abort();
      else outer.addEventListener('abort', () => ctl.abort(), { once: true });
    }
    const first = this.openEvents(ctl.signal);
    const ready = first.then(() => undefined);
    ready.catch(() => {});               // reported by the iterator too
    const gen = this.followEvents(first, ctl.signal, opts.reconnect ?? true);
    return {
      ready,
      next: () => gen.next(),
      return: (v) => { ctl.abort(); return gen.return(v); },
      throw: (e) => { ctl.abort(); return gen.throw(e); },
      close() { return this.return(); },
      [Symbol.asyncIterator]() { return this; },
    };
  }

  // GET /events: the response, or a LunetError (ENETWORK, EHTTP).
  async openEvents(signal) {
    let res;
    try {
      res = await this.fetch(this.url + 'events', { headers: { accept: 'text/event-stream' }, signal });
    } catch (e) {
      throw networkError('events', this.url, e);
    }
    const type = res.headers.get('content-type') || '';
    if (res.ok && res.body && /^text\/event-stream\b/i.test(type)) return res;
    if (!res.ok) throw httpError('events', res.status, await res.text().catch(() => ''));
    res.body?.cancel().catch(() => {});          // whatever it is, it may not end
    throw httpError('events', res.status, `${type || 'no content type'}, not an event stream`);
  }

  async *followEvents(first, signal, reconnect) {
    let retry = 3000, pending = first;
    pending.catch(() => {});
    while (!signal.aborted) {
      let reader = null;
      try {
        const res = await pending;
        reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '', event = 'message', data = [];
        for (;;) {
          let chunk;
          try {
            chunk = await reader.read();
          } catch {
            break;                               // the connection dropped, or close()
          }
          if (chunk.done) break;
          buf += dec.decode(chunk.value, { stream: true });
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            let line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.endsWith('\r')) line = line.slice(0, -1);
            if (line === '') {                   // an event ends
              if (data.length) {
                let payload;
                try {
                  payload = JSON.parse(data.join('\n'));
                } catch {
                  payload = { data: data.join('\n') };
                }
                yield { ...payload, type: event };
              }
              event = 'message';
              data = [];
              continue;
            }
            if (line.startsWith(':')) continue;  // a comment (ping)
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            let value = colon < 0 ? '' : line.slice(colon + 1);
            if (value.startsWith(' ')) value = value.slice(1);
            if (field === 'event') event = value;
            else if (field === 'data') data.push(value);
            else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        if (!reconnect || e.name === 'EHTTP') throw e;
      } finally {
        if (reader) reader.cancel().catch(() => {});
      }
      if (!reconnect || signal.aborted) return;
      await sleep(retry, signal);
      pending = this.openEvents(signal);
      pending.catch(() => {});
    }
  }
}
