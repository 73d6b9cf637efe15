/**
 * The intensity in force at an experiment (issue 9 part 2): point selection by time, the results.db
 * cache (a second lookup is served with the server gone), data lag, and every provider failure ending as
 * the static figure with a flag and the reason — never an exception.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ElectricityMapsProvider, WattTimeProvider } from '../../src/carbon/providers.js';
import { IntensityResolver, MAX_LAG_S, makeProvider, selectPoint, type TimedPoint } from '../../src/carbon/timed-intensity.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { EM_KEY, WT_PASSWORD, WT_USER, deadUrl, startGridStub, type GridStub } from '../helpers/grid-stub.js';

const T0 = 1_800_000_000; // 2027-01-15T08:00:00Z
const STATIC = { intensityGPerKwh: 210, region: 'US-NE-ISNE', source: 'Connecticut / ISO New England: reference study' };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempStore(): { store: Store; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cb-grid-'));
  const path = join(dir, 'results.db');
  const store = openSqliteStore(path);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return { store, path };
}

async function stubWith(opts: Parameters<typeof startGridStub>[0] = {}): Promise<GridStub> {
  const s = await startGridStub(opts);
  cleanups.push(() => s.close());
  return s;
}

const em = (url: string, key = EM_KEY, timeoutMs?: number) =>
  new ElectricityMapsProvider('US-NE-ISNE', { env: { ELECTRICITYMAPS_API_URL: url, ...(key ? { ELECTRICITYMAPS_API_KEY: key } : {}) }, ...(timeoutMs ? { timeoutMs } : {}) });

const p = (pointTS: number, g: number, periodS = 3600): TimedPoint => ({ pointTS, periodS, intensityGPerKwh: g, estimated: false, estimationMethod: null });

describe('selectPoint', () => {
  const points = [p(T0, 100), p(T0 + 3600, 200), p(T0 + 7200, 300)];
  it('takes the point whose period covers the time (start inclusive, end exclusive)', () => {
    expect(selectPoint(points, T0)?.point.intensityGPerKwh).toBe(100);
    expect(selectPoint(points, T0 + 3599.999)?.point.intensityGPerKwh).toBe(100);
    expect(selectPoint(points, T0 + 3600)).toEqual({ point: points[1], lagged: false });
    expect(selectPoint(points, T0 + 10_799)?.lagged).toBe(false);
  });
  it('after the last published point: the latest one, flagged as lagged, up to MAX_LAG_S', () => {
    expect(selectPoint(points, T0 + 10_800)).toEqual({ point: points[2], lagged: true });
    expect(selectPoint(points, T0 + 10_800 + MAX_LAG_S)?.point.intensityGPerKwh).toBe(300);
    expect(selectPoint(points, T0 + 10_800 + MAX_LAG_S + 1)).toBeNull();
  });
  it('before the first point or with no points: nothing', () => {
    expect(selectPoint(points, T0 - 1)).toBeNull();
    expect(selectPoint([], T0)).toBeNull();
  });
});

describe('IntensityResolver', () => {
  it('static provider: the static figure, no flags, no request', async () => {
    const { store } = tempStore();
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider: makeProvider({ provider: 'static' }, 'US-NE-ISNE') });
    expect(await r.resolve(T0, T0 + 60)).toEqual({ intensityGPerKwh: 210, provider: 'static', zone: null, signal: null, at: null, estimated: null, fallback: null, staticGPerKwh: 210, source: STATIC.source });
  });

  it('uses the point covering the window midpoint, caches the response, and serves the next lookup from results.db with the server gone', async () => {
    const stub = await stubWith({ emStartS: T0 - 7200, emHours: 24, emGPerKwh: (h) => 100 + 10 * h });
    const { store, path } = tempStore();
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url), nowS: () => T0 + 20 * 3600 });
    // Window 08:59:00–09:01:30: midpoint 09:00:15 is in hour index 3 (from 06:00) → 130 g/kWh.
    const got = await r.resolve(T0 + 3540, T0 + 3690);
    expect(got).toMatchObject({ intensityGPerKwh: 130, provider: 'electricitymaps', zone: 'US-NE-ISNE', signal: 'lifecycle', at: '2027-01-15T09:00:00.000Z', estimated: false, fallback: false, staticGPerKwh: 210 });
    expect(got.source).toMatch(/Electricity Maps zone US-NE-ISNE \(lifecycle\): 130 gCO2e\/kWh for 2027-01-15T09:00:00.000Z–2027-01-15T10:00:00.000Z; covers the window midpoint 2027-01-15T09:00:15.000Z; fetched now/);
    expect(stub.requests).toHaveLength(1);
    expect(await store.listIntensityPoints({ provider: 'electricitymaps', zone: 'US-NE-ISNE', signal: 'lifecycle' }, 0, 2e9)).toHaveLength(24);
    await stub.close();

    // A later process (report, calc, resume) on the same db, offline.
    await store.close();
    const again = openSqliteStore(path);
    cleanups.push(() => again.close());
    const offline = new IntensityResolver({ store: again, staticChoice: STATIC, provider: em(await deadUrl()), nowS: () => T0 + 20 * 3600 });
    const cached = await offline.resolve(T0 + 4 * 3600, T0 + 4 * 3600 + 100);
    expect(cached).toMatchObject({ intensityGPerKwh: 160, provider: 'electricitymaps', fallback: false, estimated: false });
    expect(cached.source).toMatch(/results.db intensity_cache/);
    expect(offline.fetches).toBe(0);
  });

  it('a point the provider estimated is flagged estimated, with its method', async () => {
    const stub = await stubWith({ emStartS: T0, emHours: 4, emEstimatedHours: [1] });
    const { store } = tempStore();
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url), nowS: () => T0 + 4 * 3600 });
    const got = await r.resolve(T0 + 3600, T0 + 3700);
    expect(got).toMatchObject({ estimated: true, fallback: false, intensityGPerKwh: 110 });
    expect(got.source).toMatch(/estimated by the provider \(TIME_SLICER_AVERAGE\)/);
  });

  it('data lag: the hour is not published yet → the latest point, estimated, and it says so', async () => {
    const stub = await stubWith({ emStartS: T0, emHours: 3 });
    const { store } = tempStore();
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url), nowS: () => T0 + 4 * 3600 });
    const got = await r.resolve(T0 + 3.5 * 3600, T0 + 3.5 * 3600 + 60);
    expect(got).toMatchObject({ intensityGPerKwh: 120, at: '2027-01-15T10:00:00.000Z', estimated: true, fallback: false });
    expect(got.source).toMatch(/data lag: the period covering the window midpoint 2027-01-15T11:30:30.000Z is not published yet, latest point used/);
    // The next experiment a minute later does not ask again at once (REFETCH_AFTER_S).
    await r.resolve(T0 + 3.5 * 3600 + 60, T0 + 3.5 * 3600 + 120);
    expect(stub.requests).toHaveLength(1);
    // An experiment in the next hour asks again at once (that hour may have other data).
    expect((await r.resolve(T0 + 4.2 * 3600, T0 + 4.2 * 3600 + 60)).estimated).toBe(true);
    expect(stub.requests).toHaveLength(2);
  });

  it.each([
    ['unauthorized', /HTTP 401/],
    ['rate-limited', /HTTP 429.*Retry-After 120 s/],
    ['malformed', /carbonIntensity must be a number/],
    ['not-json', /the body is not JSON/],
    ['server-error', /HTTP 503/],
  ] as const)('%s → static figure, fallback and estimated flags, the reason in provenance', async (mode, reason) => {
    const stub = await stubWith();
    stub.mode = mode;
    const { store } = tempStore();
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url), nowS: () => T0 + 3600 });
    const got = await r.resolve(T0, T0 + 60);
    expect(got).toMatchObject({ intensityGPerKwh: 210, provider: 'static', estimated: true, fallback: true, staticGPerKwh: 210 });
    expect(got.source).toMatch(/^Connecticut \/ ISO New England: reference study \(static fallback: Electricity Maps zone US-NE-ISNE \(lifecycle\): Electricity Maps /);
    expect(got.source).toMatch(reason);
    expect(got.source).not.toContain(EM_KEY);
  });

  it('unknown zone, no key, timeout, server down: static with the reason; a failed provider is not asked again for every experiment', async () => {
    const stub = await stubWith();
    const { store } = tempStore();
    const unknown = new IntensityResolver({ store, staticChoice: STATIC, provider: new ElectricityMapsProvider('XX-NOPE', { env: { ELECTRICITYMAPS_API_URL: stub.url, ELECTRICITYMAPS_API_KEY: EM_KEY } }), nowS: () => T0 });
    expect((await unknown.resolve(T0, T0 + 60)).source).toMatch(/static fallback: .*HTTP 404.*does not exist/);
    const noKey = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url, ''), nowS: () => T0 });
    expect((await noKey.resolve(T0, T0 + 60)).source).toMatch(/static fallback: Electricity Maps zone US-NE-ISNE \(lifecycle\): ELECTRICITYMAPS_API_KEY is not set\)$/);

    stub.mode = 'hang';
    const slow = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url, EM_KEY, 200), nowS: () => T0 });
    expect((await slow.resolve(T0, T0 + 60)).source).toMatch(/no answer within 200 ms/);

    let now = T0;
    const down = new IntensityResolver({ store, staticChoice: STATIC, provider: em(await deadUrl()), nowS: () => now });
    for (let i = 0; i < 5; i++) {
      const got = await down.resolve(T0 + i * 100, T0 + i * 100 + 60);
      expect(got).toMatchObject({ provider: 'static', fallback: true, intensityGPerKwh: 210 });
      expect(got.source).toMatch(/network error \(ECONNREFUSED\)/);
    }
    expect(down.fetches).toBe(1);
    now += 61; // an outage is retried after a minute
    await down.resolve(T0 + 600, T0 + 660);
    expect(down.fetches).toBe(2);
  });

  it('a store that cannot read or write the cache does not fail the lookup: the fresh answer is used', async () => {
    const stub = await stubWith({ emStartS: T0, emHours: 3, emGPerKwh: () => 99 });
    const { store } = tempStore();
    await store.close(); // every store call now throws StoreError
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider: em(stub.url), nowS: () => T0 + 3 * 3600 });
    expect(await r.resolve(T0 + 60, T0 + 120)).toMatchObject({ intensityGPerKwh: 99, provider: 'electricitymaps', fallback: false });
  });

  it('WattTime: the 5-minute point covering the midpoint, converted to g/kWh', async () => {
    const stub = await stubWith({ wtLbsPerMwh: (t) => (t - T0 + 3600) / 300 });
    const { store } = tempStore();
    const provider = new WattTimeProvider('CAISO_NORTH', 'co2_moer', { env: { WATTTIME_API_URL: stub.url, WATTTIME_USERNAME: WT_USER, WATTTIME_PASSWORD: WT_PASSWORD } });
    const r = new IntensityResolver({ store, staticChoice: STATIC, provider, nowS: () => T0 + 7200 });
    // midpoint 08:26:40 → the point of 08:25 (17 five-minute steps after 07:00) → 17 lbs/MWh
    const got = await r.resolve(T0 + 1500, T0 + 1700);
    expect(got).toMatchObject({ intensityGPerKwh: 17 * 0.45359237, provider: 'watttime', zone: 'CAISO_NORTH', signal: 'co2_moer', at: '2027-01-15T08:25:00.000Z', estimated: false, fallback: false });
    // The next window in the same two hours comes from the cache.
    expect((await r.resolve(T0 + 3000, T0 + 3100)).intensityGPerKwh).toBe(22 * 0.45359237);
    expect(stub.requests.filter((q) => q.path === '/v3/historical')).toHaveLength(1);
  });
});
