import { describe, expect, it } from 'vitest';
import { parseAndExtract } from '../../src/extract/registry.js';
import type { RefRecord, SymbolRecord } from '../../src/protocol/types.js';

const py = (src: string) => parseAndExtract('python', src);

/** The one symbol with this qualified name (fails if there are none or several). */
function sym(symbols: SymbolRecord[], qualified: string, kind?: string): SymbolRecord {
  const found = symbols.filter((s) => s.qualified === qualified && (!kind || s.kind === kind));
  expect(found, `symbols named ${qualified}: ${symbols.map((s) => s.qualified).join(', ')}`).toHaveLength(1);
  return found[0];
}

const calls = (refs: RefRecord[]) => refs.filter((r) => r.kind === 'call');
const imports = (refs: RefRecord[]) => refs.filter((r) => r.kind === 'import');

describe('python definitions', () => {
  const src = [
    'class Greeter(Base, metaclass=Meta):', // 1
    '    greeting = "hi"', // 2
    '    MAX = 3', // 3
    '', // 4
    '    def __init__(self, name):', // 5
    '        self.name = name', // 6
    '', // 7
    '    def greet(self, name: str) -> str:', // 8
    '        def shout(text):', // 9
    '            return text.upper()', // 10
    '        return shout(name)', // 11
    '', // 12
    '    class Inner:', // 13
    '        def deep(self): pass', // 14
    '', // 15
    'async def fetch(url):', // 16
    '    def helper(): pass', // 17
    '    return 1', // 18
  ].join('\n');
  const { symbols, hasError } = py(src);

  it('parses cleanly and lists every definition in document order', () => {
    expect(hasError).toBe(false);
    expect(symbols.map((s) => `${s.kind} ${s.qualified}`)).toEqual([
      'class Greeter',
      'field Greeter.greeting',
      'field Greeter.MAX',
      'method Greeter.__init__',
      'field Greeter.name',
      'method Greeter.greet',
      'function Greeter.greet.shout',
      'class Greeter.Inner',
      'method Greeter.Inner.deep',
      'function fetch',
      'function fetch.helper',
    ]);
  });

  it('records scope, name and qualified name separately', () => {
    const shout = sym(symbols, 'Greeter.greet.shout');
    expect(shout.name).toBe('shout');
    expect(shout.scope).toBe('Greeter.greet');
    expect(sym(symbols, 'Greeter').scope).toBeNull();
    expect(sym(symbols, 'Greeter.Inner.deep').scope).toBe('Greeter.Inner');
  });

  it('gives headers without bodies as signatures', () => {
    expect(sym(symbols, 'Greeter').signature).toBe('class Greeter(Base, metaclass=Meta)');
    expect(sym(symbols, 'Greeter.greet').signature).toBe('def greet(self, name: str) -> str');
    expect(sym(symbols, 'fetch').signature).toBe('async def fetch(url)');
    expect(sym(symbols, 'Greeter.greeting').signature).toBe('greeting = "hi"');
  });

  it('uses 1-based lines and 0-based columns for ranges and the name', () => {
    expect(sym(symbols, 'Greeter.greet')).toMatchObject({ nameLine: 8, nameCol: 8, startLine: 8, startCol: 4, endLine: 11, endCol: 26 });
    expect(sym(symbols, 'fetch')).toMatchObject({ nameLine: 16, nameCol: 10 });
    expect(sym(symbols, 'Greeter.greet.shout')).toMatchObject({ startLine: 9, startCol: 8, endLine: 10, endCol: 31 });
    expect(sym(symbols, 'Greeter')).toMatchObject({ startLine: 1, startCol: 0, endLine: 14, endCol: 28 });
  });

  it('flags async functions', () => {
    expect(sym(symbols, 'fetch').flags).toEqual(['async']);
    expect(sym(symbols, 'Greeter.greet').flags).toBeUndefined();
  });

  it('does not index locals; `self.x = ...` in a method is a field of the class', () => {
    expect(symbols.find((s) => s.name === 'self' || s.name === 'text')).toBeUndefined();
    expect(sym(symbols, 'Greeter.name')).toMatchObject({ kind: 'field', flags: ['instance'], signature: 'self.name = name', nameLine: 6, nameCol: 13 });
  });
});

describe('python instance attributes', () => {
  it('records the first `self.x` assignment of each name, after class-level fields, and only in methods', () => {
    const { symbols } = py(
      [
        'class A:',
        '    x = 0',
        '    def __init__(self, a):',
        '        self.x = a', // a class field already
        '        self.y, self.z = a, a',
        '        self.y = 2', // a second assignment
        '        self.w.v = 3', // not an attribute of self
        '        other.q = 4',
        '        if a:',
        '            self.late: int = 5',
        '    def later(self):',
        '        self.extra = [1]',
        'def f(self):',
        '    self.not_a_field = 1',
      ].join('\n'),
    );
    expect(symbols.filter((s) => s.kind === 'field').map((s) => `${s.qualified}:${s.nameLine}`)).toEqual([
      'A.x:2',
      'A.y:5',
      'A.z:5',
      'A.late:10',
      'A.extra:12',
    ]);
  });
});

