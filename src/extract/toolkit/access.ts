/**
 * Node access by integer handle, for extractors that read many nodes.
 *
 * The public node-tree-sitter API makes a JS wrapper object for every node it returns, and each property read is a
 * call into the binding. Here the listing of `descendantsOfType` is read as numbers straight from the binding's
 * transfer buffer, and a wrapper is made only when an extractor asks for one. The layout is checked against the
 * public API on every tree; when it does not hold (another binding version) the public API is used instead.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type Parser from 'tree-sitter';

type SyntaxNode = Parser.SyntaxNode;

export interface Access {
  /** Handles 0..count-1 are the listed nodes, in pre-order. */
  count: number;
  /** Named type, or null for an anonymous token. */
  type(h: number): string | null;
  start(h: number): number;
  row(h: number): number;
  col(h: number): number;
  end(h: number): number;
  /** A field's child, or -1. */
  child(h: number, field: string): number;
  parent(h: number): number;
  namedChildren(h: number): number[];
  lastNamedChild(h: number): number;
  /** The root's named children (the module-level statements). */
  rootChildren(): number[];
  /** A SyntaxNode for the public API. */
  node(h: number): SyntaxNode;
}

/** Numeric transfer fields of a node wrapper: [id, id, startByte, startRow, startColumnByte, alias] (UTF-16). */
type Raw = { [i: number]: number };

type NativeFn = (tree: unknown, ...args: unknown[]) => unknown;
interface NativeBinding {
  NodeMethods: Record<
    'descendantsOfType' | 'childForFieldId' | 'parent' | 'namedChildren' | 'lastNamedChild' | 'endIndex',
    NativeFn
  >;
  getNodeFieldNamesById: (language: unknown) => unknown;
  nodeTransferArray: Uint32Array;
  Tree: abstract new (...args: never[]) => unknown;
}
type NodeClass = new (tree: unknown) => SyntaxNode;
interface LanguageWithClasses {
  nodeSubclasses?: NodeClass[];
}

const NATIVE_METHODS = [
  'descendantsOfType',
  'childForFieldId',
  'parent',
  'namedChildren',
  'lastNamedChild',
  'endIndex',
] as const;

const localRequire = createRequire(import.meta.url);
let nativeBinding: NativeBinding | null | undefined;
let directEnabled = true;

/**
 * Turns handle access through the binding's transfer buffer on or off (on by default; it falls back to the public
 * API by itself when the binding is not the expected one). For tests and benchmarks that compare both paths.
 */
export function setDirectAccess(enabled: boolean): void {
  directEnabled = enabled;
}

/** The native addon behind the `tree-sitter` package, if it is the very instance `tree` belongs to. */
function bindingFor(tree: object): NativeBinding | null {
  if (nativeBinding === undefined) {
    nativeBinding = null;
    try {
      const pkg = localRequire.resolve('tree-sitter/package.json');
      const b = (createRequire(pkg)('node-gyp-build') as (dir: string) => NativeBinding)(dirname(pkg));
      const m = b?.NodeMethods;
      if (
        m &&
        NATIVE_METHODS.every((k) => typeof m[k] === 'function') &&
        typeof b.getNodeFieldNamesById === 'function' &&
        b.nodeTransferArray instanceof Uint32Array &&
        typeof b.Tree === 'function'
      ) {
        nativeBinding = b;
      }
    } catch {
      nativeBinding = null;
    }
  }
  return nativeBinding && tree instanceof nativeBinding.Tree ? nativeBinding : null;
}

const typeTables = new WeakMap<object, (string | null)[]>();
const fieldTables = new WeakMap<object, Map<string, number>>();

/** Field name -> field id for a language. */
function fieldTable(binding: NativeBinding, language: object): Map<string, number> | null {
  let table = fieldTables.get(language);
  if (!table) {
    const names = binding.getNodeFieldNamesById(language);
    if (!Array.isArray(names)) return null;
    table = new Map();
    names.forEach((name, id) => {
      if (typeof name === 'string') table!.set(name, id);
    });
    fieldTables.set(language, table);
  }
  return table;
}

// Scratch arrays reused across files (extraction is synchronous, and they only grow).
let scratchFields = new Uint32Array(4096 * 6);
let scratchTypeIds = new Int32Array(4096);
let scratchEnds = new Int32Array(4096);

