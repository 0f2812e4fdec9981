// msgpack.js -- canonical msgpack, the one encoding of every lunet object
// (DESIGN "Wire format"; core/codec.h is the node's side).
//
// Canonical: integers in their shortest form (>= 0 as positive fixint or
// uint8..64, < 0 as negative fixint or int8..64); text as str, bytes as bin;
// shortest str/bin/array/map headers; map keys are str sorted by their UTF-8
// bytes, no duplicates; no floats, no ext; at most MAX_DEPTH levels.
//
// JavaScript to msgpack: null -> nil; boolean; a safe integer Number (a
// fraction is EFLOAT, beyond +-(2^53-1) ERANGE) or a BigInt within
// int64/uint64; string -> str (a lone surrogate is EINVAL); Uint8Array
// (Buffer too) -> bin; Array -> array; a plain object or a Map with string
// keys -> map. Anything else (undefined, functions, Dates, class instances)
// is ETYPE. Written here because no npm msgpack encoder promises this form:
// @msgpack/msgpack's sortKeys sorts by UTF-16 code units, not bytes, and it
// writes fractions as floats and BigInts always as 64-bit.

import { LunetError } from './errors.js';

export const MAX_DEPTH = 32;               // LN_CODEC_MAX_DEPTH
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const utf8 = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.n = 0;
  }

  room(k) {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  u8(v) { this.room(1); this.buf[this.n++] = v; }
  u16(v) { this.room(2); this.view.setUint16(this.n, v); this.n += 2; }
  u32(v) { this.room(4); this.view.setUint32(this.n, v); this.n += 4; }
  u64(v) { this.room(8); this.view.setBigUint64(this.n, v); this.n += 8; }
  i64(v) { this.room(8); this.view.setBigInt64(this.n, v); this.n += 8; }
  bytes(b) { this.room(b.length); this.buf.set(b, this.n); this.n += b.length; }
  result() { return this.buf.slice(0, this.n); }
}

function fail(name, message) {
  return new LunetError(message, { name, client: true });
}

function writeInt(w, v) {                  // v: a BigInt within int64/uint64
  if (v >= 0n) {
    if (v < 128n) w.u8(Number(v));
    else if (v < 0x100n) { w.u8(0xcc); w.u8(Number(v)); }
    else if (v < 0x10000n) { w.u8(0xcd); w.u16(Number(v)); }
    else if (v < 0x100000000n) { w.u8(0xce); w.u32(Number(v)); }
    else { w.u8(0xcf); w.u64(v); }
  } else if (v >= -32n) {
    w.u8(Number(v) & 0xff);
  } else if (v >= -0x80n) {
    w.u8(0xd0); w.u8(Number(v) & 0xff);
  } else if (v >= -0x8000n) {
    w.u8(0xd1); w.u16(Number(v) & 0xffff);
  } else if (v >= -0x80000000n) {
    w.u8(0xd2); w.u32(Number(v) >>> 0);
  } else {
    w.u8(0xd3); w.i64(v);
  }
}

// Header of a str/bin/array/map of n items: fix form up to fixMax, then the
// 8 (str and bin only), 16 and 32 bit forms.
function writeHeader(w, n, fix, fixMax, b8, b16, b32) {
  if (fix !== null && n <= fixMax) w.u8(fix | n);
  else if (b8 !== null && n < 0x100) { w.u8(b8); w.u8(n); }
  else if (n < 0x10000) { w.u8(b16); w.u16(n); }
  else { w.u8(b32); w.u32(n); }
}

function wellFormed(s) {
  if (typeof s.isWellFormed === 'function') return s.isWellFormed();
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

function strBytes(s) {
  if (!wellFormed(s)) throw fail('EINVAL', 'a string holds a lone UTF-16 surrogate: not encodable as UTF-8');
  return utf8.encode(s);
}

function writeStr(w, s) {
  const b = strBytes(s);
  writeHeader(w, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
  w.bytes(b);
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function isPlainObject(v) {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function writeMap(w, entries, depth) {
  const keyed = entries.map(([k, v]) => {
    if (typeof k !== 'string') throw fail('EKEYTYPE', 'map keys must be strings, got ' + typeof k);
    return [strBytes(k), v];
  });
  keyed.sort((x, y) => compareBytes(x[0], y[0]));
  for (let i = 1; i < keyed.length; i++) {
    if (compareBytes(keyed[i - 1][0], keyed[i][0]) === 0) throw fail('EDUPKEY', 'duplicate map key');
  }
  writeHeader(w, keyed.length, 0x80, 15, null, 0xde, 0xdf);
  for (const [k, v] of keyed) {
    writeHeader(w, k.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    w.bytes(k);
    writeValue(w, v, depth + 1);
  }
}

function writeValue(w, v, depth) {
  if (v === null) { w.u8(0xc0); return; }
  switch (typeof v) {
    case 'boolean': w.u8(v ? 0xc3 : 0xc2); return;
    case 'number':
      if (!Number.isFinite(v) || !Number.isInteger(v)) {
        throw fail(Number.isNaN(v) || Number.isFinite(v) ? 'EFLOAT' : 'ERANGE',
                   `${v} is not an integer: floats are not allowed`);
      }
      if (Math.abs(v) > MAX_SAFE) {
        throw fail('ERANGE', `${v} is beyond +-(2^53-1): pass a BigInt for exact large integers`);
      }
      writeInt(w, BigInt(v));              // -0 becomes 0
      return;
    case 'bigint':
      if (v > U64_MAX || v < I64_MIN) throw fail('ERANGE', `${v} does not fit in 64 bits`);
      writeInt(w, v);
      return;
    case 'string': writeStr(w, v); return;
    case 'object': break;
    default: throw fail('ETYPE', `a value of type ${typeof v} cannot be encoded`);
  }
  if (v instanceof Uint8Array) {
    writeHeader(w, v.length, null, 0, 0xc4, 0xc5, 0xc6);
    w.bytes(v);
    return;
  }
  if (depth > MAX_DEPTH) throw fail('EDEPTH', `nesting deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(v)) {
    writeHeader(w, v.length, 0x90, 15, null, 0xdc, 0xdd);
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) throw fail('ETYPE', 'an array with holes cannot be encoded');
      writeValue(w, v[i], depth + 1);
    }
    return;
  }
  if (v instanceof Map) { writeMap(w, [...v.entries()], depth); return; }
  if (isPlainObject(v)) { writeMap(w, Object.entries(v), depth); return; }
  throw fail('ETYPE', `a ${v.constructor ? v.constructor.name : 'object'} cannot be encoded`);
}

// The canonical encoding of value, a Uint8Array. Throws LunetError
// (EFLOAT, ERANGE, ETYPE, EKEYTYPE, EDUPKEY, EDEPTH, EINVAL).
export function encode(value) {
  const w = new Writer();
  writeValue(w, value, 1);
  return w.result();
}
