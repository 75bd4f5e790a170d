import { expect } from 'chai';
import { createScriptEngine, ScriptError, type ScriptEngine } from '../../../src/engine/script/index.js';
import {
  compileErrorOf,
  runScript,
  scriptErrorOf,
  testScriptEngine,
  TEST_SCRIPT_LIMITS,
  timed,
} from '../../helpers/script-harness.js';

const ARGS = ['msg', 'metadata', 'msgType'] as const;
/** A denied script must end well within its limit: the timeout plus slack for a loaded CI machine. */
const WITHIN_LIMIT_MS = TEST_SCRIPT_LIMITS.timeoutMs + 1000;

describe('script sandbox (isolated-vm)', () => {
  let engine: ScriptEngine;
  before(() => {
    engine = testScriptEngine();
  });
  after(() => engine.dispose());

  const js = (body: string, input = {}) => runScript(engine, 'JS', body, input);
  const tbel = (body: string, input = {}) => runScript(engine, 'TBEL', body, input);

  describe('JS scripts', () => {
    it('runs a filter on the parsed data', () => {
      expect(js('return msg.temperature > 20;')).to.equal(true);
      expect(js('return msg.temperature > 20;', { data: { temperature: 10 } })).to.equal(false);
    });

    it('passes metadata as a string map and the message type', () => {
      expect(js('return [metadata.deviceName, metadata.ts, msgType];')).to.deep.equal([
        'Thermostat',
        '1700000000000',
        'POST_TELEMETRY_REQUEST',
      ]);
    });

    it('passes data that is not JSON as the raw string', () => {
      expect(js('return typeof msg + ":" + msg;', { data: 'plain text' })).to.equal('string:plain text');
    });

    it('returns undefined when the script returns nothing', () => {
      expect(js('var x = 1;')).to.equal(undefined);
    });

    it('returns plain JSON data (functions dropped, dates as strings)', () => {
      expect(js('return {a: 1, f: function () {}, d: new Date(0), n: null};')).to.deep.equal({
        a: 1,
        d: '1970-01-01T00:00:00.000Z',
        n: null,
      });
    });

    it('compiles once and runs many times, with the generator argument names', () => {
      const script = engine.compile({
        lang: 'JS',
        body: 'return {msg: {n: (prevMsg.n || 0) + 1}, metadata: prevMetadata, msgType: prevMsgType};',
        argNames: ['prevMsg', 'prevMetadata', 'prevMsgType'],
        owner: 'generator',
      });
      let data = '{}';
      for (let i = 0; i < 3; i++) data = JSON.stringify((script.run(data, {}, 'GEN') as { msg: unknown }).msg);
      expect(data).to.equal('{"n":3}');
      script.dispose?.();
    });

    it('gives a script its own globals: one script cannot see or break another', () => {
      const a = engine.compile({ lang: 'JS', body: 'shared = "from a"; Array.prototype.push = null; return 1;', argNames: ARGS, owner: 'a' });
      const b = engine.compile({ lang: 'JS', body: 'var l = []; l.push(typeof shared); return l;', argNames: ARGS, owner: 'b' });
      a.run('{}', {}, 'T');
      expect(b.run('{}', {}, 'T')).to.deep.equal(['undefined']);
      a.dispose?.();
      b.dispose?.();
    });

    it('costs a few microseconds per call for a trivial filter', function () {
      this.timeout(20000);
      const script = engine.compile({ lang: 'JS', body: 'return msg.temperature > 20;', argNames: ARGS, owner: 'bench' });
      const md = { deviceName: 'Thermostat', deviceType: 'default', ts: '1700000000000' };
      for (let i = 0; i < 2000; i++) script.run('{"temperature":25}', md, 'POST_TELEMETRY_REQUEST');
      const n = 20000;
      const { ms } = timed(() => {
        for (let i = 0; i < n; i++) script.run('{"temperature":25}', md, 'POST_TELEMETRY_REQUEST');
      });
      const perCallUs = (ms * 1000) / n;
      console.log(`      trivial JS filter: ${perCallUs.toFixed(2)} µs per call`);
      expect(perCallUs).to.be.below(100);
      script.dispose?.();
    });
  });

  describe('errors', () => {
    it('reports a syntax error with the line in the body', () => {
      const e = compileErrorOf(() => js('var x = 1;\nvar y = ;\nreturn x;'));
      expect(e.line).to.equal(2);
      expect(e.message).to.match(/line 2/);
    });

    it('reports an unclosed body on its last line', () => {
      const e = compileErrorOf(() => js('if (msg.a) {\n  return 1;\n'));
      expect(e.line).to.be.within(1, 3);
    });

    it('refuses a body that tries to close the wrapper function', () => {
      compileErrorOf(() => js('return 1;\n}); (function () {'));
    });

    it('refuses a body longer than the limit', () => {
      const small = createScriptEngine({ ...TEST_SCRIPT_LIMITS, maxScriptChars: 100 });
      try {
        compileErrorOf(() => runScript(small, 'JS', `return ${'1 + '.repeat(40)}1;`));
      } finally {
        small.dispose();
      }
    });

    it('turns a thrown Error into an exception with its message', () => {
      expect(scriptErrorOf(() => js('throw new Error("boom");'), 'exception').message).to.equal('boom');
    });

    it('turns thrown strings and objects into exceptions', () => {
      expect(scriptErrorOf(() => js('throw "just a string";'), 'exception').message).to.equal('just a string');
      expect(scriptErrorOf(() => js('throw {message: "an object"};'), 'exception').message).to.equal('an object');
      expect(scriptErrorOf(() => js('throw null;'), 'exception').message).to.equal('null');
    });

    it('reports a runtime TypeError', () => {
      expect(scriptErrorOf(() => js('return msg.missing.deeper;'), 'exception').message).to.match(/undefined/);
    });

    it('reports a result that cannot be serialized', () => {
      scriptErrorOf(() => js('var a = {}; a.self = a; return a;'), 'exception');
      scriptErrorOf(() => js('return {n: 10n};'), 'exception');
    });

    it('fails a script after its engine is disposed', () => {
      const own = testScriptEngine();
      const script = own.compile({ lang: 'JS', body: 'return 1;', argNames: ARGS, owner: 'x' });
      own.dispose();
      scriptErrorOf(() => script.run('{}', {}, 'T'), 'exception');
    });

    it('fails a disposed script', () => {
      const script = engine.compile({ lang: 'JS', body: 'return 1;', argNames: ARGS, owner: 'x' });
      script.dispose?.();
      scriptErrorOf(() => script.run('{}', {}, 'T'), 'exception');
    });
  });

  describe('isolation: escape and denial attempts', () => {
    const hostObjectProtoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    afterEach(() => {
      // Nothing a script did may reach the host's prototypes.
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(hostObjectProtoKeys);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(typeof process.pid).to.equal('number');
    });

    const denied = (body: string, reason: ScriptError['reason'], message?: RegExp) => {
      const { value: error, ms } = timed(() => scriptErrorOf(() => js(body), reason));
      if (message) expect(error.message).to.match(message);
      expect(ms).to.be.below(WITHIN_LIMIT_MS);
      return error;
    };

    it('1. has no process', () => {
      expect(js('return typeof process;')).to.equal('undefined');
      denied('return process.env;', 'exception', /process is not defined/);
    });

    it('2. has no require, module, Buffer or __dirname', () => {
      expect(js('return [typeof require, typeof module, typeof Buffer, typeof __dirname, typeof exports];')).to.deep.equal([
        'undefined',
        'undefined',
        'undefined',
        'undefined',
        'undefined',
      ]);
      denied('return require("fs").readFileSync("/etc/passwd", "utf8");', 'exception', /require is not defined/);
    });

    it('3. cannot import() a module', () => {
      denied('return import("fs");', 'exception');
    });

    it('4. gets nothing from this.constructor.constructor("return process")', () => {
      denied('return this.constructor.constructor("return process")().env;', 'exception', /process is not defined/);
    });

    it('5. gets nothing from the constructor chain of its arguments', () => {
      denied('return msg.constructor.constructor("return process")().mainModule;', 'exception', /process is not defined/);
      denied('return metadata.__proto__.constructor.constructor("return require")()("fs");', 'exception', /require is not defined/);
    });

    it('6. finds only the isolate global with Function("return this")', () => {
      expect(js('var g = Function("return this")(); return [typeof g.process, typeof g.require, g === globalThis];')).to.deep.equal([
        'undefined',
        'undefined',
        true,
      ]);
    });

    it('7. finds no host objects on globalThis', () => {
      const names = js('return Object.getOwnPropertyNames(globalThis);') as string[];
      for (const hostName of ['process', 'require', 'module', 'Buffer', 'global', 'setTimeout', 'setInterval', 'setImmediate', 'fetch', 'queueMicrotask', 'SharedArrayBuffer', 'Atomics', 'WebAssembly']) {
        expect(names, hostName).not.to.include(hostName);
      }
    });

    it('8. gets nothing from eval', () => {
      denied('return eval("process");', 'exception', /process is not defined/);
      expect(js('return eval("1 + 1");')).to.equal(2);
    });

    it('9. gets nothing from the Function constructor', () => {
      denied('return new Function("return require")()("child_process");', 'exception', /require is not defined/);
    });

    it('10. cannot pollute the host Object.prototype', () => {
      expect(js('Object.prototype.polluted = "yes"; ({}).__proto__.toString = null; return ({}).polluted;')).to.equal('yes');
    });

    it('11. cannot pollute through a __proto__ key in its result', () => {
      const result = js('return JSON.parse(\'{"__proto__": {"polluted": true}, "a": 1}\');') as Record<string, unknown>;
      expect(Object.getPrototypeOf(result)).to.equal(Object.prototype);
      expect(result.a).to.equal(1);
    });

    it('12. reaches no host function through stack frames', () => {
      const result = js(
        'Error.prepareStackTrace = function (e, frames) { return frames; };' +
          'return new Error().stack.map(function (f) { var fn = f.getFunction(); return fn ? fn.constructor("return typeof process")() : "none"; });',
      ) as string[];
      expect(result).not.to.include('object');
    });

    it('13. stops an endless loop at the time limit', () => {
      denied('while (true) {}', 'timeout', /timed out after 250 ms/);
    });

    it('14. cannot catch its own timeout', () => {
      denied('try { for (;;) {} } catch (e) {} return 1;', 'timeout');
    });

    it('15. stops an endless loop in a microtask or an async function', () => {
      denied('Promise.resolve().then(function () { for (;;) {} }); return true;', 'timeout');
      denied('(async function () { await 0; for (;;) {} })(); return true;', 'timeout');
    });

    it('16. stops endless loops hidden in toJSON, getters and proxies', () => {
      denied('return {toJSON: function () { for (;;) {} }};', 'timeout');
      denied('throw {get message() { for (;;) {} }};', 'timeout');
      denied('return new Proxy({}, {ownKeys: function () { for (;;) {} }});', 'timeout');
    });

    it('17. survives a memory bomb, and later scripts run in a fresh sandbox', function () {
      this.timeout(20000);
      const small = testScriptEngine({ memoryLimitMb: 16 });
      try {
        const before = small.compile({ lang: 'JS', body: 'return msg.temperature > 20;', argNames: ARGS, owner: 'before' });
        const { value: error, ms } = timed(() =>
          scriptErrorOf(() => runScript(small, 'JS', 'var a = []; for (;;) a.push(new Array(100000).fill(1.5));'), 'memory'),
        );
        expect(error.message).to.match(/memory limit of 16 MB/);
        expect(ms).to.be.below(5000);
        expect(before.run('{"temperature":25}', {}, 'T')).to.equal(true);
        expect(runScript(small, 'TBEL', 'return msg.temperature > 20;')).to.equal(true);
      } finally {
        small.dispose();
      }
    });

    it('18. refuses a huge result', () => {
      denied('return "x".repeat(400000);', 'result', /too large: 400002 characters/);
    });

    it('19. stops deep recursion', () => {
      denied('function f(n) { return f(n + 1) + 1; } return f(0);', 'exception', /call stack/);
    });

    it('20. has no Atomics.wait to block on', () => {
      denied('Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); return 1;', 'exception', /not defined/);
    });

    it('21. has no SharedArrayBuffer or WebAssembly', () => {
      denied('return new SharedArrayBuffer(8).byteLength;', 'exception', /SharedArrayBuffer is not defined/);
      denied('return WebAssembly.Memory;', 'exception', /WebAssembly is not defined/);
    });

    it('22. has no timers', () => {
      denied('setTimeout(function () {}, 0); return 1;', 'exception', /setTimeout is not defined/);
      denied('setInterval(function () {}, 10); return 1;', 'exception', /setInterval is not defined/);
      denied('setImmediate(function () {}); return 1;', 'exception', /setImmediate is not defined/);
    });

    it('23. keeps a string bomb inside its heap', () => {
      denied('var s = "x"; for (;;) s += s;', 'exception', /Invalid string length/);
    });

    it('24. sees no caller outside its own code', () => {
      expect(js('return String(arguments.callee.caller);')).to.equal('null');
    });

    it('25. refuses Java escapes in TBEL at compile time', () => {
      expect(compileErrorOf(() => tbel('return java.lang.Runtime.getRuntime().exec("id");')).line).to.equal(1);
      expect(compileErrorOf(() => tbel('var x = 1;\nSystem.exit(0);')).line).to.equal(2);
      compileErrorOf(() => tbel('var p = new ProcessBuilder("id");'));
      scriptErrorOf(() => tbel('return "".getClass().forName("java.lang.Runtime");'), 'exception');
    });

    it('26. keeps console output inside the isolate', () => {
      expect(js('console.log("hello"); console.error("x"); return 1;')).to.equal(1);
    });
  });

  describe('TBEL scripts', () => {
    it('runs the public monitoring chain filter', () => {
      expect(tbel('var a = "a";\nvar b = "b";\nreturn a.equals("a") && b.equals("b");')).to.equal(true);
    });

    it('runs the monitoring chain transforms (metadata arithmetic, Date.now)', () => {
      const first = tbel('metadata.arrivalTs = Date.now();\nreturn {msg: msg, metadata: metadata, msgType: msgType};') as {
        metadata: Record<string, unknown>;
      };
      expect(first.metadata.arrivalTs).to.be.a('number');
      const second = tbel(
        'var arrivalLatency = metadata.arrivalTs - metadata.ts;\nvar processingTime = Date.now() - metadata.arrivalTs;\nmsg = {\n    arrivalLatency: arrivalLatency,\n    processingTime: processingTime\n};\nreturn {msg: msg, metadata: metadata, msgType: msgType};',
        { metadata: { ts: '1000', arrivalTs: '1500' } },
      ) as { msg: { arrivalLatency: number } };
      expect(second.msg.arrivalLatency).to.equal(500);
    });

    it('returns the value of the last statement without return', () => {
      expect(tbel('msg.temperature > 20')).to.equal(true);
      expect(tbel('var a = 2;\nvar b = 3;\na + b')).to.equal(5);
      expect(tbel('var a = 2; a * 10;')).to.equal(20);
      expect(tbel('if (msg.temperature > 20) { return "hot"; }\n"cold"')).to.equal('hot');
      expect(tbel('function sum(list){ var r = 0; foreach (x : list) { r += x; } return r; };\nsum([1, 2, 3]);')).to.equal(6);
    });

    it('has the Java String methods', () => {
      expect(
        tbel(
          'var s = " Hello ";\nreturn [s.trim().equals("Hello"), "abc".equalsIgnoreCase("ABC"), "abc".contains("b"), "".isEmpty(), "abc".length(),' +
            ' "abc".toUpperCase(), "abcdef".substring(2, 4), "abc".indexOf("c"), "a-b".replace("-", "+"), "abc".startsWith("a"), "abc".endsWith("c"),' +
            ' "a1b22c".replaceAll("[0-9]+", "#"), "a.b.c".split("\\\\."), "abc".matches("[a-c]+"), "b".compareTo("a")];',
        ),
      ).to.deep.equal([true, true, true, true, 3, 'ABC', 'cd', 2, 'a+b', true, true, 'a#b#c', ['a', 'b', 'c'], true, 1]);
    });

    it('splits like Java: regex separator, trailing empty strings dropped', () => {
      expect(tbel('return ["a,b,,".split(","), "a|b".split("\\\\|"), "".split(","), "k=v".split("=", 2)];')).to.deep.equal([
        ['a', 'b'],
        ['a', 'b'],
        [''],
        ['k', 'v'],
      ]);
    });

    it('has the Java List methods', () => {
      expect(
        tbel(
          'var l = ["A", "B"];\nl.add("C"); l.add(0, "Z"); l.addAll(["D"]);\nvar removed = l.remove(0);\nvar removedValue = l.remove("B");\n' +
            'return [l, l.size(), l.get(1), l.contains("C"), l.isEmpty(), removed, removedValue, l.indexOf("D"), l.length()];',
        ),
      ).to.deep.equal([['A', 'C', 'D'], 3, 'C', true, false, 'Z', true, 2, 3]);
    });

    it('reads list.size without parentheses in a for loop', () => {
      expect(tbel('var l = [1, 2, 3]; var s = 0;\nfor (var i = 0; i < l.size; i++) { s += l[i]; }\nreturn s;')).to.equal(6);
    });

    it('sorts lists the TBEL way (numeric when all values are numbers)', () => {
      expect(tbel('var l = [10, 9, "100", 1]; l.sort(); var d = [1, 3, 2]; d.sort(false); return [l, d];')).to.deep.equal([
        [1, 9, 10, '100'],
        [3, 2, 1],
      ]);
    });

    it('has the Java Map methods', () => {
      expect(
        tbel(
          'var m = {"temperature": 42};\nm.put("humidity", 73);\nvar old = m.put("temperature", 0);\nm.putIfAbsent("humidity", 1);\nm.putAll({"x": 1});\nvar gone = m.remove("x");\n' +
            'return [m, m.size(), m.get("humidity"), m.get("nope"), m.containsKey("temperature"), m.keySet(), m.values(), m.isEmpty(), old, gone, {}.isEmpty()];',
        ),
      ).to.deep.equal([{ temperature: 0, humidity: 73 }, 2, 73, null, true, ['temperature', 'humidity'], [0, 73], false, 42, 1, true]);
    });

    it('iterates lists, maps, entry sets and strings with foreach', () => {
      expect(
        tbel(
          'var out = [];\nforeach (n : [1, 2]) { out.add(n); }\nforeach (v : {"a": "x"}) { out.add(v); }\n' +
            'foreach (e : {"k": 5}.entrySet()) { out.add(e.getKey() + "=" + e.value); }\nforeach (c : "hi") { out.add(c); }\nfor (String s : ["s"]) { out.add(s); }\nreturn out;',
        ),
      ).to.deep.equal([1, 2, 'x', 'k=5', 'h', 'i', 's']);
    });

    it('reads the data map and the metadata map', () => {
      expect(tbel('return msg.temperature + 1 == 26 && metadata.deviceName == "Thermostat" && msgType == "POST_TELEMETRY_REQUEST";')).to.equal(true);
      expect(tbel('return "123" == 123;')).to.equal(true);
    });

    it('accepts Java-style declarations, casts, literals and arrays', () => {
      expect(tbel('int x = 5; long y = 10L; double d = 1.5d; float f = 2.5f; String s = "a";\nreturn [x + y, d + f, s];')).to.deep.equal([15, 4, 'a']);
      expect(tbel('Map<String, Object> m = {"a": 1};\nList<Integer> l = [1];\nint[] arr = new int[]{1, 2};\nreturn [m.a, l[0], arr];')).to.deep.equal([
        1,
        1,
        [1, 2],
      ]);
      expect(tbel('var a = new int[3]; a[0] = 7; return a;')).to.deep.equal([7, 0, 0]);
      expect(tbel('return [(int) 3.7, (byte) 200, (long) -2.5];')).to.deep.equal([3, -56, -2]);
      expect(tbel('return [0xFF, 0353, 1e2, nil];')).to.deep.equal([255, 235, 100, null]);
    });

    it('accepts def functions, until loops and null-safe navigation', () => {
      expect(tbel('def add(a, b) { return a + b; }\nreturn add(1, 2);')).to.equal(3);
      expect(tbel('var i = 0;\nuntil (i >= 3) { i++; }\nreturn i;')).to.equal(3);
      expect(tbel('var m = {"a": {"b": 1}};\nreturn [m.?a.b, m.?x.y];')).to.deep.equal([1, null]);
    });

    it('has JSON, Math, Integer and Long', () => {
      expect(
        tbel(
          'return [JSON.parse(JSON.stringify({"a": 1})).a, Math.sqrt(4), Integer.toString(0x1A, 16), Integer.toString(-255, 2), Integer.parseInt("-FF", 16), Long.MAX_VALUE > 0, Integer.MAX_VALUE];',
        ),
      ).to.deep.equal([1, 2, '1a', '-11111111', -255, true, 2147483647]);
    });

    describe('helper functions (documented examples)', () => {
      const cases: [string, unknown][] = [
        ['btoa("Hello, world")', 'SGVsbG8sIHdvcmxk'],
        ['atob("SGVsbG8sIHdvcmxk")', 'Hello, world'],
        ['atob(btoa("Київ"))', 'Київ'],
        ['toFixed(0.345, 1)', 0.3],
        ['toFixed(0.345, 2)', 0.35],
        ['toFixed(-1.005, 2)', -1.01],
        ['toInt(0.5)', 1],
        ['toInt(2.7)', 3],
        ['stringToBytes("hello world")', [104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]],
        ['stringToBytes("ж")', [-48, -74]],
        ['stringToBytes(atob("eyJoZWxsbyI6ICJ3b3JsZCJ9"))', [123, 34, 104, 101, 108, 108, 111, 34, 58, 32, 34, 119, 111, 114, 108, 100, 34, 125]],
        ['bytesToString([0x48, 0x45, 0x4C, 0x4C, 0x4F])', 'HELLO'],
        ['decodeToString([-48, -74])', 'ж'],
        ['decodeToJson(stringToBytes(atob("eyJoZWxsbyI6ICJ3b3JsZCJ9")))', { hello: 'world' }],
        ['decodeToJson("[1, 2]")', [1, 2]],
        ['isBinary("1100110")', 2],
        ['isBinary("2100110")', -1],
        ['isOctal("4567734")', 8],
        ['isDecimal("4567039")', 10],
        ['isHexadecimal("F5D7039")', 16],
        ['isHexadecimal("K100110")', -1],
        ['parseInt("473")', 473],
        ['parseInt("+42")', 42],
        ['parseInt("-0xFF")', -255],
        ['parseInt("-FF", 16)', -255],
        ['parseInt("1100110", 2)', 102],
        ['parseInt("-2147483648", 10)', -2147483648],
        ['parseInt("Kona", 27)', 411787],
        ['parseLong("-0xFFFF")', -65535],
        ['parseLong("777777777777777777777", 8)', 9223372036854775807],
        ['parseFloat("4.2")', 4.2],
        ['parseDouble("4.2")', 4.2],
        ['parseHexToInt("BBAA")', 48042],
        ['parseHexToInt("AABB", false)', 48042],
        ['parseHexToInt("BBAA", false)', 43707],
        ['parseLittleEndianHexToInt("AABB")', 48042],
        ['parseHexToFloat("41EA62CC")', 29.29824],
        ['parseHexToFloat("CC62EA41", false)', 29.29824],
        ['parseHexToFloat("41EA62CC", false)', -5.948442e7],
        ['parseHexIntLongToFloat("0x0A", true)', 10],
        ['parseHexIntLongToFloat("0x0A0A00", false)', 2570],
        ['parseHexToDouble("409B04B10CB295EA")', 1729.1729],
        ['parseHexToDouble("EA95B20CB1049B40", false)', 1729.1729],
        ['hexToBytes("0x01752B0367FA000500010488FFFFFFFFFFFFFFFF33")', [1, 117, 43, 3, 103, -6, 0, 5, 0, 1, 4, -120, -1, -1, -1, -1, -1, -1, -1, -1, 51]],
        ['printUnsignedBytes(hexToBytes("D8FF"))', [216, 255]],
        ['bytesToHex([0xBB, 0xAA])', 'BBAA'],
        ['bytesToHex([-69, 83])', 'BB53'],
        ['intToHex(0x7FFFFFFF, true, true)', '0x7FFFFFFF'],
        ['intToHex(171, true, false)', 'AB'],
        ['intToHex(0xABCDEF, false, true, 4)', '0xCDAB'],
        ['intToHex(0xABCD, false, false, 2)', 'AB'],
        ['longToHex(0x7A12BCD3, true, true, 4)', '0xBCD3'],
        ['longToHex(0x7A12BCD3, false, false, 4)', '127A'],
        ['intLongToRadixString(58, 2)', '00111010'],
        ['intLongToRadixString(13158, 8)', '31546'],
        ['intLongToRadixString(-13158, 8)', '1777777777777777746232'],
        ['intLongToRadixString(-13158, 16)', 'FFCC9A'],
        ['intLongToRadixString(-13158, 16, true, true)', '0xFFCC9A'],
        ['floatToHex(123456789.00)', '0x4CEB79A3'],
        ['floatToHex(123456789.00, false)', '0xA379EB4C'],
        ['doubleToHex(1729.1729d)', '0x409B04B10CB295EA'],
        ['doubleToHex(1729.1729d, false)', '0xEA95B20CB1049B40'],
        ['parseBytesToInt([0xAA, 0xBB, 0xCC, 0xDD], 0, 3)', 11189196],
        ['parseBytesToInt([0xAA, 0xBB, 0xCC, 0xDD], 0, 3, false)', 13417386],
        ['parseBytesToLong([0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00], 0, 8)', 4294967296],
        ['parseBytesToFloat([0x0A])', 1.4e-44],
        ['parseBytesToFloat([0x41, 0xEA, 0x62, 0xCC], 0)', 29.29824],
        ['parseBytesToFloat([65, -22, 98, -52], 0, 4, false)', -5.948442e7],
        ['parseBytesIntToFloat([0x00, 0x00, 0x00, 0x0A], 2, 2, false)', 2560],
        ['parseBytesIntToFloat(hexToBytes("0x01756403671B01048836BF7701F000090722050000"), 9, 4, false) / 1000000', 24.62495],
        ['parseBytesToDouble(hexToBytes("409B04B10CB295EA"))', 1729.1729],
        ['parseByteToBinaryArray(0x39)', [0, 0, 1, 1, 1, 0, 0, 1]],
        ['parseByteToBinaryArray(0x39, 5, false)', [1, 0, 0, 1, 1]],
        ['parseBytesToBinaryArray([0xCE, 0xB2], 14)', [0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]],
        ['parseLongToBinaryArray(52914, 16)', [1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]],
        ['parseBinaryArrayToInt([1, 0, 0, 1, 1, 1, 1, 1])', -97],
        ['parseBinaryArrayToInt([1, 0, 0, 1, 1, 1, 1, 1], 1, 7)', 31],
        ['base64ToHex("Kkk=")', '2A49'],
        ['bytesToBase64([42, 73])', 'Kkk='],
        ['base64ToBytes("Kkk=")', [42, 73]],
        ['base64ToBytesList("AQIDBAU=")', [1, 2, 3, 4, 5]],
        ['padStart("010011", 8, "0")', '00010011'],
        ['padEnd("010011", 8, "0")', '01001100'],
        ['padStart("1001010011", 8, "0")', '1001010011'],
        ['encodeURI("a b/ж")', 'a%20b/%D0%B6'],
        ['decodeURI("a%20b/%D0%B6")', 'a b/ж'],
        ['toFlatMap({"a": {"b": [1, {"c": 2}]}, "d": 3})', { 'a.b.0': 1, 'a.b.1.c': 2, d: 3 }],
        ['toFlatMap({"a": {"b": [1, 2]}, "d": 3}, false)', { 'b.0': 1, 'b.1': 2, d: 3 }],
        ['toFlatMap({"a": {"b": 1}, "d": 3}, ["a"])', { d: 3 }],
        ['isNaN(parseFloat("4.2"))', false],
      ];
      for (const [expr, expected] of cases) {
        it(`${expr} → ${JSON.stringify(expected)}`, () => {
          expect(tbel(`return ${expr};`)).to.deep.equal(expected);
        });
      }

      it('raiseError throws the given message', () => {
        expect(scriptErrorOf(() => tbel('raiseError("bad value", 4);'), 'exception').message).to.equal('bad value for value 4');
      });

      it('parseInt rejects what Java rejects', () => {
        scriptErrorOf(() => tbel('return parseInt("2147483648", 10);'), 'exception');
        scriptErrorOf(() => tbel('return parseInt("99", 8);'), 'exception');
        scriptErrorOf(() => tbel('return parseInt("Kona", 10);'), 'exception');
      });
    });

    describe('refused at compile time, naming the line', () => {
      const refused: [string, number, RegExp][] = [
        ['var m = new java.util.HashMap();', 1, /new java\.util\.HashMap/],
        ['var x = 1;\nvar m = new HashMap();', 2, /new HashMap/],
        ['var x = 1;\nimport java.util.*;\nreturn x;', 2, /import/],
        ['var list = ["A"];\n\njava.util.Collections.reverse(list);', 3, /Java classes/],
        ['var x = 1;\nvar t = Thread.currentThread();', 2, /Thread/],
        ['var m = {};\nm.{ a = 1 };', 2, /inline-with/],
        ['var a = new int[2][3];', 1, /multi-dimensional/],
        ['var x = 1;\nvar y = ;', 2, /Unexpected token/],
      ];
      for (const [body, line, message] of refused) {
        it(`${JSON.stringify(body)} → line ${line}`, () => {
          const e = compileErrorOf(() => tbel(body));
          expect(e.line).to.equal(line);
          expect(e.message).to.match(message);
          expect(e.message).to.match(new RegExp(`line ${line}`));
        });
      }
    });
  });
});
