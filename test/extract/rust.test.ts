/**
 * Rust extractor: explicit expectations on small sources (the golden snapshots in fixtures/extract/rust/ cover a
 * larger file). Conventions pinned here:
 * - scope separator `::`; an impl block is named after its self type without generics and adds no scope level of
 *   its own (`mod a { impl Foo { fn f() {} } }` -> `a::Foo::f`); trait impls carry the flag `trait <Trait>`.
 * - call refs: name = last path segment / method name, placed at that name; context = the callee text.
 *   Callees that do not end in a name (`make(1)(2)`, `table[i](x)`) give no ref.
 * - macro invocations are call refs named `name!`, context = the macro path with the bang (`std::vec!`).
 * - use refs: one per leaf, named after the imported item (not the alias), context = full path; `*` for globs;
 *   `a::{self}` names `a`.
 * - docs: `///` and `/** *\/` above the item, across attributes, plain comments and blank lines (rustdoc's rule);
 *   `//!` is never attached.
 */
import { describe, expect, it } from 'vitest';
import { parseAndExtract, parserFor } from '../../src/extract/registry.js';
import { MAX_DEPTH, TooDeepError } from '../../src/extract/toolkit/index.js';
import type { RefRecord, SymbolRecord } from '../../src/protocol/types.js';

const rust = (src: string) => parseAndExtract('rust', src);
const sym = (syms: SymbolRecord[], qualified: string) => {
  const found = syms.filter((s) => s.qualified === qualified);
  expect(found.map((s) => s.qualified), `symbol ${qualified}`).toEqual([qualified]);
  return found[0];
};
const brief = (refs: RefRecord[]) => refs.map((r) => `${r.kind} ${r.name} ${r.line}:${r.col} ${r.scope ?? '-'} ${r.context}`);

