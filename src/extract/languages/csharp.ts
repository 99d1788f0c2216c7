/**
 * C# (tree-sitter-c-sharp 0.23.1): namespaces (block and file-scoped), classes (partial ones included), structs,
 * interfaces, enums, records, delegates, methods, local functions, constructors, destructors, operators,
 * properties, indexers, events, fields and enum members; calls, `new` and `using` directives.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`); names come from the `name` field, headers
 * and docs from the text, scopes from a range stack.
 *
 * Conventions (pinned by the golden fixtures in fixtures/extract/csharp/):
 * - scope separator '.'; a namespace is a scope (a file-scoped `namespace A.B;` scopes the rest of the file), so
 *   `namespace A.B { class C { void M() {} } }` gives `A.B`, `A.B.C`, `A.B.C.M`; each part of a partial class is a
 *   symbol of its own, flagged `partial`;
 * - kinds: record = `class` flagged `record` (`record struct` = `struct` flagged `record`), delegate = `type`
 *   flagged `delegate`, indexer = property `this`, event = `field` flagged `event`, operator = `method` named
 *   `operator +`, destructor = `method` named `~C`, local function = `function`, `const` field = `constant`;
 * - a definition's range starts at its `///` doc comment (or `/** … *\/`), else at its first attribute; the doc is
 *   the comment's text with the XML tags as written; the signature is the header without attributes and body;
 * - call refs sit at the called name (`Bar` in `x.y.Bar<T>(`); `new Foo<T>()` is a call ref at `Foo`;
 * - `using A.B;` is an import ref named `A.B` with module `A.B` (a namespace, like Python's `import a.b`);
 *   `using static A.B;` the same flagged `static`; `using L = A.B.List<int>;` is `List` from `A.B`.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  BraceFile,
  calleeName,
  identEnd,
  skipAnnotations,
  type Frame,
  type GrammarGap,
  type LanguagePlugin,
  type SourceFile,
} from '../toolkit/index.js';

type Kind = 'ns' | 'type' | 'func';

interface DefRule {
  kind: SymbolKind;
  flags?: string[];
  container: Kind | null;
}

const DEFS: Record<string, DefRule> = {
  namespace_declaration: { kind: 'namespace', container: 'ns' },
  class_declaration: { kind: 'class', container: 'type' },
  struct_declaration: { kind: 'struct', container: 'type' },
  interface_declaration: { kind: 'interface', container: 'type' },
  enum_declaration: { kind: 'enum', container: 'type' },
  record_declaration: { kind: 'class', flags: ['record'], container: 'type' },
  delegate_declaration: { kind: 'type', flags: ['delegate'], container: null },
  method_declaration: { kind: 'method', container: 'func' },
  local_function_statement: { kind: 'function', container: 'func' },
  constructor_declaration: { kind: 'constructor', container: 'func' },
  destructor_declaration: { kind: 'method', flags: ['destructor'], container: 'func' },
  operator_declaration: { kind: 'method', flags: ['operator'], container: 'func' },
  conversion_operator_declaration: { kind: 'method', flags: ['operator'], container: 'func' },
  property_declaration: { kind: 'property', container: 'func' },
  indexer_declaration: { kind: 'property', flags: ['indexer'], container: 'func' },
  event_declaration: { kind: 'field', flags: ['event'], container: 'func' },
  enum_member_declaration: { kind: 'enum_member', container: null },
};

const TYPES = [
  ...Object.keys(DEFS),
  'file_scoped_namespace_declaration',
  'field_declaration',
  'event_field_declaration',
  'invocation_expression',
  'object_creation_expression',
  'using_directive',
];

/** Keywords written like calls (`typeof(T)`): never a called name. */
const OPERATOR_KEYWORDS = new Set(['typeof', 'sizeof', 'default', 'checked', 'unchecked', 'stackalloc', 'is', 'as']);
/** Modifiers that become flags. */
const FLAG_MODIFIERS = /\b(partial|static|abstract|async|const)\b/g;
const RE_USING = /(?:global\s+)?using\s+(static\s+)?(?:(@?[\p{L}_][\p{L}\p{N}_]*)\s*=\s*)?([^;]+?)\s*;/uy;
/** The operator's name in its header: `operator +`, `implicit operator int`. */
const RE_OPERATOR = /\boperator\s*([^(\s]+(?:\s+[^(\s]+)?)\s*\(/;

class CSharpFile extends BraceFile<Kind> {
  protected override readonly docMarker = '///';
  protected override readonly flagModifiers = FLAG_MODIFIERS;
  constructor(file: SourceFile) {
    super(file, TYPES, 'ns');
  }

  protected visit(i: number, type: string, start: number, frame: Frame<Kind>): void {
    switch (type) {
      case 'invocation_expression':
        this.call(i, start, frame.qualified);
        break;
      case 'object_creation_expression':
        this.creation(i, frame.qualified);
        break;
      case 'field_declaration':
      case 'event_field_declaration':
        if (frame.kind === 'type') this.fields(i, start, frame.qualified, type === 'event_field_declaration');
        break;
      case 'file_scoped_namespace_declaration':
        this.declaration(i, start, frame.qualified, DEFS.namespace_declaration, Infinity);
        break;
      case 'using_directive':
        this.using(start, frame.qualified);
        break;
      default:
        this.declaration(i, start, frame.qualified, DEFS[type], this.a.end(i));
    }
  }

  /** `end` is the scope's end: Infinity for a file-scoped namespace. */
  private declaration(i: number, start: number, scope: string | null, rule: DefRule, end: number): void {
    const { a, src } = this;
    const type = a.type(i);
    let name: string;
    let at: number;
    const id = this.nameField(i);
    // the header ends at the body, or for properties, indexers and events at their accessors or `=>`
    let body = a.child(i, 'body');
    if (body < 0 && (rule.kind === 'property' || rule.kind === 'field')) {
      body = a.child(i, 'accessors');
      if (body < 0) body = a.child(i, 'value');
    }
    const sigEnd = body >= 0 ? a.start(body) : a.end(i);
    if (id) {
      at = id.at;
      name = type === 'destructor_declaration' ? '~' + id.name : id.name;
    } else if (type === 'indexer_declaration') {
      at = src.indexOf('this', skipAnnotations(src, start));
      name = 'this';
    } else {
      const m = RE_OPERATOR.exec(src.slice(start, sigEnd));
      if (!m) return;
      at = start + m.index;
      name = 'operator ' + m[1];
    }
    let kind = rule.kind;
    const flags = rule.flags ?? null;
    if (type === 'record_declaration' && /\brecord\s+struct\b/.test(src.slice(start, at))) kind = 'struct';
    const q = this.annotatedDef(name, kind, scope, at, start, end, sigEnd, flags);
    if (rule.container) this.scopes.push({ start, end, qualified: q, kind: rule.container });
  }

  /** `int f, g;` and `event EventHandler E;`: one symbol per declarator. */
  private fields(i: number, start: number, scope: string | null, event: boolean): void {
    const { a, src } = this;
    const end = a.end(i);
    for (const v of a.namedChildren(i)) {
      if (a.type(v) !== 'variable_declaration') continue;
      for (const d of a.namedChildren(v)) {
        if (a.type(d) !== 'variable_declarator') continue;
        const at = a.start(d);
        const e = identEnd(src, at);
        if (e === at) continue;
        const isConst = /\bconst\b/.test(src.slice(start, at));
        this.annotatedDef(src.slice(at, e), isConst ? 'constant' : 'field', scope, at, start, end, end, event ? ['event'] : null);
      }
    }
  }

  private call(i: number, start: number, scope: string | null): void {
    let argsAt = this.argumentsAt(i, start);
    if (argsAt < 0) return;
    let c = calleeName(this.src, start, argsAt, '<');
    if (c && OPERATOR_KEYWORDS.has(c.name)) {
      // `typeof (T).GetProperties ()`: the text's first '(' was an operator's; the tree knows the arguments
      const args = this.a.child(i, 'arguments');
      argsAt = args < 0 ? -1 : this.a.start(args);
      c = argsAt < 0 ? null : calleeName(this.src, start, argsAt, '<');
    }
    if (c) this.callRef(c.name, c.at, start, scope);
  }

  /** `new a.Foo<T>(...)` / `new Foo { ... }`: a call of `Foo`, context = the type. */
  private creation(i: number, scope: string | null): void {
    const t = this.a.child(i, 'type');
    if (t < 0) return;
    const ts = this.a.start(t);
    const c = calleeName(this.src, ts, this.a.end(t), '<');
    if (c) this.callRef(c.name, c.at, ts, scope);
  }

  private using(start: number, scope: string | null): void {
    RE_USING.lastIndex = start;
    const m = RE_USING.exec(this.src);
    if (!m) return;
    const path = m[3].replace(/\s+/g, '');
    const at = RE_USING.lastIndex - m[0].length + m[0].lastIndexOf(m[3]);
    const flags = m[1] ? ['static'] : null;
    if (!m[2]) {
      this.sink.ref('import', path, at, scope, path, path, flags);
      return;
    }
    const plain = path.replace(/<.*$/, '');
    const dot = plain.lastIndexOf('.');
    const name = plain.slice(dot + 1);
    this.sink.ref('import', name, at + m[3].lastIndexOf(name, m[3].indexOf('<') >= 0 ? m[3].indexOf('<') : m[3].length), scope, `${m[2]} = ${path}`, dot > 0 ? plain.slice(0, dot) : plain, flags);
  }
}

/** A slice in a list pattern that tree-sitter-c-sharp 0.23.1 rejects: first (`[.., 2]`) or with a subpattern (`.. var r`). */
const SLICE_PATTERN = /\[\s*\.\.\s*,|,\s*\.\.\s*(?:var\s+)?[\p{L}_][\p{L}\p{N}_]*\s*\]/u;

export const csharpGaps: readonly GrammarGap[] = [
  {
    name: 'slice patterns first or with a subpattern in list patterns (C# 11: `is [.., 2]`, `is [1, .. var rest]`)',
    // judged on the error's line (`wide`: and the two around it), capped
    test: (src, start, _end, wide) => {
      let from = src.lastIndexOf('\n', start - 1) + 1;
      let to = src.indexOf('\n', start);
      if (wide) {
        from = src.lastIndexOf('\n', from - 2) + 1;
        to = to < 0 ? to : src.indexOf('\n', to + 1);
      }
      return SLICE_PATTERN.test(src.slice(Math.max(from, start - 1000), Math.min(to < 0 ? src.length : to, start + 1000)));
    },
  },
];

export const csharp: LanguagePlugin = {
  sep: '.',
  extract: (file) => new CSharpFile(file).run(),
};
