// JavaScript that runs first in every script context (JS and TBEL). It removes what a
// rule script has no use for, captures JSON before user code can replace it, and evaluates
// to makeRunner(arg0, arg1, arg2, body, maxChars): the per-message entry point of one script.
//
// The runner's protocol, one string crossing each way:
//   in:  data (msg.data text; not JSON → passed as the raw string), metadata JSON, msgType
//   out: undefined (no result) | 'R' + result JSON | 'E' + error message | a number (result too long)
// Script exceptions are caught here, so anything applySync itself throws comes from the
// isolate (timeout, memory limit).

export const SANDBOX_PRELUDE = String.raw`(function (g) {
'use strict';
delete g.SharedArrayBuffer;
delete g.Atomics;
delete g.WebAssembly;
const parse = JSON.parse, stringify = JSON.stringify, StringCtor = String, FunctionCtor = Function;
function messageOf(e) {
  try {
    return e !== null && typeof e === 'object' && 'message' in e ? StringCtor(e.message) : StringCtor(e);
  } catch (e2) {
    return 'the script threw a value that cannot be printed';
  }
}
return function makeRunner(arg0, arg1, arg2, body, maxChars) {
  // The Function constructor parses the body on its own: it cannot close the wrapper early.
  const fn = new FunctionCtor(arg0, arg1, arg2, body);
  return function run(data, metadataJson, msgType) {
    try {
      let msg;
      try { msg = parse(data); } catch (e) { msg = data; }
      const result = fn(msg, parse(metadataJson), msgType);
      if (result === undefined) return undefined;
      const json = stringify(result);
      if (json === undefined) return undefined;
      return json.length > maxChars ? json.length : 'R' + json;
    } catch (e) {
      return 'E' + messageOf(e);
    }
  };
};
})(globalThis)`;
