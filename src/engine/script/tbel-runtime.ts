// The TBEL runtime: JavaScript source that runs inside a TBEL script's own isolate context
// before the script. It installs TBEL's documented helper functions (ThingsBoard's TbUtils),
// a few Java statics (Integer, Long, Double, Float) and the Java-style methods TBEL scripts
// call on strings, lists and maps. The prototypes changed here are the context's, never the host's.
// Functions are strict so that `this` stays a primitive in "a".equals("a").

export const TBEL_RUNTIME = String.raw`(function (g) {
'use strict';
const ObjectProto = Object.prototype, ArrayProto = Array.prototype, StringProto = String.prototype, NumberProto = Number.prototype;
const defineProperty = Object.defineProperty, keysOf = Object.keys, freeze = Object.freeze, isArray = Array.isArray;
const hasOwnProperty = ObjectProto.hasOwnProperty;
const nativeSplit = StringProto.split, nativeReplaceAll = StringProto.replaceAll, nativeSort = ArrayProto.sort;
const nativeParseInt = g.parseInt;
const StringCtor = String, NumberCtor = Number, BigIntCtor = BigInt, RegExpCtor = RegExp, ErrorCtor = Error, MathTrunc = Math.trunc;
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

// Descriptors without a prototype: Object.prototype gets a "get" method below.
function install(target, name, value, writable) {
  defineProperty(target, name, { __proto__: null, value: value, writable: writable !== false, enumerable: false, configurable: true });
}
function fail(message) { return new ErrorCtor(message); }
function hasOwn(o, k) { return hasOwnProperty.call(o, k); }
function literalReplace(s, from, to) { return nativeSplit.call(s, from).join(to); }

// ---- radix checks (TbUtils.isBinary ...) ----
function isBinary(s) { return typeof s === 'string' && /^[01]+$/.test(s) ? 2 : -1; }
function isOctal(s) { return typeof s === 'string' && /^[0-7]+$/.test(s) ? 8 : -1; }
function isDecimal(s) { return typeof s === 'string' && /^[-+]?\d+(\.\d+)?$/.test(s) ? 10 : -1; }
function isHexadecimal(s) { return typeof s === 'string' && /^-?(0[xX])?[0-9a-fA-F]+$/.test(s) ? 16 : -1; }

function reverseHexByOrder(value) {
  if (value.startsWith('-')) throw fail('The hexadecimal string must be without a negative sign.');
  const pref = value.startsWith('0x');
  const hex = pref ? value.slice(2) : value;
  if (hex.length % 2 > 0) throw fail('The hexadecimal string must be even-length.');
  let out = '';
  for (let i = hex.length - 2; i >= 0; i -= 2) out += hex.slice(i, i + 2);
  return pref ? '0x' + out : out;
}
function prepareNumberString(value, bigEndian) {
  if (value === null || value === undefined) return null;
  let s = StringCtor(value).trim();
  if (s === '') return null;
  s = literalReplace(literalReplace(literalReplace(s, '0x', ''), '0X', ''), ',', '.');
  return bigEndian ? s : reverseHexByOrder(s);
}
function radixOf(valueP, radix, value) {
  let r;
  if (radix === 0) {
    r = isDecimal(valueP) > 0 ? 10 : isHexadecimal(valueP);
    if (r < 0) throw fail('Value: "' + value + '" is not numeric or hexDecimal format!');
  } else if (radix >= 25 && radix <= 36) return radix;
  else if (radix === 2) r = isBinary(valueP);
  else if (radix === 8) r = isOctal(valueP);
  else if (radix === 10) r = isDecimal(valueP);
  else if (radix === 16) r = isHexadecimal(valueP);
  else throw fail('Invalid radix: [' + radix + ']');
  if (r > 0) {
    if (value.startsWith('0x')) r = 16;
    if (r === 16) {
      const digits = value.startsWith('-') ? value.slice(1) : value;
      if (digits.length % 2 > 0) throw fail('The hexadecimal value: "' + value + '" must be of even length, or if the decimal value must be a number!');
    }
    return r;
  }
  if (radix > 0) throw fail('Failed radix [' + radix + '] for value: "' + value + '", must be [' + r + '] !');
  throw fail('Invalid "' + value + '". It is not numeric or hexadecimal format!');
}
// Java's Integer/Long.parseInt: digits of the radix, optional sign, range-checked. Returns a BigInt.
function javaParse(s, radix, bits) {
  const m = /^([-+]?)([0-9a-zA-Z]+)$/.exec(s);
  const bad = () => fail('For input string: "' + s + '"' + (radix === 10 ? '' : ' under radix ' + radix));
  if (!m) throw bad();
  const R = BigIntCtor(radix);
  let v = 0n;
  for (const ch of m[2].toLowerCase()) {
    const d = DIGITS.indexOf(ch);
    if (d < 0 || d >= radix) throw bad();
    v = v * R + BigIntCtor(d);
  }
  if (m[1] === '-') v = -v;
  const limit = 1n << BigIntCtor(bits - 1);
  if (v >= limit || v < -limit) throw bad();
  return v;
}
function binarySigned(s, bits) {
  if (s.length > bits) throw fail('For input string: "' + s + '" under radix 2');
  const v = BigIntCtor('0b' + s);
  return s.length === bits && s[0] === '1' ? v - (1n << BigIntCtor(bits)) : v;
}
function parseInteger(value, radix, bigEndian, bits) {
  const valueP = prepareNumberString(value, bigEndian);
  if (valueP === null) return null;
  const r = radixOf(valueP, radix === undefined ? 0 : NumberCtor(radix), StringCtor(value));
  return NumberCtor(r === 2 ? binarySigned(valueP.padStart(bits, '0'), bits) : javaParse(valueP, r, bits));
}
function parseUnsigned64(hex) {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw fail('For input string: "' + hex + '" under radix 16');
  return BigIntCtor('0x' + hex);
}
function javaParseDouble(s) {
  const t = StringCtor(s).trim();
  const m = /^([+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))[fFdD]?$/.exec(t);
  if (!m) throw fail('For input string: "' + s + '"');
  return NumberCtor(m[1]);
}
// A Java float printed the way Java prints it: the shortest decimal that reads back as the same float.
function toFloat(x) {
  const f = Math.fround(x);
  if (!isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const s = NumberCtor(f.toPrecision(p));
    if (Math.fround(s) === f) return s;
  }
  return f;
}
function floatFromBits(bits32) {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setInt32(0, bits32);
  return toFloat(dv.getFloat32(0));
}
function doubleFromBits(bits64) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, BigIntCtor.asUintN(64, bits64));
  return dv.getFloat64(0);
}
function parseFloatTb(value, radix) {
  const valueP = prepareNumberString(value, true);
  if (valueP === null) return null;
  const r = radixOf(valueP, radix === undefined ? 0 : NumberCtor(radix), StringCtor(value));
  if (r === 16) return floatFromBits(NumberCtor(BigIntCtor.asIntN(32, javaParse(valueP, 16, 64))));
  return toFloat(javaParseDouble(valueP));
}
function parseDoubleTb(value, radix, bigEndian) {
  const text = StringCtor(value);
  if (radix === undefined) {
    radix = isDecimal(text) > 0 ? 10 : isHexadecimal(text);
    if (radix < 0) throw fail('Value: "' + value + '" is not numeric or hexDecimal format!');
  }
  const valueP = prepareNumberString(value, bigEndian !== false);
  if (valueP === null) return null;
  const r = radixOf(valueP, NumberCtor(radix), text);
  if (r === 10) return javaParseDouble(valueP);
  return doubleFromBits(parseUnsigned64(valueP.startsWith('-') ? valueP.slice(1) : valueP));
}
function parseHexToFloat(value, bigEndian) {
  const valueP = prepareNumberString(value, bigEndian !== false);
  if (valueP === null) return null;
  radixOf(valueP, 16, StringCtor(value));
  return floatFromBits(NumberCtor(BigIntCtor.asIntN(32, javaParse(valueP, 16, 64))));
}
function parseHexIntLongToFloat(value, bigEndian) {
  const valueP = prepareNumberString(value, bigEndian !== false);
  if (valueP === null) return null;
  radixOf(valueP, 16, StringCtor(value));
  return toFloat(NumberCtor(BigIntCtor.asIntN(32, javaParse(valueP, 16, 64))));
}

// ---- bytes (Java bytes are signed: -128..127) ----
function toByte(v) {
  if (typeof v === 'string') v = parseInteger(v, 0, true, 32);
  if (typeof v !== 'number' || !NumberCtor.isInteger(v)) throw fail("The value '" + v + "' could not be correctly converted to a byte. Must be a HexDecimal/String/Integer/Byte format !");
  if (v > 255 || v < -128) throw fail("The value '" + v + "' could not be correctly converted to a byte. Integer to byte conversion requires the use of only 8 bits (with a range of min/max = -128/255)!");
  return (v << 24) >> 24;
}
function bytesOf(list) {
  if (!isArray(list)) throw fail('Expected a list of bytes, got ' + (list === null ? 'null' : typeof list));
  return list.map(toByte);
}
function signed(b) { return (b << 24) >> 24; }
function unsigned(list) { return bytesOf(list).map((b) => b & 255); }

function utf8Encode(str) {
  const out = [];
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
    }
    if (c >= 0xd800 && c <= 0xdfff) out.push(0x3f);
    else if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}
function utf8Decode(bytes) {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need, cp, min;
    if (b < 0x80) { out += StringCtor.fromCharCode(b); i++; continue; }
    if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; min = 0x80; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; cp = b & 0x0f; min = 0x800; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; cp = b & 0x07; min = 0x10000; }
    else { out += '\ufffd'; i++; continue; }
    let j = 1;
    for (; j <= need; j++) {
      const c = bytes[i + j];
      if (c === undefined || (c & 0xc0) !== 0x80) break;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (j <= need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) { out += '\ufffd'; i += j; continue; }
    out += StringCtor.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}
function charsetOf(name) {
  const n = name === undefined ? 'UTF8' : literalReplace(literalReplace(StringCtor(name).toUpperCase(), '-', ''), '_', '');
  if (n === 'UTF8') return 'utf8';
  if (n === 'ISO88591' || n === 'LATIN1') return 'latin1';
  if (n === 'USASCII' || n === 'ASCII') return 'ascii';
  throw fail('Unsupported charset: ' + name);
}
function encodeString(str, charset) {
  const cs = charsetOf(charset);
  if (cs === 'utf8') return utf8Encode(str);
  const max = cs === 'latin1' ? 255 : 127;
  const out = [];
  for (let i = 0; i < str.length; i++) { const c = str.charCodeAt(i); out.push(c > max ? 0x3f : c); }
  return out;
}
function decodeBytes(bytes, charset) {
  const cs = charsetOf(charset);
  if (cs === 'utf8') return utf8Decode(bytes);
  let out = '';
  for (const b of bytes) out += cs === 'ascii' && b > 127 ? '\ufffd' : StringCtor.fromCharCode(b);
  return out;
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function b64Encode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}
function b64Decode(str) {
  const s = StringCtor(str).replace(/={1,2}$/, '');
  if (s.length % 4 === 1) throw fail('Input byte array has wrong 4-byte ending unit');
  const out = [];
  let acc = 0, bits = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B64.indexOf(s[i]);
    if (v < 0) throw fail('Illegal base64 character ' + s.charCodeAt(i).toString(16));
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); }
  }
  return out;
}
function hexOf(unsignedBytes) {
  let out = '';
  for (const b of unsignedBytes) out += (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  return out;
}
function hexToBytes(value) {
  const hex = prepareNumberString(value, true);
  if (hex === null) throw fail('Hex string must be not empty!');
  if (hex.length % 2 > 0) throw fail('Hex string must be even-length.');
  if (isHexadecimal(StringCtor(value)) !== 16) throw fail('Value: "' + value + '" is not numeric or hexDecimal format!');
  const out = [];
  for (let i = 0; i < hex.length; i += 2) out.push(signed(nativeParseInt(hex.slice(i, i + 2), 16)));
  return out;
}

// ---- numbers from bytes (ByteBuffer semantics) ----
function validateLength(size, offset, max) { return size < offset ? size : Math.min(size - offset, max); }
function checkRange(size, offset, length, max) {
  if (offset > size) throw fail('Offset: ' + offset + ' is out of bounds for array with length: ' + size + '!');
  if (offset + length > size) throw fail('Offset: ' + offset + ' and Length: ' + length + ' is out of bounds for array with length: ' + size + '!');
  if (length > max) throw fail('Length: ' + length + ' is too large. Maximum ' + max + ' bytes is allowed!');
}
function bufferOf(data, offset, length, bigEndian, size) {
  const bytes = bytesOf(data);
  offset = offset === undefined ? 0 : offset;
  length = length === undefined ? validateLength(bytes.length, offset, size) : length;
  checkRange(bytes.length, offset, length, size);
  const dv = new DataView(new ArrayBuffer(size));
  const pos = bigEndian === false ? 0 : size - length;
  for (let i = 0; i < length; i++) dv.setUint8(pos + i, bytes[offset + i] & 255);
  return dv;
}
function parseBytesToInt(data, offset, length, bigEndian) { return bufferOf(data, offset, length, bigEndian, 4).getInt32(0, bigEndian === false); }
function parseBytesToLong(data, offset, length, bigEndian) { return NumberCtor(bufferOf(data, offset, length, bigEndian, 8).getBigInt64(0, bigEndian === false)); }
function parseBytesToFloat(data, offset, length, bigEndian) {
  const f = bufferOf(data, offset, length, bigEndian, 4).getFloat32(0, bigEndian === false);
  if (f !== f) throw fail('byte[] 0x' + hexOf(unsigned(data)) + ' is a Not-a-Number (NaN) value');
  return toFloat(f);
}
function parseBytesToDouble(data, offset, length, bigEndian) {
  const d = bufferOf(data, offset, length, bigEndian, 8).getFloat64(0, bigEndian === false);
  if (d !== d) throw fail('byte[] 0x' + hexOf(unsigned(data)) + ' is a Not-a-Number (NaN) value');
  return d;
}
function bytesAsNumber(data, offset, length, bigEndian, size) {
  const bytes = bytesOf(data);
  offset = offset === undefined ? 0 : offset;
  length = length === undefined ? validateLength(bytes.length, offset, size) : length;
  checkRange(bytes.length, offset, length, size);
  const part = bytes.slice(offset, offset + length);
  if (bigEndian === false) part.reverse();
  let v = 0n;
  for (const b of part) v = (v << 8n) | BigIntCtor(b & 255);
  return v;
}
function bitsOf(value, width) {
  let s = BigIntCtor.asUintN(width, BigIntCtor(value)).toString(2);
  while (s.length < width) s = '0' + s;
  return s;
}
function lastBits(bits, length) {
  return nativeSplit.call(bits.slice(bits.length - length), '').map(NumberCtor);
}

// ---- numbers to text ----
function stripLeadingZeroFF(hex, negative, max) {
  let h = hex.replace(/^0+(?!$)/, '');
  if (h.length % 2 > 0) h = '0' + h;
  if (!negative) return h;
  let f = h.replace(/^F+(?!$)/, '');
  if (f.length % 2 > 0) f = 'F' + f;
  if (f.length > max) return f.slice(f.length - max);
  if (f.length === max) return f;
  return 'FF' + f;
}
function numberHex(value, bigEndian, pref, len, max) {
  const n = BigIntCtor(MathTrunc(NumberCtor(value)));
  let hex = BigIntCtor.asUintN(64, n).toString(16).toUpperCase();
  hex = stripLeadingZeroFF(hex, n < 0n, max < 0 ? hex.length : max);
  if (bigEndian === false) hex = reverseHexByOrder(hex);
  const l = len === undefined || len === -1 ? hex.length : len;
  if (l > hex.length) throw fail('begin ' + (hex.length - l) + ', end ' + hex.length + ', length ' + hex.length);
  const result = hex.slice(hex.length - l);
  return pref ? '0x' + result : result;
}
function intLongToString(number, radix, bigEndian, pref) {
  const n = BigIntCtor(MathTrunc(NumberCtor(number)));
  radix = radix === undefined ? 10 : radix;
  if (radix >= 25 && radix <= 36) return n.toString(radix);
  if (radix === 2) {
    const bin = BigIntCtor.asUintN(64, n).toString(2);
    const width = bin.length < 8 ? 8 : bin.length < 16 ? 16 : bin.length < 32 ? 32 : bin.length < 64 ? 64 : 0;
    return width === 0 ? bin : bin.padStart(width, '0');
  }
  if (radix === 8) return BigIntCtor.asUintN(64, n).toString(8);
  if (radix === 10) return n.toString();
  if (radix === 16) return numberHex(number, bigEndian, pref, -1, -1);
  throw fail('Invalid radix: [' + radix + ']');
}
function floatBitsHex(value, bigEndian, width) {
  const dv = new DataView(new ArrayBuffer(8));
  let hex;
  if (width === 4) { dv.setFloat32(0, NumberCtor(value)); hex = dv.getUint32(0).toString(16).padStart(8, '0'); }
  else { dv.setFloat64(0, NumberCtor(value)); hex = dv.getBigUint64(0).toString(16).padStart(16, '0'); }
  const result = '0x' + hex.toUpperCase();
  return bigEndian === false ? reverseHexByOrder(result) : result;
}
// BigDecimal.valueOf(v).setScale(precision, HALF_UP): rounds the shortest decimal form of v, not its binary value.
function toFixed(value, precision) {
  const v = NumberCtor(value);
  const p = MathTrunc(NumberCtor(precision));
  if (!isFinite(v)) return v;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(StringCtor(Math.abs(v)));
  if (!m) return v;
  const digits = m[1] + (m[2] || '');
  const scale = (m[2] || '').length - NumberCtor(m[3] || 0);
  if (scale <= p) return v;
  const divisor = 10n ** BigIntCtor(scale - p);
  let q = BigIntCtor(digits) / divisor;
  if ((BigIntCtor(digits) % divisor) * 2n >= divisor) q += 1n;
  let s = q.toString();
  if (p > 0) { s = s.padStart(p + 1, '0'); s = s.slice(0, s.length - p) + '.' + s.slice(s.length - p); }
  else if (p < 0) s += '0'.repeat(-p);
  const r = NumberCtor(s);
  return v < 0 ? -r : r;
}
function toFlatMap(json, excludeOrPath, pathInKey) {
  let exclude = [];
  let withPath = true;
  if (isArray(excludeOrPath)) { exclude = excludeOrPath; if (pathInKey !== undefined) withPath = !!pathInKey; }
  else if (excludeOrPath !== undefined) withPath = !!excludeOrPath;
  const out = {};
  const walk = (value, path) => {
    if (isArray(value)) value.forEach((v, i) => walk(v, path + '.' + i));
    else if (value !== null && typeof value === 'object') {
      for (const k of keysOf(value)) {
        if (exclude.indexOf(k) >= 0) continue;
        walk(value[k], path === '' ? k : path + '.' + k);
      }
    } else if (withPath) out[path] = value;
    else {
      const parts = nativeSplit.call(path, '.');
      const last = parts[parts.length - 1];
      out[/^\d+$/.test(last) && parts.length > 1 ? parts.slice(-2).join('.') : last] = value;
    }
  };
  walk(json, '');
  return out;
}
function pad(str, targetLength, padChar, atStart) {
  let s = StringCtor(str);
  const c = StringCtor(padChar).charAt(0);
  if (c === '') return s;
  while (s.length < targetLength) s = atStart ? c + s : s + c;
  return s;
}

// ---- global helpers, under their TBEL names ----
const helpers = {
  btoa: (input) => b64Encode(utf8Encode(StringCtor(input))),
  atob: (input) => utf8Decode(b64Decode(input)),
  toFixed: toFixed,
  toInt: (value) => MathTrunc(toFixed(value, 0)),
  stringToBytes: (str, charset) => {
    if (typeof str !== 'string') throw fail('Invalid type parameter [' + (str === null ? 'null' : typeof str) + "]. Expected 'String'");
    return encodeString(str, charset).map(signed);
  },
  bytesToString: (list, charset) => decodeBytes(unsigned(list), charset),
  decodeToString: (list) => decodeBytes(unsigned(list), undefined),
  decodeToJson: (input) => JSON.parse(typeof input === 'string' ? input : decodeBytes(unsigned(input), undefined)),
  parseInt: (value, radix) => parseInteger(value, radix, true, 32),
  parseLong: (value, radix) => parseInteger(value, radix, true, 64),
  parseFloat: parseFloatTb,
  parseDouble: (value, radix) => parseDoubleTb(value, radix, true),
  parseHexIntLongToFloat: parseHexIntLongToFloat,
  parseHexToInt: (hex, bigEndian) => parseInteger(hex, 16, bigEndian !== false, 32),
  parseLittleEndianHexToInt: (hex) => parseInteger(hex, 16, false, 32),
  parseBigEndianHexToInt: (hex) => parseInteger(hex, 16, true, 32),
  parseHexToLong: (hex, bigEndian) => parseInteger(hex, 16, bigEndian !== false, 64),
  parseLittleEndianHexToLong: (hex) => parseInteger(hex, 16, false, 64),
  parseBigEndianHexToLong: (hex) => parseInteger(hex, 16, true, 64),
  parseHexToFloat: parseHexToFloat,
  parseLittleEndianHexToFloat: (hex) => parseHexToFloat(hex, false),
  parseBigEndianHexToFloat: (hex) => parseHexToFloat(hex, true),
  parseHexToDouble: (hex, bigEndian) => parseDoubleTb(hex, 16, bigEndian),
  parseLittleEndianHexToDouble: (hex) => parseDoubleTb(hex, 16, false),
  parseBigEndianHexToDouble: (hex) => parseDoubleTb(hex, 16, true),
  parseBytesToInt: parseBytesToInt,
  parseBytesToLong: parseBytesToLong,
  parseBytesToFloat: parseBytesToFloat,
  parseBytesToDouble: parseBytesToDouble,
  parseBytesIntToFloat: (data, offset, length, bigEndian) => toFloat(NumberCtor(bytesAsNumber(data, offset, length, bigEndian, 4))),
  parseBytesLongToDouble: (data, offset, length, bigEndian) => NumberCtor(bytesAsNumber(data, offset, length, bigEndian, 8)),
  parseByteToBinaryArray: (byteValue, binLength, bigEndian) => {
    const bits = lastBits(bitsOf(toByte(byteValue), 8), binLength === undefined ? 8 : Math.min(binLength, 8));
    return bigEndian === false ? bits.reverse() : bits;
  },
  parseBytesToBinaryArray: (list, binLength) => {
    const bits = unsigned(list).map((b) => bitsOf(b, 8)).join('');
    return lastBits(bits, binLength === undefined ? bits.length : Math.min(binLength, bits.length));
  },
  parseLongToBinaryArray: (value, binLength) => lastBits(bitsOf(MathTrunc(NumberCtor(value)), 64), binLength === undefined ? 64 : Math.min(binLength, 64)),
  parseBinaryArrayToInt: (list, offset, length) => {
    const o = offset === undefined ? 0 : offset;
    const bits = list.slice(o, length === undefined ? list.length : o + length).map((b) => (b ? '1' : '0')).join('');
    if (bits === '') return 0;
    const v = nativeParseInt(bits, 2);
    return bits[0] === '1' ? v - Math.pow(2, bits.length) : v;
  },
  hexToBytes: hexToBytes,
  hexToBytesArray: hexToBytes,
  printUnsignedBytes: (list) => unsigned(list),
  intToHex: (i, bigEndian, pref, len) => numberHex(i, bigEndian, pref, len, 8),
  longToHex: (l, bigEndian, pref, len) => numberHex(l, bigEndian, pref, len, 16),
  intLongToString: intLongToString,
  intLongToRadixString: intLongToString,
  floatToHex: (f, bigEndian) => floatBitsHex(f, bigEndian, 4),
  doubleToHex: (d, bigEndian) => floatBitsHex(d, bigEndian, 8),
  base64ToHex: (input) => hexOf(b64Decode(input)),
  base64ToBytes: (input) => b64Decode(input).map(signed),
  base64ToBytesList: (input) => b64Decode(input).map(signed),
  bytesToBase64: (list) => b64Encode(unsigned(list)),
  bytesToHex: (list) => hexOf(unsigned(list)),
  toFlatMap: toFlatMap,
  raiseError: (message, value) => { throw fail(value === undefined || value === null ? StringCtor(message) : message + ' for value ' + value); },
  isBinary: isBinary,
  isOctal: isOctal,
  isDecimal: isDecimal,
  isHexadecimal: isHexadecimal,
  byteArrayToExecutionArrayList: (list) => bytesOf(list),
  bytesToExecutionArrayList: (list) => bytesOf(list),
  padStart: (str, targetLength, padChar) => pad(str, targetLength, padChar, true),
  padEnd: (str, targetLength, padChar) => pad(str, targetLength, padChar, false),
  isMap: (o) => o !== null && typeof o === 'object' && !isArray(o),
  isList: (o) => isArray(o),
  isArray: (o) => isArray(o),
};
for (const name of keysOf(helpers)) install(g, name, helpers[name]);

// ---- Java statics ----
function javaInteger(bits) {
  const asInt = (v) => MathTrunc(NumberCtor(v));
  const limit = 1n << BigIntCtor(bits - 1);
  const parse = (s, radix) => NumberCtor(javaParse(StringCtor(s), radix === undefined ? 10 : radix, bits));
  return {
    MAX_VALUE: NumberCtor(limit - 1n),
    MIN_VALUE: NumberCtor(-limit),
    parseInt: parse,
    parseLong: parse,
    valueOf: (v, radix) => (typeof v === 'number' ? asInt(v) : parse(v, radix)),
    toString: (v, radix) => asInt(v).toString(radix === undefined ? 10 : radix),
    toHexString: (v) => BigIntCtor.asUintN(bits, BigIntCtor(asInt(v))).toString(16),
    toOctalString: (v) => BigIntCtor.asUintN(bits, BigIntCtor(asInt(v))).toString(8),
    toBinaryString: (v) => BigIntCtor.asUintN(bits, BigIntCtor(asInt(v))).toString(2),
    compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  };
}
install(g, 'Integer', freeze(javaInteger(32)));
install(g, 'Long', freeze(javaInteger(64)));
install(g, 'Double', freeze({
  MAX_VALUE: NumberCtor.MAX_VALUE, MIN_VALUE: NumberCtor.MIN_VALUE,
  parseDouble: javaParseDouble,
  valueOf: (v) => (typeof v === 'number' ? v : javaParseDouble(v)),
  toString: (v) => StringCtor(v),
  isNaN: (v) => NumberCtor.isNaN(v),
  isInfinite: (v) => v === Infinity || v === -Infinity,
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
}));
install(g, 'Float', freeze({
  MAX_VALUE: 3.4028235e38, MIN_VALUE: 1.4e-45,
  parseFloat: (s) => toFloat(javaParseDouble(s)),
  valueOf: (v) => toFloat(typeof v === 'number' ? v : javaParseDouble(v)),
  toString: (v) => StringCtor(toFloat(v)),
  isNaN: (v) => NumberCtor.isNaN(v),
}));
install(Boolean, 'parseBoolean', (s) => StringCtor(s).toLowerCase() === 'true');
install(StringCtor, 'valueOf', (v) => StringCtor(v));
install(StringCtor, 'join', (sep, list) => list.join(sep));

// ---- what the translated source calls ----
install(g, '__tbIter', (c) => {
  if (c === null || c === undefined) throw new TypeError('foreach: cannot iterate over ' + c);
  if (typeof c === 'string' || isArray(c)) return c;
  if (typeof c === 'object') return typeof c[Symbol.iterator] === 'function' ? c : keysOf(c).map((k) => c[k]);
  throw new TypeError('foreach: ' + typeof c + ' is not iterable');
}, false);
install(g, '__tbNewArray', (n, zero) => {
  if (!NumberCtor.isInteger(n) || n < 0) throw new RangeError('Invalid array size: ' + n);
  return new Array(n).fill(zero);
}, false);
install(g, '__tbCast', (type, v) => {
  switch (type) {
    case 'int': case 'Integer': { const n = MathTrunc(NumberCtor(v)); return n !== n ? 0 : Math.max(-2147483648, Math.min(2147483647, n)); }
    case 'long': case 'Long': { const n = MathTrunc(NumberCtor(v)); return n !== n ? 0 : n; }
    case 'short': case 'Short': return (MathTrunc(NumberCtor(v)) << 16) >> 16;
    case 'byte': case 'Byte': return (MathTrunc(NumberCtor(v)) << 24) >> 24;
    case 'double': case 'Double': return NumberCtor(v);
    case 'float': case 'Float': return toFloat(NumberCtor(v));
    case 'char': return typeof v === 'number' ? StringCtor.fromCharCode(v) : v;
    default: return v;
  }
}, false);

// ---- Java-style methods: strings ----
function javaRegExp(regex, flags) { return new RegExpCtor(StringCtor(regex), flags); }
function javaReplacement(repl) { return StringCtor(repl).replace(/\\([$\\])/g, (m, c) => (c === '$' ? '$$' : c)); }
function javaSplit(str, regex, limit) {
  const lim = limit === undefined ? 0 : limit;
  const re = javaRegExp(regex, 'g');
  const parts = [];
  let last = 0;
  let m;
  while ((m = re.exec(str)) !== null) {
    if (m[0].length === 0) {
      if (m.index >= str.length) break;
      if (m.index === 0) { re.lastIndex++; continue; }
    }
    if (lim > 0 && parts.length === lim - 1) break;
    parts.push(str.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[0].length === 0) re.lastIndex++;
  }
  if (parts.length === 0 && last === 0) return [str];
  parts.push(str.slice(last));
  if (lim === 0) while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}
const stringMethods = {
  equalsIgnoreCase: function (o) { return typeof o === 'string' && this.toLowerCase() === o.toLowerCase(); },
  contains: function (s) { return this.includes(StringCtor(s)); },
  isEmpty: function () { return this.length === 0; },
  isBlank: function () { return this.trim().length === 0; },
  strip: function () { return this.trim(); },
  compareTo: function (o) {
    const a = StringCtor(this), b = StringCtor(o);
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) - b.charCodeAt(i);
    return a.length - b.length;
  },
  compareToIgnoreCase: function (o) { return stringMethods.compareTo.call(this.toLowerCase(), StringCtor(o).toLowerCase()); },
  matches: function (regex) { return javaRegExp('^(?:' + regex + ')$').test(this); },
  replaceFirst: function (regex, repl) { return this.replace(javaRegExp(regex), javaReplacement(repl)); },
  // Java's replaceAll and split take a regular expression, JS's a literal string.
  replaceAll: function (pattern, repl) {
    if (typeof pattern !== 'string') return nativeReplaceAll.call(this, pattern, repl);
    return this.replace(javaRegExp(pattern, 'g'), typeof repl === 'function' ? repl : javaReplacement(repl));
  },
  split: function (separator, limit) {
    if (typeof separator !== 'string') return nativeSplit.call(this, separator, limit);
    return javaSplit(StringCtor(this), separator, limit);
  },
  getBytes: function (charset) { return encodeString(StringCtor(this), charset).map(signed); },
  toCharArray: function () { return nativeSplit.call(this, ''); },
  hashCode: function () { let h = 0; for (let i = 0; i < this.length; i++) h = (31 * h + this.charCodeAt(i)) | 0; return h; },
};
for (const name of keysOf(stringMethods)) install(StringProto, name, stringMethods[name]);

// ---- numbers ----
const numberMethods = {
  intValue: function () { return g.__tbCast('int', this); },
  longValue: function () { return MathTrunc(this); },
  doubleValue: function () { return NumberCtor(this); },
  floatValue: function () { return toFloat(this); },
  compareTo: function (o) { return this < o ? -1 : this > o ? 1 : 0; },
};
for (const name of keysOf(numberMethods)) install(NumberProto, name, numberMethods[name]);

// ---- lists ----
function checkIndex(list, i) {
  if (!NumberCtor.isInteger(i) || i < 0 || i >= list.length) throw new RangeError('Index ' + i + ' out of bounds for length ' + list.length);
}
function isNumeric(v) { return typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !isNaN(NumberCtor(v))); }
function tbelSort(list, ascending) {
  const numeric = list.every(isNumeric);
  const dir = ascending === false ? -1 : 1;
  return nativeSort.call(list, (a, b) => {
    const x = numeric ? NumberCtor(a) : StringCtor(a), y = numeric ? NumberCtor(b) : StringCtor(b);
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  });
}
const listMethods = {
  add: function (a, b) { if (arguments.length > 1) { checkIndexForInsert(this, a); this.splice(a, 0, b); return undefined; } this.push(a); return true; },
  addAll: function (a, b) {
    if (arguments.length > 1) { checkIndexForInsert(this, a); this.splice(a, 0, ...b); } else this.push(...a);
    return true;
  },
  get: function (i) { checkIndex(this, i); return this[i]; },
  set: function (i, v) { checkIndex(this, i); const old = this[i]; this[i] = v; return old; },
  remove: function (x) {
    if (typeof x === 'number' && NumberCtor.isInteger(x)) { checkIndex(this, x); return this.splice(x, 1)[0]; }
    const i = this.indexOf(x);
    if (i < 0) return false;
    this.splice(i, 1);
    return true;
  },
  contains: function (x) { return this.includes(x); },
  containsAll: function (xs) { return xs.every((x) => this.includes(x)); },
  isEmpty: function () { return this.length === 0; },
  clear: function () { this.length = 0; },
  sort: function (arg) { return typeof arg === 'function' ? nativeSort.call(this, arg) : tbelSort(this, arg); },
  toSorted: function (arg) { const copy = this.slice(); return typeof arg === 'function' ? nativeSort.call(copy, arg) : tbelSort(copy, arg); },
  toUnmodifiable: function () { return freeze(this.slice()); },
  validateClazzInArrayIsOnlyNumber: function () { return this.every((v) => typeof v === 'number'); },
};
function checkIndexForInsert(list, i) {
  if (!NumberCtor.isInteger(i) || i < 0 || i > list.length) throw new RangeError('Index: ' + i + ', Size: ' + list.length);
}
for (const name of keysOf(listMethods)) install(ArrayProto, name, listMethods[name]);

// ---- maps ----
function deepEquals(a, b) {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return a !== a && b !== b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || isArray(a) !== isArray(b)) return false;
  const ka = keysOf(a), kb = keysOf(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!hasOwn(b, k) || !deepEquals(a[k], b[k])) return false;
  return true;
}
const EntryProto = { getKey: function () { return this.key; }, getValue: function () { return this.value; } };
const mapMethods = {
  equals: function (o) { return deepEquals(this, o); },
  put: function (k, v) { const old = hasOwn(this, k) ? this[k] : null; this[k] = v; return old; },
  get: function (k) { return hasOwn(this, k) ? this[k] : null; },
  getOrDefault: function (k, d) { return hasOwn(this, k) ? this[k] : d; },
  containsKey: function (k) { return hasOwn(this, k); },
  containsValue: function (v) { return keysOf(this).some((k) => deepEquals(this[k], v)); },
  remove: function (k) { if (!hasOwn(this, k)) return null; const old = this[k]; delete this[k]; return old; },
  keySet: function () { return keysOf(this); },
  keys: function () { return keysOf(this); },
  values: function () { return keysOf(this).map((k) => this[k]); },
  entrySet: function () {
    return keysOf(this).map((k) => { const e = Object.create(EntryProto); e.key = k; e.value = this[k]; return e; });
  },
  isEmpty: function () { return keysOf(this).length === 0; },
  putAll: function (m) { for (const k of keysOf(m)) this[k] = m[k]; },
  putIfAbsent: function (k, v) { if (hasOwn(this, k) && this[k] !== null && this[k] !== undefined) return this[k]; this[k] = v; return null; },
  replace: function (k, a, b) {
    if (arguments.length > 2) { if (hasOwn(this, k) && deepEquals(this[k], a)) { this[k] = b; return true; } return false; }
    if (!hasOwn(this, k)) return null;
    const old = this[k];
    this[k] = a;
    return old;
  },
  clear: function () { for (const k of keysOf(this)) delete this[k]; },
  sortByKey: function () { const ks = keysOf(this).sort(); const vs = ks.map((k) => this[k]); mapMethods.clear.call(this); ks.forEach((k, i) => { this[k] = vs[i]; }); },
  sortByValue: function () {
    const ks = keysOf(this);
    const sorted = tbelSort(ks.map((k) => this[k]), true);
    const order = ks.slice();
    nativeSort.call(order, (a, b) => sorted.indexOf(this[a]) - sorted.indexOf(this[b]));
    const vs = order.map((k) => this[k]);
    mapMethods.clear.call(this);
    order.forEach((k, i) => { this[k] = vs[i]; });
  },
  toUnmodifiable: function () { return freeze(Object.assign({}, this)); },
};
// "get" last: once Object.prototype has it, plain descriptor literals would read as accessors.
for (const name of keysOf(mapMethods).filter((n) => n !== 'get')) install(ObjectProto, name, mapMethods[name]);
install(ObjectProto, 'get', mapMethods.get);

// list.size() and Java-bean style list.size (for (i = 0; i < list.size; i++)):
// the getter returns a callable whose numeric value is the size.
function installSize(proto, count) {
  defineProperty(proto, 'size', {
    __proto__: null, enumerable: false, configurable: true,
    get: function () {
      const self = this;
      const f = function size() { return count(self); };
      const n = count(self);
      f.valueOf = () => n;
      f.toString = () => StringCtor(n);
      return f;
    },
    set: function (v) { defineProperty(this, 'size', { __proto__: null, value: v, writable: true, enumerable: true, configurable: true }); },
  });
}
installSize(ArrayProto, (list) => list.length);
installSize(ObjectProto, (map) => keysOf(map).length);
})(globalThis);
`;
