/** JSON with bigint as decimal strings (bitmasks) and no NaN/Infinity (those become null). */
export function toJson(doc) {
    return JSON.stringify(doc, (_k, v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}
export function printJson(doc) {
    process.stdout.write(`${toJson(doc)}\n`);
}
export function printText(text) {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
export function warn(text) {
    process.stderr.write(`warning: ${text}\n`);
}
/** Aligned table with a header row; numbers right-aligned. */
export function formatTable(header, rows) {
    const cells = rows.map((r) => r.map((c) => (c === null ? '–' : String(c))));
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
    const isNum = header.map((_, i) => rows.every((r) => r[i] === null || typeof r[i] === 'number'));
    const line = (r) => r.map((c, i) => (isNum[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
    return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
/** A number with `digits` significant digits, for tables. */
export function sig(value, digits = 4) {
    if (value === null || value === undefined || !Number.isFinite(value))
        return null;
    return Number(value.toPrecision(digits)).toString();
}
//# sourceMappingURL=output.js.map