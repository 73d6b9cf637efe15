/**
 * Time-resolved grid carbon intensity from an online provider (issue 9 part 2), behind one interface.
 *
 * Electricity Maps API v3 (https://static.electricitymap.org/api/docs/, https://portal.electricitymaps.com/docs/api):
 *   GET {base}/v3/carbon-intensity/history?zone=Z   the last 24 hours, hourly (free tier)
 *     → { zone, history: [{ zone, carbonIntensity, datetime, updatedAt, emissionFactorType, isEstimated, estimationMethod }] }
 *   GET {base}/v3/carbon-intensity/past?zone=Z&datetime=ISO   one such object (commercial tier)
 *   header `auth-token: <key>`; carbonIntensity in gCO2eq/kWh; `datetime` is the start of the hour;
 *   `emissionFactorType` lifecycle (default) or direct; `isEstimated` when measured data is missing.
 * WattTime API v3 (https://docs.watttime.org):
 *   GET {base}/login with HTTP basic auth → { token } (expires after 30 minutes; re-login on 401)
 *   GET {base}/v3/historical?region=R&start=ISO&end=ISO&signal_type=co2_moer|co2_aoer, `Authorization: Bearer <token>`
 *     → { data: [{ point_time, value }], meta: { region, signal_type, units: "lbs_co2_per_mwh", data_point_period_seconds, … } }
 *   1 lb/MWh = 0.45359237 g/kWh.
 *
 * Keys come from the environment only and never reach results.db, a log line or an error message:
 * errors name the endpoint path and the HTTP status, never a header.
 */
import { CarbonbenchError } from '../errors.js';

