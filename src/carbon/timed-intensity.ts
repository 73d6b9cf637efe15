/**
 * The grid intensity in force during an experiment (issue 9 part 2): the provider's data point that
 * covers the midpoint of the measurement window, from results.db's intensity_cache when it is there, else
 * fetched once (after the window, never during it) and cached. Never fails an experiment: no key, no
 * network, 401, 429, an unknown zone or a malformed answer give the static figure with a fallback flag and
 * the reason in provenance.
 */
import type { Logger } from '../log.js';
import type { IntensityCacheEntry, Store } from '../store/types.js';
import {
  ElectricityMapsProvider,
  ProviderError,
  WattTimeProvider,
  type IntensityPoint,
  type IntensityProvider,
  type IntensityProviderName,
  type ProviderEnv,
  type WattTimeSignal,
} from './providers.js';
import { DEFAULT_REGION, type IntensityChoice } from './regions.js';

/** A point that ended at most this long before the midpoint stands in for an unpublished one (data lag). */
export const MAX_LAG_S = 6 * 3600;
/** After a fetch that did not cover the time, wait this long (wall clock) before asking about the same hour again. */
export const REFETCH_AFTER_S = 300;

/** A data point as selection needs it (cache rows and fresh points both fit). */
export interface TimedPoint {
  pointTS: number;
  periodS: number;
  intensityGPerKwh: number;
  estimated: boolean;
  estimationMethod: string | null;
}

export interface Selection {
  point: TimedPoint;
  /** The covering point is not published yet; `point` is the latest one before it. */
  lagged: boolean;
}

/** The point covering tS, else the latest one that ended at most maxLagS before it; null if neither. */
export function selectPoint(points: readonly TimedPoint[], tS: number, maxLagS = MAX_LAG_S): Selection | null {
  const covering = points.filter((p) => p.pointTS <= tS && tS < p.pointTS + p.periodS);
  if (covering.length > 0) {
    // Two series never overlap, but prefer the most recent start if they do.
    return { point: covering.reduce((a, b) => (b.pointTS > a.pointTS ? b : a)), lagged: false };
  }
  const before = points.filter((p) => p.pointTS + p.periodS <= tS && tS - (p.pointTS + p.periodS) <= maxLagS);
  if (before.length === 0) return null;
  return { point: before.reduce((a, b) => (b.pointTS > a.pointTS ? b : a)), lagged: true };
}

/** The intensity an experiment is scored with, and everything the experiments row stores about it. */
export interface ResolvedIntensity {
  intensityGPerKwh: number;
  provider: IntensityProviderName;
  zone: string | null;
  signal: string | null;
  /** ISO-8601 start of the data point used; null for static. */
  at: string | null;
  /** null when no provider was configured (static by choice). */
  estimated: boolean | null;
  fallback: boolean | null;
  staticGPerKwh: number;
  /** Provenance of intensity_g_kwh, in words. */
  source: string;
}

export interface CarbonIntensityConfig {
  provider: IntensityProviderName;
  /** Electricity Maps zone or WattTime region. */
  zone?: string;
  signal?: WattTimeSignal;
}

export function makeProvider(config: CarbonIntensityConfig, staticRegion: string | null, opts: ProviderEnv = {}): IntensityProvider | null {
  switch (config.provider) {
    case 'static':
      return null;
    case 'electricitymaps':
      return new ElectricityMapsProvider(config.zone ?? staticRegion ?? DEFAULT_REGION, opts);
    case 'watttime':
      return new WattTimeProvider(config.zone ?? '', config.signal ?? 'co2_moer', opts);
  }
}

const iso = (tS: number): string => new Date(tS * 1000).toISOString();

function fromCache(e: IntensityCacheEntry): TimedPoint {
  return { pointTS: e.pointTS, periodS: e.periodS, intensityGPerKwh: e.gKwh, estimated: e.estimated, estimationMethod: e.estimationMethod };
}

export interface ResolverOptions {
  store: Store;
  staticChoice: IntensityChoice;
  provider: IntensityProvider | null;
  log?: Logger;
  /** Wall clock, epoch seconds (tests). */
  nowS?: () => number;
}

/** One per run: remembers failures (so an offline run does not wait on every experiment) and last fetches. */
export class IntensityResolver {
  private blockedUntilS = -Infinity;
  private lastFailure: string | null = null;
  private lastFetchS = -Infinity;
  private lastFetchHour: number | null = null;
  /** HTTP lookups made (tests). */
  fetches = 0;

  constructor(private readonly opts: ResolverOptions) {}

  get provider(): IntensityProvider | null {
    return this.opts.provider;
  }

  private nowS(): number {
    return this.opts.nowS?.() ?? Date.now() / 1000;
  }

