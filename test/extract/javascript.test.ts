/**
 * Explicit assertions for the JavaScript / TypeScript / TSX extractor (src/extract/languages/javascript.ts).
 * The golden snapshots cover whole files; these pin the conventions one by one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_DEPTH, TooDeepError } from '../../src/extract/toolkit/index.js';
import { setDirectAccess } from '../../src/extract/toolkit/access.js';
import { extract, parseAndExtract, parserFor } from '../../src/extract/registry.js';
import type { RefRecord, SymbolRecord } from '../../src/protocol/types.js';

const js = (src: string) => parseAndExtract('javascript', src);
const ts = (src: string) => parseAndExtract('typescript', src);
const tsx = (src: string) => parseAndExtract('tsx', src);

function sym(symbols: SymbolRecord[], qualified: string): SymbolRecord {
  const found = symbols.filter((s) => s.qualified === qualified);
  expect(found, `one symbol ${qualified} in ${symbols.map((s) => s.qualified).join(', ')}`).toHaveLength(1);
  return found[0];
}

function names(symbols: SymbolRecord[]): string[] {
  return symbols.map((s) => `${s.kind} ${s.qualified}`).sort();
}

function refsNamed(refs: RefRecord[], name: string): RefRecord[] {
  return refs.filter((r) => r.name === name);
}

afterEach(() => setDirectAccess(true));

describe('functions', () => {
  it('declarations: kind, scope, signature, flags and 1-based/0-based range', () => {
    const { symbols } = js('\n  async function load(path, opts = {}) {\n    return 1;\n  }\nfunction* gen() {}\n');
    const load = sym(symbols, 'load');
    expect(load).toMatchObject({
      name: 'load',
      kind: 'function',
      scope: null,
      signature: 'async function load(path, opts = {})',
      doc: null,
      flags: ['async'],
      startLine: 2,
      startCol: 2,
      endLine: 4,
      endCol: 3,
    });
    expect(sym(symbols, 'gen')).toMatchObject({ signature: 'function* gen()', flags: ['generator'], startLine: 5 });
  });

  it('nested functions are scoped to their parent; locals are not symbols; bound arrows are functions', () => {
    const { symbols, refs } = js(`
function outer(a) {
  const local = 1;
  let counter = 0;
  const helper = async (x, y) => { inner(); };
  function inner() { deep(); }
  return helper;
}
const top = function named() {};
let later = () => {};`);
    expect(names(symbols)).toEqual([
      'function later',
      'function outer',
      'function outer.helper',
      'function outer.inner',
      'function top',
    ]);
    expect(sym(symbols, 'outer.helper')).toMatchObject({ signature: 'const helper = async (x, y) =>', flags: ['async'] });
    expect(sym(symbols, 'top').signature).toBe('const top = function named()');
    expect(sym(symbols, 'later').signature).toBe('let later = () =>');
    expect(refsNamed(refs, 'inner')[0].scope).toBe('outer.helper');
    expect(refsNamed(refs, 'deep')[0].scope).toBe('outer.inner');
  });

  it('module-level constants and variables, but not locals of callbacks, blocks or loops', () => {
    const { symbols } = js(`
const MAX = 10, name = 'x';
let mutable;
var old = require('old');
if (MAX) { const inBlock = 1; }
for (let i = 0; i < 3; i++) {}
describe('suite', () => { const inCallback = 2; });
const { a, b } = require('ab');`);
    expect(names(symbols)).toEqual(['constant MAX', 'constant name', 'variable mutable', 'variable old']);
    expect(sym(symbols, 'MAX').signature).toBe('const MAX = 10');
    expect(sym(symbols, 'name').signature).toBe(`const name = 'x'`);
    expect(sym(symbols, 'old').signature).toBe(`var old = require('old')`);
  });
});

describe('classes', () => {
  const src = `
/** A repository. */
export class Repo extends Base {
  static count = 0;
  #cache = new Map();
  handler = () => this.refresh();
  constructor(db) { super(db); }
  get size() { return this.#cache.size; }
  set size(v) {}
  static async *rows() {}
  #secret() {}
  find(id) { return this.repo.find(id); }
}
const Anon = class extends Repo { extra() {} };`;

  it('members by kind, with static/private names and flags', () => {
    const { symbols } = js(src);
    expect(names(symbols)).toEqual([
      'class Anon',
      'class Repo',
      'constructor Repo.constructor',
      'field Repo.#cache',
      'field Repo.count',
      'field Repo.handler',
      'getter Repo.size',
      'method Anon.extra',
      'method Repo.#secret',
      'method Repo.find',
      'method Repo.rows',
      'setter Repo.size',
    ]);
    const repo = sym(symbols, 'Repo');
    expect(repo).toMatchObject({ signature: 'class Repo extends Base', doc: 'A repository.', flags: ['export'] });
    expect(sym(symbols, 'Repo.count')).toMatchObject({ scope: 'Repo', signature: 'static count = 0', flags: ['static'] });
    expect(sym(symbols, 'Repo.rows')).toMatchObject({ signature: 'static async *rows()', flags: ['static', 'async', 'generator'] });
    expect(sym(symbols, 'Anon').signature).toBe('const Anon = class extends Repo');
  });

  it('calls inside members are scoped to the member', () => {
    const { refs } = js(src);
    expect(refsNamed(refs, 'refresh')[0]).toMatchObject({ scope: 'Repo.handler', context: 'this.refresh' });
    expect(refsNamed(refs, 'find')[0]).toMatchObject({ scope: 'Repo.find', context: 'this.repo.find' });
    expect(refsNamed(refs, 'Map')[0]).toMatchObject({ scope: 'Repo.#cache', context: 'Map' });
  });
});

describe('docs', () => {
  it('takes the nearest JSDoc block above, across blank lines and // lines, never // comments themselves', () => {
    const { symbols } = js(`
/**
 * Adds.
 * @param {number} a
 */
export function add(a) {}

// just a comment
function plain() {}

/** Detached. */

function detached() {}

/** Constant doc. */
export const LIMIT = 3;`);
    expect(sym(symbols, 'add').doc).toBe('Adds.\n@param {number} a');
    expect(sym(symbols, 'plain').doc).toBeNull();
    expect(sym(symbols, 'detached').doc).toBe('Detached.');
    expect(sym(symbols, 'LIMIT').doc).toBe('Constant doc.');
    // the enclosing range starts at the doc; the name is where it is
    expect(sym(symbols, 'add')).toMatchObject({ startLine: 2, nameLine: 6, nameCol: 16 });
  });

  it('takes only the nearest of several blocks, keeps // and # inside a code example, stops at code', () => {
    const { symbols } = js(`
/** License header. */

/**
 * Sends a request.
 *
 *     // a comment in an example
 *     # a heading
 */

// eslint-disable-next-line no-unused-vars
/* a plain block comment */
function send() {}
const x = 1;
function afterCode() {}`);
    expect(sym(symbols, 'send').doc).toBe('Sends a request.\n\n    // a comment in an example\n    # a heading');
    expect(sym(symbols, 'send').startLine).toBe(4);
    expect(sym(symbols, 'afterCode').doc).toBeNull();
  });

  it('reads comments the way the tree does: an opener inside a doc, or a doc inside a line comment', () => {
    const { symbols } = js(`
/**
 * Example:
 * /** @type {Id} *\\/
 */
function nested() {}

// /**package { "name": "x" } **/
function lineComment() {}

const s = "/*"; /** After a string. */
function afterString() {}`);
    expect(sym(symbols, 'nested').doc).toMatch(/^Example:\n.*@type \{Id\}/);
    expect(sym(symbols, 'lineComment').doc).toBeNull();
    expect(sym(symbols, 'afterString').doc).toBe('After a string.');
  });
});

describe('exports', () => {
  it('ESM export flags and default exports', () => {
    const a = js('export default function () { go(); }');
    expect(sym(a.symbols, 'default')).toMatchObject({ kind: 'function', flags: ['export', 'default'] });
    expect(a.refs[0]).toMatchObject({ name: 'go', scope: 'default' });
    const b = js('export default class Widget {}\nexport async function f() {}\nexport const c = 1;');
    expect(sym(b.symbols, 'Widget').flags).toEqual(['export', 'default']);
    expect(sym(b.symbols, 'f').flags).toEqual(['export', 'async']);
    expect(sym(b.symbols, 'c').flags).toEqual(['export']);
    expect(sym(js('export default () => 1;').symbols, 'default').kind).toBe('function');
  });

  it('CommonJS exports and prototype methods', () => {
    const { symbols, refs } = js(`
module.exports = function main(argv) { run(argv); };
module.exports.foo = function () {};
exports.bar = async () => {};
Foo.prototype.baz = function () { this.qux(); };
module.exports = { start() {}, stop: function () {} };
exports.VERSION = '1.0';
exports.a = exports.b = void 0;
exports.Same = Same;
exports.sub = require('./sub');`);
    expect(names(symbols)).toEqual([
      'function bar',
      'function foo',
      'function main',
      'function start',
      'function stop',
      'method Foo.baz',
      'variable VERSION',
    ]);
    expect(sym(symbols, 'main')).toMatchObject({ scope: null, flags: ['export'], signature: 'module.exports = function main(argv)' });
    expect(sym(symbols, 'bar').flags).toEqual(['export', 'async']);
    expect(sym(symbols, 'Foo.baz')).toMatchObject({ scope: 'Foo', kind: 'method' });
    expect(sym(symbols, 'start').flags).toEqual(['export']);
    expect(refsNamed(refs, 'qux')[0].scope).toBe('Foo.baz');
    expect(refsNamed(refs, 'run')[0].scope).toBe('main');
  });

  it('an anonymous module.exports function is `default`', () => {
    const { symbols } = js('module.exports = function () {};');
    expect(sym(symbols, 'default').flags).toEqual(['export', 'default']);
  });
});

describe('object literals', () => {
  it('methods and function-valued properties of a module-level const are members', () => {
    const { symbols, refs } = js(`
const api = {
  get(url) { return fetch(url); },
  post: async (url) => send(url),
  nested: { deep() {} },
  count: 1,
};
call({ notNamed() {} });`);
    expect(names(symbols)).toEqual(['constant api', 'method api.get', 'method api.nested.deep', 'method api.post', 'property api.nested']);
    expect(sym(symbols, 'api.post')).toMatchObject({ signature: 'post: async (url) =>', flags: ['async'] });
    expect(refsNamed(refs, 'fetch')[0].scope).toBe('api.get');
    expect(refsNamed(refs, 'send')[0].scope).toBe('api.post');
  });
});

describe('references', () => {
  it('calls and new: last identifier, callee text, enclosing scope, position', () => {
    const { refs } = js(`function f() {
  this.repo.find(x);
  const m = new Map();
  a?.b();
  promise.then(ok).catch(fail);
  (0, _lib.default)(1);
}
top();`);
    const byName = (n: string) => refsNamed(refs, n)[0];
    expect(byName('find')).toEqual({ kind: 'call', name: 'find', line: 2, col: 12, scope: 'f', context: 'this.repo.find', module: null });
    expect(byName('Map')).toMatchObject({ kind: 'call', line: 3, col: 16, context: 'Map' });
    expect(byName('b')).toMatchObject({ context: 'a?.b' });
    expect(byName('catch')).toMatchObject({ context: 'promise.then(ok).catch', col: 19 });
    expect(byName('then')).toMatchObject({ context: 'promise.then' });
    expect(byName('default')).toMatchObject({ context: '(0, _lib.default)' });
    expect(byName('top')).toMatchObject({ scope: null, line: 8, col: 0 });
    expect(byName('default')).toMatchObject({ line: 6, col: 11 });
  });

  it('a chained call split over lines is recorded on the line and column of the called name', () => {
    const { refs } = ts('const r = schema\n  .object({ a: z.string() })\n  .optional()\n  .parse(data);\nclient?.session.send(x);');
    expect(refs.map((r) => [r.name, r.line, r.col])).toEqual([
      ['parse', 4, 3],
      ['optional', 3, 3],
      ['object', 2, 3],
      ['string', 2, 17],
      ['send', 5, 16],
    ]);
  });

  it("a callback's locals are not module-level symbols: the callback is a scope named after its call", () => {
    const { symbols, refs } = js(`describe('parser', () => {
  function f() {}
  const helper = () => f();
  it('works', function () { function g() {} g(); });
});
app.get('/x', (req, res) => { function load() {} load(); });
[1, 2].forEach((n) => { function h() {} });`);
    expect(symbols.filter((s) => s.scope === null)).toEqual([]);
    expect(names(symbols)).toEqual([
      "function app.get('/x').load",
      "function describe('parser').f",
      "function describe('parser').g",
      "function describe('parser').helper",
      'function forEach.h', // a callee that is not a plain name chain is named by its last name
    ]);
    expect(refsNamed(refs, 'load')[0].scope).toBe("app.get('/x')");
  });

  it('ESM imports, re-exports and side-effect imports', () => {
    const { refs } = js(`import a, { b as c, d } from './m';
import * as ns from 'pkg';
import './side.css';
export { x as y } from './y';
export * from './all';`);
    const imports = refs.map((r) => [r.kind, r.name, r.module, r.context, r.line, r.col]);
    expect(imports).toEqual([
      ['import', 'a', './m', 'a', 1, 7],
      ['import', 'b', './m', 'b as c', 1, 12],
      ['import', 'd', './m', 'd', 1, 20],
      ['import', '*', 'pkg', '* as ns', 2, 7],
      ['import', './side.css', './side.css', "'./side.css'", 3, 8],
      ['import', 'x', './y', 'x as y', 4, 9],
      ['import', '*', './all', '*', 5, 0],
    ]);
  });

  it('require and dynamic import are imports, not calls; a computed require is a call', () => {
    const line2 = 'async function f() { const m = await import("./lazy.js"); return require(name); }';
    const { refs } = js(`const fs = require('fs');\n${line2}`);
    expect(refs).toEqual([
      { kind: 'import', name: 'fs', line: 1, col: 20, scope: null, context: "require('fs')", module: 'fs' },
      { kind: 'import', name: './lazy.js', line: 2, col: line2.indexOf('./lazy'), scope: 'f', context: 'import("./lazy.js")', module: './lazy.js' },
      { kind: 'call', name: 'require', line: 2, col: line2.indexOf('require('), scope: 'f', context: 'require', module: null },
    ]);
    // destructured: one import per name, from the module
    const d = js("const { a, b: c, d = 1 } = require('m');");
    expect(d.refs.map((r) => [r.kind, r.name, r.module, r.context, r.col])).toEqual([
      ['import', 'a', 'm', 'a', 8],
      ['import', 'b', 'm', 'b: c', 11],
      ['import', 'd', 'm', 'd = 1', 17],
    ]);
  });

  it('columns are JavaScript string indexes (UTF-16), also after non-ASCII text', () => {
    const line = `const s = 'héllo 😀 wörld'; after(s); new Üb();`;
    const { refs, symbols } = js(line);
    expect(refsNamed(refs, 'after')[0].col).toBe(line.indexOf('after('));
    expect(refsNamed(refs, 'Üb')[0]).toMatchObject({ col: line.indexOf('Üb('), context: 'Üb' });
    expect(sym(symbols, 's').endCol).toBe(line.indexOf(';'));
  });
});

describe('TypeScript', () => {
  const src = `
/** Shape of a repo. */
export interface IRepo<T> extends Base {
  find(id: string): Promise<T>;
  readonly name: string;
}
export type Id = string | number;
type Props = { title: string; onClose(): void };
export enum Color { Red, Green = 'g' }
export abstract class Store<T> implements IRepo<T> {
  abstract find(id: string): Promise<T>;
  private readonly cache = new Map<string, T>();
  constructor(public name: string) { super(); }
}
export namespace Outer.Inner { export const x = 1; }
namespace Geo { export namespace Deep { export function f(): void {} } }
declare module 'ext' { export function g(): void; }
declare function external(a: string): number;
function over(a: string): void;
function over(a: number): void;
function over(a: any) {}
@Component({ selector: 'x' })
export class Decorated { @Input() value = 1; }
`;

  it('interfaces, types, enums, namespaces and their members', () => {
    const { symbols } = ts(src);
    expect(sym(symbols, 'IRepo')).toMatchObject({
      kind: 'interface',
      signature: 'interface IRepo<T> extends Base',
      doc: 'Shape of a repo.',
      flags: ['export'],
    });
    expect(sym(symbols, 'IRepo.find')).toMatchObject({ kind: 'method', signature: 'find(id: string): Promise<T>' });
    expect(sym(symbols, 'IRepo.name')).toMatchObject({ kind: 'property', flags: ['readonly'] });
    expect(sym(symbols, 'Id')).toMatchObject({ kind: 'type', signature: 'type Id = string | number' });
    expect(sym(symbols, 'Props.title').kind).toBe('property');
    expect(sym(symbols, 'Props.onClose').kind).toBe('method');
    expect(sym(symbols, 'Color').kind).toBe('enum');
    expect(sym(symbols, 'Color.Green')).toMatchObject({ kind: 'enum_member', signature: `Green = 'g'` });
    expect(sym(symbols, 'Outer.Inner')).toMatchObject({ kind: 'namespace', flags: ['export'] });
    expect(sym(symbols, 'Outer.Inner.x').kind).toBe('constant');
    expect(sym(symbols, 'Geo.Deep.f').kind).toBe('function');
    expect(sym(symbols, 'ext')).toMatchObject({ kind: 'namespace', flags: ['declare'] });
    expect(sym(symbols, 'ext.g').flags).toEqual(['export']);
  });

  it('abstract classes, declare, overloads and decorators', () => {
    const { symbols } = ts(src);
    expect(sym(symbols, 'Store')).toMatchObject({
      signature: 'abstract class Store<T> implements IRepo<T>',
      flags: ['export', 'abstract'],
    });
    expect(sym(symbols, 'Store.find')).toMatchObject({ kind: 'method', flags: ['abstract'] });
    expect(sym(symbols, 'Store.cache')).toMatchObject({ kind: 'field', flags: ['private', 'readonly'] });
    expect(sym(symbols, 'external')).toMatchObject({ flags: ['declare'], signature: 'function external(a: string): number' });
    expect(symbols.filter((s) => s.qualified === 'over').map((s) => s.signature)).toEqual([
      'function over(a: string): void',
      'function over(a: number): void',
      'function over(a: any)',
    ]);
    expect(sym(symbols, 'Decorated').flags).toEqual(['export', 'decorated']);
    expect(sym(symbols, 'Decorated.value')).toMatchObject({ signature: 'value = 1', flags: ['decorated'] });
  });

  it('generic calls, and the grammar quirk of `await a.b<T>()`', () => {
    const { refs } = ts('async function f() { const r = await this.db.query<Row>(sql); g<number>(1); }');
    expect(refsNamed(refs, 'query')[0]).toMatchObject({ scope: 'f', context: 'this.db.query' });
    expect(refsNamed(refs, 'g')[0]).toMatchObject({ context: 'g' });
  });
});

describe('TSX and JSX', () => {
  it('components as functions and classes; hooks are calls; JSX elements are not refs', () => {
    const { symbols, refs } = tsx(`
export const Button = ({ label }: Props) => {
  const [on, setOn] = useState(false);
  return <button onClick={() => setOn(!on)}>{label}</button>;
};
export default class Page extends React.Component { render() { return <Button label="x" />; } }`);
    expect(names(symbols)).toEqual(['class Page', 'function Button', 'method Page.render']);
    expect(refs.map((r) => `${r.name}@${r.scope}`)).toEqual(['useState@Button', 'setOn@Button']);
    const jsx = js('function App() { return <div>{list.map((x) => <Item key={x} />)}</div>; }');
    expect(jsx.refs.map((r) => r.name)).toEqual(['map']);
  });
});

describe('robustness', () => {
  it('a file with a syntax error yields what parses, including definitions after the error', () => {
    const r = js(`function ok() {}
function broken(a) {
  const x = ;
}
class After { m() { ok(); } }
function last() {}`);
    expect(r.hasError).toBe(true);
    expect(names(r.symbols)).toEqual(['class After', 'function broken', 'function last', 'function ok', 'method After.m']);
  });

  it('recovers declarations the parser kept only as expressions inside an ERROR node', () => {
    const r = js('function broken( {\n  const x = ;\n}\nclass Kept { m() {} }\nfunction alsoKept() {}\n');
    expect(r.hasError).toBe(true);
    expect(names(r.symbols)).toEqual(['class Kept', 'function alsoKept', 'method Kept.m']);
  });

  it('10,000 levels of nested expressions do not throw (no recursion)', () => {
    const n = 10_000;
    const parens = js(`const x = ${'('.repeat(n)}1${')'.repeat(n)};`);
    expect(sym(parens.symbols, 'x').kind).toBe('constant');
    const calls = ts(`const y = ${'f('.repeat(n)}1${')'.repeat(n)};`);
    expect(calls.refs).toHaveLength(n);
    const arrows = js(`const z = ${'() => '.repeat(n)}h();`);
    expect(refsNamed(arrows.refs, 'h')[0].scope).toBe('z');
  });

  it('absurdly deep named nesting is refused with TooDeepError, not a stack overflow', () => {
    const n = MAX_DEPTH + 5;
    const src = Array.from({ length: n }, (_, i) => `function f${i}() {`).join('') + '}'.repeat(n);
    expect(() => js(src)).toThrow(TooDeepError);
  });

  it('gives the same results when some nodes already have wrapper objects (cached by the binding)', () => {
    const src = readFileSync(join(import.meta.dirname, '../../fixtures/extract/typescript/types.ts'), 'utf8');
    const tree = parserFor('typescript').parse(src);
    // wrappers made through the public API stay cached while referenced; the listing then returns them as objects
    const held = tree.rootNode.descendantsOfType(['call_expression', 'class_declaration', 'variable_declarator']);
    expect(held.length).toBeGreaterThan(5);
    setDirectAccess(true);
    const direct = extract('typescript', tree.rootNode, src);
    setDirectAccess(false);
    const viaPublic = extract('typescript', tree.rootNode, src);
    expect(direct).toEqual(viaPublic);
    expect(direct).toEqual((({ hasError: _, error: __, ...rest }) => rest)(parseAndExtract('typescript', src)));
  });
});
