/**
 * A deterministic multi-language corpus for `mcp-index bench` when no tree is given: Python, JavaScript, TypeScript
 * and Rust modules with the shapes real code has (imports, classes with methods and docstrings, free functions,
 * calls across modules, enums, traits, interfaces), file sizes spread log-normally. Same seed, same bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Prng } from './prng.js';

export type CorpusLanguage = 'python' | 'javascript' | 'typescript' | 'rust';

export interface CorpusOptions {
  /** Number of files; with `mb` alone it follows from the average file size. */
  files?: number;
  /** Total size in MB (10^6 bytes); with `files` alone each file has its natural size. */
  mb?: number;
  seed?: number;
}

export interface CorpusStats {
  files: number;
  bytes: number;
  byLanguage: Record<CorpusLanguage, { files: number; bytes: number }>;
  seed: number;
}

/** Median size of a generated file; real modules range from a few hundred bytes to tens of KB. */
export const MEDIAN_FILE_BYTES = 6000;
const SIZE_SIGMA = 0.8;
/** exp(sigma^2 / 2): mean / median of the log-normal. */
const MEAN_OVER_MEDIAN = Math.exp((SIZE_SIGMA * SIZE_SIGMA) / 2);

const WORDS = [
  'account', 'address', 'agent', 'alias', 'batch', 'binding', 'block', 'buffer', 'cache', 'channel', 'chunk', 'client',
  'column', 'config', 'context', 'cursor', 'digest', 'document', 'entry', 'event', 'field', 'filter', 'frame', 'graph',
  'handle', 'header', 'index', 'input', 'item', 'job', 'key', 'layer', 'ledger', 'limit', 'link', 'loader', 'lock',
  'message', 'metric', 'mode', 'node', 'offset', 'option', 'order', 'owner', 'packet', 'page', 'parser', 'path',
  'payload', 'peer', 'policy', 'pool', 'port', 'queue', 'range', 'reader', 'record', 'region', 'report', 'request',
  'resource', 'result', 'route', 'row', 'rule', 'schema', 'scope', 'segment', 'session', 'shard', 'signal', 'slot',
  'source', 'span', 'state', 'store', 'stream', 'table', 'task', 'tenant', 'token', 'topic', 'trace', 'user', 'value',
  'vector', 'version', 'view', 'window', 'worker', 'writer', 'zone',
];
const VERBS = [
  'apply', 'build', 'check', 'collect', 'compute', 'convert', 'create', 'decode', 'delete', 'encode', 'ensure', 'fetch',
  'find', 'flush', 'format', 'handle', 'insert', 'load', 'lookup', 'merge', 'normalize', 'open', 'parse', 'prepare',
  'process', 'publish', 'read', 'refresh', 'register', 'release', 'remove', 'render', 'reset', 'resolve', 'scan',
  'select', 'send', 'split', 'store', 'sync', 'update', 'validate', 'visit', 'write',
];
const ADJ = ['active', 'cached', 'default', 'dirty', 'empty', 'global', 'local', 'max', 'min', 'pending', 'primary', 'raw', 'remote', 'shared', 'total'];
const SUFFIX = ['Manager', 'Service', 'Handler', 'Store', 'Builder', 'Client', 'Registry', 'Index', 'Tracker', 'Resolver', 'Worker', 'Adapter'];

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

class Namer {
  constructor(private readonly r: Prng) {}
  word(): string {
    return this.r.pick(WORDS);
  }
  snake(parts = 2): string {
    const out = [this.r.pick(VERBS)];
    for (let i = 1; i < parts; i++) out.push(this.r.chance(0.3) ? this.r.pick(ADJ) : this.word());
    return out.join('_');
  }
  camel(parts = 2): string {
    const [h, ...t] = this.snake(parts).split('_');
    return h + t.map(cap).join('');
  }
  type(): string {
    return cap(this.word()) + this.r.pick(SUFFIX);
  }
  plainType(): string {
    return cap(this.word()) + cap(this.word());
  }
  variable(): string {
    return this.r.chance(0.4) ? `${this.r.pick(ADJ)}_${this.word()}` : this.word();
  }
  sentence(): string {
    const n = this.r.int(5, 12);
    const w = Array.from({ length: n }, () => (this.r.chance(0.3) ? this.r.pick(VERBS) : this.r.chance(0.2) ? this.r.pick(ADJ) : this.word()));
    return cap(w.join(' ')) + '.';
  }
}