describe('python type aliases', () => {
  it('`X: TypeAlias = ...` and `type X = ...` are types', () => {
    const { symbols } = py('from typing import TypeAlias\nVector: TypeAlias = list[float]\nPair: typing.TypeAlias = tuple\ntype Grid = list[Vector]\nplain: int = 1\n');
    expect(symbols.map((s) => `${s.kind} ${s.name}`)).toEqual(['type Vector', 'type Pair', 'type Grid', 'variable plain']);
  });
});

describe('python decorators', () => {
  const src = [
    'import functools', // 1
    '', // 2
    'class Account:', // 3
    '    @property', // 4
    '    def balance(self):', // 5
    '        return self._balance', // 6
    '', // 7
    '    @balance.setter', // 8
    '    def balance(self, value):', // 9
    '        self._balance = value', // 10
    '', // 11
    '    @staticmethod', // 12
    '    # a comment between decorator and def', // 13
    '    def create():', // 14
    '        return Account()', // 15
    '', // 16
    '    @functools.lru_cache(maxsize=None)', // 17
    '    @other', // 18
    '    async def rate(self): ...', // 19
    '', // 20
    '@app.route("/x",', // 21
    '           methods=["GET"])', // 22
    'def view(): pass', // 23
  ].join('\n');
  const { symbols, refs } = py(src);

  it('turns @property and @x.setter methods into property and setter kinds', () => {
    const [getter, setter] = symbols.filter((s) => s.name === 'balance');
    expect(getter).toMatchObject({ kind: 'property', qualified: 'Account.balance', flags: ['@property'] });
    expect(setter).toMatchObject({ kind: 'setter', qualified: 'Account.balance', flags: ['@balance.setter'] });
  });

  it('keeps other decorated methods as methods, with every decorator as a flag', () => {
    expect(sym(symbols, 'Account.create')).toMatchObject({ kind: 'method', flags: ['@staticmethod'] });
    expect(sym(symbols, 'Account.rate')).toMatchObject({
      kind: 'method',
      flags: ['@functools.lru_cache(maxsize=None)', '@other', 'async'],
      signature: 'async def rate(self)',
    });
  });

  it('gives the def line as the name position, the first decorator as the start of the range', () => {
    expect(sym(symbols, 'Account.create')).toMatchObject({ nameLine: 14, nameCol: 8, startLine: 12, startCol: 4, endLine: 15, endCol: 24 });
    const view = sym(symbols, 'view');
    expect(view).toMatchObject({ kind: 'function', nameLine: 23, nameCol: 4, startLine: 21, startCol: 0, endLine: 23, endCol: 16 });
    expect(view.signature).toBe('def view()');
    expect(view.flags).toEqual(['@app.route("/x", methods=["GET"])']);
  });

  it('reports decorator calls in the scope around the definition', () => {
    expect(calls(refs).map((r) => [r.name, r.context, r.scope, r.line, r.col])).toEqual([
      ['Account', 'Account', 'Account.create', 15, 15],
      ['lru_cache', 'functools.lru_cache', 'Account', 17, 15],
      ['route', 'app.route', null, 21, 5],
    ]);
  });
});

describe('python docstrings', () => {
  it('dedents triple-quoted docstrings like inspect.cleandoc', () => {
    const { symbols } = py(
      [
        'def f():',
        '    """Summary line.',
        '',
        '    Details, indented',
        '        and more indented.',
        '    """',
        '    return 1',
      ].join('\n'),
    );
    expect(symbols[0].doc).toBe('Summary line.\n\nDetails, indented\n    and more indented.');
  });

  it('reads single-quoted, raw and class docstrings and ignores comments before them', () => {
    const { symbols } = py(
      [
        "def a(): 'one line'",
        'def b():  # not part of the header',
        '    r"""Raw \\d+ stays as written."""',
        'class C:',
        '    # a comment',
        "    '''Class doc.'''",
      ].join('\n'),
    );
    expect(symbols.map((s) => s.doc)).toEqual(['one line', 'Raw \\d+ stays as written.', 'Class doc.']);
    expect(symbols[1].signature).toBe('def b()');
  });

  it('is null when the first statement is not a plain string', () => {
    const { symbols } = py(
      [
        'def a():',
        '    return "x"',
        'def b():',
        '    "not a doc".upper()',
        'def c():',
        '    f"formatted {x}"',
        'def d():',
        '    b"bytes"',
        'def e():',
        '    x = 1',
        '    "too late"',
      ].join('\n'),
    );
    expect(symbols.map((s) => [s.name, s.doc])).toEqual([
      ['a', null],
      ['b', null],
      ['c', null],
      ['d', null],
      ['e', null],
    ]);
  });

  it('joins implicitly concatenated string literals', () => {
    const { symbols } = py('def f():\n    "One, " \'two, \'  """three."""\n');
    expect(symbols[0].doc).toBe('One, two, three.');
  });

  it('keeps non-ASCII text and handles CRLF line endings', () => {
    const { symbols } = py('def café():\r\n    """Crème brûlée — 😀.\r\n\r\n    Second line.\r\n    """\r\n');
    expect(symbols[0]).toMatchObject({ name: 'café', doc: 'Crème brûlée — 😀.\n\nSecond line.', endLine: 5 });
  });
});

