// wire.test.js -- lunet-client's encoding, digest and signatures are the
// node's, byte for byte: fixtures/wire.json holds what the node's own codec
// and signer give (tests/lua/wire_fixture_spec.lua checks that side), and
// what the node refuses the client refuses before sending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake2b } from '@noble/hashes/blake2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { encode, Key, LunetError, signTx, unsignedTx, base64 } from 'lunet-client';

const fx = JSON.parse(readFileSync(new URL('./fixtures/wire.json', import.meta.url), 'utf8'));

// The fixture's tags as JavaScript values (see its "about").
function jsValue(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(jsValue);
  if (v.$nil) return null;
  if (v.$bin !== undefined) return hexToBytes(v.$bin);
  if (v.$binrep) return new Uint8Array(v.$binrep[1]).fill(parseInt(v.$binrep[0], 16));
  if (v.$repeat) {
    const [x, n] = v.$repeat;
    return typeof x === 'string' ? x.repeat(n) : new Array(n).fill(x);
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsValue(x)]));
}

function described(bytes) {
  return `len ${bytes.length} head ${bytesToHex(bytes.subarray(0, 8))} blake2b ${bytesToHex(blake2b(bytes, { dkLen: 32 }))}`;
}

test('wire: every fixture value encodes to the node\'s bytes', () => {
  assert.equal(fx.values.length, 50);
  for (const [i, e] of fx.values.entries()) {
    const got = encode(jsValue(e.value));
    if (e.hex !== undefined) {
      assert.equal(bytesToHex(got), e.hex, `value ${i}: ${JSON.stringify(e.value).slice(0, 80)}`);
    } else {
      assert.equal(described(got), `len ${e.len} head ${e.head} blake2b ${e.blake2b}`, `value ${i}`);
    }
  }
});

test('wire: map keys sort by UTF-8 bytes, not UTF-16 units, whatever the insertion order', () => {
  // U+FF61 is EF BD A1 and U+1F600 F0 9F 98 80: bytes put U+FF61 first,
  // UTF-16 (D83D DE00 < FF61) the other way round.
  const a = encode({ '\u{1F600}': 2, '\uFF61': 1 });
  const b = encode(new Map([['\uFF61', 1], ['\u{1F600}', 2]]));
  assert.equal(bytesToHex(a), '82a3efbda101a4f09f988002');
  assert.deepEqual(a, b);
});

test('wire: a transaction signed by the client is the node\'s, byte for byte', () => {
  const t = fx.tx;
  const keys = t.seeds.map((s) => Key.fromSecretHex(s, 'alice'));
  assert.deepEqual(keys.map((k) => k.publicKeyHex), t.public_keys);
  const u = jsValue(t.unsigned);
  const unsigned = unsignedTx({ account: u.account, actions: u.actions, chainId: u.chain_id,
                                expires: u.expires, maxFee: u.max_fee, nonce: u.nonce });
  assert.equal(bytesToHex(encode(unsigned)), t.unsigned_hex);
  const signed = signTx(unsigned, keys);
  assert.equal(signed.hash, t.hash);
  assert.equal(bytesToHex(signed.bytes), t.signed_hex);
  // Ed25519 is deterministic: the same bytes mean the same signatures, and
  // each verifies over the digest.
  assert.ok(keys.every((k) => Key.verify(k.publicKey, k.sign(signed.digest), signed.digest)));
  assert.ok(!Key.verify(keys[0].publicKey, keys[1].sign(signed.digest), signed.digest));
  assert.equal(base64(hexToBytes('ff00fe')), '/wD+');
  assert.equal(base64(new Uint8Array(0)), '');
});

