import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { GEN_FIELDS, fixture } from '../helpers/paths.js';

const gen = JSON.parse(readFileSync(fixture('gen-results.json'), 'utf8')) as { batch: number; joules: number; t0: number; t1: number }[];

describe('carbonbench energy', () => {
  it('integrates a noheader trace over a window given in epoch seconds (--json)', async () => {
    const w = gen.find((x) => x.batch === 8)!;
    const r = await runCli(['energy', fixture('gen-smi-1hz.csv'), '--fields', GEN_FIELDS, '--tz', 'UTC', '--from', String(w.t0), '--to', String(w.t1), '--json']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(expect.arrayContaining(['energy_j', 'duration_s', 'samples', 'mean_power_w', 'peak_power_w', 'start', 'end', 'gaps']));
    expect(Math.abs((doc.energy_j as number) - w.joules) / w.joules).toBeLessThan(0.01);
    expect(doc.duration_s).toBeCloseTo(w.t1 - w.t0, 6);
    expect(doc.mean_power_w).toBeCloseTo((doc.energy_j as number) / (doc.duration_s as number), 9);
    expect(doc.samples).toBe(13); // 12.5 s window, samples at 1 Hz
    expect(doc.start).toBe(new Date(Math.round(w.t0 * 1000)).toISOString());
    expect(doc.gaps).toEqual([]);
  });

  it('accepts ISO-8601 and nvidia-smi formatted times, and --tz shifts naive ones', async () => {
    const iso = await runCli(['energy', fixture('smi-full-format-sample.csv'), '--from', '2026-11-26T05:04:56Z', '--to', '2026/11/26 05:05:00', '--tz', 'UTC', '--json']);
    expect(iso.exitCode).toBe(0);
    expect(JSON.parse(iso.stdout).duration_s).toBeCloseTo(4, 9);
    // Read in Paris (UTC+1), the trace lies an hour before these UTC instants: not covered.
    const paris = await runCli(['energy', fixture('smi-full-format-sample.csv'), '--from', '2026-11-26T05:04:56Z', '--to', '2026-11-26T05:05:00Z', '--tz', 'Europe/Paris', '--json']);
    expect(paris.exitCode).toBe(1);
    expect(JSON.parse(paris.stdout)).toMatchObject({ covered: false });
  });

  it('local time is the default zone and is said', async () => {
    const asLocal = await runCli(['energy', fixture('smi-full-format-sample.csv')], { env: { TZ: 'Asia/Tokyo' } });
    expect(asLocal.exitCode).toBe(0);
    expect(asLocal.stdout).toMatch(/timestamps read as Asia\/Tokyo \(local time; use --tz to change\)/);
    expect(asLocal.stdout).toMatch(/^energy_j: 484\.0/m);
  });

  it('exit 1 and covered:false when the window runs past the trace (batch 128 of gen-results.json)', async () => {
    const w = gen.find((x) => x.batch === 128)!;
    const r = await runCli(['energy', fixture('gen-smi-1hz.csv'), '--fields', GEN_FIELDS, '--tz', 'UTC', '--from', String(w.t0), '--to', String(w.t1), '--json']);
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout) as { error: string; covered: boolean };
    expect(doc.covered).toBe(false);
    expect(doc.error).toMatch(/after the last usable power sample.*not covered/);
  });

  it('a trace with a 5 s gap fails the window and names the gap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-energy-'));
    const lines = readFileSync(fixture('gen-smi-1hz.csv'), 'utf8').trim().split('\n');
    const gappy = [...lines.slice(0, 10), ...lines.slice(14)]; // drop 4 samples: a 5 s interval
    const file = join(dir, 'gap.csv');
    writeFileSync(file, gappy.join('\n') + '\n');
    const r = await runCli(['energy', file, '--fields', GEN_FIELDS, '--tz', 'UTC', '--json']);
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout) as { error: string; gaps: { seconds: number }[] };
    expect(doc.error).toMatch(/gap\(s\) over 3 s/);
    expect(doc.gaps).toHaveLength(1);
    expect(doc.gaps[0]!.seconds).toBeCloseTo(5, 1);
    // Outside the gap the trace still integrates.
    const after = await runCli(['energy', file, '--fields', GEN_FIELDS, '--tz', 'UTC', '--from', '2026-11-26T05:08:20Z', '--json']);
    expect(after.exitCode).toBe(0);
  });

  it('bad input exits 2 with a message naming the problem and what is allowed', async () => {
    const cases: [string[], RegExp][] = [
      [['energy', fixture('gen-smi-1hz.csv')], /no header line.*--fields/],
      [['energy', fixture('smi-full-format-sample.csv'), '--tz', 'Mars/Olympus'], /not a time zone; allowed: local, UTC/],
      [['energy', fixture('smi-full-format-sample.csv'), '--from', 'yesterday'], /--from "yesterday" is not a time; allowed/],
      [['energy', fixture('smi-full-format-sample.csv'), '--power-field', 'power.avg'], /allowed: power.draw, power.draw.instant/],
      [['energy', fixture('smi-full-format-sample.csv'), '--gpus', '0;1'], /--gpus "0;1" \(string\) is invalid/],
      [['energy', '/nonexistent/trace.csv'], /cannot read trace/],
      [['energy', fixture('smi-nounits-once.csv')], /nvidia-smi error message/],
      [['energy'], /missing required argument/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
    }
  });

  it('a reordered trace is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-energy-'));
    const lines = readFileSync(fixture('gen-smi-1hz.csv'), 'utf8').trim().split('\n');
    [lines[5], lines[6]] = [lines[6]!, lines[5]!];
    writeFileSync(join(dir, 'swapped.csv'), lines.join('\n'));
    const r = await runCli(['energy', join(dir, 'swapped.csv'), '--fields', GEN_FIELDS, '--json']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatch(/go back in time/);
  });
});

describe('carbonbench regions', () => {
  it('--json lists every region with its source and the default', async () => {
    const r = await runCli(['regions', '--json']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as { default: string; regions: { id: string; intensity_g_kwh: number; source: string }[] };
    expect(doc.default).toBe('US-NE-ISNE');
    expect(doc.regions.find((x) => x.id === 'US-NE-NEWE')?.intensity_g_kwh).toBe(246.4);
    expect(doc.regions.every((x) => x.source.length > 0)).toBe(true);
  });

  it('prints an aligned table with units in the header', async () => {
    const r = await runCli(['regions']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^id\s+name\s+gCO2e\/kWh\s+year\s+basis\s+source$/);
    expect(r.stdout).toMatch(/US-NE-ISNE \*/);
  });

  it('an unknown flag is a usage error (exit 2)', async () => {
    const r = await runCli(['regions', '--bogus']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});