/** What a module exports, so later modules can import and call it. */
interface Exported {
  module: string;
  functions: string[];
  types: string[];
}

interface Generator {
  ext: string;
  /** Returns the file text, at least about `target` bytes. */
  file(r: Prng, n: Namer, target: number, module: string, deps: Exported[], out: Exported): string;
}

// ---------------------------------------------------------------------------------------------------- Python

function pyBody(r: Prng, n: Namer, indent: string, callees: string[], self: boolean): string[] {
  const lines: string[] = [];
  const v = n.variable();
  const stmts = r.int(2, 7);
  for (let s = 0; s < stmts; s++) {
    const callee = callees.length && r.chance(0.6) ? r.pick(callees) : n.snake();
    switch (r.int(0, 6)) {
      case 0:
        lines.push(`${indent}${v} = ${callee}(${n.word()}, ${r.int(0, 99)})`);
        break;
      case 1:
        lines.push(`${indent}for ${n.word()}_item in ${self ? 'self.' : ''}${n.word()}s:`, `${indent}    if ${n.word()}_item is None:`, `${indent}        continue`, `${indent}    ${callee}(${n.word()}_item)`);
        break;
      case 2:
        lines.push(`${indent}if not ${v}:`, `${indent}    raise ValueError(f"missing ${n.word()}: {${v}!r}")`);
        break;
      case 3:
        lines.push(`${indent}try:`, `${indent}    ${v} = ${callee}(${v})`, `${indent}except (KeyError, TypeError) as exc:`, `${indent}    logger.warning("${n.sentence()} %s", exc)`);
        break;
      case 4:
        lines.push(`${indent}${v} = [${n.word()}.${n.snake()}() for ${n.word()} in ${callee}(${r.int(1, 9)}) if ${n.word()}]`);
        break;
      case 5:
        lines.push(`${indent}with open(os.path.join(${JSON.stringify(n.word())}, ${JSON.stringify(n.word() + '.json')})) as fh:`, `${indent}    ${v} = json.load(fh)`);
        break;
      default:
        lines.push(`${indent}${self ? 'self.' : ''}${n.word()}_count += len(${callee}(${v}))`);
    }
  }
  lines.push(`${indent}return ${r.chance(0.5) ? v : `{${JSON.stringify(n.word())}: ${v}, ${JSON.stringify(n.word())}: ${r.int(0, 9)}}`}`);
  return lines;
}

