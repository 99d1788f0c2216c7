/**
 * PHP (tree-sitter-php 0.24, its `php` grammar: HTML around `<?php` is allowed): namespaces, classes, interfaces,
 * traits, enums and their cases, functions, methods (static ones included), properties (promoted constructor
 * parameters included) and constants; calls of every form, `new`, `use` imports and `require`/`include`.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`); names come from the `name` field, headers
 * and docs from the text, scopes from a range stack.
 *
 * Conventions (pinned by the golden fixtures in fixtures/extract/php/):
 * - scope separator '::'; a namespace is a scope, written as in the source: `namespace App\Models; class User {
 *   static function find() {} }` gives `App\Models`, `App\Models::User`, `App\Models::User::find` (a `namespace X;`
 *   statement scopes the file up to the next one); properties are named without their `$`;
 * - a definition's range starts at its PHPDoc (the `/** … *\/` above it), else at its first attribute `#[...]`;
 *   the signature is the header without attributes and body; `static`, `abstract`, `final`, `readonly` are flags;
 * - call refs sit at the called name: `foo` in `\A\foo(`, `$a->b->foo(`, `$a?->foo(`, `A::foo(`; `new A\Foo()` is a
 *   call ref at `Foo`; calls through variables (`$fn()`, `$a->$m()`) give none;
 * - `use A\B\C;` is an import ref `C` with module `A\B` (context = the clause as written, `C as D` kept); a group
 *   `use A\{B, C\D}` gives `B` from `A` and `D` from `A\C`; `use function`/`use const` are flagged so;
 *   `require_once 'x.php'` (and include, with or without `_once`, and `__DIR__ . '/x.php'`) is an import ref named
 *   by the path literal, module = the same, context = the expression.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  BraceFile,
  calleeName,
  identEnd,
  isIdentChar,
  skipBlanks,
  type Frame,
  type LanguagePlugin,
  type SourceFile,
} from '../toolkit/index.js';

type Kind = 'ns' | 'type' | 'func';

const CONTAINERS: Record<string, { kind: SymbolKind; container: Kind }> = {
  class_declaration: { kind: 'class', container: 'type' },
  interface_declaration: { kind: 'interface', container: 'type' },
  trait_declaration: { kind: 'trait', container: 'type' },
  enum_declaration: { kind: 'enum', container: 'type' },
  function_definition: { kind: 'function', container: 'func' },
  method_declaration: { kind: 'method', container: 'func' },
};

const TYPES = [
  ...Object.keys(CONTAINERS),
  'namespace_definition',
  'namespace_use_declaration',
  'enum_case',
  'property_declaration',
  'property_promotion_parameter',
  'const_declaration',
  'function_call_expression',
  'member_call_expression',
  'nullsafe_member_call_expression',
  'scoped_call_expression',
  'object_creation_expression',
  'include_expression',
  'include_once_expression',
  'require_expression',
  'require_once_expression',
];

const FLAG_MODIFIERS = /\b(static|abstract|final|readonly)\b/g;
/** The last string literal of an include expression (no interpolation inside). */
const RE_LITERAL = /(['"])([^'"$\\]*)\1(?![\s\S]*['"])/;
/** One clause of a `use` list: optional `function`/`const`, a name, optional alias. */
const RE_USE_CLAUSE = /\s*(?:(function|const)\s+)?\\?([\p{L}\p{N}_\\]+?)\s*(?:\bas\s+([\p{L}\p{N}_]+))?\s*$/u;

class PhpFile extends BraceFile<Kind> {
  protected override readonly flagModifiers = FLAG_MODIFIERS;
  constructor(file: SourceFile) {
    super(file, TYPES, 'ns');
  }

  protected visit(i: number, type: string, start: number, frame: Frame<Kind>): void {
    switch (type) {
      case 'function_call_expression':
        this.functionCall(i, start, frame.qualified);
        break;
      case 'member_call_expression':
      case 'nullsafe_member_call_expression':
      case 'scoped_call_expression':
        this.memberCall(i, start, frame.qualified);
        break;
      case 'object_creation_expression':
        this.creation(start, frame.qualified);
        break;
      case 'property_declaration':
      case 'const_declaration':
        if (frame.kind !== 'func') this.elements(i, start, frame.qualified, type === 'const_declaration');
        break;
      case 'property_promotion_parameter':
        this.promoted(i, start, frame.qualified);
        break;
      case 'enum_case':
        this.enumCase(i, start, frame.qualified);
        break;
      case 'namespace_definition':
        this.namespace(i, start);
        break;
      case 'namespace_use_declaration':
        this.use(i, start, frame.qualified);
        break;
      case 'include_expression':
      case 'include_once_expression':
      case 'require_expression':
      case 'require_once_expression':
        this.include(i, start, frame.qualified);
        break;
      default: {
        const c = CONTAINERS[type];
        if (c) this.scopedDef(i, start, frame.qualified, c.kind, null, c.container);
      }
    }
  }

  /** `public static int $a = 1, $b;` / `const A = 1, B = 2;`: one symbol per element. */
  private elements(i: number, start: number, scope: string | null, constant: boolean): void {
    const { a, src } = this;
    const end = a.end(i);
    for (const e of a.namedChildren(i)) {
      const t = a.type(e);
      if (t !== 'property_element' && t !== 'const_element') continue;
      let at = a.start(e);
      if (src.charCodeAt(at) === 36) at++; // `$name`
      const ne = identEnd(src, at);
      if (ne > at) this.annotatedDef(src.slice(at, ne), constant ? 'constant' : 'field', scope, at, start, end, end);
    }
  }

