/** Child processes for the bench: timed from spawn to exit, stdout captured, nothing inherited but the env. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunSummary } from '../pipeline/events.js';

/** The CLI launcher, from dist/bench (the CLI) and src/bench (tests importing the module) alike. */
export const BIN = fileURLToPath(new URL('../../bin/mcp-index.js', import.meta.url));

export interface ProcResult {
  wallMs: number;
  /** CPU time (user + system) of the process and its threads, from this process's reaped-children counters; null
   * where /proc is missing. */
  cpuMs: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The caller's environment without MCP_INDEX_* (yargs reads those as flags): every configuration gets exactly the
 * flags the bench passes, whatever the shell it was started from.
 */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MCP_INDEX_')) env[k] = v;
  return env;
}

/**
 * CPU time of this process's waited-for children so far, in ms (/proc/self/stat cutime + cstime, in clock ticks of
 * 10 ms on Linux). Children run one at a time, so the difference around one run is that child's CPU time.
 */
function reapedChildrenCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    return (Number(fields[13]) + Number(fields[14])) * 10; // #16 cutime, #17 cstime
  } catch {
    return null;
  }
}

/** Runs a process to its end; with `stdoutFile` its output goes straight to that file (not through this process). */
export function runProcess(cmd: string, args: string[], opts: { cwd?: string; stdoutFile?: string } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const fd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : null;
    const cpu0 = reapedChildrenCpuMs();
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: childEnv(), stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
    if (fd !== null) closeSync(fd); // the child has its own copy
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    // 'exit' rather than 'close': the wall time ends when the process does, not when its pipes drain.
    let wallMs = 0;
    child.once('exit', () => (wallMs = performance.now() - t0));
    child.once('close', (code, signal) => {
      const cpu1 = reapedChildrenCpuMs();
      resolve({
        wallMs: wallMs || performance.now() - t0,
        cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** `node bin/mcp-index.js ARGS --json --quiet`: wall time and the run summary it prints. */
export async function runIndexChild(args: string[]): Promise<{ wallMs: number; cpuMs: number | null; summary: RunSummary }> {
  const r = await runProcess(process.execPath, [BIN, ...args, '--json', '--quiet']);
  if (r.code !== 0) throw new Error(`mcp-index ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr.trim()}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let summary: RunSummary;
  try {
    summary = JSON.parse(line) as RunSummary;
  } catch {
    throw new Error(`mcp-index ${args.join(' ')} printed no JSON summary:\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(0, 500)}`);
  }
  return { wallMs: r.wallMs, cpuMs: r.cpuMs, summary };
}

/** Peak resident set of a live process (Linux /proc), in MB; null elsewhere or once it has exited. */
export function vmHwmMb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** "Universal Ctags 5.9.0" when universal-ctags is on PATH, else why not. */
export function ctagsVersion(): { ok: true; version: string } | { ok: false; reason: string } {
  const r = spawnSync('ctags', ['--version'], { encoding: 'utf8' });
  if (r.error) return { ok: false, reason: 'ctags not installed (apt-get install universal-ctags)' };
  const first = (r.stdout || '').split('\n')[0].trim();
  if (!/Universal Ctags/i.test(first)) return { ok: false, reason: `ctags on PATH is not universal-ctags (${first || 'no version'})` };
  return { ok: true, version: first.replace(/,.*$/, '') };
}

/** Stops a child with SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(c: ChildProcess, graceMs = 30_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return 'unknown';
}
