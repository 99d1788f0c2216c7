/**
 * C++ (tree-sitter-cpp 0.23): the C rules of ./c.ts, plus namespaces, classes, templates, methods and aliases.
 *
 * Conventions (pinned by the golden fixtures under fixtures/extract/cpp/), beyond C's:
 * - scope separator `::`; `namespace a::b {` gives the namespaces `a` and `a::b`; an anonymous namespace adds no
 *   scope;
 * - `class` is `class`, `struct` is `struct` (both scopes for their members); `enum class` is `enum`, its
 *   enumerators scoped to it;
 * - a function defined or declared in a class body is `method` (`constructor` when named after its class;
 *   a destructor is the method `~A`); an out-of-class definition `void A::f() {}` is the method `f` scoped to `A`
 *   (`A::A` a constructor), the qualifier resolved against the enclosing namespaces as written (the grammar cannot
 *   tell a class `A` from a namespace `A`: `ns::f()` defined outside `ns` is a `method` of `ns` too);
 * - operators are named as written without blanks (`operator==`, `operator()`);
 * - a `template <…>` in front of a definition starts its range; `using X = …` and `typedef` are `type`;
 * - friend declarations define nothing (a friend is declared elsewhere);
 * - call refs sit at the called name (`f` in `a.b->f(`, `ns::f(`, `make<T>(`).
 */
import type { SymbolKind } from '../../protocol/types.js';
import { signature, type GrammarGap, type LanguagePlugin } from '../toolkit/index.js';
import { C_TYPES, CFamilyFile, cGaps, gap, type Declared, type Scope } from './c.js';

const TYPES = [...C_TYPES, 'class_specifier', 'namespace_definition', 'template_declaration', 'alias_declaration', 'friend_declaration'];

const lastSegment = (q: string) => {
  const k = q.lastIndexOf('::');
  return k < 0 ? q : q.slice(k + 2);
};

class CppFile extends CFamilyFile {
  protected override other(i: number, start: number, frame: Scope, type: string): void {
    switch (type) {
      case 'namespace_definition':
        this.namespace(i, start, frame);
        break;
      case 'template_declaration':
        if (this.templateStart < 0 || start >= this.templateEnd) {
          this.templateStart = start;
          this.templateEnd = this.a.end(i);
        }
        break;
      case 'alias_declaration':
        this.alias(i, start, frame);
        break;
      case 'friend_declaration':
        // what a friend declaration names is declared elsewhere: nothing inside it is a member
        this.scopes.push({ start, end: this.a.end(i), qualified: frame.qualified, kind: 'function' });
        break;
    }
  }

  protected override functionKind(d: Declared, frame: Scope): SymbolKind {
    const owner = d.qualifier !== null ? lastSegment(d.qualifier) : frame.kind === 'class' && frame.qualified !== null ? lastSegment(frame.qualified) : null;
    if (owner === null) return 'function';
    return d.name === owner ? 'constructor' : 'method';
  }

  private namespace(i: number, start: number, frame: Scope): void {
    const a = this.a;
    const end = a.end(i);
    const name = a.child(i, 'name');
    if (name < 0) {
      this.scopes.push({ start, end, qualified: frame.qualified, kind: 'namespace' });
      return;
    }
    const body = a.child(i, 'body');
    const sig = this.src.slice(start, body >= 0 ? a.start(body) : end).replace(/\s+/g, ' ').trim();
    const lead = this.leading(start);
    // `namespace a::b`: each segment is a namespace
    let scope = frame.qualified;
    const re = /[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*/g;
    const text = this.text(name);
    const at = a.start(name);
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m[0] === 'inline') continue;
      scope = this.def(m[0], 'namespace', scope, at + m.index, start, end, sig, null, lead);
    }
    this.scopes.push({ start, end, qualified: scope, kind: 'namespace' });
  }

  private alias(i: number, start: number, frame: Scope): void {
    const name = this.a.child(i, 'name');
    if (name < 0) return;
    const end = this.a.end(i);
    this.def(this.text(name), 'type', frame.qualified, this.a.start(name), start, end, signature(this.src, start, end));
  }
}

/** What tree-sitter-cpp 0.23 does not parse (beyond the preprocessor idioms it shares with C). */
export const cppGaps: readonly GrammarGap[] = [
  ...cGaps,
  gap('export macros between `class` and the name (`class BOOST_SYMBOL_VISIBLE name`)', /\b(?:class|struct|union)\s+[A-Z_][A-Z0-9_]*\s+[A-Za-z_]\w*/),
  gap('macros after a parameter list (`int f() const BOOST_NOEXCEPT {`)', /\)\s*(?:const\s*)?[A-Z_][A-Z0-9_]{2,}(?:\s*\([^()]*\))?\s*(?:\{|;|$)/m),
  gap('calls of an operator by its function name (`operator<<(os, x)`, `a.operator==(b)`)', /\boperator\s*(?:\(\)|\[\]|[-+*\/%^&|~!=<>,]{1,3})\s*\(/),
];

export const cpp: LanguagePlugin = {
  sep: '::',
  extract: (file) => new CppFile(file, TYPES, true).run(),
};
