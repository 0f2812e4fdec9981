// errors.js -- LunetError: every failure the client reports.
//
// From the node: `code` is the JSON-RPC error code (-32602 invalid params,
// -32000 + an LN_E* code for the node's refusals, e.g. -32030 EBADSIG),
// `name` the node's short name (data.name: "EBADSIG"; for the plain JSON-RPC
// codes "EPARSE", "EREQUEST", "EMETHOD", "EPARAMS", "EINTERNAL"), `message`
// the node's message and `why` its data.why.
// Found by the client before anything is sent (a value that cannot be
// encoded, a transaction over the node's size limit): the name and code the
// node would give (EFLOAT -32013, ETXSIZE -32049).
// Transport and waiting: code null and name ENETWORK (no answer; in a
// browser also a CORS refusal, which looks the same to a page), EHTTP (an
// HTTP status without a JSON-RPC answer), ETIMEDOUT (waited too long for a
// commit) or EDROPPED (the node forgot a transaction it had admitted: it
// expired or its nonce was taken).

const JSONRPC_NAMES = {
  '-32700': 'EPARSE',
  '-32600': 'EREQUEST',
  '-32601': 'EMETHOD',
  '-32602': 'EPARAMS',
  '-32603': 'EINTERNAL',
};

// The node's codes (core/err.h) that the client itself can meet.
const NODE_CODES = {
  EINVAL: -4, EFLOAT: -13, EDUPKEY: -15, EKEYTYPE: -17, EDEPTH: -18, ERANGE: -20,
  ETYPE: -21, EBADKEY: -31, EBADNAME: -47, ETXSIZE: -49,
};

export class LunetError extends Error {
  constructor(message, { code, name, why, data, status, client, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    if (code === undefined && client && NODE_CODES[name] !== undefined) code = -32000 + NODE_CODES[name];
    this.code = code ?? null;
    this.name = name || (code != null && JSONRPC_NAMES[code]) || 'LunetError';
    if (why !== undefined) this.why = why;
    if (data !== undefined) this.data = data;
    if (status !== undefined) this.status = status;
  }

  // A JSON-RPC error object ({code, message, data: {name, why}}) as a LunetError.
  static fromRpc(err) {
    const data = err && typeof err.data === 'object' && err.data !== null ? err.data : undefined;
    return new LunetError(String(err && err.message || 'error'), {
      code: typeof err?.code === 'number' ? err.code : null,
      name: data && typeof data.name === 'string' ? data.name : undefined,
      why: data ? data.why : undefined,
      data,
    });
  }
}