describe('rust extractor: definitions', () => {
  it('scopes impl methods under the self type, not under an extra impl level', () => {
    const { symbols } = rust('mod a {\n    impl Foo {\n        fn f() {}\n    }\n}\n');
    expect(symbols.map((s) => [s.kind, s.qualified, s.scope])).toEqual([
      ['module', 'a', null],
      ['impl', 'a::Foo', 'a'],
      ['method', 'a::Foo::f', 'a::Foo'],
    ]);
  });

  it('names generic impls without generics and flags trait impls', () => {
    const src = [
      'impl<T: Clone> Stack<T> {',
      '    pub fn push(&mut self, value: T) -> Result<(), Error> { Ok(()) }',
      '    const CAP: usize = 4;',
      '    type Item = T;',
      '}',
      'impl<T> fmt::Display for Stack<T> {',
      '    fn fmt(&self, f: &mut fmt::Formatter<\'_>) -> fmt::Result { Ok(()) }',
      '}',
      'impl Display for Point {}',
      'unsafe impl<T: Send> Send for Stack<T> {}',
      "impl<'a> From<&'a str> for crate::text::Name {}",
    ].join('\n');
    const { symbols } = rust(src);
    const impls = symbols.filter((s) => s.kind === 'impl');
    expect(impls.map((s) => [s.name, s.flags ?? [], s.signature])).toEqual([
      ['Stack', [], 'impl<T: Clone> Stack<T>'],
      ['Stack', ['trait fmt::Display'], 'impl<T> fmt::Display for Stack<T>'],
      ['Point', ['trait Display'], 'impl Display for Point'],
      ['Stack', ['unsafe', 'trait Send'], 'unsafe impl<T: Send> Send for Stack<T>'],
      ['Name', ["trait From<&'a str>"], "impl<'a> From<&'a str> for crate::text::Name"],
    ]);
    const push = sym(symbols, 'Stack::push');
    expect(push.kind).toBe('method');
    expect(push.signature).toBe('pub fn push(&mut self, value: T) -> Result<(), Error>');
    expect(push.flags).toEqual(['pub']);
    expect(sym(symbols, 'Stack::CAP').kind).toBe('constant');
    expect(sym(symbols, 'Stack::Item').kind).toBe('type');
    expect(sym(symbols, 'Stack::fmt').kind).toBe('method');
  });

  it('extracts structs, fields, unions, enums, variants, traits and module-level items', () => {
    const src = [
      'pub struct Point<T> { pub x: T, y: T }',
      'struct Pair(u8, pub u16);',
      'union Bits { f: f32, u: u32 }',
      'enum Shape { Dot, Circle(f64), Rect { w: f64, h: f64 } = 3 }',
      'pub trait Named: Display {',
      '    type Id: Copy;',
      '    const KIND: &str = "x";',
      '    fn name(&self) -> String;',
      '    fn shout(&self) -> String { self.name() }',
      '}',
      'mod decl;',
      'pub(crate) mod inline { pub fn f() {} }',
      'macro_rules! square { ($x:expr) => { $x * $x }; }',
      'pub const MAX: usize = 10;',
      'static mut COUNT: u32 = 0;',
      'pub type Res<T> = Result<T, Error>;',
      'const _: () = { impl Hidden {} };',
    ].join('\n');
    const { symbols, hasError } = rust(src);
    expect(hasError).toBe(false);
    expect(symbols.map((s) => `${s.kind} ${s.qualified}${s.flags ? ' [' + s.flags.join(',') + ']' : ''}`)).toEqual([
      'struct Point [pub]',
      'field Point::x [pub]',
      'field Point::y',
      'struct Pair',
      'struct Bits [union]',
      'field Bits::f',
      'field Bits::u',
      'enum Shape',
      'enum_member Shape::Dot',
      'enum_member Shape::Circle',
      'enum_member Shape::Rect',
      'field Shape::Rect::w',
      'field Shape::Rect::h',
      'trait Named [pub]',
      'type Named::Id',
      'constant Named::KIND',
      'method Named::name',
      'method Named::shout',
      'module decl',
      'module inline [pub(crate)]',
      'function inline::f [pub]',
      'macro square',
      'constant MAX [pub]',
      'static COUNT [mut]',
      'type Res [pub]',
      'impl Hidden',
    ]);
    expect(sym(symbols, 'Point').signature).toBe('pub struct Point<T>');
    expect(sym(symbols, 'Pair').signature).toBe('struct Pair(u8, pub u16)');
    expect(sym(symbols, 'Shape::Circle').signature).toBe('Circle(f64)');
    expect(sym(symbols, 'Shape::Rect').signature).toBe('Rect');
    expect(sym(symbols, 'Named::name').signature).toBe('fn name(&self) -> String');
    expect(sym(symbols, 'decl').signature).toBe('mod decl');
    expect(sym(symbols, 'square').signature).toBe('macro_rules! square');
    expect(sym(symbols, 'MAX').signature).toBe('pub const MAX: usize = 10');
    expect(sym(symbols, 'Res').signature).toBe('pub type Res<T> = Result<T, Error>');
  });

  it('flags function modifiers and nests inner functions under their parent', () => {
    const src = [
      'pub async fn fetch() {}',
      'pub const unsafe extern "C" fn raw() {}',
      'pub(in crate::a) fn scoped() {}',
      'fn outer() {',
      '    fn inner() {',
      '        fn innermost() {}',
      '    }',
      '    struct Local { v: u8 }',
      '}',
    ].join('\n');
    const { symbols } = rust(src);
    expect(sym(symbols, 'fetch').flags).toEqual(['pub', 'async']);
    expect(sym(symbols, 'raw').flags).toEqual(['pub', 'const', 'unsafe', 'extern']);
    expect(sym(symbols, 'raw').signature).toBe('pub const unsafe extern "C" fn raw()');
    expect(sym(symbols, 'scoped').flags).toEqual(['pub(in crate::a)']);
    expect(sym(symbols, 'outer::inner').kind).toBe('function');
    expect(sym(symbols, 'outer::inner::innermost').scope).toBe('outer::inner');
    expect(sym(symbols, 'outer::Local::v').kind).toBe('field');
  });

  it('keeps where clauses and drops attributes and bodies from signatures', () => {
    const src = [
      '#[inline]',
      '#[must_use]',
      'pub fn max_by<T,',
      '              F: Fn(&T) -> u8>(items: &[T; 4], f: F) -> Option<&T>',
      'where',
      '    T: Ord,',
      '{',
      '    None',
      '}',
    ].join('\n');
    const { symbols } = rust(src);
    expect(symbols).toHaveLength(1);
    expect(symbols[0].signature).toBe('pub fn max_by<T, F: Fn(&T) -> u8>(items: &[T; 4], f: F) -> Option<&T> where T: Ord');
    // the name is on line 3; the enclosing range starts at the first attribute
    expect(symbols[0]).toMatchObject({ nameLine: 3, nameCol: 7, startLine: 1, startCol: 0 });
  });
});

