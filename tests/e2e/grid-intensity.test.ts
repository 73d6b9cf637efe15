/**
 * Issue 9 part 2 end to end: `carbonbench run` (the real CLI, sim engine) against a stub Electricity Maps
 * or WattTime server on 127.0.0.1 with a known intensity per period, different from the static figure.
 * Every experiment stores the intensity in force at its window's midpoint and the provider, and its SCI
 * differs from the static one exactly as SCI = (E × I + M) / R says (recomputed here by hand). A run with
 * the provider down completes with the static figure, flagged. No key reaches results.db or a log.
 */
import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EM_KEY, WT_PASSWORD, WT_USER, deadUrl, startGridStub, type GridStub } from '../helpers/grid-stub.js';
import { ROOT } from '../helpers/paths.js';

const T0 = 1_800_000_000; // the sim engine's virtual clock starts here: 2027-01-15T08:00:00Z
const EM_START_S = T0 - 2 * 3600;
const emGPerKwh = (hour: number): number => 137.5 + 11 * hour; // 08:00–09:00 (hour 2) → 159.5, ≠ 210
const wtLbsPerMwh = (tS: number): number => 600 + (((tS - T0 + 7200) / 300) % 7) * 50;
const STATIC_G = 210; // US-NE-ISNE in data/grid-regions.csv
const J_PER_KWH = 3_600_000;

let stub: GridStub | null = null;
afterEach(async () => {
  await stub?.close();
  stub = null;
});

function program(dir: string, carbon: string, experiments = 12): string {
  const text = readFileSync(join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md'), 'utf8')
    .replace('carbon: { region: US-NE-ISNE }', `carbon: { region: US-NE-ISNE, ${carbon} }`)
    .replace('experiments: 40', `experiments: ${experiments}`);
  if (!text.includes(carbon)) throw new Error('fixture changed: carbon line not found');
  const file = join(dir, 'program.md');
  writeFileSync(file, text);
  return file;
}

interface Row {
  id: number;
  status: string;
  window_start_t_s: number;
  window_end_t_s: number;
  energy_j: number;
  tokens_out: number;
  embodied_g: number;
  intensity_g_kwh: number;
  intensity_provider: string;
  intensity_zone: string | null;
  intensity_signal: string | null;
  intensity_at: string | null;
  intensity_estimated: number | null;
  intensity_fallback: number | null;
  intensity_static_g_kwh: number;
  sci_op_ug: number;
  sci_emb_ug: number;
  sci_ug: number;
  sci_static_ug: number;
  provenance: string;
}

function okRows(db: string): Row[] {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare("SELECT * FROM experiments WHERE status = 'ok' ORDER BY id").all() as Row[];
  } finally {
    d.close();
  }
}

/** SCI by hand, in computeSci's order of operations: O = E/3.6e6 × I, M = embodied_g, per token × 1e6. */
function sciByHand(r: Row, intensity: number): { op: number; total: number } {
  const operationalG = (r.energy_j / J_PER_KWH) * intensity;
  return { op: (operationalG / r.tokens_out) * 1e6, total: ((operationalG + r.embodied_g) / r.tokens_out) * 1e6 };
}

function assertNoSecret(dir: string, secrets: string[]): void {
  const files = [join(dir, 'results.db'), ...readdirSync(join(dir, 'experiments'), { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name))];
  expect(files.some((f) => f.endsWith('carbonbench.log'))).toBe(true);
  for (const f of files) {
    const bytes = readFileSync(f).toString('latin1');
    for (const s of secrets) expect(bytes.includes(s), `${s} found in ${f}`).toBe(false);
  }
}