describe('python module variables and class fields', () => {
  const src = [
    '# The answer.', // 1
    '# Really.', // 2
    'ANSWER = 42', // 3
    'name: str = "x"', // 4
    'a, (b, *rest) = 1, (2, 3)', // 5
    '# Both of them.', // 6
    'first = second = None', // 7
    'obj.attr = 1', // 8
    'table["k"] = 2', // 9
    'get()[0] = 3', // 10
    'if True:', // 11
    '    FLAG = True', // 12
    'class Config:', // 13
    '    # Port to listen on.', // 14
    '    port: int = 8080', // 15
    '    hosts: list[str]', // 16
    '    def method(self):', // 17
    '        local = 1', // 18
    'def function():', // 19
    '    LOCAL = 2', // 20
  ].join('\n');
  const { symbols } = py(src);

  it('extracts module-level names as variables or constants', () => {
    const moduleLevel = symbols.filter((s) => s.scope === null && s.kind !== 'class' && s.kind !== 'function');
    expect(moduleLevel.map((s) => `${s.kind} ${s.name}`)).toEqual([
      'constant ANSWER',
      'variable name',
      'variable a',
      'variable b',
      'variable rest',
      'variable first',
      'variable second',
      'constant FLAG',
    ]);
  });

  it('uses the whole statement as signature and a comment block above as doc', () => {
    expect(sym(symbols, 'ANSWER')).toMatchObject({
      signature: 'ANSWER = 42',
      doc: 'The answer.\nReally.',
      nameLine: 3,
      startLine: 1,
      startCol: 0,
      endLine: 3,
      endCol: 11,
    });
    expect(sym(symbols, 'name').signature).toBe('name: str = "x"');
    expect(sym(symbols, 'name').doc).toBeNull();
    // Both names of a chain share the statement.
    expect(sym(symbols, 'second')).toMatchObject({
      signature: 'first = second = None',
      doc: 'Both of them.',
      startCol: 0,
      endCol: 21,
    });
  });

  it('extracts class-body assignments and bare annotations as fields, never function locals', () => {
    expect(sym(symbols, 'Config.port')).toMatchObject({ kind: 'field', scope: 'Config', doc: 'Port to listen on.' });
    expect(sym(symbols, 'Config.hosts')).toMatchObject({ kind: 'field', signature: 'hosts: list[str]' });
    expect(symbols.find((s) => s.name === 'local' || s.name === 'LOCAL')).toBeUndefined();
  });
});