describe('rust extractor: docs', () => {
  it('attaches outer docs across attributes, trailing comments and plain comments', () => {
    const src = [
      '//! Crate docs are not attached.',
      '',
      '/// Errors.',
      '///',
      '/// Second paragraph.',
      '#[derive(Debug, Clone)]',
      '#[cfg_attr(',
      '    feature = "serde",',
      '    derive(Serialize)',
      ')]',
      '#[allow(dead_code)] // a trailing plain comment',
      '// a plain comment between',
      'pub enum Error {',
      '    /// Nothing left.',
      '    #[default]',
      '    Empty,',
      '    Full,',
      '}',
      '',
      '/** Block doc',
      ' * second line */',
      '#[repr(C)]',
      'struct Block;',
      '',
      '// Plain comments are not docs.',
      'fn plain() {}',
      '',
      '#[doc = "a string with ] and [ inside"]',
      '/// After a doc attribute.',
      'fn tricky() {}',
      '//// Four slashes: a plain comment.',
      'fn four() {}',
      '/// Markdown survives:',
      '///',
      '/// # Examples',
      '///     indented();',
      'fn markdown() {}',
    ].join('\n');
    const { symbols } = rust(src);
    expect(sym(symbols, 'Error').doc).toBe('Errors.\n\nSecond paragraph.');
    expect(sym(symbols, 'Error::Empty').doc).toBe('Nothing left.');
    expect(sym(symbols, 'Error::Full').doc).toBeNull();
    expect(sym(symbols, 'Block').doc).toBe('Block doc\nsecond line');
    expect(sym(symbols, 'plain').doc).toBeNull();
    expect(sym(symbols, 'tricky').doc).toBe('After a doc attribute.');
    expect(sym(symbols, 'four').doc).toBeNull();
    expect(sym(symbols, 'markdown').doc).toBe('Markdown survives:\n\n# Examples\n    indented();');
  });

  it('does not attach inner docs or docs of a previous item', () => {
    const src = ['//! Module docs.', 'fn first() {}', '/// Doc of second.', 'fn second() {}', 'fn third() {}'].join('\n');
    const { symbols } = rust(src);
    expect(symbols.map((s) => [s.name, s.doc])).toEqual([
      ['first', null],
      ['second', 'Doc of second.'],
      ['third', null],
    ]);
  });
});

describe('rust extractor: ranges', () => {
  it('reports 1-based lines and 0-based columns', () => {
    const src = 'mod m {\n    pub struct S {\n        a: u8,\n    }\n}\n';
    const { symbols } = rust(src);
    const s = sym(symbols, 'm::S');
    expect([s.startLine, s.startCol, s.endLine, s.endCol]).toEqual([2, 4, 4, 5]);
    const a = sym(symbols, 'm::S::a');
    expect([a.startLine, a.startCol, a.endLine, a.endCol]).toEqual([3, 8, 3, 13]);
  });

  it('counts columns in UTF-16 code units, like tree-sitter, after non-ASCII text', () => {
    const src = [
      '/// Grüße 😀',
      'const S: &str = "héllo 😀"; fn after() { g("ü"); }',
      'fn ünïcode() -> &\'static str { "日本語" } struct T;',
      '',
    ].join('\n');
    const { symbols, refs } = rust(src);
    // Cross-check every symbol's name and end against the positions tree-sitter itself reports.
    const tree = parserFor('rust').parse(src);
    const nodes = tree.rootNode.descendantsOfType(['const_item', 'function_item', 'struct_item']);
    expect(symbols.map((s) => [s.name, s.nameLine, s.nameCol, s.endLine, s.endCol])).toEqual(
      nodes.map((n) => {
        const name = n.childForFieldName('name')!;
        return [name.text, name.startPosition.row + 1, name.startPosition.column, n.endPosition.row + 1, n.endPosition.column];
      }),
    );
    expect(sym(symbols, 'S')).toMatchObject({ startLine: 1, startCol: 0 }); // its doc comment
    expect(sym(symbols, 'after').startCol).toBe(28);
    expect(sym(symbols, 'T').startCol).toBe(39);
    expect(sym(symbols, 'S').doc).toBe('Grüße 😀');
    expect(sym(symbols, 'S').signature).toBe('const S: &str = "héllo 😀"');
    expect(brief(refs)).toEqual(['call g 2:41 after g']);
  });
});

