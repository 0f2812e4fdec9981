import { readFileSync } from 'node:fs';
import { Client, Key } from 'lunet-client';
const c = new Client(process.env.LUNET_RPC || 'http://127.0.0.1:8765');
const alice = Key.fromFile((process.env.LUNET_HOME || '.lunet/dev') + '/keys/alice.key');
const events = c.events(); await events.ready;                  // blocks and contract events from now on
await c.deploy(alice, 'coin', readFileSync('contracts/token.lua', 'utf8'), ['LUN', 1000000]);
const sent = []; for (const n of [1, 2, 3]) sent.push(await c.send(alice, 'coin', 'transfer', ['bob', n], { wait: false }));
for await (const ev of events) { if (ev.type === 'contract') console.log(ev.name, ev.data); if (ev.tx === sent[2]) break; }
console.log('bob has', await c.query('coin', 'balance_of', ['bob']));
