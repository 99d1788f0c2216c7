/**
 * Go (tree-sitter-go 0.25): the package clause, functions, methods, types (structs, interfaces, other types and
 * aliases), struct fields, interface methods, package-level constants and variables; calls and imports.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`); names are read from the text after the
 * keyword (or from the tree's `name` field), scopes come from a range stack.
 *
 * Conventions (pinned by the golden fixtures in fixtures/extract/go/):
 * - scope separator '.'; package-level names are unscoped (the package is a `module` symbol of its own, not a
 *   scope); a method is scoped to its receiver's type, pointer or not, without type parameters:
 *   `func (s *Stack[T]) Push` is `Stack.Push`; struct fields and interface methods are scoped to their type;
 * - a definition's range starts at its `//` doc comment (the lines directly above it; `//go:` directives are left
 *   out of the doc), or at `type`/`const`/`var` when the declaration holds a single spec;
 * - call refs sit at the called name (`Println` in `fmt.Println(`, `New` in `New[int](`); a callee that does not end
 *   in a name (`f()()`, `handlers[k](x)`) gives none;
 * - an import ref is named by the package's last path element (`net/http` -> `http`), module = the import path,
 *   context = the spec as written (`h "net/http"`); embedded fields are fields named by their type, flagged
 *   `embedded`.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  BraceFile,
  calleeName,
  identEnd,
  leadingDoc,
  signature,
  skipBlanks,
  type Frame,
  type GrammarGap,
  type LanguagePlugin,
  type SourceFile,
} from '../toolkit/index.js';

const TYPES = [
  'package_clause',
  'function_declaration',
  'method_declaration',
  'type_declaration',
  'type_spec',
  'type_alias',
  'field_declaration',
  'method_elem',
  'const_declaration',
  'var_declaration',
  'const_spec',
  'var_spec',
  'call_expression',
  'import_spec',
];

/** `func`: locals inside are not symbols; `type`: a struct or interface body. */
type Kind = 'file' | 'func' | 'type';

/** The last type name of a receiver or embedded field, type arguments dropped: `s *Stack[T]` -> `Stack`. */
const TYPE_NAME = /([\p{L}_][\p{L}\p{N}_]*)\s*(?:\[[\s\S]*\])?\s*$/u;

/** The type a receiver (`(s *Stack[T])`, `((*(T)))`, comments included) or embedded field names, or null. */
function typeNameIn(text: string): { name: string; at: number } | null {
  // (same length: offsets stay valid)
  const plain = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => ' '.repeat(c.length)).replace(/[()*]/g, ' ');
  const m = TYPE_NAME.exec(plain);
  return m ? { name: m[1], at: m.index } : null;
}

/** Type arguments of a generic call (`New[int, *pkg.T]`), as opposed to an index (`handlers[k]`). */
const TYPE_ARGS = /^(?:[\s*[\],]+|[\p{L}_][\p{L}\p{N}_]*\.|[A-Z][\p{L}\p{N}_]*|any|bool|byte|rune|string|error|u?int(?:8|16|32|64)?|uintptr|float(?:32|64)|complex(?:64|128))+$/u;
const keepDocLine = (line: string) => !line.startsWith('//go:') && !line.startsWith('//line ');

class GoFile extends BraceFile<Kind> {
  constructor(file: SourceFile) {
    super(file, TYPES, 'file');
  }

  protected visit(i: number, type: string, start: number, frame: Frame<Kind>): void {
    switch (type) {
      case 'call_expression':
        this.call(i, start, frame.qualified);
        break;
      case 'function_declaration':
      case 'method_declaration':
        this.func(i, start);
        break;
      case 'type_spec':
      case 'type_alias':
        if (frame.kind !== 'func') this.typeSpec(i, start, frame.qualified);
        break;
      case 'const_spec':
      case 'var_spec':
        if (frame.kind === 'file') this.valueSpec(i, start);
        break;
      case 'field_declaration':
        if (frame.kind === 'type') this.field(i, start, frame.qualified);
        break;
      case 'method_elem':
        if (frame.kind === 'type') this.interfaceMethod(i, start, frame.qualified);
        break;
      case 'import_spec':
        this.importSpec(i, start, frame.qualified);
        break;
      case 'package_clause':
        this.packageClause(i, start);
        break;
    }
  }

  /**
   * Where the range of what node `i` defines starts: at the keyword of the `type`/`const`/`var` declaration right
   * before it when that holds this one spec (no parentheses), else at `start`.
   */
  private rangeStart(i: number, start: number): number {
    const t = i > 0 ? this.a.type(i - 1) : null;
    if (t !== 'type_declaration' && t !== 'const_declaration' && t !== 'var_declaration') return start;
    const kw = this.a.start(i - 1);
    return this.src.charCodeAt(skipBlanks(this.src, identEnd(this.src, kw))) === 40 ? start : kw;
  }

  private def(i: number, name: string, kind: SymbolKind, scope: string | null, nameAt: number, start: number, end: number, sigEnd: number, flags: string[] | null = null): string {
    const rangeStart = this.rangeStart(i, start);
    const { doc, start: docStart } = leadingDoc(this.src, rangeStart, this.lines, '//', keepDocLine);
    const sig = signature(this.src, start, sigEnd);
    return this.sink.def({ name, kind, scope, nameAt, start: docStart, end, signature: rangeStart < start ? this.src.slice(rangeStart, identEnd(this.src, rangeStart)) + ' ' + sig : sig, doc, flags });
  }

