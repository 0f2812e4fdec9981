// key.js -- Ed25519 keys of lunet accounts (@noble/curves).
//
// A key file (`lunet keys new`, `lunet dev`) is JSON: {account, public_key:
// hex(32), secret_key: hex(64)}, the secret being libsodium's seed || public
// key. Key.fromFile reads one (Node only); Key.fromSecretHex takes that
// 64-byte hex or a bare 32-byte seed.

import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LunetError } from './errors.js';

const NAME = /^[a-z0-9.]{1,12}$/;
const seeds = new WeakMap();          // the secret stays out of the object's fields
let readText = null;                  // set by node.js: (path) => file text

export function setFileReader(fn) { readText = fn; }

export function validName(name) { return typeof name === 'string' && NAME.test(name); }

function badKey(message) { return new LunetError(message, { name: 'EBADKEY', client: true }); }

function checkAccount(account) {
  if (account !== undefined && account !== null && !validName(account)) {
    throw new LunetError(`'${account}' is not an account name (1-12 of a-z 0-9 .)`,
                         { name: 'EBADNAME', client: true });
  }
  return account ?? null;
}

function unhex(s, what) {
  if (typeof s !== 'string') throw badKey(`${what} must be a hex string`);
  const h = s.startsWith('0x') ? s.slice(2) : s;
  if (h.length % 2 || !/^[0-9a-fA-F]*$/.test(h)) throw badKey(`${what} is not hex`);
  return hexToBytes(h);
}

export class Key {
  // seed: 32 bytes. Use the static constructors.
  constructor(seed, account) {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw badKey('an Ed25519 seed is 32 bytes');
    seeds.set(this, Uint8Array.from(seed));
    this.account = checkAccount(account);
    this.publicKey = ed25519.getPublicKey(seed);
    Object.freeze(this);
  }

  // A fresh random key (crypto.getRandomValues) for account (optional).
  static generate(account) {
    return new Key(ed25519.utils.randomPrivateKey(), account);
  }

  // hex: libsodium's 64-byte secret (seed || public key; the public half is
  // checked) or a 32-byte seed; "0x" optional.
  static fromSecretHex(hex, account) {
    const b = unhex(hex, 'secret key');
    if (b.length === 32) return new Key(b, account);
    if (b.length !== 64) throw badKey(`a secret key is 64 bytes (seed || public key) or a 32-byte seed, got ${b.length}`);
    const k = new Key(b.subarray(0, 32), account);
    if (bytesToHex(k.publicKey) !== bytesToHex(b.subarray(32))) {
      throw badKey('the secret key\'s public half does not match its seed');
    }
    return k;
  }

  // The parsed JSON of a key file.
  static fromKeyFile(obj) {
    if (!obj || typeof obj !== 'object') throw badKey('a key file is a JSON object');
    const k = Key.fromSecretHex(obj.secret_key, obj.account);
    if (obj.public_key !== undefined && bytesToHex(k.publicKey) !== String(obj.public_key).toLowerCase()) {
      throw badKey('the key file\'s public_key does not match its secret_key');
    }
    return k;
  }

  // Node only: reads HOME/keys/NAME.key as written by `lunet keys new`.
  static fromFile(path) {
    if (!readText) throw new LunetError('Key.fromFile needs Node (in a browser use Key.fromSecretHex)', { name: 'EINVAL', client: true });
    let obj;
    try {
      obj = JSON.parse(readText(path));
    } catch (e) {
      throw new LunetError(`${path}: ${e.message}`, { name: 'EBADKEY', client: true, cause: e });
    }
    return Key.fromKeyFile(obj);
  }

  get publicKeyHex() { return bytesToHex(this.publicKey); }

  // libsodium's 64-byte secret (seed || public key) in hex, as key files hold it.
  secretHex() { return bytesToHex(seeds.get(this)) + this.publicKeyHex; }

  // The key file's JSON object for this key (it holds the secret).
  toKeyFile() {
    return { account: this.account, public_key: this.publicKeyHex, secret_key: this.secretHex() };
  }

  // The same key for another account.
  withAccount(account) { return new Key(seeds.get(this), account); }

  // Ed25519 signature (64 bytes) of msg.
  sign(msg) { return ed25519.sign(msg, seeds.get(this)); }

  static verify(publicKey, sig, msg) {
    try {
      return ed25519.verify(sig, msg, publicKey, { zip215: false });   // as libsodium
    } catch {
      return false;
    }
  }
}
