/**
 * Ruby (tree-sitter-ruby 0.23): modules, classes, methods, singleton methods, attribute accessors, constants,
 * aliases; calls and `require`s.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`), as integer handles; per node we read its
 * start, and field lookups only where the text does not settle it. Scopes are a range stack; nothing recurses.
 *
 * Conventions (pinned by the golden fixtures under fixtures/extract/ruby/):
 * - scope separator `::`; `class A::B` inside `module M` is the class `M::A::B` (name `B`, scope `M::A`);
 * - `def x` in a class or module is `method` (`initialize`: `constructor`), at the top level `function`;
 *   `def self.x`, and `def x` inside `class << self`, are `method` flagged `singleton` (scoped to the class);
 * - `attr_accessor :a, :b` (and `attr_reader`, `attr_writer`) define properties `a`, `b` flagged with the call's
 *   name; `alias new old` and `alias_method :new, :old` define the method `new` flagged `alias old`;
 *   `define_method(:x)` defines the method `x`;
 * - `X = …` in a class, a module or at the top level is `constant`;
 * - a definition's range starts at the `#` comment block directly above it (no blank line between), its doc;
 * - call refs sit at the called name (`meth` in `obj.meth(x)`, `meth arg`, `Foo::Bar.baz`), context = the
 *   receiver and name; `require 'x'` and `require_relative 'x'` with a literal are import refs named by the path,
 *   module = the path, context = the call as written (a computed `require x` is a call).
 */
import type { SymbolKind } from '../../protocol/types.js';
import { BraceFile, lineDoc, signature, type Frame, type LanguagePlugin, type LineIndex, type SourceFile } from '../toolkit/index.js';

const TYPES = ['class', 'module', 'singleton_class', 'method', 'singleton_method', 'call', 'assignment', 'alias'];

type Kind = 'file' | 'class' | 'module' | 'singleton' | 'method';

const ATTRS = new Set(['attr_accessor', 'attr_reader', 'attr_writer']);
const REQUIRES = new Set(['require', 'require_relative']);
/** `X = …` at the start of an assignment (not `X == …`, `X =~ …`). */
const CONSTANT = /([A-Z][A-Za-z0-9_]*)\s*=(?![=~>])/y;
/** A symbol or string argument naming a method: `:name`, `"name"`, `'name'`. */
const SYMBOL = /^:?["']?([^"'\s]+?)["']?$/;