describe('python references', () => {
  it('reports calls with the last identifier as name and the callee as context', () => {
    const src = [
      'import os', // 1
      'x = os.path.join("a", "b")', // 2
      'def outer(arg=default()):', // 3
      '    def inner():', // 4
      '        return helper(1)', // 5
      '    return self.items[0].method(2).other(3)', // 6
      'handlers["k"]()', // 7
      '"sep".join(parts)', // 8
      'print(f"{len(x)}")', // 9
    ].join('\n');
    const { refs } = py(src);
    expect(calls(refs).map((r) => [r.name, r.context, r.scope, r.line, r.col])).toEqual([
      ['join', 'os.path.join', null, 2, 12],
      ['default', 'default', null, 3, 14],
      ['helper', 'helper', 'outer.inner', 5, 15],
      ['other', 'self.items[0].method(2).other', 'outer', 6, 35],
      ['method', 'self.items[0].method', 'outer', 6, 25],
      ['join', '"sep".join', null, 8, 6],
      ['print', 'print', null, 9, 0],
      ['len', 'len', null, 9, 9],
    ]);
    // Callees that do not end in a name (`handlers["k"]()`, `f()()`, `(a or b)()`) give no call reference.
    expect(calls(py('f()()\n(a or b)(x)\nitems[0]()\n').refs).map((r) => r.context)).toEqual(['f']);
  });

  it('copes with grammar quirks: starred calls, `type(x).a = v`, continuations before the arguments', () => {
    const src = [
      'xs = [*range(5)]',
      'type(obj).attr = 1',
      'pattern = re.compile \\',
      '    ("x")',
      '(obj',
      '  .method)()',
    ].join('\n');
    const { refs, symbols } = py(src);
    expect(calls(refs).map((r) => [r.name, r.context, r.line, r.col])).toEqual([
      ['range', 'range', 1, 7],
      ['type', 'type', 2, 0],
      ['compile', 're.compile', 3, 13],
      ['method', '(obj .method)', 6, 3],
    ]);
    expect(symbols.map((s) => s.name)).toEqual(['xs', 'pattern']);
  });

  it('measures columns in UTF-16 code units, like JS string indexes', () => {
    const src = 's = "é😀"; f(1)\nt = "ü"\ng()';
    const { refs, symbols } = py(src);
    expect(calls(refs).map((r) => [r.name, r.line, r.col])).toEqual([
      ['f', 1, src.indexOf('f(1)')],
      ['g', 3, 0],
    ]);
    expect(sym(symbols, 's')).toMatchObject({ startCol: 0, endCol: 'é😀'.length + 6 });
    expect(sym(symbols, 't')).toMatchObject({ startLine: 2, endCol: 7 });
  });

  it('places a call split over lines at its name', () => {
    const src = ['result = (', '    client', '    .session', '    .send(request)', ')'].join('\n');
    expect(calls(py(src).refs).map((r) => [r.name, r.line, r.col])).toEqual([['send', 4, 5]]);
  });

  it('reports every import form with the module in its own column and the import as written as context', () => {
    const src = [
      'import os.path as p, sys', // 1
      'from x.y import a, b as c', // 2
      'from ..pkg import (d,  # comment', // 3
      '    e)', // 4
      'from . import f', // 5
      'from x import *', // 6
      'from __future__ import annotations', // 7
      'def g():', // 8
      '    import json', // 9
    ].join('\n');
    const { refs } = py(src);
    expect(imports(refs).map((r) => [r.name, r.module, r.context, r.scope, r.line, r.col])).toEqual([
      ['os.path', 'os.path', 'os.path as p', null, 1, 7],
      ['sys', 'sys', 'sys', null, 1, 21],
      ['a', 'x.y', 'a', null, 2, 16],
      ['b', 'x.y', 'b as c', null, 2, 19],
      ['d', '..pkg', 'd', null, 3, 19],
      ['e', '..pkg', 'e', null, 4, 4],
      ['f', '.', 'f', null, 5, 14],
      ['*', 'x', '*', null, 6, 14],
      ['annotations', '__future__', 'annotations', null, 7, 23],
      ['json', 'json', 'json', 'g', 9, 11],
    ]);
    expect(calls(refs).every((r) => r.module === null)).toBe(true);
  });
});

describe('python robustness', () => {
  it('keeps definitions around a syntax error', () => {
    const src = [
      'def before():',
      '    return 1',
      '',
      'def broken(self) ->:',
      '    return = 2',
      '',
      'x = (1 +* 2))',
      '',
      'class After:',
      '    def method(self):',
      '        return call_it()',
    ].join('\n');
    const { symbols, refs, hasError } = py(src);
    expect(hasError).toBe(true);
    expect(symbols.map((s) => s.qualified)).toEqual(expect.arrayContaining(['before', 'After', 'After.method']));
    expect(calls(refs).map((r) => [r.name, r.scope])).toContainEqual(['call_it', 'After.method']);
  });

  it('does not throw on an unclosed bracket that swallows the rest of the file', () => {
    const { symbols, hasError } = py('def ok():\n    pass\n\nx = foo(\n\ndef later():\n    """Doc."""\n');
    expect(hasError).toBe(true);
    expect(symbols[0]).toMatchObject({ qualified: 'ok', kind: 'function' });
  });

  it('handles 10,000 levels of nesting without recursion', () => {
    const depth = 10_000;
    const parens = py('x = ' + '('.repeat(depth) + '1' + ')'.repeat(depth) + '\ndef after(): pass\n');
    expect(parens.symbols.map((s) => s.qualified)).toEqual(['x', 'after']);
    const nestedCalls = py('y = ' + 'f('.repeat(depth) + '1' + ')'.repeat(depth) + '\n');
    expect(calls(nestedCalls.refs)).toHaveLength(depth);
    expect(nestedCalls.refs[depth - 1]).toMatchObject({ name: 'f', line: 1, col: 4 + 2 * (depth - 1) });
    const chained = py('z = g' + '(1)'.repeat(depth) + '\n');
    expect(calls(chained.refs).map((r) => r.context)).toEqual(['g']);
  }, 60_000);

  it('returns nothing for an empty file and is deterministic', () => {
    expect(py('')).toMatchObject({ symbols: [], refs: [], hasError: false });
    const src = 'class A:\n    def m(self):\n        return f(1)\n';
    expect(py(src)).toEqual(py(src));
  });
});
