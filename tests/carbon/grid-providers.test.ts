/**
 * Electricity Maps and WattTime clients (issue 9 part 2): the parsers on the documented JSON shapes, the
 * unit conversion, and the HTTP paths against a real stub server on 127.0.0.1 — auth headers, 401 (and
 * WattTime's re-login), 429 with Retry-After, unknown zone, malformed bodies, a server that never
 * answers, and one that is not there. No message may carry a key or password.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectricityMapsProvider,
  ProviderError,
  WattTimeProvider,
  lbsPerMwhToGPerKwh,
  parseElectricityMapsHistory,
  parseElectricityMapsPoint,
  parseWattTimeHistorical,
} from '../../src/carbon/providers.js';
import { EM_KEY, WT_PASSWORD, WT_USER, deadUrl, emPoint, startGridStub, type GridStub } from '../helpers/grid-stub.js';

const T0 = 1_800_000_000; // 2027-01-15T08:00:00Z, an hour boundary (the sim engine's virtual clock starts here)
const NOW = T0 + 6 * 3600;

let stub: GridStub | null = null;
afterEach(async () => {
  await stub?.close();
  stub = null;
});

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

const emEnv = (url: string, key = EM_KEY) => ({ ELECTRICITYMAPS_API_URL: url, ...(key ? { ELECTRICITYMAPS_API_KEY: key } : {}) });
const wtEnv = (url: string, password = WT_PASSWORD) => ({ WATTTIME_API_URL: url, WATTTIME_USERNAME: WT_USER, WATTTIME_PASSWORD: password });

describe('parsers on the documented shapes', () => {
  it('Electricity Maps /history: hourly points, isEstimated and estimationMethod kept, null intensities skipped', () => {
    const body = {
      zone: 'DE',
      history: [
        emPoint('DE', T0, 302),
        emPoint('DE', T0 + 3600, 288.5, true),
        { ...emPoint('DE', T0 + 7200, 0), carbonIntensity: null },
      ],
    };
    const points = parseElectricityMapsHistory(body, 'DE', 'lifecycle');
    expect(points).toEqual([
      { provider: 'electricitymaps', zone: 'DE', signal: 'lifecycle', pointTS: T0, periodS: 3600, intensityGPerKwh: 302, estimated: false, estimationMethod: null },
      { provider: 'electricitymaps', zone: 'DE', signal: 'lifecycle', pointTS: T0 + 3600, periodS: 3600, intensityGPerKwh: 288.5, estimated: true, estimationMethod: 'TIME_SLICER_AVERAGE' },
    ]);
  });

  it('Electricity Maps: a wrong shape is a malformed error that says what was expected', () => {
    expect(() => parseElectricityMapsHistory({ zone: 'DE' }, 'DE', 'lifecycle')).toThrow(/expected an object with a `history` array/);
    expect(() => parseElectricityMapsPoint({ ...emPoint('DE', T0, 1), carbonIntensity: -5 }, 'DE', 'lifecycle')).toThrow(/carbonIntensity must be a number of gCO2eq\/kWh >= 0, got -5/);
    expect(() => parseElectricityMapsPoint({ ...emPoint('DE', T0, 1), datetime: 'yesterday' }, 'DE', 'lifecycle')).toThrow(/datetime: expected an ISO-8601 time, got "yesterday"/);
  });

  it('WattTime: lbs/MWh → g/kWh (1 lb/MWh = 0.45359237 g/kWh), period from meta', () => {
    expect(lbsPerMwhToGPerKwh(1000)).toBe(453.59237);
    const points = parseWattTimeHistorical(
      { data: [{ point_time: '2027-01-15T08:00:00+00:00', value: 1000 }, { point_time: '2027-01-15T08:05:00+00:00', value: 0 }], meta: { units: 'lbs_co2_per_mwh', data_point_period_seconds: 300, region: 'CAISO_NORTH', signal_type: 'co2_moer' } },
      'CAISO_NORTH',
      'co2_moer',
    );
    expect(points.map((p) => [p.pointTS, p.periodS, p.intensityGPerKwh, p.estimated])).toEqual([
      [T0, 300, 453.59237, false],
      [T0 + 300, 300, 0, false],
    ]);
  });

  it('WattTime: other units or a missing data array are refused', () => {
    expect(() => parseWattTimeHistorical({ data: [], meta: { units: 'percentile' } }, 'X', 'co2_moer')).toThrow(/meta.units is "percentile"; allowed: "lbs_co2_per_mwh"/);
    expect(() => parseWattTimeHistorical({ meta: {} }, 'X', 'co2_moer')).toThrow(/`data` array/);
    expect(() => parseWattTimeHistorical({ data: [{ point_time: '2027-01-15T08:00:00Z', value: '12' }], meta: { units: 'lbs_co2_per_mwh' } }, 'X', 'co2_moer')).toThrow(/data\[0\]: value must be a number/);
  });
});

describe('Electricity Maps over HTTP', () => {
  it('asks /history with the auth-token header for a recent time, /past for an older one', async () => {
    stub = await startGridStub({ emStartS: T0 - 3600, emHours: 30, emGPerKwh: (h) => 150 + h });
    const p = new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(stub.url) });
    const recent = await p.fetchAround(T0 + 1800, NOW);
    expect(recent).toHaveLength(30);
    expect(stub.requests[0]).toMatchObject({ path: '/v3/carbon-intensity/history', query: { zone: 'US-NE-ISNE', emissionFactorType: 'lifecycle' } });
    expect(stub.requests[0]!.headers['auth-token']).toBe(EM_KEY);

    const old = await p.fetchAround(T0 + 5 * 3600 + 10, T0 + 40 * 3600);
    expect(stub.requests[1]).toMatchObject({ path: '/v3/carbon-intensity/past', query: { zone: 'US-NE-ISNE', datetime: '2027-01-15T13:00:00.000Z' } });
    expect(old).toEqual([expect.objectContaining({ pointTS: T0 + 5 * 3600, intensityGPerKwh: 156 })]);
  });

  it('401 is an auth failure whose message names the endpoint, never the key', async () => {
    stub = await startGridStub();
    const e = await failure(new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(stub.url, 'wrong-key-123456789') }).fetchAround(T0, NOW));
    expect(e.kind).toBe('auth');
    expect(e.message).toMatch(/Electricity Maps http:\/\/127\.0\.0\.1:\d+\/v3\/carbon-intensity\/history: HTTP 401/);
    expect(e.message).not.toContain('wrong-key-123456789');
    expect(e.message).not.toContain('zone=');
  });

  it('no key in the environment: no request at all', async () => {
    stub = await startGridStub();
    const e = await failure(new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(stub.url, '') }).fetchAround(T0, NOW));
    expect(e.kind).toBe('no-key');
    expect(e.message).toBe('ELECTRICITYMAPS_API_KEY is not set');
    expect(stub.requests).toHaveLength(0);
  });

  it('429 carries Retry-After', async () => {
    stub = await startGridStub();
    stub.mode = 'rate-limited';
    const e = await failure(new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(stub.url) }).fetchAround(T0, NOW));
    expect(e.kind).toBe('rate-limited');
    expect(e.retryAfterS).toBe(120);
    expect(e.message).toMatch(/HTTP 429.*Retry-After 120 s/);
  });

  it('an unknown zone is a 404 the error calls an unknown zone', async () => {
    stub = await startGridStub();
    const e = await failure(new ElectricityMapsProvider('XX-NOPE', { env: emEnv(stub.url) }).fetchAround(T0, NOW));
    expect(e.kind).toBe('unknown-zone');
    expect(e.message).toMatch(/HTTP 404: .*Zone 'XX-NOPE' does not exist.*unknown zone/);
  });

  it('a malformed JSON shape and a non-JSON body are malformed errors', async () => {
    stub = await startGridStub();
    const p = new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(stub.url) });
    stub.mode = 'malformed';
    expect((await failure(p.fetchAround(T0, NOW))).message).toMatch(/history item 0: carbonIntensity must be a number.*got "high"/);
    stub.mode = 'not-json';
    const e = await failure(p.fetchAround(T0, NOW));
    expect(e.kind).toBe('malformed');
    expect(e.message).toMatch(/the body is not JSON \("<html>maintenance/);
  });

  it('a server that never answers times out after the configured time', async () => {
    stub = await startGridStub();
    stub.mode = 'hang';
    const t = Date.now();
    const e = await failure(new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(stub.url), timeoutMs: 300 }).fetchAround(T0, NOW));
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/no answer within 300 ms/);
    expect(Date.now() - t).toBeLessThan(3000);
  });

  it('nobody listening: a network error', async () => {
    const e = await failure(new ElectricityMapsProvider('US-NE-ISNE', { env: emEnv(await deadUrl()) }).fetchAround(T0, NOW));
    expect(e.kind).toBe('network');
    expect(e.message).toMatch(/network error \(ECONNREFUSED\)/);
  });
});

describe('WattTime over HTTP', () => {
  it('logs in with basic auth, asks /v3/historical with the bearer token, converts lbs/MWh', async () => {
    stub = await startGridStub({ wtLbsPerMwh: () => 1000 });
    const p = new WattTimeProvider('CAISO_NORTH', 'co2_moer', { env: wtEnv(stub.url) });
    const points = await p.fetchAround(T0 + 1800);
    expect(stub.requests.map((r) => r.path)).toEqual(['/login', '/v3/historical']);
    expect(stub.requests[1]!.query).toEqual({ region: 'CAISO_NORTH', start: '2027-01-15T07:00:00.000Z', end: '2027-01-15T09:00:00.000Z', signal_type: 'co2_moer' });
    expect(stub.requests[1]!.headers.authorization).toBe('Bearer wt-token-1-abcdef');
    expect(points).toHaveLength(24);
    expect(points.every((x) => x.intensityGPerKwh === 453.59237 && x.periodS === 300)).toBe(true);
  });

  it('reuses its token, and logs in again once when it has expired (401)', async () => {
    stub = await startGridStub();
    const p = new WattTimeProvider('CAISO_NORTH', 'co2_aoer', { env: wtEnv(stub.url) });
    await p.fetchAround(T0);
    await p.fetchAround(T0 + 3600);
    expect(p.logins).toBe(1);
    stub.expireTokens();
    const points = await p.fetchAround(T0 + 7200);
    expect(points.length).toBeGreaterThan(0);
    expect(p.logins).toBe(2);
    expect(stub.requests.map((r) => r.path)).toEqual(['/login', '/v3/historical', '/v3/historical', '/v3/historical', '/login', '/v3/historical']);
  });

  it('a wrong password fails once (no login loop), without the password in the message', async () => {
    stub = await startGridStub();
    const e = await failure(new WattTimeProvider('CAISO_NORTH', 'co2_moer', { env: wtEnv(stub.url, 'not-the-password-777') }).fetchAround(T0));
    expect(e.kind).toBe('auth');
    expect(e.message).toMatch(/WattTime http:\/\/127\.0\.0\.1:\d+\/login: HTTP 401/);
    expect(e.message).not.toContain('not-the-password-777');
    expect(stub.requests.map((r) => r.path)).toEqual(['/login']);
  });

  it('an unknown region (400) and a wrong unit are errors naming the problem', async () => {
    stub = await startGridStub();
    const e = await failure(new WattTimeProvider('NOWHERE', 'co2_moer', { env: wtEnv(stub.url) }).fetchAround(T0));
    expect(e.kind).toBe('unknown-zone');
    expect(e.message).toMatch(/HTTP 400: .*Invalid region: NOWHERE/);
    stub.mode = 'malformed';
    const m = await failure(new WattTimeProvider('CAISO_NORTH', 'co2_moer', { env: wtEnv(stub.url) }).fetchAround(T0));
    expect(m.message).toMatch(/meta.units is "g_co2_per_kwh"/);
  });

  it('no credentials: no request', async () => {
    stub = await startGridStub();
    const e = await failure(new WattTimeProvider('CAISO_NORTH', 'co2_moer', { env: { WATTTIME_API_URL: stub.url } }).fetchAround(T0));
    expect(e.kind).toBe('no-key');
    expect(stub.requests).toHaveLength(0);
  });
});