const python: Generator = {
  ext: '.py',
  file(r, n, target, module, deps, out) {
    const parts: string[] = [`"""${n.sentence()}\n\n${n.sentence()} ${n.sentence()}\n"""`, 'import functools', 'import json', 'import logging', 'import os'];
    if (r.chance(0.5)) parts.push('from dataclasses import dataclass, field');
    parts.push('from typing import Any, Dict, List, Optional');
    const callees: string[] = [];
    for (const d of deps) {
      const fns = d.functions.slice(0, 3);
      if (!fns.length) continue;
      parts.push(`from ${d.module.replace(/\//g, '.')} import ${fns.join(', ')}`);
      callees.push(...fns);
    }
    parts.push('', 'logger = logging.getLogger(__name__)', `${n.word().toUpperCase()}_${n.word().toUpperCase()} = ${r.int(1, 4096)}`, '', '');
    let size = parts.join('\n').length;
    while (size < target) {
      const chunk: string[] = [];
      if (r.chance(0.55)) {
        const cls = n.type();
        out.types.push(cls);
        const base = r.chance(0.3) ? n.type() : 'object';
        if (r.chance(0.2)) chunk.push('@dataclass');
        chunk.push(`class ${cls}(${base}):`, `    """${n.sentence()}`, '', `    ${n.sentence()}`, '    """', '', `    ${n.word().toUpperCase()}_LIMIT = ${r.int(1, 999)}`, '');
        chunk.push(`    def __init__(self, ${n.word()}: str, ${n.word()}s: Optional[List[Any]] = None) -> None:`, `        self.${n.word()} = ${n.word()}`, `        self.${n.word()}s = list(${n.word()}s or [])`, `        self.${n.word()}_count = 0`, '');
        const methods = r.int(2, 7);
        const mine: string[] = [];
        for (let m = 0; m < methods; m++) {
          const name = n.snake();
          if (r.chance(0.15)) chunk.push('    @property');
          else if (r.chance(0.1)) chunk.push('    @staticmethod');
          chunk.push(`    def ${name}(self, ${n.word()}, ${n.word()}=None):`);
          if (r.chance(0.7)) chunk.push(`        """${n.sentence()}"""`);
          chunk.push(...pyBody(r, n, '        ', [...callees, ...mine.map((x) => `self.${x}`)], true), '');
          mine.push(name);
        }
        chunk.push('');
      } else {
        const name = n.snake(r.int(2, 3));
        out.functions.push(name);
        if (r.chance(0.15)) chunk.push('@functools.lru_cache(maxsize=None)');
        chunk.push(`def ${name}(${n.word()}, ${n.word()}: int = ${r.int(0, 64)}, *args, **kwargs) -> Dict[str, Any]:`);
        if (r.chance(0.7)) chunk.push(`    """${n.sentence()}`, '', `    ${n.sentence()}`, '    """');
        chunk.push(...pyBody(r, n, '    ', callees, false), '', '');
        callees.push(name);
      }
      const text = chunk.join('\n');
      parts.push(text);
      size += text.length + 1;
    }
    if (r.chance(0.3)) parts.push("if __name__ == '__main__':", `    ${callees.length ? r.pick(callees) : 'print'}(os.environ.get(${JSON.stringify(n.word().toUpperCase())}))`, '');
    return parts.join('\n');
  },
};

// ------------------------------------------------------------------------------------------ JavaScript / TypeScript

function jsBody(r: Prng, n: Namer, indent: string, callees: string[], ts: boolean, self: boolean): string[] {
  const lines: string[] = [];
  const v = n.camel(2);
  lines.push(`${indent}${r.chance(0.5) ? 'const' : 'let'} ${v}${ts ? `: ${r.pick(['number', 'string', 'unknown', 'boolean'])}` : ''} = ${r.chance(0.5) ? r.int(0, 99) : JSON.stringify(n.word())};`);
  const stmts = r.int(2, 7);
  for (let s = 0; s < stmts; s++) {
    const callee = callees.length && r.chance(0.6) ? r.pick(callees) : n.camel();
    switch (r.int(0, 6)) {
      case 0:
        lines.push(`${indent}const ${n.camel(1)}${s} = ${callee}(${v}, ${r.int(0, 99)});`);
        break;
      case 1:
        lines.push(`${indent}for (const ${n.word()} of ${self ? 'this.' : ''}${n.word()}s) {`, `${indent}  if (!${n.word()}) continue;`, `${indent}  ${callee}(${n.word()});`, `${indent}}`);
        break;
      case 2:
        lines.push(`${indent}if (${v} == null) {`, `${indent}  throw new Error(\`missing ${n.word()}: \${${v}}\`);`, `${indent}}`);
        break;
      case 3:
        lines.push(`${indent}try {`, `${indent}  await ${callee}(${v});`, `${indent}} catch (err) {`, `${indent}  console.warn('${n.sentence()}', err);`, `${indent}}`);
        break;
      case 4:
        lines.push(`${indent}const ${n.word()}List = ${self ? 'this.' : ''}${n.word()}s.filter((x) => x.${n.camel(1)}).map((x) => ${callee}(x));`);
        break;
      case 5:
        lines.push(`${indent}const { ${n.word()}, ${n.word()}Id } = JSON.parse(await readFile(join(${JSON.stringify(n.word())}, ${JSON.stringify(n.word() + '.json')}), 'utf8'));`);
        break;
      default:
        lines.push(`${indent}${self ? 'this.' : ''}${n.word()}Count += ${callee}(${v}).length;`);
    }
  }
  lines.push(`${indent}return ${r.chance(0.5) ? v : `{ ${n.word()}: ${v}, ${n.word()}: ${r.int(0, 9)} }`};`);
  return lines;
}

