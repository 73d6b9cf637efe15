/**
 * PostgreSQL connection URLs: recognising them, validating them, hiding their passwords, and turning
 * one into the SQLAlchemy URL that Optuna's RDBStorage needs (issue 10).
 *
 * Credentials: a URL may carry `user:password@`, but the expected form omits the password and lets
 * libpq's environment variables supply it (PGPASSWORD, or ~/.pgpass for psql; PGUSER, PGHOST, PGPORT,
 * PGDATABASE are honoured too: node-postgres reads them for every field the URL leaves out). Any URL that
 * reaches a message, a log line or results.db goes through redactPgUrl first.
 */
import { InputError, describeValue } from '../errors.js';

const PG_SCHEME = /^postgres(?:ql)?:\/\//i;

/** Whether `location` names a PostgreSQL database (`postgresql://…` or `postgres://…`) rather than a file. */
export function isPostgresUrl(location: string): boolean {
  return PG_SCHEME.test(location);
}

/**
 * The URL with every password replaced by `***`: the one in `user:password@` and a `password=` query
 * parameter. Anything else (user, host, port, database) stays, so the message still says where.
 * Works on any `scheme://` URL and on text that is not a URL (returned unchanged).
 */
export function redactPgUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/**
 * Every `scheme://user:password@` inside free text (a log line, an error message) with the password as
 * `***`. For the log's last line of defence (src/log.ts); messages built here use redactPgUrl.
 */
export function redactUrlPasswordsIn(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'<>]*):([^\s/?#@"'<>]*)@/gi, '$1:***@')
    .replace(/([?&]password=)[^&#\s"']*/gi, '$1***');
}

/** Replaces every occurrence of the URL's password in `text` (a driver's error message may quote it). */
export function redactSecretsIn(text: string, url: string): string {
  let out = text;
  const password = passwordOf(url);
  if (password !== null && password.length > 0) out = out.split(password).join('***');
  return out.split(url).join(redactPgUrl(url));
}

function passwordOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    const fromQuery = parsed.searchParams.get('password');
    if (fromQuery !== null) return fromQuery;
    return parsed.password === '' ? null : decodeURIComponent(parsed.password);
  } catch {
    return null;
  }
}

/** What a parsed carbonbench PostgreSQL URL names. Fields the URL leaves out are null (libpq defaults apply). */
export interface PgUrlParts {
  user: string | null;
  password: string | null;
  /** Host name or address; a unix-socket directory when given as `?host=/path`. */
  host: string | null;
  port: number | null;
  database: string | null;
  /** Other query parameters (sslmode, …), passed through. */
  params: [string, string][];
}

/**
 * Parses and checks a `postgresql://` URL. `what` names where it came from (`--db`, `storage:` in
 * program.md) so the message says which key is wrong and what is allowed.
 */
export function parsePgUrl(url: string, what: string): PgUrlParts {
  const allowed =
    'a PostgreSQL URL such as postgresql://user@host:5432/carbonbench (password from PGPASSWORD) or a file path such as ./results.db';
  if (!isPostgresUrl(url)) {
    throw new InputError(`${what} ${describeValue(redactPgUrl(url))} is not a PostgreSQL URL; allowed: ${allowed}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${what} ${describeValue(redactPgUrl(url))} is not a valid URL; allowed: ${allowed}`);
  }
  let port: number | null = null;
  if (parsed.port !== '') {
    port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InputError(`${what} ${describeValue(redactPgUrl(url))}: port ${parsed.port} is invalid; allowed: 1 to 65535`);
    }
  }
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (path.includes('/')) {
    throw new InputError(
      `${what} ${describeValue(redactPgUrl(url))}: "${path}" is not a database name (it contains "/"); allowed: ${allowed}`,
    );
  }
  const params: [string, string][] = [];
  let user = parsed.username === '' ? null : decodeURIComponent(parsed.username);
  let host = parsed.hostname === '' ? null : decodeURIComponent(parsed.hostname);
  let password = parsed.password === '' ? null : decodeURIComponent(parsed.password);
  for (const [key, value] of parsed.searchParams) {
    if (key === 'host') host = value;
    else if (key === 'user') user = value;
    else if (key === 'password') password = value;
    else params.push([key, value]);
  }
  return {
    user,
    password,
    host,
    port,
    database: path === '' ? null : path,
    params,
  };
}

/**
 * The SQLAlchemy URL for Optuna's RDBStorage (`postgresql+psycopg2://…`) on the same server and
 * database. Fields the carbonbench URL omits come from the libpq environment (PGUSER, PGPASSWORD,
 * PGHOST, PGPORT, PGDATABASE) like node-postgres does, so both sides connect to the same place with the
 * same credentials. The result may contain the password: pass it to Optuna, never print or store it
 * (print redactPgUrl of it).
 */
export function toSqlAlchemyUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const parts = parsePgUrl(url, 'storage URL');
  const user = parts.user ?? nonEmpty(env.PGUSER);
  const password = parts.password ?? nonEmpty(env.PGPASSWORD);
  let host = parts.host ?? nonEmpty(env.PGHOST);
  const port = parts.port ?? (nonEmpty(env.PGPORT) === null ? null : Number(env.PGPORT));
  const database = parts.database ?? nonEmpty(env.PGDATABASE) ?? user;
  const query = [...parts.params];
  // A unix-socket directory cannot be the authority part: libpq takes it as the `host` parameter.
  if (host !== null && host.startsWith('/')) {
    query.unshift(['host', host]);
    host = null;
  }
  const enc = encodeURIComponent;
  const auth = user === null ? '' : `${enc(user)}${password === null ? '' : `:${enc(password)}`}@`;
  const authority = `${auth}${host === null ? '' : host.includes(':') ? `[${host}]` : host}${port === null ? '' : `:${port}`}`;
  const search = query.length === 0 ? '' : `?${query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')}`;
  return `postgresql+psycopg2://${authority}/${database === null ? '' : enc(database)}${search}`;
}

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}
