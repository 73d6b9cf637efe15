/**
 * Logging with pino: JSON lines to a file (under experiments/) and readable lines on stderr when it is
 * a TTY. Secrets never reach a log: known key paths are redacted by pino, and the values of secret-
 * looking environment variables (…KEY, …TOKEN, …SECRET, …PASSWORD) and the passwords of URLs
 * (`postgresql://user:password@…`) are masked in every written line.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

import { redactUrlPasswordsIn } from './store/pg-url.js';

export type { Logger };

const SECRET_NAME_RE = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/i;

/** Values of environment variables that look secret (at least 8 characters, to avoid masking noise). */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME_RE.test(name) && typeof value === 'string' && value.length >= 8)
    .map(([, value]) => value as string)
    .sort((a, b) => b.length - a.length);
}

export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
  return out;
}

export const REDACT_PATHS = [
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
];

export interface LoggerOptions {
  /** JSON-lines log file; its directory is created. */
  file?: string;
  level?: string;
  /** Readable lines on stderr; default: when stderr is a TTY. */
  console?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = secretValues();
  const streams: pino.StreamEntry[] = [];
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    streams.push({ stream: pino.destination({ dest: opts.file, sync: true, mkdir: true }) });
  }
  if (opts.console ?? process.stderr.isTTY) {
    streams.push({ stream: pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY, ignore: 'pid,hostname' }) });
  }
  return pino(
    {
      level: opts.level ?? process.env.CARBONBENCH_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      // Connection URLs (postgresql://user:password@…) lose their password too, wherever they appear.
      hooks: { streamWrite: (line: string) => maskSecrets(redactUrlPasswordsIn(line), secrets) },
    },
    streams.length > 0 ? pino.multistream(streams) : pino.destination({ dest: '/dev/null', sync: true }),
  );
}