  private staticResult(extra: Partial<ResolvedIntensity> & { source: string }): ResolvedIntensity {
    const s = this.opts.staticChoice;
    return { intensityGPerKwh: s.intensityGPerKwh, provider: 'static', zone: null, signal: null, at: null, estimated: null, fallback: null, staticGPerKwh: s.intensityGPerKwh, ...extra };
  }

  /** The intensity for a window [fromS, toS] (epoch seconds of the experiment's clock). */
  async resolve(fromS: number, toS: number): Promise<ResolvedIntensity> {
    const provider = this.opts.provider;
    const staticSource = this.opts.staticChoice.source;
    if (!provider) return this.staticResult({ source: staticSource });
    const midS = (fromS + toS) / 2;
    const key = { provider: provider.name, zone: provider.zone, signal: provider.signal };
    // The cache only saves requests: a store error here must not fail the experiment either.
    const cached = async (): Promise<TimedPoint[]> => {
      try {
        return (await this.opts.store.listIntensityPoints(key, midS - MAX_LAG_S - 86_400, midS + 1)).map(fromCache);
      } catch (err) {
        this.opts.log?.warn({ err }, 'intensity_cache could not be read');
        return [];
      }
    };

    const known = await cached();
    let selection = selectPoint(known, midS);
    let origin = 'results.db intensity_cache';
    const now = this.nowS();
    // Ask when nothing covers the midpoint, unless the provider failed recently (blockedUntilS) or was
    // asked about the same hour less than REFETCH_AFTER_S ago (an unpublished hour stays so for a while).
    const hour = Math.floor(midS / 3600);
    const askedLately = hour === this.lastFetchHour && now - this.lastFetchS < REFETCH_AFTER_S;
    if ((!selection || selection.lagged) && now >= this.blockedUntilS && !askedLately) {
      this.lastFetchS = now;
      this.lastFetchHour = null;
      this.lastFailure = null;
      this.fetches++;
      try {
        const points = await provider.fetchAround(midS, now);
        this.lastFetchHour = hour; // answered: the same hour is asked again after REFETCH_AFTER_S
        if (points.length > 0) {
          await this.opts.store.putIntensityPoints(points.map(toCacheEntry)).catch((err: unknown) => this.opts.log?.warn({ err }, 'intensity_cache could not be written'));
        }
        const fresh = selectPoint([...points, ...known], midS);
        if (fresh) {
          selection = fresh;
          origin = 'fetched now, cached in results.db';
        }
      } catch (err) {
        const e = err instanceof ProviderError ? err : new ProviderError((err as Error).message, 'network');
        this.lastFailure = `${provider.label}: ${e.message}`;
        // A wrong key or zone will not fix itself during the run; a rate limit or outage may.
        const waitS = e.kind === 'auth' || e.kind === 'no-key' || e.kind === 'unknown-zone' ? Infinity : e.kind === 'rate-limited' ? (e.retryAfterS ?? 60) : 60;
        this.blockedUntilS = now + waitS;
        this.opts.log?.warn({ provider: provider.name, kind: e.kind, error: e.message }, 'grid intensity provider failed; using the static intensity');
      }
    }
    if (!selection) {
      const reason = this.lastFailure ?? `${provider.label}: no data point within ${MAX_LAG_S / 3600} h before ${iso(midS)}`;
      return this.staticResult({ estimated: true, fallback: true, source: `${staticSource} (static fallback: ${reason})` });
    }
    const { point, lagged } = selection;
    const notes = [
      `${provider.label}: ${point.intensityGPerKwh} gCO2e/kWh for ${iso(point.pointTS)}–${iso(point.pointTS + point.periodS)}`,
      lagged ? `data lag: the period covering the window midpoint ${iso(midS)} is not published yet, latest point used` : `covers the window midpoint ${iso(midS)}`,
      ...(point.estimated ? [`estimated by the provider${point.estimationMethod ? ` (${point.estimationMethod})` : ''}`] : []),
      origin,
    ];
    return {
      intensityGPerKwh: point.intensityGPerKwh,
      provider: provider.name,
      zone: provider.zone,
      signal: provider.signal,
      at: iso(point.pointTS),
      estimated: lagged || point.estimated,
      fallback: false,
      staticGPerKwh: this.opts.staticChoice.intensityGPerKwh,
      source: notes.join('; '),
    };
  }
}

function toCacheEntry(p: IntensityPoint): { provider: IntensityPoint['provider']; zone: string; signal: string; pointTS: number; periodS: number; gKwh: number; estimated: boolean; estimationMethod: string | null } {
  return { provider: p.provider, zone: p.zone, signal: p.signal, pointTS: Math.round(p.pointTS), periodS: Math.round(p.periodS), gKwh: p.intensityGPerKwh, estimated: p.estimated, estimationMethod: p.estimationMethod };
}