test('wire: values the node refuses are refused before sending, with the node\'s name and code', () => {
  const refused = [
    [1.5, 'EFLOAT', -32013], [NaN, 'EFLOAT', -32013], [Infinity, 'ERANGE', -32020],
    [2 ** 53, 'ERANGE', -32020], [-(2 ** 53), 'ERANGE', -32020], [1n << 64n, 'ERANGE', -32020],
    [undefined, 'ETYPE', -32021], [() => 1, 'ETYPE', -32021], [new Date(0), 'ETYPE', -32021],
    [Symbol('s'), 'ETYPE', -32021], [new Map([[1, 2]]), 'EKEYTYPE', -32017],
    ['\uD800', 'EINVAL', -32004], [{ k: 'a\uDC00' }, 'EINVAL', -32004],
    [[1, , 3], 'ETYPE', -32021],   // eslint-disable-line no-sparse-arrays
  ];
  for (const [v, name, code] of refused) {
    assert.throws(() => encode(v), (e) => e instanceof LunetError && e.name === name && e.code === code,
                  `${String(v)} should be refused with ${name}`);
  }
  let deep = [];
  for (let i = 1; i < 32; i++) deep = [deep];      // 32 levels: the most allowed
  assert.equal(encode(deep).length, 32);
  assert.throws(() => encode([deep]), { name: 'EDEPTH' });
  const cyclic = []; cyclic.push(cyclic);
  assert.throws(() => encode(cyclic), { name: 'EDEPTH' });
  assert.equal(bytesToHex(encode(-0)), '00');
  assert.equal(bytesToHex(encode(2n ** 64n - 1n)), 'cfffffffffffffffff');
  assert.equal(bytesToHex(encode(-(2n ** 63n))), 'd38000000000000000');
  assert.equal(bytesToHex(encode(5n)), '05');
});

test('wire: a transaction needs an account name, 1-16 actions and integer fields', () => {
  const ok = { account: 'alice', actions: [{ contract: 'token', method: 'x' }], chainId: 'c', expires: 1, maxFee: 1, nonce: 0 };
  assert.deepEqual(unsignedTx(ok).actions, [{ args: [], contract: 'token', method: 'x' }]);
  assert.throws(() => unsignedTx({ ...ok, account: 'Alice' }), { name: 'EBADNAME' });
  assert.throws(() => unsignedTx({ ...ok, actions: [] }), { name: 'EINVAL' });
  assert.throws(() => unsignedTx({ ...ok, nonce: -1 }), { name: 'EINVAL' });
  assert.throws(() => unsignedTx({ ...ok, maxFee: 0.5 }), { name: 'EINVAL' });
  assert.throws(() => unsignedTx({ ...ok, actions: [{ contract: 'BAD', method: 'x' }] }), { name: 'EBADNAME' });
});

test('keys: a key file, its 64-byte secret and its 32-byte seed give the same key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lunet-js-key.'));
  try {
    const k = Key.generate('carol');
    const path = join(dir, 'carol.key');
    writeFileSync(path, JSON.stringify(k.toKeyFile()));
    const back = Key.fromFile(path);
    assert.equal(back.account, 'carol');
    assert.equal(back.publicKeyHex, k.publicKeyHex);
    assert.equal(Key.fromSecretHex(k.secretHex().slice(0, 64), 'carol').publicKeyHex, k.publicKeyHex);
    assert.equal(Key.fromSecretHex('0x' + k.secretHex(), 'carol').publicKeyHex, k.publicKeyHex);
    const other = Key.generate();
    assert.equal(other.account, null);
    assert.equal(other.withAccount('dave').account, 'dave');
    // A secret whose public half is another key's is refused.
    assert.throws(() => Key.fromSecretHex(k.secretHex().slice(0, 64) + other.publicKeyHex), { name: 'EBADKEY' });
    assert.throws(() => Key.fromSecretHex('abcd'), { name: 'EBADKEY' });
    assert.throws(() => Key.fromSecretHex('zz'.repeat(32)), { name: 'EBADKEY' });
    assert.throws(() => Key.generate('No Name'), { name: 'EBADNAME' });
    writeFileSync(path, '{"account": "carol", "public_key": "' + other.publicKeyHex + '", "secret_key": "' + k.secretHex() + '"}');
    assert.throws(() => Key.fromFile(path), { name: 'EBADKEY' });
    assert.throws(() => Key.fromFile(join(dir, 'none.key')), { name: 'EBADKEY' });
    // The secret is not among the key's enumerable fields.
    assert.ok(!JSON.stringify(k).includes(k.secretHex().slice(0, 64)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