function jsFamily(ts: boolean): Generator {
  const p = (name: string, type: string) => (ts ? `${name}: ${type}` : name);
  return {
    ext: ts ? '.ts' : '.js',
    file(r, n, target, module, deps, out) {
      const parts: string[] = [`/**\n * ${n.sentence()}\n * ${n.sentence()}\n */`, "import { readFile } from 'node:fs/promises';", "import { join } from 'node:path';"];
      const callees: string[] = [];
      for (const d of deps) {
        const fns = d.functions.slice(0, 3);
        if (!fns.length) continue;
        parts.push(`import { ${fns.join(', ')} } from '${relImport(module, d.module)}${ts ? '.js' : '.js'}';`);
        callees.push(...fns);
      }
      parts.push('', `export const ${n.word().toUpperCase()}_${n.word().toUpperCase()} = ${r.int(1, 4096)};`, '');
      let size = parts.join('\n').length;
      while (size < target) {
        const chunk: string[] = [];
        const roll = r.next();
        if (ts && roll < 0.15) {
          const iface = n.plainType();
          out.types.push(iface);
          chunk.push(`/** ${n.sentence()} */`, `export interface ${iface} {`);
          for (let f = r.int(2, 6); f > 0; f--) chunk.push(`  ${n.camel(1)}${r.chance(0.3) ? '?' : ''}: ${r.pick(['string', 'number', 'boolean', 'string[]', `Record<string, number>`, 'Date | null'])};`);
          chunk.push('}', '');
          if (r.chance(0.4)) chunk.push(`export type ${n.plainType()} = ${iface} | ${r.pick(['null', 'undefined', 'string'])};`, '');
          if (r.chance(0.3)) chunk.push(`export enum ${n.plainType()} {`, ...Array.from({ length: r.int(2, 5) }, (_, i) => `  ${cap(n.word())}${i} = ${i},`), '}', '');
        } else if (roll < 0.55) {
          const cls = n.type();
          out.types.push(cls);
          chunk.push(`/**\n * ${n.sentence()}\n */`, `export class ${cls}${r.chance(0.3) ? ` extends ${n.type()}` : ''} {`);
          if (ts) chunk.push(`  private ${n.word()}Count = 0;`, `  readonly ${n.word()}s: string[] = [];`, '');
          chunk.push(`  constructor(${p(n.word(), 'string')}, ${p('options', 'Record<string, unknown>')} = {}) {`, `    ${ts ? '' : 'this.' + n.word() + 'Count = 0;\n    '}this.options = options;`, '  }', '');
          const mine: string[] = [];
          for (let m = r.int(2, 7); m > 0; m--) {
            const name = n.camel();
            if (r.chance(0.6)) chunk.push(`  /** ${n.sentence()} */`);
            const prefix = r.chance(0.1) ? 'static ' : r.chance(0.3) ? 'async ' : r.chance(0.1) ? 'get ' : '';
            const params = prefix === 'get ' ? '' : `${p(n.word(), 'string')}, ${p(n.word(), 'number')}`;
            chunk.push(`  ${ts && r.chance(0.2) ? 'private ' : ''}${prefix}${name}(${params})${ts ? `: ${prefix === 'async ' ? 'Promise<unknown>' : 'unknown'}` : ''} {`);
            chunk.push(...jsBody(r, n, '    ', [...callees, ...mine.map((x) => `this.${x}`)], ts, true).map((l) => (prefix === 'async ' ? l : l.replace('await ', ''))), '  }', '');
            if (prefix !== 'get ' && prefix !== 'static ') mine.push(name);
          }
          chunk.push('}', '');
        } else {
          const name = n.camel(r.int(2, 3));
          out.functions.push(name);
          if (r.chance(0.6)) chunk.push(`/**\n * ${n.sentence()}\n * @param ${n.word()} ${n.sentence()}\n */`);
          if (r.chance(0.25)) {
            chunk.push(`export const ${name} = async (${p(n.word(), 'string')}, ${p(n.word(), 'number')} = ${r.int(0, 64)})${ts ? ': Promise<unknown>' : ''} => {`);
            chunk.push(...jsBody(r, n, '  ', callees, ts, false), '};', '');
          } else {
            chunk.push(`export async function ${name}(${p(n.word(), 'string')}, ${p(n.word(), 'number')} = ${r.int(0, 64)})${ts ? ': Promise<unknown>' : ''} {`);
            chunk.push(...jsBody(r, n, '  ', callees, ts, false), '}', '');
          }
          callees.push(name);
        }
        const text = chunk.join('\n');
        parts.push(text);
        size += text.length + 1;
      }
      return parts.join('\n');
    },
  };
}

