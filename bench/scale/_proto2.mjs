import Database from 'better-sqlite3';
const p = process.argv[2] ?? '/tmp/scale-100k.db';
const mmap = process.argv.includes('--mmap');
const t0 = performance.now();
const db = new Database(p, { readonly: true, fileMustExist: true });
if (mmap) db.pragma('mmap_size = 1073741824');
console.log('open', (performance.now()-t0).toFixed(1));
const elig = "status = 'ok' AND simulated = 0 AND (phase IS NULL OR phase <> 'manual') AND sci_ug IS NOT NULL";
const q = {
  top5_view: `SELECT * FROM results WHERE ${elig} ORDER BY sci_ug, id LIMIT 5`,
  top5_exp: `SELECT id FROM experiments WHERE ${elig} ORDER BY sci_ug, id LIMIT 5`,
  count: `SELECT count(*) FROM experiments WHERE ${elig}`,
  slim_exp: `SELECT id, sci_ug, bpb, tok_s FROM experiments WHERE ${elig} AND tok_s IS NOT NULL`,
  stair: `SELECT id, sci_ug, bpb, tok_s FROM (SELECT id, sci_ug, bpb, tok_s, MAX(tok_s) OVER (PARTITION BY bpb ORDER BY sci_ug, tok_s DESC, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS best_before FROM experiments WHERE ${elig} AND tok_s IS NOT NULL AND bpb IS NOT NULL) WHERE best_before IS NULL OR tok_s >= best_before`,
  groupmin: `SELECT model, MIN(sci_ug) FROM experiments WHERE ${elig} GROUP BY model`,
  bestrow_rn: `SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY model ORDER BY sci_ug, id) AS rn FROM experiments WHERE ${elig}) WHERE rn = 1`,
};
for (let k = 0; k < 3; k++) for (const [name, sql] of Object.entries(q)) {
  const t = performance.now();
  const r = db.prepare(sql).raw().all();
  if (k > 0) console.log(k, name, r.length, (performance.now()-t).toFixed(1));
}