/** Named type per type id (null for anonymous tokens), from the wrapper classes the binding made per language. */
function typeTable(language: LanguageWithClasses): (string | null)[] | null {
  const classes = language.nodeSubclasses;
  if (!Array.isArray(classes)) return null;
  let table = typeTables.get(language);
  if (!table) {
    table = classes.map((C) => {
      const d = C ? Object.getOwnPropertyDescriptor(C.prototype, 'type') : undefined;
      return d && typeof d.value === 'string' ? d.value : null;
    });
    typeTables.set(language, table);
  }
  return table;
}

/**
 * Handles over the binding's transfer buffer: the listing and every lookup are read as numbers, and a wrapper
 * object is made only when the public API needs one. Null when the binding or its layout is not as expected.
 */
function directAccess(root: SyntaxNode, types: string[]): Access | null {
  const tree = root.tree as unknown as { language?: LanguageWithClasses };
  const binding = bindingFor(tree);
  const language = tree.language;
  if (!binding || !language) return null;
  const names = typeTable(language);
  const classes = language.nodeSubclasses;
  if (!names || !classes) return null;
  const named = classes.find((_, id) => names[id] !== null);
  if (!named) return null;
  const base = Object.getPrototypeOf(named) as NodeClass;
  const M = binding.NodeMethods;
  const fieldIds = fieldTable(binding, language);
  if (!fieldIds) return null;

  let fields = scratchFields;
  let typeIds = scratchTypeIds;
  let ends = scratchEnds; // end offsets asked so far, -1 if not yet
  let cap = typeIds.length;
  const types_: (string | null)[] = [];
  const objects: (SyntaxNode | undefined)[] = [];
  let size = 0;
  const grow = (need: number): void => {
    if (need <= cap) return;
    while (cap < need) cap *= 2;
    const f = new Uint32Array(cap * 6);
    f.set(fields);
    fields = scratchFields = f;
    const t = new Int32Array(cap);
    t.set(typeIds);
    typeIds = scratchTypeIds = t;
    const e = new Int32Array(cap);
    e.set(ends);
    ends = scratchEnds = e;
  };
  const marshal = (h: number): void => {
    const t = binding.nodeTransferArray;
    const o = h * 6;
    t[0] = fields[o];
    t[1] = fields[o + 1];
    t[2] = fields[o + 2];
    t[3] = fields[o + 3];
    t[4] = fields[o + 4];
    t[5] = fields[o + 5];
  };
  /** Appends the nodes of a native result: type ids with fields at k*6 in the buffer, or cached wrappers. */
  const addAll = (out: unknown, into: number[] | null): number => {
    if (!Array.isArray(out)) return -1;
    const buf = binding.nodeTransferArray;
    grow(size + out.length);
    let off = 0;
    let first = -1;
    for (const v of out) {
      const h = size;
      const o = h * 6;
      if (typeof v === 'number') {
        for (let k = 0; k < 6; k++) fields[o + k] = buf[off + k];
        off += 6;
        typeIds[h] = v;
        ends[h] = -1;
        types_[h] = names[v] ?? (v === 0xffff ? 'ERROR' : null);
      } else if (v && typeof v === 'object') {
        const n = v as SyntaxNode;
        const r = v as unknown as Raw;
        for (let k = 0; k < 6; k++) fields[o + k] = r[k];
        typeIds[h] = -1;
        ends[h] = -1;
        objects[h] = n;
        types_[h] = n.isNamed ? n.type : null;
      } else continue;
      size++;
      if (first < 0) first = h;
      into?.push(h);
    }
    return first;
  };
  /** Appends the single node of a native result (fields at 0 in the buffer, or a cached wrapper), or -1. */
  const one = (v: unknown): number => {
    const h = size;
    const o = h * 6;
    if (typeof v === 'number') {
      const buf = binding.nodeTransferArray;
      if (buf[0] === 0 && buf[1] === 0) return -1;
      grow(h + 1);
      for (let k = 0; k < 6; k++) fields[o + k] = buf[k];
      typeIds[h] = v;
      ends[h] = -1;
      types_[h] = names[v] ?? (v === 0xffff ? 'ERROR' : null);
    } else if (v && typeof v === 'object') {
      grow(h + 1);
      const r = v as Raw;
      for (let k = 0; k < 6; k++) fields[o + k] = r[k];
      typeIds[h] = -1;
      ends[h] = -1;
      objects[h] = v as SyntaxNode;
      types_[h] = (v as SyntaxNode).isNamed ? (v as SyntaxNode).type : null;
    } else return -1;
    size++;
    return h;
  };

  const rootRaw = root as unknown as Raw;
  const t0 = binding.nodeTransferArray;
  for (let k = 0; k < 6; k++) t0[k] = rootRaw[k];
  const out = M.descendantsOfType(tree, types);
  if (!Array.isArray(out)) return null;
  const n = out.length;
  let fresh = true; // the usual case: no listed node has a wrapper yet, so all fields are in the buffer
  for (let i = 0; i < n; i++) {
    if (typeof out[i] !== 'number') {
      fresh = false;
      break;
    }
  }
  if (fresh && binding.nodeTransferArray.length >= n * 6) {
    grow(n + 64);
    fields.set(binding.nodeTransferArray.subarray(0, n * 6));
    for (let h = 0; h < n; h++) {
      const v = out[h] as number;
      typeIds[h] = v;
      types_[h] = names[v] ?? (v === 0xffff ? 'ERROR' : null);
    }
    ends.fill(-1, 0, n);
    size = n;
  } else {
    addAll(out, null);
  }
  if (size !== n) return null;
  const count = size;

  const access: Access = {
    count,
    type: (h) => types_[h],
    start: (h) => fields[h * 6 + 2] >>> 1,
    row: (h) => fields[h * 6 + 3],
    col: (h) => fields[h * 6 + 4] >>> 1,
    end: (h) => {
      let e = ends[h];
      if (e < 0) {
        marshal(h);
        e = ends[h] = M.endIndex(tree) as number;
      }
      return e;
    },
    child: (h, field) => {
      const id = fieldIds.get(field);
      if (id === undefined) return -1;
      marshal(h);
      return one(M.childForFieldId(tree, id));
    },
    parent: (h) => (marshal(h), one(M.parent(tree))),
    namedChildren: (h) => {
      marshal(h);
      const list: number[] = [];
      addAll(M.namedChildren(tree), list);
      return list;
    },
    lastNamedChild: (h) => (marshal(h), one(M.lastNamedChild(tree))),
    rootChildren: () => {
      const t = binding.nodeTransferArray;
      for (let k = 0; k < 6; k++) t[k] = rootRaw[k];
      const list: number[] = [];
      addAll(M.namedChildren(tree), list);
      return list;
    },
    node: (h) => {
      let n = objects[h];
      if (n) return n;
      n = new (classes[typeIds[h]] ?? base)(tree);
      const r = n as unknown as Raw;
      const o = h * 6;
      for (let k = 0; k < 6; k++) r[k] = fields[o + k];
      objects[h] = n;
      return n;
    },
  };
  // The layout is what this code assumes only if a wrapper built from it answers like the handles say.
  if (count > 0) {
    const h = count - 1;
    const probe = access.node(h);
    const p = probe.startPosition;
    if (
      probe.startIndex !== access.start(h) ||
      p.row !== access.row(h) ||
      p.column !== access.col(h) ||
      probe.endIndex !== access.end(h) ||
      (access.type(h) !== null && probe.type !== access.type(h))
    ) {
      return null;
    }
  }
  return access;
}

