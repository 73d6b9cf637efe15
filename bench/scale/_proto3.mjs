import Database from 'better-sqlite3';
const p = process.argv[2] ?? '/tmp/scale-100k.db';
const db = new Database(p, { readonly: true, fileMustExist: true });
if (process.argv.includes('--cache')) db.pragma('cache_size = -200000');
const elig = "status = 'ok' AND simulated = 0 AND (phase IS NULL OR phase <> 'manual') AND sci_ug IS NOT NULL AND tok_s > 0 AND bpb IS NOT NULL";
const K = Number(process.env.K ?? 8);
function run() {
  let t = performance.now();
  const cells = db.prepare(`SELECT bpb, CAST(floor(ln(tok_s) * ${K}) AS INTEGER) AS b, MIN(sci_ug) AS s FROM experiments WHERE ${elig} GROUP BY bpb, b`).raw().all();
  const t1 = performance.now() - t;
  // threshold per cell: min s over cells with bpb' <= bpb and b' > b
  const bpbs = [...new Set(cells.map((c) => c[0]))].sort((a, b) => a - b);
  const bs = cells.map((c) => c[1]);
  const bmin = Math.min(...bs), bmax = Math.max(...bs);
  const W = bmax - bmin + 1;
  // best[bIndex] = min s over processed groups (bpb <= current) for bucket b
  const best = new Array(W).fill(Infinity);
  const byBpb = new Map();
  for (const c of cells) { if (!byBpb.has(c[0])) byBpb.set(c[0], []); byBpb.get(c[0]).push(c); }
  const thr = [];
  for (const g of bpbs) {
    for (const c of byBpb.get(g)) best[c[1] - bmin] = Math.min(best[c[1] - bmin], c[2]);
    // suffix min over b' > b
    const suf = new Array(W + 1).fill(Infinity);
    for (let i = W - 1; i >= 0; i--) suf[i] = Math.min(suf[i + 1], best[i]);
    for (const c of byBpb.get(g)) thr.push([g, c[1], suf[c[1] - bmin + 1]]);
  }
  const t2 = performance.now() - t;
  db.exec('DROP TABLE IF EXISTS temp.th; CREATE TEMP TABLE th (bpb REAL, b INTEGER, lim REAL, PRIMARY KEY (bpb, b))');
  const ins = db.prepare('INSERT INTO temp.th VALUES (?, ?, ?)');
  db.transaction(() => { for (const r of thr) if (r[2] !== Infinity) ins.run(r[0], r[1], r[2]); })();
  const sql = `SELECT e.id, e.sci_ug, e.bpb, e.tok_s FROM experiments e LEFT JOIN temp.th th ON th.bpb = e.bpb AND th.b = CAST(floor(ln(e.tok_s) * ${K}) AS INTEGER) WHERE ${elig.replace(/(status|simulated|phase|sci_ug|tok_s|bpb)/g, 'e.$1')} AND (th.lim IS NULL OR e.sci_ug <= th.lim)`;
  const surv = db.prepare(sql).raw().all();
  const t3 = performance.now() - t;
  return [cells.length, thr.length, surv.length, t1.toFixed(1), t2.toFixed(1), t3.toFixed(1)];
}
for (let i = 0; i < 4; i++) console.log(run());
const t = performance.now();
console.log(db.prepare(`SELECT count(*) FROM experiments WHERE ${elig}`).pluck().get(), (performance.now() - t).toFixed(1));
