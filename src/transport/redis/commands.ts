/**
 * Every Redis command the cluster sends (coordinator, worker, `status`, `runs`), derived from the code that sends it,
 * so that the start-up check (connection.ts) refuses a user who lacks any of them instead of failing mid-run:
 * - the commands inside BullMQ's Lua scripts, read from its installed .lua files, and inside our own (cache.ts);
 * - the ioredis calls of our own code: commands.generated.ts, which test/unit/redis-commands.test.ts derives from the
 *   TypeScript sources (it fails when the file is stale; `npm run redis-commands:update` rewrites it);
 * - what BullMQ and ioredis send from JavaScript on the paths we use: LIBRARY_COMMANDS below, the one part that
 *   cannot be read from our code.
 * test/cluster/permissions.test.ts runs real jobs under MONITOR and fails on any command outside this list.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CACHE_SCRIPTS } from './cache.js';
import { OWN_COMMANDS } from './commands.generated.js';

const require = createRequire(import.meta.url);

/** Sent by BullMQ and ioredis themselves (lower case; `container|sub` for a subcommand). */
const LIBRARY_COMMANDS = [
  'info', // BullMQ's Redis version check when a connection starts, and ioredis's ready check
  'client|setname', // BullMQ names its connections
  'bzpopmin', // a BullMQ worker waiting for a job
  'xread', // QueueEvents following the queue's event stream
  'hgetall', // Queue.getJob reads the job hash
  'evalsha', // ioredis runs every defined script (BullMQ's, ours) by its SHA...
  'eval', // ...and sends its source when Redis does not have it cached (NOSCRIPT)
  'multi', // transactions: ioredis's multi(), and the start-up check itself
  'exec',
];

interface CommandSpec {
  arity: number;
  flags: string[];
  keyStart: number;
  keyStop: number;
  step: number;
}

let specs: Record<string, CommandSpec> | null = null;
/** Arity and key positions of every Redis command (the table ioredis itself uses). */
function commandSpecs(): Record<string, CommandSpec> {
  return (specs ??= require('@ioredis/commands/built/commands.json') as Record<string, CommandSpec>);
}

/** Command names called in Lua source: `redis.call('GET', ...)`, BullMQ's `rcall("ZADD", ...)`, and names kept in
 * variables (`local cmd = "SSCAN"`). A quoted upper-case word counts when Redis has a command of that name. */
export function luaCommands(source: string): string[] {
  const found = new Set<string>();
  const known = commandSpecs();
  for (const m of source.matchAll(/(?:rcall|redis\.p?call)\(\s*["']([A-Za-z]+)["']/g)) found.add(m[1].toLowerCase());
  for (const m of source.matchAll(/["']([A-Z]+)["']/g)) if (known[m[1].toLowerCase()]) found.add(m[1].toLowerCase());
  return [...found];
}

/** The Lua of BullMQ's scripts, as installed (the scripts it loads are built from these files). */
function bullmqLua(): string {
  const dir = join(dirname(require.resolve('bullmq')), 'commands');
  let text = '';
  for (const d of [dir, join(dir, 'includes')]) {
    for (const f of readdirSync(d)) if (f.endsWith('.lua')) text += readFileSync(join(d, f), 'utf8') + '\n';
  }
  return text;
}

let needed: string[] | null = null;
/** Every command the cluster's processes send, sorted (lower case; `container|sub` for a subcommand). */
export function neededCommands(): string[] {
  if (!needed) {
    const all = new Set<string>([...LIBRARY_COMMANDS, ...OWN_COMMANDS, ...luaCommands(bullmqLua()), ...CACHE_SCRIPTS.flatMap(luaCommands)]);
    needed = [...all].sort();
  }
  return needed;
}

/**
 * Arguments that make a well-formed call of `name` (arity right, keys where the command takes keys, all under
 * `<ns>:preflight:`) so that Redis checks the user's rights on it when it is queued inside MULTI. Null for a
 * command this table does not know.
 */
export function probeArgs(name: string, ns: string): string[] | null {
  const key = `${ns}:preflight:probe`;
  const [cmd, sub] = name.split('|');
  if (sub) return cmd === 'client' && sub === 'setname' ? [sub, 'mcp-index-preflight'] : [sub];
  if (cmd === 'eval') return ['return 0', '1', key];
  if (cmd === 'evalsha') return ['0'.repeat(40), '1', key];
  if (cmd === 'xread') return ['STREAMS', key, '0'];
  const spec = commandSpecs()[cmd];
  if (!spec) return null;
  const argc = Math.abs(spec.arity); // counts the name itself
  const args = Array.from({ length: argc - 1 }, () => '0');
  if (spec.keyStart > 0) {
    const stop = spec.keyStop < 0 ? argc + spec.keyStop : spec.keyStop;
    for (let i = spec.keyStart; i <= stop; i += Math.max(1, spec.step)) args[i - 1] = key;
  }
  return args;
}