describe('carbonbench run with a time-resolved grid intensity', () => {
  it('Electricity Maps: each experiment stores the hourly intensity at its midpoint; SCI differs from the static one exactly by the formula', async () => {
    stub = await startGridStub({ emStartS: EM_START_S, emHours: 24, emGPerKwh });
    const dir = mkdtempSync(join(tmpdir(), 'cb-grid-e2e-'));
    const db = join(dir, 'results.db');
    const r = await runCli(['run', '--program', program(dir, 'intensity_provider: electricitymaps'), '--db', db, '--json'], {
      cwd: dir,
      env: { ELECTRICITYMAPS_API_KEY: EM_KEY, ELECTRICITYMAPS_API_URL: stub.url },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', experiments: 12 });

    const rows = okRows(db);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const row of rows) {
      const midS = (row.window_start_t_s + row.window_end_t_s) / 2;
      const hour = Math.floor((midS - EM_START_S) / 3600);
      const expected = emGPerKwh(hour);
      expect(row).toMatchObject({
        intensity_provider: 'electricitymaps',
        intensity_zone: 'US-NE-ISNE',
        intensity_signal: 'lifecycle',
        intensity_at: new Date((EM_START_S + hour * 3600) * 1000).toISOString(),
        intensity_g_kwh: expected,
        intensity_estimated: 0,
        intensity_fallback: 0,
        intensity_static_g_kwh: STATIC_G,
      });
      expect(expected).not.toBe(STATIC_G);
      const resolved = sciByHand(row, expected);
      const fixed = sciByHand(row, STATIC_G);
      expect(row.sci_op_ug).toBe(resolved.op);
      expect(row.sci_ug).toBe(resolved.total);
      expect(row.sci_static_ug).toBe(fixed.total);
      // Operational SCI scales with the intensity, embodied does not.
      expect(row.sci_op_ug / fixed.op).toBeCloseTo(expected / STATIC_G, 12);
      expect(row.sci_ug - row.sci_static_ug).toBeCloseTo(resolved.op - fixed.op, 9);
      const provenance = JSON.parse(row.provenance) as Record<string, string>;
      expect(provenance.intensity_g_kwh).toMatch(new RegExp(`^Electricity Maps zone US-NE-ISNE \\(lifecycle\\): ${expected} gCO2e/kWh for `));
      expect(provenance.intensity_static_g_kwh).toMatch(/ISO New England/);
    }
    // One /history request for the whole run: later experiments were served from intensity_cache.
    expect(stub.requests.map((q) => q.path)).toEqual(['/v3/carbon-intensity/history']);
    const d = new Database(db, { readonly: true });
    expect((d.prepare('SELECT count(*) AS n FROM intensity_cache').get() as { n: number }).n).toBe(24);
    const view = d.prepare('SELECT intensity_provider, intensity_at, intensity_static_g_kwh, sci_static_ug FROM results WHERE id = ?').get(rows[0]!.id);
    d.close();
    expect(view).toEqual({ intensity_provider: 'electricitymaps', intensity_at: rows[0]!.intensity_at, intensity_static_g_kwh: STATIC_G, sci_static_ug: rows[0]!.sci_static_ug });
    assertNoSecret(dir, [EM_KEY]);

    // calc shows both figures, offline (the stub is gone).
    await stub.close();
    stub = null;
    const calc = await runCli(['calc', '--experiment', String(rows[0]!.id), '--region', 'US-NE-ISNE', '--db', db]);
    expect(calc.exitCode, calc.stderr).toBe(0);
    expect(calc.stdout).toMatch(/stored \(time-resolved\): electricitymaps US-NE-ISNE lifecycle 159\.5 gCO2e\/kWh, data point of 2027-01-15T08:00:00\.000Z → SCI/);
    expect(calc.stdout).toMatch(/static figure: US-NE-ISNE 210 gCO2e\/kWh → SCI/);
    const json = JSON.parse((await runCli(['calc', '--experiment', String(rows[0]!.id), '--region', 'US-NE-ISNE', '--db', db, '--json'])).stdout) as { stored: Record<string, unknown>; results: { sci_ug: number }[] };
    expect(json.stored).toMatchObject({ intensity_provider: 'electricitymaps', intensity_g_kwh: 159.5, intensity_static_g_kwh: 210, sci_static_ug: rows[0]!.sci_static_ug });
    // Recomputed for the static region with the run's own function: the stored static SCI, bit for bit.
    expect(json.results[0]!.sci_ug).toBe(rows[0]!.sci_static_ug);
  }, 90_000);

  it('WattTime: 5-minute MOER points, converted from lbs/MWh, differ between experiments', async () => {
    stub = await startGridStub({ wtRegion: 'CAISO_NORTH', wtLbsPerMwh });
    const dir = mkdtempSync(join(tmpdir(), 'cb-grid-e2e-'));
    const db = join(dir, 'results.db');
    const r = await runCli(['run', '--program', program(dir, 'intensity_provider: watttime, zone: CAISO_NORTH, signal: co2_moer'), '--db', db, '--json'], {
      cwd: dir,
      env: { WATTTIME_USERNAME: WT_USER, WATTTIME_PASSWORD: WT_PASSWORD, WATTTIME_API_URL: stub.url },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = okRows(db);
    for (const row of rows) {
      const midS = (row.window_start_t_s + row.window_end_t_s) / 2;
      const pointS = Math.floor(midS / 300) * 300;
      const expected = wtLbsPerMwh(pointS) * 0.45359237;
      expect(row).toMatchObject({ intensity_provider: 'watttime', intensity_zone: 'CAISO_NORTH', intensity_signal: 'co2_moer', intensity_at: new Date(pointS * 1000).toISOString(), intensity_g_kwh: expected, intensity_fallback: 0 });
      expect(row.sci_op_ug).toBe(sciByHand(row, expected).op);
      expect(row.sci_static_ug).toBe(sciByHand(row, STATIC_G).total);
    }
    expect(new Set(rows.map((x) => x.intensity_g_kwh)).size).toBeGreaterThan(1);
    expect(stub.requests.filter((q) => q.path === '/login')).toHaveLength(1);
    assertNoSecret(dir, [WT_PASSWORD]);

    // The lookups (real HTTP) must not move the sim engine's virtual clock: the same seed without a
    // provider measures the same windows and energies. (They once did: the sim telemetry advanced time
    // while the thermal watchdog listened during the HTTP call, and the next cooldown gate hung.)
    const staticDir = mkdtempSync(join(tmpdir(), 'cb-grid-e2e-'));
    const staticDb = join(staticDir, 'results.db');
    const s = await runCli(['run', '--program', program(staticDir, 'intensity_provider: static'), '--db', staticDb, '--json'], { cwd: staticDir });
    expect(s.exitCode, s.stderr).toBe(0);
    const staticRows = okRows(staticDb);
    expect(staticRows.map((x) => [x.window_start_t_s, x.window_end_t_s, x.energy_j, x.tokens_out])).toEqual(rows.map((x) => [x.window_start_t_s, x.window_end_t_s, x.energy_j, x.tokens_out]));
    expect(staticRows.map((x) => x.sci_ug)).toEqual(rows.map((x) => x.sci_static_ug));
    expect(staticRows.every((x) => x.intensity_provider === 'static' && x.intensity_fallback === null && x.intensity_estimated === null)).toBe(true);
  }, 90_000);

  it('provider down: the run completes, every experiment scored with the static figure and flagged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-grid-e2e-'));
    const db = join(dir, 'results.db');
    const r = await runCli(['run', '--program', program(dir, 'intensity_provider: electricitymaps', 6), '--db', db, '--json'], {
      cwd: dir,
      env: { ELECTRICITYMAPS_API_KEY: EM_KEY, ELECTRICITYMAPS_API_URL: await deadUrl() },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', experiments: 6, failed: 0 });
    const rows = okRows(db);
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      expect(row).toMatchObject({ intensity_provider: 'static', intensity_g_kwh: STATIC_G, intensity_static_g_kwh: STATIC_G, intensity_estimated: 1, intensity_fallback: 1, intensity_at: null });
      expect(row.sci_ug).toBe(row.sci_static_ug);
      expect(row.sci_ug).toBe(sciByHand(row, STATIC_G).total);
      expect((JSON.parse(row.provenance) as Record<string, string>).intensity_g_kwh).toMatch(/\(static fallback: Electricity Maps zone US-NE-ISNE \(lifecycle\): Electricity Maps http:\/\/127\.0\.0\.1:\d+\/v3\/carbon-intensity\/history: network error \(ECONNREFUSED\)\)$/);
    }
    const calc = await runCli(['calc', '--experiment', String(rows[0]!.id), '--region', 'US-NE-ISNE', '--db', db]);
    expect(calc.stdout).toMatch(/stored: US-NE-ISNE 210 gCO2e\/kWh → SCI .* \(static fallback: the provider failed/);
    assertNoSecret(dir, [EM_KEY]);
  }, 90_000);
});
