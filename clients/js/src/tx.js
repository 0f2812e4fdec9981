// tx.js -- transactions on the wire (DESIGN "Wire format", core/tx.h).
//
// Unsigned: {account, actions: [{args, contract, method}], chain_id, expires,
// max_fee, nonce}. The digest is BLAKE2b-256 of its canonical encoding, the
// transaction id (hash) is the digest in lowercase hex, and each signature
// is Ed25519 over the digest. Signed: the same map plus signatures: [{key:
// bin(32), sig: bin(64)}].

import { blake2b } from '@noble/hashes/blake2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { encode } from './msgpack.js';
import { LunetError } from './errors.js';
import { validName } from './key.js';

export const MAX_SIGS = 8;              // LN_TX_MAX_SIGS
export const MAX_ACTIONS = 16;          // LN_TX_MAX_ACTIONS
export const MAX_BYTES = 128 * 1024;    // LN_TX_MAX_BYTES: a signed transaction's encoding

function bad(name, message) { return new LunetError(message, { name, client: true }); }

function uint(v, what) {
  if (typeof v === 'bigint' ? v < 0n : !(Number.isSafeInteger(v) && v >= 0)) {
    throw bad('EINVAL', `${what} must be an integer >= 0, got ${v}`);
  }
  return v;
}

// The unsigned transaction map from {account, actions, chainId, expires,
// maxFee, nonce}; actions are {contract, method, args}.
export function unsignedTx({ account, actions, chainId, expires, maxFee, nonce }) {
  if (!validName(account)) throw bad('EBADNAME', `'${account}' is not an account name (1-12 of a-z 0-9 .)`);
  if (!Array.isArray(actions) || actions.length < 1 || actions.length > MAX_ACTIONS) {
    throw bad('EINVAL', `a transaction has 1-${MAX_ACTIONS} actions`);
  }
  if (typeof chainId !== 'string' || !chainId) throw bad('EINVAL', 'chain_id must be a non-empty string');
  return {
    account,
    actions: actions.map(({ contract, method, args = [] }) => {
      if (!validName(contract)) throw bad('EBADNAME', `contract '${contract}' is not an account name`);
      if (typeof method !== 'string' || !method) throw bad('EINVAL', 'method must be a non-empty string');
      if (!Array.isArray(args)) throw bad('EINVAL', 'args must be an array');
      return { args, contract, method };
    }),
    chain_id: chainId,
    expires: uint(expires, 'expires'),
    max_fee: uint(maxFee, 'max_fee'),
    nonce: uint(nonce, 'nonce'),
  };
}

export function digest(bytes) { return blake2b(bytes, { dkLen: 32 }); }

// Signs an unsigned map with one or more Keys: {bytes (the signed canonical
// encoding), hash (hex id), digest}.
export function signTx(unsigned, keys) {
  const list = Array.isArray(keys) ? keys : [keys];
  if (list.length < 1 || list.length > MAX_SIGS) throw bad('EINVAL', `1-${MAX_SIGS} keys sign a transaction`);
  const d = digest(encode(unsigned));
  const signatures = list.map((k) => ({ key: k.publicKey, sig: k.sign(d) }));
  return { bytes: encode({ ...unsigned, signatures }), hash: bytesToHex(d), digest: d };
}

// Standard base64 with padding, as tx_submit takes it.
export function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
