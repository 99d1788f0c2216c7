import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Set while progress bars are drawn (ui/progress.ts): readable log lines go above them, as a raw write tears them. */
let above: ((line: string) => void) | null = null;
export function setLogAbove(f: ((line: string) => void) | null): void {
  above = f;
}
const stderrOrAbove = new Writable({
  write(chunk, _encoding, done) {
    if (above) above(String(chunk));
    else process.stderr.write(chunk);
    done();
  },
});

/**
 * Structured logs, always on stderr (stdout carries results and --json): one JSON object a line off a TTY (for log
 * collectors), readable colored lines on a TTY (pino-pretty, loaded only then). `format` forces one or the other.
 */
export function createLogger(level: string, name = 'mcp-index', format: LogFormat = 'auto'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  if (pretty) {
    try {
      const require = createRequire(import.meta.url);
      const prettyStream = require('pino-pretty') as typeof import('pino-pretty');
      return pino({ name, level }, prettyStream({ destination: stderrOrAbove, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' }));
    } catch {
      // pino-pretty missing (a pruned install): JSON is still a log
    }
  }
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

