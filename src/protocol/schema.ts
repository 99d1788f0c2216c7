import { z } from 'zod';
import { LANGUAGES, PROTOCOL_VERSION } from './types.js';

/**
 * Validation for messages that arrive from outside the process (Redis). A malformed or foreign message is
 * rejected with a reason instead of reaching the parser.
 */
export const MAX_FILES_PER_JOB = 10_000;

const FileRefSchema = z.object({
  path: z
    .string()
    .min(1)
    .max(4096)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0'), 'path escapes the root'),
  hash: z.string().regex(/^[0-9a-f]{40}$/),
  size: z.number().int().min(0),
  language: z.enum(LANGUAGES),
});

export const JobRequestSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  runId: z.string().min(1).max(128),
  batchId: z.string().min(1).max(128),
  files: z.array(FileRefSchema).min(1).max(MAX_FILES_PER_JOB),
  limits: z.object({
    maxFileBytes: z.number().int().positive().max(64 * 1024 * 1024),
    parseTimeoutMs: z.number().int().positive().max(600_000),
  }),
  root: z.string().optional(),
  cache: z.object({ maxBytes: z.number().int().positive().max(2 ** 50) }).optional(),
});

export function describeInvalid(err: z.ZodError): string {
  const i = err.issues[0];
  return `${i.path.join('.') || 'message'}: ${i.message}`;
}
