// lunet-client -- a JavaScript client for lunet nodes (browsers and Node 18+).
//
//   import { Client, Key } from 'lunet-client';
//   const c = new Client('http://127.0.0.1:8765');
//   const r = await c.send(key, 'token', 'transfer', ['bob', 10]);

export { Client } from './client.js';
export { Key } from './key.js';
export { LunetError } from './errors.js';
export { encode } from './msgpack.js';
export { unsignedTx, signTx, digest, base64 } from './tx.js';
