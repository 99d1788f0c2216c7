import { pino, type Logger } from 'pino';

/** Structured logs, always on stderr (stdout carries results and --json). */
export function createLogger(level: string, name = 'mcp-index'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
