// helpers.js -- a real `lunet dev` for the tests: a temporary home, free
// loopback ports, GET /health up before the test starts. A watchdog shell
// kills the node if this process dies without stopping it (it reads a pipe
// only this process writes; end of file means this process is gone).
// The home and log are removed after a passing run and kept, with their
// path printed, after a failing one (or with LUNET_KEEP=1).
//
// Environment: LUNET_BIN runs another binary (default ROOT/build/lunet).

import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.LUNET_BIN || join(ROOT, 'build/lunet');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Calls cond() up to tries times, ms apart, until it gives a true value,
// which it returns; throws msg otherwise.
export async function waitUntil(tries, ms, cond, msg) {
  for (let i = 0; i < tries; i++) {
    const v = await cond();
    if (v) return v;
    if (i + 1 < tries) await sleep(ms);
  }
  throw new Error(typeof msg === 'function' ? msg() : msg);
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// Starts `lunet dev` (opts.config: another config file; opts.name names the
// folder; opts.args: more arguments, e.g. ['--cors', ORIGIN]). Returns
// {url, port, home, log, keyPath(name), logTail(), stop()}.
export async function startDev(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), `lunet-js-${opts.name || 'dev'}.`));
  const home = join(dir, 'home'), log = join(dir, 'node.log');
  const port = await freePort(), p2p = await freePort();
  const fd = openSync(log, 'a');
  const argv = ['dev', '--home', home, '--rpc', `127.0.0.1:${port}`, '--p2p', `127.0.0.1:${p2p}`,
                '--config', opts.config || join(ROOT, 'configs/dev.lua'), ...(opts.args || [])];
  const child = spawn(BIN, argv, { cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const watchdog = spawn('/bin/sh', ['-c', 'read x; kill -9 "$0" 2>/dev/null', String(child.pid)],
                         { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const node = {
    dir, home, log, port, url: `http://127.0.0.1:${port}`, child,
    keyPath: (name) => join(home, 'keys', `${name}.key`),
    logTail(n = 30) { return readFileSync(log, 'utf8').split('\n').slice(-n).join('\n'); },
    async stop(failed) {
      if (!exited) {
        child.kill('SIGTERM');
        const ok = await waitUntil(100, 50, () => exited, 'no exit').catch(() => false);
        if (!ok) child.kill('SIGKILL');
        await waitUntil(100, 50, () => exited, `lunet dev (pid ${child.pid}) did not end`);
      }
      watchdog.kill('SIGKILL');
      if (failed || process.env.LUNET_KEEP) {
        process.stderr.write(`\nlunet dev home and log kept in ${dir}\n--- ${log} (last lines)\n${node.logTail(15)}\n`);
      } else {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  await waitUntil(100, 100, async () => {
    if (exited) throw new Error(`lunet dev exited (${JSON.stringify(exited)}) before answering /health:\n${node.logTail()}`);
    try {
      return (await fetch(`${node.url}/health`)).status === 200;
    } catch {
      return false;
    }
  }, () => `lunet dev never answered GET /health on port ${port}:\n${node.logTail()}`);
  return node;
}

// Tracks whether any test of the file failed, for stop(failed).
export function failureTracker() {
  const t = { failed: false };
  t.wrap = (fn) => async (ctx) => {
    try {
      return await fn(ctx);
    } catch (e) {
      t.failed = true;
      throw e;
    }
  };
  return t;
}

// Headless Chromium (Debian's, driven by playwright-core) for the browser
// tests. Without the background-networking flags Chromium's own connections
// are refused on a closed network and slow it down.
export const CHROMIUM = process.env.LUNET_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                        '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// A browser context on a fresh profile: {context, close()}; close removes
// the profile.
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const userDir = mkdtempSync(join(tmpdir(), 'lunet-chromium.'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}

// What went wrong in a page: its uncaught exceptions and unhandled
// rejections ("pageerror: ...") and every console.error, including the
// browser's own (a failed load, a CORS refusal): "console: ...". The
// array (out, or a new one) fills as the page runs.
export function pageProblems(page, out = []) {
  page.on('pageerror', (e) => out.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') out.push(`console: ${m.text()}`); });
  return out;
}