function relImport(from: string, to: string): string {
  const a = from.split('/').slice(0, -1);
  const b = to.split('/');
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const up = a.length - i;
  return (up === 0 ? './' : '../'.repeat(up)) + b.slice(i).join('/');
}

// ------------------------------------------------------------------------------------------------------ Rust

function rsBody(r: Prng, n: Namer, indent: string, callees: string[], self: boolean): string[] {
  const lines: string[] = [];
  const v = n.variable();
  lines.push(`${indent}let mut ${v} = ${r.chance(0.5) ? `${r.int(0, 99)}u64` : `String::from(${JSON.stringify(n.word())})`};`);
  for (let s = r.int(2, 6); s > 0; s--) {
    const callee = callees.length && r.chance(0.6) ? r.pick(callees) : n.snake();
    switch (r.int(0, 5)) {
      case 0:
        lines.push(`${indent}let ${n.word()}_${s} = ${callee}(&${v}, ${r.int(0, 99)});`);
        break;
      case 1:
        lines.push(`${indent}for ${n.word()} in ${self ? 'self.' : ''}${n.word()}s.iter() {`, `${indent}    if ${n.word()}.is_empty() {`, `${indent}        continue;`, `${indent}    }`, `${indent}    ${callee}(${n.word()});`, `${indent}}`);
        break;
      case 2:
        lines.push(`${indent}match ${callee}(&${v}) {`, `${indent}    Some(x) => ${v} = x.into(),`, `${indent}    None => return Err(Error::Missing(${JSON.stringify(n.word())}.to_string())),`, `${indent}}`);
        break;
      case 3:
        lines.push(`${indent}let ${n.word()}s: Vec<_> = ${self ? 'self.' : ''}${n.word()}s.iter().filter(|x| x.${n.snake()}()).map(|x| x.clone()).collect();`);
        break;
      case 4:
        lines.push(`${indent}debug_assert!(${callee}(&${v}).is_ok(), ${JSON.stringify(n.sentence())});`);
        break;
      default:
        lines.push(`${indent}${self ? 'self.' : ''}${n.word()}_count += ${callee}(&${v})?.len();`);
    }
  }
  lines.push(`${indent}Ok(${v}.into())`);
  return lines;
}