/** The `#` comment block directly above the line of `start` (no blank line between): its text and where it starts. */
function commentAbove(src: string, lines: LineIndex, start: number): { doc: string | null; start: number } {
  const row = lines.row(start);
  const ls = lines.lineStart(row);
  for (let k = ls; k < start; k++) {
    const c = src.charCodeAt(k);
    if (c !== 32 && c !== 9) return { doc: null, start };
  }
  const block: string[] = [];
  let first = start;
  for (let r = row - 1; r >= 0; r--) {
    const raw = src.slice(lines.lineStart(r), lines.lineEnd(r, src.length));
    const text = raw.trim();
    if (!text.startsWith('#') || text.startsWith('#!') || /^#.*(?:coding|frozen_string_literal)[:=]/.test(text)) break;
    block.push(text);
    first = lines.lineStart(r) + raw.indexOf('#');
  }
  return block.length ? { doc: lineDoc(block.reverse(), 1), start: first } : { doc: null, start };
}

/** A definition header: its first line (for a class or module, up to a `;`: `class A; end`). */
function header(src: string, start: number, end: number, semicolon = false): string {
  let e = src.indexOf('\n', start);
  if (e < 0 || e > end) e = end;
  const semi = semicolon ? src.slice(start, e).indexOf(';') : -1;
  return signature(src, start, semi >= 0 ? start + semi : e);
}

class RubyFile extends BraceFile<Kind> {
  constructor(file: SourceFile) {
    super(file, TYPES, 'file');
  }

  protected visit(i: number, type: string, start: number, frame: Frame<Kind>): void {
    switch (type) {
      case 'call':
        this.call(i, start, frame);
        break;
      case 'class':
      case 'module':
        this.container(i, start, frame);
        break;
      case 'singleton_class':
        // `class << self`: its methods are the class's singleton methods
        this.scopes.push({ start, end: this.a.end(i), qualified: frame.qualified, kind: 'singleton' });
        break;
      case 'method':
      case 'singleton_method':
        this.method(i, start, frame);
        break;
      case 'assignment':
        if (frame.kind !== 'method') this.constant(i, start, frame);
        break;
      case 'alias':
        this.alias(i, start, frame);
        break;
    }
  }

  private def(name: string, kind: SymbolKind, scope: string | null, nameAt: number, start: number, end: number, sig: string, flags: string[] | null = null): string {
    const { doc, start: from } = commentAbove(this.src, this.lines, start);
    return this.sink.def({ name, kind, scope, nameAt, start: from, end, signature: sig, doc, flags });
  }

  /** `class A::B < C`, `module M`. */
  private container(i: number, start: number, frame: Frame<Kind>): void {
    const a = this.a;
    const end = a.end(i);
    const nameNode = a.child(i, 'name');
    if (nameNode < 0) return;
    const text = this.text(nameNode).replace(/\s+/g, '');
    const cut = text.lastIndexOf('::');
    const name = cut >= 0 ? text.slice(cut + 2) : text;
    let scope = frame.qualified;
    if (cut > 0) scope = this.sink.qualify(scope, text.slice(0, cut));
    const nameAt = a.end(nameNode) - name.length;
    const isClass = a.type(i) === 'class';
    const q = this.def(name, isClass ? 'class' : 'module', scope, nameAt, start, end, header(this.src, start, end, true));
    this.scopes.push({ start, end, qualified: q, kind: isClass ? 'class' : 'module' });
  }

  /** `def x`, `def self.x`, `def obj.x`. */
  private method(i: number, start: number, frame: Frame<Kind>): void {
    const a = this.a;
    const end = a.end(i);
    const nameNode = a.child(i, 'name');
    if (nameNode < 0) return;
    const name = this.text(nameNode);
    const singleton = a.type(i) === 'singleton_method' || frame.kind === 'singleton';
    let kind: SymbolKind = frame.kind === 'file' ? 'function' : 'method';
    if (name === 'initialize' && !singleton && frame.kind === 'class') kind = 'constructor';
    const q = this.def(name, kind, frame.qualified, a.start(nameNode), start, end, header(this.src, start, end), singleton ? ['singleton'] : null);
    this.scopes.push({ start, end, qualified: q, kind: 'method' });
  }

  /** `X = …` */
  private constant(i: number, start: number, frame: Frame<Kind>): void {
    const src = this.src;
    const c = src.charCodeAt(start);
    if (c < 65 || c > 90) return; // not a constant: most assignments end here
    CONSTANT.lastIndex = start;
    const m = CONSTANT.exec(src);
    if (!m) return;
    const end = this.a.end(i);
    this.def(m[1], 'constant', frame.qualified, start, start, end, header(src, start, end));
  }

  /** `alias new old` */
  private alias(i: number, start: number, frame: Frame<Kind>): void {
    const a = this.a;
    const name = a.child(i, 'name');
    const old = a.child(i, 'alias');
    if (name < 0 || old < 0 || this.src.charCodeAt(a.start(name)) === 36) return; // `alias $new $old`: globals
    const end = a.end(i);
    this.def(this.text(name).replace(/^:/, ''), 'method', frame.qualified, a.start(name), start, end, header(this.src, start, end), ['alias ' + this.text(old).replace(/^:/, '')]);
  }

  /** A call: a ref at the called name, or a definition (`attr_accessor`, `alias_method`, `define_method`), or a `require`. */
  private call(i: number, start: number, frame: Frame<Kind>): void {
    const a = this.a;
    const m = a.child(i, 'method');
    if (m < 0) return;
    const nameAt = a.start(m);
    const name = this.text(m);
    if (nameAt === start && this.special(i, start, frame, name)) return;
    this.sink.ref('call', name, nameAt, frame.qualified, this.src.slice(start, Math.min(a.end(m), start + 480)));
  }

  /** A receiverless call that defines or imports something; false when it is a plain call after all. */
  private special(i: number, start: number, frame: Frame<Kind>, name: string): boolean {
    const isAttr = ATTRS.has(name);
    const isRequire = REQUIRES.has(name);
    const inBody = frame.kind === 'class' || frame.kind === 'module' || frame.kind === 'singleton';
    if (!isRequire && !(inBody && (isAttr || name === 'alias_method' || name === 'define_method'))) return false;
    const a = this.a;
    const argsNode = a.child(i, 'arguments');
    if (argsNode < 0) return false;
    const args = a.namedChildren(argsNode);
    const literal = (h: number) => {
      const t = a.type(h);
      if (t !== 'simple_symbol' && t !== 'string' && t !== 'delimited_symbol') return null;
      const m = SYMBOL.exec(this.text(h));
      return m && !m[1].includes('#{') ? { name: m[1], at: a.end(h) - m[1].length - (t === 'simple_symbol' ? 0 : 1) } : null;
    };
    if (isRequire) {
      const path = args.length === 1 ? literal(args[0]) : null;
      if (!path) return false;
      this.sink.ref('import', path.name, path.at, frame.qualified, this.text(i), path.name);
      return true;
    }
    const end = a.end(i);
    const sig = header(this.src, start, end);
    const first = args.length ? literal(args[0]) : null;
    if (isAttr) {
      for (const h of args) {
        const l = literal(h);
        if (l) this.def(l.name, 'property', frame.qualified, l.at, start, end, sig, [name]);
      }
    } else if (name === 'alias_method') {
      const old = args.length === 2 ? literal(args[1]) : null;
      if (!first || !old) return false;
      this.def(first.name, 'method', frame.qualified, first.at, start, end, sig, ['alias ' + old.name]);
    } else {
      if (!first) return false;
      const q = this.def(first.name, 'method', frame.qualified, first.at, start, end, sig, ['define_method']);
      this.scopes.push({ start, end, qualified: q, kind: 'method' });
    }
    return true;
  }
}

export const ruby: LanguagePlugin = {
  sep: '::',
  extract: (file) => new RubyFile(file).run(),
};