/** Handles over SyntaxNode objects, through the public API only (the fallback, and the reference in tests). */
export function publicAccess(root: SyntaxNode, types: string[]): Access {
  const nodes: SyntaxNode[] = root.descendantsOfType(types);
  const count = nodes.length;
  const add = (n: SyntaxNode | null): number => {
    if (!n) return -1;
    nodes.push(n);
    return nodes.length - 1;
  };
  return {
    count,
    type: (h) => (nodes[h].isNamed ? nodes[h].type : null),
    start: (h) => nodes[h].startIndex,
    row: (h) => nodes[h].startPosition.row,
    col: (h) => nodes[h].startPosition.column,
    end: (h) => nodes[h].endIndex,
    child: (h, field) => add(nodes[h].childForFieldName(field)),
    parent: (h) => add(nodes[h].parent),
    namedChildren: (h) => nodes[h].namedChildren.map((c) => add(c)),
    lastNamedChild: (h) => add(nodes[h].lastNamedChild),
    rootChildren: () => root.namedChildren.map((c) => add(c)),
    node: (h) => nodes[h],
  };
}

/** How many listings each path served since the last reset: tests assert that the fast path really ran. */
const served = { direct: 0, public: 0 };

export function accessStats(): Readonly<typeof served> {
  return { ...served };
}

export function resetAccessStats(): void {
  served.direct = 0;
  served.public = 0;
}

export function accessFor(root: SyntaxNode, types: string[]): Access {
  if (directEnabled) {
    try {
      const direct = directAccess(root, types);
      if (direct) {
        served.direct++;
        return direct;
      }
    } catch {
      // fall back to the public API
    }
  }
  served.public++;
  return publicAccess(root, types);
}
