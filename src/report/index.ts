/**
 * The static HTML report (DESIGN section 9): one self-contained index.html with the data, ECharts,
 * echarts-gl and the page script inlined. Planning is pure (collect the data, render the page); writing
 * the file is the only side effect, in writeReport.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { openResultsReader, type ResultsReader } from '../analysis/query.js';
import { isPostgresUrl } from '../store/index.js';
import { loadAssets } from './assets.js';
import { collectReportData, type CollectOptions } from './data.js';
import { renderHtml } from './html.js';

export { collectReportData, assembleReportData, type CollectOptions } from './data.js';
export { escapeHtml, jsonForScript, scriptForInline } from './html.js';
export type * from './types.js';

export type ReportOptions = Omit<CollectOptions, 'libraries'>;

export interface BuiltReport {
  html: string;
  /** UTF-8 size of html. */
  bytes: number;
  /** Scored experiments in the report. */
  experiments: number;
}

/** The page of the database that `reader` reads (openResultsReader: SQLite or PostgreSQL). */
export async function buildReport(reader: ResultsReader, opts: ReportOptions = {}): Promise<BuiltReport> {
  const assets = loadAssets();
  const data = await collectReportData(reader, {
    ...opts,
    libraries: assets.libraries.map(({ name, version, license }) => ({ name, version, license })),
  });
  const html = renderHtml(data, assets);
  return { html, bytes: Buffer.byteLength(html, 'utf8'), experiments: data.meta.experimentsScored };
}

export interface WrittenReport {
  /** Absolute path of index.html. */
  path: string;
  bytes: number;
  experiments: number;
}

/** Reads `dbPath` (read-only) and writes `<outDir>/index.html`, creating outDir. */
export async function writeReport(dbPath: string, outDir: string, opts: ReportOptions = {}): Promise<WrittenReport> {
  if (!isPostgresUrl(dbPath) && !existsSync(dbPath)) throw new InputError(`--db ${dbPath} does not exist: no results yet (start with carbonbench run)`);
  const reader = await openResultsReader(dbPath);
  let built: BuiltReport;
  try {
    built = await buildReport(reader, opts);
  } finally {
    await reader.close();
  }
  const dir = resolve(outDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new InputError(`--out ${outDir}: cannot create the directory (${(err as Error).message})`, { cause: err });
  }
  const path = join(dir, 'index.html');
  // Write beside it and rename: a browser that has the old report open never reads half a file.
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, built.html, 'utf8');
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { path, bytes: built.bytes, experiments: built.experiments };
}