  /** `public function __construct(private int $id)`: `$id` is a property of the class. */
  private promoted(i: number, start: number, scope: string | null): void {
    const id = this.nameField(i);
    const owner = scope === null ? -1 : scope.lastIndexOf('::');
    if (!id || owner < 0) return;
    const at = id.at + (id.name.startsWith('$') ? 1 : 0);
    this.annotatedDef(id.name.replace(/^\$/, ''), 'field', scope!.slice(0, owner), at, start, this.a.end(i), this.a.end(i));
  }

  private enumCase(i: number, start: number, scope: string | null): void {
    const id = this.nameField(i);
    const end = this.a.end(i);
    if (id) this.annotatedDef(id.name, 'enum_member', scope, id.at, start, end, end);
  }

  /** `namespace A\B;` (up to the next namespace statement) or `namespace A\B { ... }`. */
  private namespace(i: number, start: number): void {
    const { a } = this;
    const id = this.nameField(i);
    if (!id) return; // the global namespace `namespace { ... }`
    const body = a.child(i, 'body');
    // `namespace X;` scopes the file up to the next namespace statement (they do not nest: the next one listed)
    let end = a.end(i);
    if (body < 0) {
      end = Infinity;
      for (let j = i + 1; j < a.count && end === Infinity; j++) if (a.type(j) === 'namespace_definition') end = a.start(j);
    }
    const q = this.annotatedDef(id.name, 'namespace', null, id.at, start, end, body >= 0 ? a.start(body) : a.end(i));
    this.scopes.push({ start, end, qualified: q, kind: 'ns' });
  }

  private functionCall(i: number, start: number, scope: string | null): void {
    const argsAt = this.argumentsAt(i, start);
    if (argsAt < 0) return;
    const c = calleeName(this.src, start, argsAt, null);
    if (c && c.name.charCodeAt(0) !== 36) this.callRef(c.name, c.at, start, scope);
  }

  private memberCall(i: number, start: number, scope: string | null): void {
    const id = this.nameField(i);
    if (id && id.name.charCodeAt(0) !== 36) this.callRef(id.name, id.at, start, scope);
  }

  /** `new \A\Foo(...)`: a call of `Foo`; `new class {...}`, `new $cls` and `new static` give none. */
  private creation(start: number, scope: string | null): void {
    const { src } = this;
    const from = skipBlanks(src, start + 3);
    let p = from;
    for (let c = src.charCodeAt(p); c === 92 || (c !== 36 && isIdentChar(c)); c = src.charCodeAt(++p));
    const at = src.lastIndexOf('\\', p - 1) + 1;
    const nameAt = Math.max(at, from);
    const name = src.slice(nameAt, p);
    if (name && name !== 'class' && name !== 'static' && name !== 'self' && name !== 'parent') this.sink.ref('call', name, nameAt, scope, src.slice(from, p));
  }

  /** `use A\B, C\D as E;`, `use function A\f;`, `use A\{B, C\D as E};`: one import ref per clause. */
  private use(i: number, start: number, scope: string | null): void {
    const { src } = this;
    const end = this.a.end(i);
    let p = skipBlanks(src, start + 3);
    const text = src.slice(p, end).replace(/;\s*$/, '');
    let kind: string | null = null;
    const k = /^(function|const)\s+/.exec(text);
    if (k) kind = k[1];
    const brace = text.indexOf('{');
    let prefix = '';
    let list = text.slice(k ? k[0].length : 0);
    let listAt = p + (k ? k[0].length : 0);
    if (brace >= 0) {
      prefix = text.slice(k ? k[0].length : 0, brace).replace(/^\s*\\?|\\?\s*$/g, '');
      list = text.slice(brace + 1, text.lastIndexOf('}') > brace ? text.lastIndexOf('}') : text.length);
      listAt = p + brace + 1;
    }
    p = listAt;
    for (const clause of list.split(',')) {
      const m = RE_USE_CLAUSE.exec(clause);
      if (m && m[2]) {
        const path = (prefix ? prefix + '\\' : '') + m[2];
        const cut = path.lastIndexOf('\\');
        const name = path.slice(cut + 1);
        const flag = m[1] ?? kind;
        const at = p + clause.lastIndexOf(name, m[3] ? clause.lastIndexOf(' as') : clause.length);
        this.sink.ref('import', name, at, scope, clause.trim().replace(/\s+/g, ' '), cut > 0 ? path.slice(0, cut) : path, flag ? [flag] : null);
      }
      p += clause.length + 1;
    }
  }

  /** `require_once __DIR__ . '/x.php'`: an import named by its path literal. */
  private include(i: number, start: number, scope: string | null): void {
    const text = this.src.slice(start, this.a.end(i));
    const m = RE_LITERAL.exec(text);
    if (m && m[2]) this.sink.ref('import', m[2], start + m.index + 1, scope, text, m[2]);
  }
}

export const php: LanguagePlugin = {
  sep: '::',
  extract: (file) => new PhpFile(file).run(),
};