describe('rust extractor: references', () => {
  it('records calls by last segment with the callee as context', () => {
    const src = [
      'impl<T> Stack<T> {',
      '    fn new(n: usize) -> Self {',
      '        let v = Vec::with_capacity(n);',
      '        self.items.push(x);',
      '        let n = iter.collect::<Vec<_>>();',
      '        <T as Default>::default();',
      '        (self.callback)(1);',
      '        make(1)(2);',
      '        table[0](3);',
      '        ((a + b)).sqrt();',
      '    }',
      '}',
      'fn free() { helper(); }',
      'const X: u8 = compute();',
    ].join('\n');
    const { refs } = rust(src);
    expect(brief(refs)).toEqual([
      'call with_capacity 3:21 Stack::new Vec::with_capacity',
      'call push 4:19 Stack::new self.items.push',
      'call collect 5:21 Stack::new iter.collect::<Vec<_>>',
      'call default 6:24 Stack::new <T as Default>::default',
      'call callback 7:14 Stack::new (self.callback)',
      'call make 8:8 Stack::new make',
      'call sqrt 10:18 Stack::new ((a + b)).sqrt',
      'call helper 13:12 free helper',
      'call compute 14:14 X compute',
    ]);
  });

  it('finds the method name after block-like receivers', () => {
    const src = 'fn f() {\n    match k { _ => g() }.unwrap();\n    if c { a } else { b }.ok_or(e);\n    Foo { x: 1 }.go();\n}\n';
    const { refs } = rust(src);
    expect(brief(refs)).toEqual([
      'call unwrap 2:25 f match k { _ => g() }.unwrap',
      'call g 2:19 f g',
      'call ok_or 3:26 f if c { a } else { b }.ok_or',
      'call go 4:17 f Foo { x: 1 }.go',
    ]);
  });

  it('records every call of a method chain, outermost first', () => {
    const src = 'fn f() {\n    let total = v\n        .iter()\n        // keep the evens\n        .filter(|x| x % 2 == 0)\n        .sum::<u32>()?;\n}\n';
    const { refs } = rust(src);
    expect(brief(refs)).toEqual([
      'call sum 6:9 f v .iter() // keep the evens .filter(|x| x % 2 == 0) .sum::<u32>',
      'call filter 5:9 f v .iter() // keep the evens .filter',
      'call iter 3:9 f v .iter',
    ]);
  });

  it('records macro invocations as calls named with a bang', () => {
    const src = 'fn main() {\n    println!("héllo {}", 1);\n    let v = std::vec![1, 2];\n    write!(f, "x")?;\n}\nlazy_static! { static ref X: u8 = 1; }\n';
    const { refs } = rust(src);
    expect(brief(refs)).toEqual([
      'call println! 2:4 main println!',
      'call vec! 3:17 main std::vec!',
      'call write! 4:4 main write!',
      'call lazy_static! 6:0 - lazy_static!',
    ]);
  });

  it('finds the calls and macros inside macro arguments, at their names, flagged macro', () => {
    const src = 'fn t(set: &S, m: &M) {\n    assert!(set.contains(&1));\n    assert_eq!(m.find("x").map(|f| f.start()), Some(0), "{}", vec![a::b()].len());\n}\n';
    const { refs } = rust(src);
    const inMacros = refs.filter((r) => r.flags?.includes('macro'));
    expect(inMacros.map((r) => `${r.name} ${r.line}:${r.col} ${r.context}`)).toEqual([
      'contains 2:16 set.contains',
      'find 3:17 m.find',
      'map 3:27 m.find("x").map',
      'start 3:37 f.start',
      'Some 3:47 Some',
      'vec! 3:62 vec!',
      'b 3:70 a::b',
      'len 3:75 vec![a::b()].len',
    ]);
    // the macros themselves are calls too, not flagged
    expect(refs.filter((r) => !r.flags).map((r) => r.name)).toEqual(['assert!', 'assert_eq!']);
    // `macro_rules!` bodies are patterns, not calls
    expect(rust('macro_rules! m { ($x:expr) => { $x.pow(2) }; }').refs).toEqual([]);
  });

  it('expands use trees into one import per leaf', () => {
    const src = [
      'use std::collections::{HashMap, hash_map::Entry as E};',
      'use foo::*;',
      'use std::fmt::{self, Display, Write as _};',
      'pub(crate) use ::core::{mem::{swap, take}, ptr};',
      'extern crate alloc as a;',
      'fn f() { use super::helper; }',
    ].join('\n');
    const { refs } = rust(src);
    expect(brief(refs)).toEqual([
      'import HashMap 1:23 - std::collections::HashMap',
      'import Entry 1:42 - std::collections::hash_map::Entry as E',
      'import * 2:9 - foo::*',
      'import fmt 3:15 - std::fmt',
      'import Display 3:21 - std::fmt::Display',
      'import Write 3:30 - std::fmt::Write as _',
      'import swap 4:30 - ::core::mem::swap',
      'import take 4:36 - ::core::mem::take',
      'import ptr 4:43 - ::core::ptr',
      'import alloc 5:13 - alloc as a',
      'import helper 6:20 f super::helper',
    ]);
    // the module is the path the name is imported from
    expect(refs.map((r) => r.module)).toEqual([
      'std::collections',
      'std::collections::hash_map',
      'foo',
      'std',
      'std::fmt',
      'std::fmt',
      '::core::mem',
      '::core::mem',
      '::core',
      'alloc',
      'super',
    ]);
  });
});

