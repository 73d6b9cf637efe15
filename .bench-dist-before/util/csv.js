/** A small RFC-4180 CSV reader for the project's data files (quoted fields, commas inside quotes). */
export function parseCsv(text) {
    const rows = [];
    let row = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quoted) {
            if (c === '"' && text[i + 1] === '"') {
                field += '"';
                i++;
            }
            else if (c === '"')
                quoted = false;
            else
                field += c;
        }
        else if (c === '"')
            quoted = true;
        else if (c === ',') {
            row.push(field);
            field = '';
        }
        else if (c === '\n' || c === '\r') {
            if (c === '\r' && text[i + 1] === '\n')
                i++;
            row.push(field);
            if (row.some((f) => f !== ''))
                rows.push(row);
            row = [];
            field = '';
        }
        else
            field += c;
    }
    row.push(field);
    if (row.some((f) => f !== ''))
        rows.push(row);
    return rows;
}
/** Rows as objects keyed by the header line. */
export function parseCsvRecords(text) {
    const [header, ...rows] = parseCsv(text);
    if (!header)
        return [];
    return rows.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), (r[i] ?? '').trim()])));
}
//# sourceMappingURL=csv.js.map