export const PROVIDER_NAMES = ['electricitymaps', 'watttime'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
export const INTENSITY_PROVIDERS = ['static', ...PROVIDER_NAMES] as const;
export type IntensityProviderName = (typeof INTENSITY_PROVIDERS)[number];
export const WATTTIME_SIGNALS = ['co2_moer', 'co2_aoer'] as const;
export type WattTimeSignal = (typeof WATTTIME_SIGNALS)[number];

export const G_PER_KWH_PER_LB_PER_MWH = 0.45359237;

export const ELECTRICITYMAPS_DEFAULT_URL = 'https://api.electricitymap.org';
export const WATTTIME_DEFAULT_URL = 'https://api.watttime.org';
/** Environment variables: keys (never stored) and base URLs (tests, proxies). */
export const ENV = {
  electricityMapsKey: 'ELECTRICITYMAPS_API_KEY',
  electricityMapsUrl: 'ELECTRICITYMAPS_API_URL',
  wattTimeUser: 'WATTTIME_USERNAME',
  wattTimePassword: 'WATTTIME_PASSWORD',
  wattTimeUrl: 'WATTTIME_API_URL',
  timeoutMs: 'CARBONBENCH_INTENSITY_TIMEOUT_MS',
} as const;
export const DEFAULT_TIMEOUT_MS = 4000;

/** One data point of a provider, in gCO2e/kWh, valid from pointTS for periodS seconds. */
export interface IntensityPoint {
  provider: ProviderName;
  zone: string;
  signal: string;
  /** Start of the period the value covers, epoch seconds. */
  pointTS: number;
  periodS: number;
  intensityGPerKwh: number;
  /** The provider marked the value as estimated (not measured). */
  estimated: boolean;
  /** The provider's estimation method, when it says. */
  estimationMethod: string | null;
}

/** Why a provider gave no data. `retryAfterS`: when a retry makes sense (429 Retry-After), seconds. */
export type ProviderFailureKind = 'auth' | 'rate-limited' | 'unknown-zone' | 'http' | 'network' | 'timeout' | 'malformed' | 'no-key';

export class ProviderError extends CarbonbenchError {
  constructor(
    message: string,
    readonly kind: ProviderFailureKind,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

export interface IntensityProvider {
  readonly name: ProviderName;
  readonly zone: string;
  readonly signal: string;
  /** In words, for provenance: `Electricity Maps zone US-NE-ISNE (lifecycle)`. */
  readonly label: string;
  /** Points around tS (the covering one if published). nowS: wall clock, epoch seconds. Throws ProviderError. */
  fetchAround(tS: number, nowS: number): Promise<IntensityPoint[]>;
}

// ---------------------------------------------------------------------------------------------------
// Parsers (pure): the documented JSON shapes → points. Anything else is a `malformed` ProviderError.

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function isoToS(value: unknown, what: string): number {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new ProviderError(`${what}: expected an ISO-8601 time, got ${JSON.stringify(value)}`, 'malformed');
  return ms / 1000;
}

/** One Electricity Maps carbon-intensity object; null when its carbonIntensity is null (a data gap). */
export function parseElectricityMapsPoint(obj: unknown, zone: string, signal: string, what = 'Electricity Maps response'): IntensityPoint | null {
  if (!isObject(obj)) throw new ProviderError(`${what}: expected a JSON object, got ${JSON.stringify(obj)?.slice(0, 80)}`, 'malformed');
  if (obj.carbonIntensity === null) return null;
  const g = obj.carbonIntensity;
  if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) {
    throw new ProviderError(`${what}: carbonIntensity must be a number of gCO2eq/kWh >= 0, got ${JSON.stringify(g)}`, 'malformed');
  }
  return {
    provider: 'electricitymaps',
    zone,
    signal,
    pointTS: isoToS(obj.datetime, `${what}: datetime`),
    periodS: 3600,
    intensityGPerKwh: g,
    estimated: obj.isEstimated === true,
    estimationMethod: typeof obj.estimationMethod === 'string' ? obj.estimationMethod : null,
  };
}

export function parseElectricityMapsHistory(body: unknown, zone: string, signal: string): IntensityPoint[] {
  if (!isObject(body) || !Array.isArray(body.history)) {
    throw new ProviderError('Electricity Maps /history response: expected an object with a `history` array', 'malformed');
  }
  return body.history.map((h, i) => parseElectricityMapsPoint(h, zone, signal, `Electricity Maps /history item ${i}`)).filter((p): p is IntensityPoint => p !== null);
}

export const lbsPerMwhToGPerKwh = (lbsPerMwh: number): number => lbsPerMwh * G_PER_KWH_PER_LB_PER_MWH;

export function parseWattTimeHistorical(body: unknown, region: string, signal: string): IntensityPoint[] {
  if (!isObject(body) || !Array.isArray(body.data) || !isObject(body.meta)) {
    throw new ProviderError('WattTime /v3/historical response: expected an object with a `data` array and a `meta` object', 'malformed');
  }
  const units = body.meta.units;
  if (units !== 'lbs_co2_per_mwh') {
    throw new ProviderError(`WattTime /v3/historical response: meta.units is ${JSON.stringify(units)}; allowed: "lbs_co2_per_mwh" (the CO2 signals co2_moer, co2_aoer)`, 'malformed');
  }
  const period = body.meta.data_point_period_seconds ?? 300;
  if (typeof period !== 'number' || !(period > 0)) {
    throw new ProviderError(`WattTime /v3/historical response: meta.data_point_period_seconds must be a number > 0, got ${JSON.stringify(period)}`, 'malformed');
  }
  return body.data.map((d, i) => {
    const what = `WattTime /v3/historical data[${i}]`;
    if (!isObject(d)) throw new ProviderError(`${what}: expected an object`, 'malformed');
    if (typeof d.value !== 'number' || !Number.isFinite(d.value) || d.value < 0) {
      throw new ProviderError(`${what}: value must be a number of lbs/MWh >= 0, got ${JSON.stringify(d.value)}`, 'malformed');
    }
    return {
      provider: 'watttime' as const,
      zone: region,
      signal,
      pointTS: isoToS(d.point_time, `${what}: point_time`),
      periodS: period,
      intensityGPerKwh: lbsPerMwhToGPerKwh(d.value),
      estimated: false,
      estimationMethod: null,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// HTTP

/** `https://user:pw@host/path?q` → `https://host/path`: nothing secret in a message. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function retryAfterSeconds(header: string | null): number | null {
  if (header === null) return null;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, (at - Date.now()) / 1000) : null;
}

/** GET a JSON document; every failure is a ProviderError naming the endpoint (no query, no headers). */
export async function getJson(url: string, headers: Record<string, string>, timeoutMs: number, who: string): Promise<unknown> {
  const where = `${who} ${safeUrl(url)}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new ProviderError(`${where}: no answer within ${timeoutMs} ms`, 'timeout');
    throw new ProviderError(`${where}: network error (${e.cause?.code ?? e.message})`, 'network');
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    throw new ProviderError(`${where}: ${e.name === 'TimeoutError' ? `no complete answer within ${timeoutMs} ms` : `reading the body failed (${e.message})`}`, e.name === 'TimeoutError' ? 'timeout' : 'network');
  }
  if (!res.ok) {
    const detail = text.replace(/\s+/g, ' ').slice(0, 200);
    const status = `HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
    if (res.status === 401 || res.status === 403) throw new ProviderError(`${where}: ${status} (check the credentials in the environment)`, 'auth');
    if (res.status === 429) {
      const after = retryAfterSeconds(res.headers.get('retry-after'));
      throw new ProviderError(`${where}: ${status} (rate limited${after !== null ? `; Retry-After ${after} s` : ''})`, 'rate-limited', after);
    }
    if (res.status === 404 || res.status === 400) throw new ProviderError(`${where}: ${status} (unknown zone or region, or no data for that time)`, 'unknown-zone');
    throw new ProviderError(`${where}: ${status}`, 'http');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderError(`${where}: the body is not JSON (${JSON.stringify(text.slice(0, 80))})`, 'malformed');
  }
}

const hourFloorS = (tS: number): number => Math.floor(tS / 3600) * 3600;
const isoS = (tS: number): string => new Date(tS * 1000).toISOString();

function baseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

export interface ProviderEnv {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

function timeoutOf(opts: ProviderEnv): number {
  const fromEnv = Number((opts.env ?? process.env)[ENV.timeoutMs]);
  return opts.timeoutMs ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_TIMEOUT_MS);
}

export class ElectricityMapsProvider implements IntensityProvider {
  readonly name = 'electricitymaps' as const;
  readonly signal = 'lifecycle';
  readonly label: string;
  private readonly base: string;
  private readonly key: string | undefined;
  private readonly timeoutMs: number;

  constructor(
    readonly zone: string,
    opts: ProviderEnv = {},
  ) {
    const env = opts.env ?? process.env;
    this.base = baseUrl(env[ENV.electricityMapsUrl] || ELECTRICITYMAPS_DEFAULT_URL);
    this.key = env[ENV.electricityMapsKey] || undefined;
    this.timeoutMs = timeoutOf(opts);
    this.label = `Electricity Maps zone ${zone} (${this.signal})`;
  }

  async fetchAround(tS: number, nowS: number): Promise<IntensityPoint[]> {
    if (!this.key) throw new ProviderError(`${ENV.electricityMapsKey} is not set`, 'no-key');
    const headers = { 'auth-token': this.key };
    const zone = encodeURIComponent(this.zone);
    // /history covers the last 24 hours (free tier); older times need /past (commercial tier).
    if (tS >= nowS - 23 * 3600) {
      const body = await getJson(`${this.base}/v3/carbon-intensity/history?zone=${zone}&emissionFactorType=${this.signal}`, headers, this.timeoutMs, 'Electricity Maps');
      return parseElectricityMapsHistory(body, this.zone, this.signal);
    }
    const url = `${this.base}/v3/carbon-intensity/past?zone=${zone}&datetime=${encodeURIComponent(isoS(hourFloorS(tS)))}&emissionFactorType=${this.signal}`;
    const point = parseElectricityMapsPoint(await getJson(url, headers, this.timeoutMs, 'Electricity Maps'), this.zone, this.signal, 'Electricity Maps /past response');
    return point ? [point] : [];
  }
}

export class WattTimeProvider implements IntensityProvider {
  readonly name = 'watttime' as const;
  readonly label: string;
  private readonly base: string;
  private readonly user: string | undefined;
  private readonly password: string | undefined;
  private readonly timeoutMs: number;
  private token: string | null = null;
  /** Logins made (tests: the re-login on 401). */
  logins = 0;

  constructor(
    readonly zone: string,
    readonly signal: WattTimeSignal,
    opts: ProviderEnv = {},
  ) {
    const env = opts.env ?? process.env;
    this.base = baseUrl(env[ENV.wattTimeUrl] || WATTTIME_DEFAULT_URL);
    this.user = env[ENV.wattTimeUser] || undefined;
    this.password = env[ENV.wattTimePassword] || undefined;
    this.timeoutMs = timeoutOf(opts);
    this.label = `WattTime region ${zone} (${signal})`;
  }

  private async login(): Promise<string> {
    if (!this.user || !this.password) throw new ProviderError(`${ENV.wattTimeUser} and ${ENV.wattTimePassword} must both be set`, 'no-key');
    this.logins++;
    const basic = Buffer.from(`${this.user}:${this.password}`).toString('base64');
    const body = await getJson(`${this.base}/login`, { authorization: `Basic ${basic}` }, this.timeoutMs, 'WattTime');
    if (!isObject(body) || typeof body.token !== 'string' || body.token === '') {
      throw new ProviderError('WattTime /login response: expected an object with a `token` string', 'malformed');
    }
    this.token = body.token;
    return body.token;
  }

  async fetchAround(tS: number): Promise<IntensityPoint[]> {
    const startS = hourFloorS(tS) - 3600;
    const endS = hourFloorS(tS) + 3600;
    const url = `${this.base}/v3/historical?region=${encodeURIComponent(this.zone)}&start=${encodeURIComponent(isoS(startS))}&end=${encodeURIComponent(isoS(endS))}&signal_type=${this.signal}`;
    const get = async (token: string): Promise<unknown> => getJson(url, { authorization: `Bearer ${token}` }, this.timeoutMs, 'WattTime');
    let body: unknown;
    const fresh = this.token === null;
    try {
      body = await get(this.token ?? (await this.login()));
    } catch (err) {
      // The token expires after 30 minutes: a 401 with an older token logs in again, once.
      if (!(err instanceof ProviderError && err.kind === 'auth' && !fresh && this.token !== null)) throw err;
      this.token = null;
      body = await get(await this.login());
    }
    return parseWattTimeHistorical(body, this.zone, this.signal);
  }
}