const rust: Generator = {
  ext: '.rs',
  file(r, n, target, module, deps, out) {
    const parts: string[] = [`//! ${n.sentence()}`, `//! ${n.sentence()}`, '', 'use std::collections::HashMap;', 'use std::fmt;', 'use std::sync::Arc;'];
    const callees: string[] = [];
    for (const d of deps) {
      const fns = d.functions.slice(0, 3);
      if (!fns.length) continue;
      parts.push(`use crate::${d.module.split('/').slice(2).join('::').replace(/\.rs$/, '')}::{${fns.join(', ')}};`);
      callees.push(...fns);
    }
    parts.push('', `pub const ${n.word().toUpperCase()}_${n.word().toUpperCase()}: usize = ${r.int(1, 4096)};`, '');
    let size = parts.join('\n').length;
    while (size < target) {
      const chunk: string[] = [];
      const roll = r.next();
      if (roll < 0.12) {
        const e = n.plainType();
        out.types.push(e);
        chunk.push(`/// ${n.sentence()}`, '#[derive(Debug, Clone, PartialEq)]', `pub enum ${e} {`, ...Array.from({ length: r.int(2, 6) }, () => `    ${cap(n.word())}${r.chance(0.3) ? '(String)' : ''},`), '}', '');
      } else if (roll < 0.2) {
        const t = cap(n.word()) + r.pick(['Source', 'Sink', 'Visitor', 'Codec']);
        out.types.push(t);
        chunk.push(`/// ${n.sentence()}`, `pub trait ${t} {`, `    fn ${n.snake()}(&self, ${n.word()}: &str) -> Result<usize, Error>;`, `    fn ${n.snake()}(&mut self) -> Option<u64> {`, '        None', '    }', '}', '');
      } else if (roll < 0.6) {
        const s = n.type();
        out.types.push(s);
        chunk.push(`/// ${n.sentence()}`, `/// ${n.sentence()}`, '#[derive(Debug, Default)]', `pub struct ${s} {`);
        for (let f = r.int(2, 6); f > 0; f--) chunk.push(`    pub ${n.word()}_${f}: ${r.pick(['u64', 'String', 'Vec<String>', 'Option<Arc<str>>', 'HashMap<String, usize>', 'bool'])},`);
        chunk.push(`    ${n.word()}_count: usize,`, '}', '', `impl ${s} {`, `    /// ${n.sentence()}`, `    pub fn new(${n.word()}: &str) -> Self {`, `        let _ = ${n.word()};`, '        Self::default()', '    }', '');
        const mine: string[] = [];
        for (let m = r.int(2, 6); m > 0; m--) {
          const name = n.snake();
          if (r.chance(0.6)) chunk.push(`    /// ${n.sentence()}`);
          chunk.push(`    pub fn ${name}(&${r.chance(0.4) ? 'mut ' : ''}self, ${n.word()}: &str) -> Result<String, Error> {`, ...rsBody(r, n, '        ', [...callees, ...mine.map((x) => `self.${x}`)], true), '    }', '');
          mine.push(name);
        }
        chunk.push('}', '');
        if (r.chance(0.35)) chunk.push(`impl fmt::Display for ${s} {`, '    fn fmt(&self, f: &mut fmt::Formatter<\'_>) -> fmt::Result {', `        write!(f, "${s}({})", self.${n.word()}_count)`, '    }', '}', '');
      } else {
        const name = n.snake(r.int(2, 3));
        out.functions.push(name);
        if (r.chance(0.6)) chunk.push(`/// ${n.sentence()}`);
        chunk.push(`pub fn ${name}(${n.word()}: &str, ${n.word()}_limit: usize) -> Result<String, Error> {`, ...rsBody(r, n, '    ', callees, false), '}', '');
        callees.push(name);
      }
      const text = chunk.join('\n');
      parts.push(text);
      size += text.length + 1;
    }
    if (r.chance(0.4)) {
      parts.push('#[cfg(test)]', 'mod tests {', '    use super::*;', '', '    #[test]', `    fn ${n.snake()}_works() {`, `        assert_eq!(${r.int(0, 9)}, ${r.int(0, 9)});`, '    }', '}', '');
    }
    return parts.join('\n');
  },
};

