// TBEL (ThingsBoard's MVEL dialect) → JavaScript, as a token-level source transform.
// Every rewrite stays on its line, so V8's syntax errors keep the user's line numbers.
// What the rewritten code calls (__tbIter, Java-style methods, helpers) lives in tbel-runtime.ts.
import { ScriptCompileError } from './script-api.js';

type TokenKind = 'ws' | 'comment' | 'string' | 'number' | 'ident' | 'punct';

interface Token {
  readonly kind: TokenKind;
  /** Rewritten in place; '' removes the token. */
  text: string;
  /** Emitted right after the token (closing parentheses added by rewrites). */
  after: string;
  readonly line: number;
}

const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=',
  '<<', '>>', '**',
];

const NUMBER = /^(?:0[xX][0-9a-fA-F]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([lLdDfFBI])?(?![\w$])/;
const IDENT = /^[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*/;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const push = (kind: TokenKind, text: string): void => {
    tokens.push({ kind, text, after: '', line });
    for (const ch of text) if (ch === '\n') line++;
  };
  while (i < src.length) {
    const rest = src.slice(i, i + 4);
    const ch = src[i] ?? '';
    if (/\s/.test(ch)) {
      let j = i + 1;
      while (j < src.length && /\s/.test(src[j] ?? '')) j++;
      push('ws', src.slice(i, j));
      i = j;
    } else if (rest.startsWith('//')) {
      let j = src.indexOf('\n', i);
      if (j < 0) j = src.length;
      push('comment', src.slice(i, j));
      i = j;
    } else if (rest.startsWith('/*')) {
      let j = src.indexOf('*/', i + 2);
      j = j < 0 ? src.length : j + 2;
      push('comment', src.slice(i, j));
      i = j;
    } else if (ch === '"' || ch === "'" || ch === '`') {
      // An unterminated string runs to the end; V8 then reports it.
      let j = i + 1;
      while (j < src.length && src[j] !== ch) j += src[j] === '\\' ? 2 : 1;
      j = Math.min(j + 1, src.length);
      push('string', src.slice(i, j));
      i = j;
    } else {
      const tail = src.slice(i);
      const num = /^\.?\d/.test(tail) ? NUMBER.exec(tail) : null;
      const ident = num ? null : IDENT.exec(tail);
      if (num) {
        push('number', num[0]);
        i += num[0].length;
      } else if (ident) {
        push('ident', ident[0]);
        i += ident[0].length;
      } else {
        const op = PUNCTUATORS.find((p) => tail.startsWith(p)) ?? ch;
        push('punct', op);
        i += op.length;
      }
    }
  }
  return tokens;
}

const PRIMITIVE_ZERO: Record<string, string> = {
  int: '0', long: '0', short: '0', byte: '0', double: '0', float: '0', char: '"\\u0000"', boolean: 'false',
};

/** Type names a Java-style declaration may start with: `int x = 1;` becomes `var x = 1;`. */
const DECLARATION_TYPES = new Set([
  ...Object.keys(PRIMITIVE_ZERO),
  'String', 'Integer', 'Long', 'Double', 'Float', 'Short', 'Byte', 'Character', 'Boolean', 'Number', 'Object',
  'Map', 'List', 'Set', 'HashMap', 'ArrayList', 'LinkedHashMap', 'Collection', 'BigDecimal', 'BigInteger', 'Date', 'def',
]);

const CAST_TYPES = new Set([
  ...Object.keys(PRIMITIVE_ZERO), 'String', 'Integer', 'Long', 'Double', 'Float', 'Short', 'Byte', 'Boolean', 'Object', 'Map', 'List',
]);

/** Keywords after which `(type)` starts an expression, so it can be a cast. */
const CAST_AFTER = new Set(['return', 'typeof', 'case', 'throw', 'else', 'do', 'void', 'in', 'of']);

const JAVA_PACKAGE_ROOTS = new Set(['java', 'javax', 'jdk', 'sun']);
const JAVA_ONLY_GLOBALS = new Set(['System', 'Runtime', 'Thread', 'Class', 'ClassLoader', 'ProcessBuilder', 'Process', 'Packages']);

/** Words that start a statement which is not an expression (so TBEL returns nothing implicitly there). */
const NOT_EXPRESSION_START = new Set([
  'return', 'var', 'let', 'const', 'if', 'else', 'for', 'while', 'do', 'function', 'throw', 'break', 'continue',
  'switch', 'case', 'default', 'try', 'catch', 'finally', 'class', 'import', 'export',
]);

class Translator {
  private readonly tokens: Token[];
  /** Indices (into tokens) of the tokens that are not whitespace or comments. */
  private readonly sig: number[];

  constructor(src: string) {
    this.tokens = tokenize(src);
    this.sig = this.tokens.flatMap((t, i) => (t.kind === 'ws' || t.kind === 'comment' ? [] : [i]));
  }

  private at(k: number): Token | undefined {
    const i = this.sig[k];
    return i === undefined ? undefined : this.tokens[i];
  }

  private text(k: number): string | undefined {
    return this.at(k)?.text;
  }

  private refuse(k: number, message: string): never {
    const line = this.at(k)?.line ?? null;
    throw new ScriptCompileError(`line ${line ?? '?'}: ${message}`, line);
  }

  /** Index (into sig) of the bracket closing the one at k. */
  private closing(k: number): number {
    const open = this.text(k);
    const close = open === '(' ? ')' : open === '[' ? ']' : '}';
    let depth = 0;
    for (let j = k; j < this.sig.length; j++) {
      const t = this.text(j);
      if (t === open) depth++;
      else if (t === close && --depth === 0) return j;
    }
    return this.refuse(k, `"${open}" is never closed`);
  }

  private isStatementStart(k: number): boolean {
    const prev = this.text(k - 1);
    return prev === undefined || prev === ';' || prev === '{' || prev === '}';
  }

  translate(): string {
    let nullSafeChain = false;
    for (let k = 0; k < this.sig.length; k++) {
      const tok = this.at(k);
      if (!tok || tok.text === '') continue;
      let p = k - 1;
      while (p >= 0 && this.text(p) === '') p--;
      const afterDot = this.text(p) === '.' || this.text(p) === '?.';
      if (tok.kind === 'number') {
        // Java literal suffixes (10L, 2.5d, 1.5f, 3B, 4I) mean nothing in JS.
        if (NUMBER.exec(tok.text)?.[1]) tok.text = tok.text.slice(0, -1);
      } else if (tok.kind === 'ident' && !afterDot) {
        this.rewriteIdent(k, tok);
      } else if (tok.text === '.') {
        const next = this.text(k + 1);
        if (next === '?' && this.at(k + 2)?.kind === 'ident') {
          // MVEL's null-safe step `a.?b.c` → `a?.b?.c`
          tok.text = '?.';
          const q = this.at(k + 1);
          if (q) q.text = '';
          nullSafeChain = true;
          k++;
          continue;
        }
        if (next === '{') this.refuse(k, 'MVEL inline-with blocks (obj.{ ... }) are not supported');
        if (next === 'length' && this.text(k + 2) === '(' && this.text(k + 3) === ')') {
          // Java's str.length() / list.length() → JS's length property.
          for (const j of [k + 2, k + 3]) {
            const t = this.at(j);
            if (t) t.text = '';
          }
        }
        if (nullSafeChain) tok.text = '?.';
        continue;
      } else if (tok.text === '(') {
        this.rewriteCast(k);
      }
      if (tok.kind !== 'ident') nullSafeChain = false;
    }
    const code = this.tokens.map((t) => t.text + t.after).join('');
    return withImplicitReturn(code);
  }

  private rewriteIdent(k: number, tok: Token): void {
    const next = this.text(k + 1);
    const name = tok.text;
    if (name === 'import' && this.isStatementStart(k)) this.refuse(k, '"import" is not supported in TBEL scripts');
    if (JAVA_PACKAGE_ROOTS.has(name) && next === '.') this.refuse(k, `Java classes (${name}.…) are not available in TBEL scripts`);
    if (JAVA_ONLY_GLOBALS.has(name) && this.text(k - 1) !== 'var') this.refuse(k, `"${name}" is not available in TBEL scripts`);
    if (name === 'new') return this.rewriteNew(k);
    if (name === 'def' && this.at(k + 1)?.kind === 'ident' && this.text(k + 2) === '(') {
      tok.text = 'function';
      return;
    }
    if (name === 'nil') {
      tok.text = 'null';
      return;
    }
    if ((name === 'foreach' || name === 'for') && next === '(') return this.rewriteForeach(k, tok);
    if (name === 'until' && next === '(') {
      // until (c) → while (!(c))
      const close = this.closing(k + 1);
      tok.text = 'while';
      this.setText(k + 1, '(!(');
      this.setText(close, '))');
      return;
    }
    if (DECLARATION_TYPES.has(name) && (this.isStatementStart(k) || this.isForInit(k))) this.rewriteDeclaration(k, tok);
  }

  private setText(k: number, text: string): void {
    const t = this.at(k);
    if (t) t.text = text;
  }

  private isForInit(k: number): boolean {
    return this.text(k - 1) === '(' && this.text(k - 2) === 'for';
  }

  /** `foreach (x : coll)`, `for (Type x : coll)` → `for (let x of __tbIter(coll))`. */
  private rewriteForeach(k: number, tok: Token): void {
    let nameAt: number;
    if (this.at(k + 2)?.kind === 'ident' && this.text(k + 3) === ':') nameAt = k + 2;
    else if (this.at(k + 2)?.kind === 'ident' && this.at(k + 3)?.kind === 'ident' && this.text(k + 4) === ':') nameAt = k + 3;
    else {
      if (tok.text === 'foreach') this.refuse(k, 'foreach needs the form foreach (item : collection)');
      return;
    }
    const close = this.closing(k + 1);
    const name = this.text(nameAt) ?? '';
    tok.text = 'for';
    this.setText(k + 1, `(let ${name} of __tbIter(`);
    for (let j = k + 2; j <= nameAt + 1; j++) this.setText(j, '');
    this.setText(close, '))');
  }

  private rewriteNew(k: number): void {
    const type = this.text(k + 1) ?? '';
    if (type === 'Date') return;
    if (type in PRIMITIVE_ZERO && this.text(k + 2) === '[') {
      const zero = PRIMITIVE_ZERO[type] ?? '0';
      if (this.text(k + 3) === ']' && this.text(k + 4) === '{') {
        // new int[]{1, 2} → [1, 2]
        const close = this.closing(k + 4);
        for (let j = k; j <= k + 3; j++) this.setText(j, '');
        this.setText(k + 4, '[');
        this.setText(close, ']');
        return;
      }
      const close = this.closing(k + 2);
      if (this.text(close + 1) === '[') this.refuse(k, 'multi-dimensional arrays are not supported in TBEL scripts');
      this.setText(k, '__tbNewArray(');
      this.setText(k + 1, '');
      this.setText(k + 2, '');
      this.setText(close, `, ${zero})`);
      return;
    }
    let name = type;
    for (let j = k + 2; this.text(j) === '.' && this.at(j + 1)?.kind === 'ident'; j += 2) name += `.${this.text(j + 1) ?? ''}`;
    this.refuse(k, `"new ${name}" is not supported in TBEL scripts: create maps and lists inline ({} and [])`);
  }

  /** `int x = …` / `Map<String, Object> m = …` / `int[] a = …` → `var x = …`. */
  private rewriteDeclaration(k: number, tok: Token): void {
    let j = k + 1;
    if (this.text(j) === '<') {
      let depth = 0;
      for (; j < this.sig.length; j++) {
        const t = this.text(j) ?? '';
        if (/^<+$/.test(t)) depth += t.length;
        else if (/^>+$/.test(t)) depth -= t.length;
        else if (t !== ',' && t !== '?' && this.at(j)?.kind !== 'ident' && t !== '.') return;
        if (depth <= 0) break;
      }
      j++;
    }
    while (this.text(j) === '[' && this.text(j + 1) === ']') j += 2;
    const after = this.text(j + 1);
    if (this.at(j)?.kind !== 'ident' || !(after === '=' || after === ';' || after === ',' || after === undefined)) return;
    tok.text = 'var';
    for (let m = k + 1; m < j; m++) this.setText(m, '');
  }

  /** Java casts: `(int) x.y` → `__tbCast("int", x.y)`. */
  private rewriteCast(k: number): void {
    const type = this.text(k + 1) ?? '';
    if (!CAST_TYPES.has(type) || this.text(k + 2) !== ')') return;
    // After a name or a closing bracket, `(int)` is a call or a condition (`if (Boolean)`), not a cast.
    const prev = this.at(k - 1);
    if (prev && (prev.kind === 'ident' ? !CAST_AFTER.has(prev.text) : prev.text === ')' || prev.text === ']')) return;
    let j = k + 3;
    while (this.text(j) === '-' || this.text(j) === '+' || this.text(j) === '!') j++;
    const first = this.at(j);
    if (!first) return;
    if (first.text === '(' || first.text === '[') j = this.closing(j);
    else if (first.kind !== 'ident' && first.kind !== 'number' && first.kind !== 'string') return;
    for (;;) {
      const t = this.text(j + 1);
      if ((t === '.' || t === '?.') && this.at(j + 2)?.kind === 'ident') j += 2;
      else if (t === '(' || t === '[') j = this.closing(j + 1);
      else break;
    }
    this.setText(k, '__tbCast(');
    this.setText(k + 1, JSON.stringify(type));
    this.setText(k + 2, ',');
    const last = this.at(j);
    if (last) last.after = `)${last.after}`;
  }
}

/**
 * TBEL returns the value of the last statement when no `return` ends the script
 * (`msg.temperature > 20`, `var a = 1; a + 1`): prefix that statement with `return`
 * when it is a plain expression. Works on the already translated code.
 */
function withImplicitReturn(code: string): string {
  const tokens = tokenize(code);
  const sig = tokens.flatMap((t, i) => (t.kind === 'ws' || t.kind === 'comment' ? [] : [i]));
  const text = (k: number): string => tokens[sig[k] ?? -1]?.text ?? '';
  const stack: boolean[] = []; // true: the open bracket is a block
  let start = 0; // first token of the current top-level statement
  let lastEndedBySemicolon: number | null = null;
  for (let k = 0; k < sig.length; k++) {
    const t = text(k);
    if (t === '(' || t === '[') stack.push(false);
    else if (t === '{') {
      const prev = text(k - 1);
      stack.push(k === 0 || [')', ';', '{', '}', 'else', 'do', 'try', 'finally', '=>'].includes(prev));
    } else if (t === ')' || t === ']' || t === '}') {
      const wasBlock = stack.pop();
      if (stack.length === 0 && t === '}' && wasBlock) {
        start = k + 1;
        lastEndedBySemicolon = null;
      }
    } else if (t === ';' && stack.length === 0) {
      lastEndedBySemicolon = start;
      start = k + 1;
    }
  }
  const candidate = start < sig.length ? start : lastEndedBySemicolon;
  if (candidate === null) return code;
  const first = tokens[sig[candidate] ?? -1];
  if (!first || NOT_EXPRESSION_START.has(first.text) || first.text === '{' || first.text === '.' || first.text === ';') return code;
  if (first.kind === 'punct' && !['(', '[', '!', '-', '+', '~'].includes(first.text)) return code;
  first.text = `return ${first.text}`;
  return tokens.map((t) => t.text).join('');
}

/** Translates a TBEL script body into a JS function body; throws ScriptCompileError naming the line. */
export function translateTbel(body: string): string {
  return new Translator(body).translate();
}
