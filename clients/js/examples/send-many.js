// send-many.js -- N transfers of the native balance from one key, all in
// flight at once ({wait: false}), then waits for every receipt. Prints how
// long the submissions and the commits took.
//   node clients/js/examples/send-many.js [N]     (LUNET_RPC, LUNET_HOME as quickstart.js)
import { Client, Key } from 'lunet-client';

const n = Number(process.argv[2] || 200);
const c = new Client(process.env.LUNET_RPC || 'http://127.0.0.1:8765');
const alice = Key.fromFile((process.env.LUNET_HOME || '.lunet/dev') + '/keys/alice.key');
const t0 = performance.now();
const hashes = await Promise.all(Array.from({ length: n }, () => c.send(alice, 'sys', 'transfer', ['bob', 1], { wait: false })));
const t1 = performance.now();
const done = await Promise.all(hashes.map((h) => c.wait(h)));
const t2 = performance.now();
const failed = done.filter((r) => !r.receipt.ok).length;
console.log(`${n} transactions of one key: submitted in ${(t1 - t0).toFixed(0)} ms ` +
            `(${(n / (t1 - t0) * 1000).toFixed(0)} tx/s), all committed after ${(t2 - t0).toFixed(0)} ms; ${failed} failed`);