describe('rust extractor: robustness', () => {
  it('keeps what parses in a file with syntax errors', () => {
    const src = [
      'pub fn before() -> u32 { 1 }',
      'fn broken(a: u8 {',
      '    let y = compute(a;',
      '}',
      'struct Half { a: u8, b: , }',
      '/// Still documented.',
      'pub fn after() -> u32 { before() }',
      'impl Half { fn ok(&self) {} }',
    ].join('\n');
    const { symbols, refs, hasError } = rust(src);
    expect(hasError).toBe(true);
    expect(sym(symbols, 'broken').signature).toBe('fn broken(a: u8');
    expect(sym(symbols, 'after').doc).toBe('Still documented.');
    expect(sym(symbols, 'after')).toMatchObject({ nameLine: 7, startLine: 6 });
    expect(sym(symbols, 'Half::ok').kind).toBe('method');
    expect(brief(refs)).toContain('call before 7:24 after before');
  });

  it('handles 10,000 levels of nesting without recursion', () => {
    const N = 10_000;
    const calls = rust(`fn f() -> u32 { ${'g('.repeat(N)}1${')'.repeat(N)} }\nfn after() {}\n`);
    expect(calls.refs).toHaveLength(N);
    expect(calls.refs.every((r) => r.name === 'g' && r.scope === 'f')).toBe(true);
    expect(calls.symbols.map((s) => s.name)).toEqual(['f', 'after']);

    const parens = rust(`fn f() -> u32 { ${'('.repeat(N)}1${')'.repeat(N)} }\nfn after() {}\n`);
    expect(parens.symbols.map((s) => s.name)).toEqual(['f', 'after']);

    const chain = rust(`fn f() { x${'.m()'.repeat(N)}; }\n`);
    expect(chain.refs).toHaveLength(N);
    expect(chain.refs[0].context!.length).toBeLessThanOrEqual(120);

    // named nesting past the shared depth guard is refused (qualified names would grow with its square)
    expect(() => rust(`${'fn a() { '.repeat(N)}${'}'.repeat(N)}\nfn after() {}\n`)).toThrow(TooDeepError);
    const fns = rust(`${'fn a() { '.repeat(MAX_DEPTH)}${'}'.repeat(MAX_DEPTH)}\nfn after() {}\n`);
    expect(fns.symbols).toHaveLength(MAX_DEPTH + 1);
    expect(fns.symbols[MAX_DEPTH - 1].scope!.split('::')).toHaveLength(MAX_DEPTH - 1);
    expect(fns.symbols[MAX_DEPTH].qualified).toBe('after');

    const uses = rust(`use ${'a::{'.repeat(N)}b${'}'.repeat(N)};\n`);
    expect(uses.refs).toHaveLength(1);
    expect(uses.refs[0].name).toBe('b');
  });

  it('is pure: the same tree gives the same result twice', () => {
    const src = 'mod m { /// d\n pub fn f() { g(); } }';
    const tree = parserFor('rust').parse(src);
    expect(rust(src)).toEqual(rust(src));
    expect(tree.rootNode.hasError).toBe(false);
  });
});