  /** The identifier at `p` (after blanks), else the node's `name` field. */
  private nameAt(i: number, p: number): { name: string; at: number } | null {
    const at = skipBlanks(this.src, p);
    const e = identEnd(this.src, at);
    return e > at ? { name: this.src.slice(at, e), at } : this.nameField(i);
  }

  private func(i: number, start: number): void {
    const { a, src } = this;
    let scope: string | null = null;
    let after = start + 4; // `func`
    if (a.type(i) === 'method_declaration') {
      const r = a.child(i, 'receiver');
      if (r < 0) return;
      after = a.end(r);
      scope = typeNameIn(src.slice(a.start(r), after))?.name ?? null; // none: `func () f()`, an error
    }
    const id = this.nameAt(i, after);
    if (!id) return;
    const end = a.end(i);
    const body = a.child(i, 'body');
    const q = this.def(i, id.name, scope === null ? 'function' : 'method', scope, id.at, start, end, body >= 0 ? a.start(body) : end);
    this.scopes.push({ start, end, qualified: q, kind: 'func' });
  }

  private typeSpec(i: number, start: number, scope: string | null): void {
    const { a } = this;
    const id = this.nameAt(i, start);
    if (!id) return;
    const end = a.end(i);
    let kind: SymbolKind = 'type';
    let sigEnd = end;
    const t = a.child(i, 'type');
    const tt = t >= 0 ? a.type(t) : null;
    if (tt === 'struct_type' || tt === 'interface_type') {
      kind = tt === 'struct_type' ? 'struct' : 'interface';
      sigEnd = this.src.indexOf('{', a.start(t));
      if (sigEnd < 0 || sigEnd > end) sigEnd = end;
    }
    const q = this.def(i, id.name, kind, scope, id.at, start, end, sigEnd, a.type(i) === 'type_alias' ? ['alias'] : null);
    if (kind !== 'type') this.scopes.push({ start, end, qualified: q, kind: 'type' });
  }

  /** `const A, B = 1, 2` / `var x int` at package level: one symbol per name. */
  private valueSpec(i: number, start: number): void {
    const { a, src } = this;
    const kind: SymbolKind = a.type(i) === 'const_spec' ? 'constant' : 'variable';
    const end = a.end(i);
    for (const c of a.namedChildren(i)) {
      if (a.type(c) !== 'identifier') continue;
      const at = a.start(c);
      this.def(i, src.slice(at, a.end(c)), kind, null, at, start, end, end);
    }
  }

  /** Struct fields (`a, b int`), and embedded types as fields named by the type (`*pkg.Reader` -> `Reader`). */
  private field(i: number, start: number, scope: string | null): void {
    const { a, src } = this;
    const end = a.end(i);
    let named = false;
    for (const c of a.namedChildren(i)) {
      if (a.type(c) !== 'field_identifier') continue;
      named = true;
      const at = a.start(c);
      this.def(i, src.slice(at, a.end(c)), 'field', scope, at, start, end, end);
    }
    if (named) return;
    const t = a.child(i, 'type');
    if (t < 0) return;
    const m = typeNameIn(src.slice(a.start(t), a.end(t)));
    if (m) this.def(i, m.name, 'field', scope, a.start(t) + m.at, start, end, end, ['embedded']);
  }

  private interfaceMethod(i: number, start: number, scope: string | null): void {
    const id = this.nameAt(i, start);
    const end = this.a.end(i);
    if (id) this.def(i, id.name, 'method', scope, id.at, start, end, end);
  }

  private packageClause(i: number, start: number): void {
    const id = this.nameAt(i, start + 7); // `package`
    if (id) this.def(i, id.name, 'module', null, id.at, start, this.a.end(i), this.a.end(i));
  }

  private call(i: number, start: number, scope: string | null): void {
    const argsAt = this.argumentsAt(i, start);
    if (argsAt < 0) return;
    const c = calleeName(this.src, start, argsAt, '[', (t) => TYPE_ARGS.test(t));
    // (`func() {...}()` calls a literal: its text ends in `}`, or, read from the start, in the keyword)
    if (c && c.name !== 'func') this.callRef(c.name, c.at, start, scope);
  }

  /** `h "net/http"`: named by the package's last path element, module = the path. */
  private importSpec(i: number, start: number, scope: string | null): void {
    const { src } = this;
    const end = this.a.end(i);
    const text = src.slice(start, end);
    const q = text.search(/["`]/);
    if (q < 0) return;
    const path = text.slice(q + 1, text.length - 1);
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    if (name) this.sink.ref('import', name, start + q + 1 + slash + 1, scope, text, path);
  }
}

/** The keyword of the last top-level declaration. */
const LAST_DECLARATION = /^(?:func|type|var|const|import)\b/gm;

export const goGaps: readonly GrammarGap[] = [
  {
    // tree-sitter-go 0.25 wants a newline after a final `type` declaration (Go itself does not)
    name: 'a `type` declaration ending the file without a newline',
    atEnd: true,
    test: (src, start) => start >= src.length && !src.endsWith('\n') && src.match(LAST_DECLARATION)?.at(-1) === 'type',
  },
];

export const go: LanguagePlugin = {
  sep: '.',
  extract: (file) => new GoFile(file).run(),
};
