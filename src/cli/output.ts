/**
 * CLI output conventions (DESIGN section 3): with --json exactly one JSON document on stdout and
 * nothing else there; otherwise human text. Messages and warnings go to stderr.
 */
export interface GlobalOptions {
  db: string;
  json: boolean;
  /** --db was given on the command line (not the default), so it wins over program.md's `storage:`. */
  dbExplicit?: boolean;
}

/** JSON with bigint as decimal strings (bitmasks) and no NaN/Infinity (those become null). */
export function toJson(doc: unknown): string {
  return JSON.stringify(
    doc,
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  );
}

export function printJson(doc: unknown): void {
  process.stdout.write(`${toJson(doc)}\n`);
}

export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function warn(text: string): void {
  process.stderr.write(`warning: ${text}\n`);
}

/** Aligned table with a header row; numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? '–' : String(c))));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const isNum = header.map((_, i) => rows.every((r) => r[i] === null || typeof r[i] === 'number'));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (isNum[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** A number with `digits` significant digits, for tables. */
export function sig(value: number | null | undefined, digits = 4): string | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return Number(value.toPrecision(digits)).toString();
}
