/**
 * Java (tree-sitter-java 0.23): the package, classes, interfaces, enums (constants with bodies included), records,
 * annotation types, methods, constructors, fields and constants; calls, `new` and imports.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`); names come from the `name` field, headers
 * and docs from the text, scopes from a range stack.
 *
 * Conventions (pinned by the golden fixtures in fixtures/extract/java/):
 * - scope separator '.'; top-level types are unscoped (the package is a `namespace` symbol, not a scope); members
 *   and nested types are scoped to their type (`Outer.Inner.m`), the methods of an enum constant's body to the
 *   constant (`Op.PLUS.apply`); record components are fields of the record;
 * - kinds: record = `class` flagged `record`, annotation type = `interface` flagged `annotation`, annotation element
 *   = `method`, enum constant = `enum_member`, interface constant = `constant`;
 * - a definition's range starts at its Javadoc (the `/** … *\/` above it), else at its first annotation or modifier;
 *   its signature is the header without annotations and body;
 * - call refs sit at the method name (`foo` in `a.b().<T>foo(`); `new a.Foo<>()` is a call ref at `Foo`;
 * - `import a.b.C;` is an import ref `C` with module `a.b`; `import a.b.*;` is `*`; `import static a.B.m;` is `m`
 *   from `a.B`, flagged `static`.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  BraceFile,
  calleeName,
  identEnd,
  signature,
  skipAnnotations,
  skipBlanks,
  type Frame,
  type LanguagePlugin,
  type SourceFile,
} from '../toolkit/index.js';

const TYPES = [
  'package_declaration',
  'import_declaration',
  'class_declaration',
  'interface_declaration',
  'enum_declaration',
  'record_declaration',
  'annotation_type_declaration',
  'method_declaration',
  'constructor_declaration',
  'compact_constructor_declaration',
  'annotation_type_element_declaration',
  'enum_constant',
  'field_declaration',
  'constant_declaration',
  'method_invocation',
  'object_creation_expression',
];

type Kind = 'file' | 'type' | 'func';

/** Definition node type -> kind and flags. */
const DEFS: Record<string, { kind: SymbolKind; flags: string[] | null; container: Kind | null }> = {
  class_declaration: { kind: 'class', flags: null, container: 'type' },
  interface_declaration: { kind: 'interface', flags: null, container: 'type' },
  enum_declaration: { kind: 'enum', flags: null, container: 'type' },
  record_declaration: { kind: 'class', flags: ['record'], container: 'type' },
  annotation_type_declaration: { kind: 'interface', flags: ['annotation'], container: 'type' },
  method_declaration: { kind: 'method', flags: null, container: 'func' },
  constructor_declaration: { kind: 'constructor', flags: null, container: 'func' },
  compact_constructor_declaration: { kind: 'constructor', flags: null, container: 'func' },
  annotation_type_element_declaration: { kind: 'method', flags: null, container: null },
};

const RE_IMPORT = /import\s+(static\s+)?([^;]*?)\s*;/y;

class JavaFile extends BraceFile<Kind> {
  constructor(file: SourceFile) {
    super(file, TYPES, 'file');
  }

  protected visit(i: number, type: string, start: number, frame: Frame<Kind>): void {
    switch (type) {
      case 'method_invocation':
        this.call(i, start, frame.qualified);
        break;
      case 'object_creation_expression':
        this.creation(i, start, frame.qualified);
        break;
      case 'field_declaration':
      case 'constant_declaration':
        if (frame.kind === 'type') this.fields(i, start, frame.qualified, type === 'constant_declaration' ? 'constant' : 'field');
        break;
      case 'enum_constant':
        this.enumConstant(i, start, frame.qualified);
        break;
      case 'import_declaration':
        this.importDeclaration(start);
        break;
      case 'package_declaration':
        this.packageDeclaration(i, start);
        break;
      default: {
        const d = DEFS[type];
        const q = d ? this.scopedDef(i, start, frame.qualified, d.kind, d.flags, d.container) : null;
        if (q !== null && type === 'record_declaration') this.recordComponents(i, q);
      }
    }
  }

  /** `record P(int x, @A String y)`: each component is a field of the record. */
  private recordComponents(i: number, scope: string): void {
    const { a } = this;
    const params = a.child(i, 'parameters');
    if (params < 0) return;
    for (const p of a.namedChildren(params)) {
      if (a.type(p) !== 'formal_parameter') continue;
      const id = this.nameField(p);
      if (id) this.sink.def({ name: id.name, kind: 'field', scope, nameAt: id.at, start: a.start(p), end: a.end(p), signature: signature(this.src, skipAnnotations(this.src, a.start(p)), a.end(p)), doc: null, flags: ['record component'] });
    }
  }

  /** `int x, y = 2;`: one symbol per declarator, each with the whole declaration's range. */
  private fields(i: number, start: number, scope: string | null, kind: SymbolKind): void {
    const { a, src } = this;
    const end = a.end(i);
    for (const d of a.namedChildren(i)) {
      if (a.type(d) !== 'variable_declarator') continue;
      const at = a.start(d);
      const e = identEnd(src, at);
      if (e > at) this.annotatedDef(src.slice(at, e), kind, scope, at, start, end, end, null);
    }
  }

  private enumConstant(i: number, start: number, scope: string | null): void {
    const { a, src } = this;
    const at = skipAnnotations(src, start);
    const e = identEnd(src, at);
    if (e === at) return;
    const end = a.end(i);
    const body = a.child(i, 'body');
    const q = this.annotatedDef(src.slice(at, e), 'enum_member', scope, at, start, end, body >= 0 ? a.start(body) : end, null);
    if (body >= 0) this.scopes.push({ start, end, qualified: q, kind: 'type' });
  }

  private call(i: number, start: number, scope: string | null): void {
    const id = this.nameField(i);
    if (id) this.callRef(id.name, id.at, start, scope);
  }

  /** `new a.Foo<T>(...)`: a call of `Foo`, context without `new`. */
  private creation(i: number, start: number, scope: string | null): void {
    const { a, src } = this;
    const args = a.child(i, 'arguments');
    if (args < 0) return;
    const c = calleeName(src, start, a.start(args), '<');
    if (!c) return;
    const from = src.startsWith('new', start) ? skipBlanks(src, start + 3) : start;
    this.callRef(c.name, c.at, from, scope);
  }

  private importDeclaration(start: number): void {
    const { src } = this;
    RE_IMPORT.lastIndex = start;
    const m = RE_IMPORT.exec(src);
    if (!m) return;
    const path = m[2].replace(/\s+/g, '');
    const dot = path.lastIndexOf('.');
    const name = path.slice(dot + 1);
    if (!name) return;
    const at = start + m[0].lastIndexOf(name);
    this.sink.ref('import', name, at, null, path, dot > 0 ? path.slice(0, dot) : path, m[1] ? ['static'] : null);
  }

  private packageDeclaration(i: number, start: number): void {
    const { src } = this;
    const kw = src.indexOf('package', skipAnnotations(src, start));
    if (kw < 0) return;
    const at = skipBlanks(src, kw + 7);
    const end = this.a.end(i);
    const semi = src.indexOf(';', at);
    const name = src.slice(at, semi < 0 || semi > end ? end : semi).replace(/\s+/g, '');
    if (name) this.annotatedDef(name, 'namespace', null, at, start, end, end, null);
  }
}

export const java: LanguagePlugin = {
  sep: '.',
  extract: (file) => new JavaFile(file).run(),
};