const GENERATORS: Record<CorpusLanguage, Generator> = { python, javascript: jsFamily(false), typescript: jsFamily(true), rust };
/** Share of files per language. */
const MIX: [CorpusLanguage, number][] = [
  ['python', 0.35],
  ['javascript', 0.25],
  ['typescript', 0.2],
  ['rust', 0.2],
];

const DIRS: Record<CorpusLanguage, string> = { python: 'py/app', javascript: 'js/src', typescript: 'ts/src', rust: 'rs/src' };

/** Writes the corpus under `dir` (created if needed). Returns what was written. */
export function generateCorpus(dir: string, opts: CorpusOptions = {}): CorpusStats {
  const seed = opts.seed ?? 1;
  const r = new Prng(seed);
  const n = new Namer(r);
  const targetBytes = opts.mb !== undefined ? opts.mb * 1e6 : undefined;
  const count = opts.files ?? (targetBytes !== undefined ? Math.max(1, Math.round(targetBytes / (MEDIAN_FILE_BYTES * MEAN_OVER_MEDIAN))) : 1000);
  const median = targetBytes !== undefined ? targetBytes / count / MEAN_OVER_MEDIAN : MEDIAN_FILE_BYTES;

  const stats: CorpusStats = {
    files: 0,
    bytes: 0,
    byLanguage: { python: { files: 0, bytes: 0 }, javascript: { files: 0, bytes: 0 }, typescript: { files: 0, bytes: 0 }, rust: { files: 0, bytes: 0 } },
    seed,
  };
  const exported: Record<CorpusLanguage, Exported[]> = { python: [], javascript: [], typescript: [], rust: [] };
  const used = new Set<string>();
  let written = 0;
  for (let i = 0; i < count; i++) {
    // Deterministic interleaving by share: language i is the one furthest behind its quota.
    let lang: CorpusLanguage = MIX[0][0];
    let worst = Infinity;
    for (const [l, share] of MIX) {
      const lag = stats.byLanguage[l].files - share * (i + 1);
      if (lag < worst) {
        worst = lag;
        lang = l;
      }
    }
    const g = GENERATORS[lang];
    const pkg = `${n.word()}_${r.int(0, Math.max(1, Math.floor(count / 40)))}`;
    let base = `${n.word()}_${n.word()}`;
    while (used.has(`${lang}/${pkg}/${base}`)) base += `_${r.int(0, 9)}`;
    used.add(`${lang}/${pkg}/${base}`);
    const module = `${DIRS[lang]}/${pkg}/${base}`;
    // The remaining budget keeps the total close to --mb however the sizes fall.
    let target = Math.min(Math.max(r.logNormal(median, SIZE_SIGMA), 300), median * 12);
    if (targetBytes !== undefined) {
      const left = count - i;
      const fair = (targetBytes - written) / left;
      target = Math.max(300, left <= 1 ? fair : (target + fair) / 2);
    }
    const pool = exported[lang];
    const deps = pool.length ? Array.from({ length: Math.min(pool.length, r.int(0, 3)) }, () => r.pick(pool)) : [];
    const out: Exported = { module, functions: [], types: [] };
    const text = g.file(r, n, target, module, [...new Set(deps)], out) + '\n';
    const path = join(dir, module + g.ext);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    pool.push(out);
    if (pool.length > 64) pool.shift();
    const bytes = Buffer.byteLength(text);
    written += bytes;
    stats.files++;
    stats.bytes += bytes;
    stats.byLanguage[lang].files++;
    stats.byLanguage[lang].bytes += bytes;
  }
  return stats;
}
