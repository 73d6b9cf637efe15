/**
 * A real HTTP server on 127.0.0.1 (port 0) that answers like Electricity Maps v3 and WattTime v3 do,
 * with the documented JSON shapes (see src/carbon/providers.ts for the URLs), and misbehaves on demand:
 * 401, 429 with Retry-After, unknown zone, malformed body, no answer at all.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const EM_KEY = 'em-test-key-8f3a9c2e71';
export const WT_USER = 'wt-user';
export const WT_PASSWORD = 'wt-secret-password-5d1b';

export type StubMode = 'ok' | 'unauthorized' | 'rate-limited' | 'malformed' | 'not-json' | 'hang' | 'server-error';

export interface GridStubOptions {
  /** Electricity Maps: hourly points from emStartS, emHours of them, value per hour index. */
  emZone?: string;
  emStartS?: number;
  emHours?: number;
  emGPerKwh?: (hour: number) => number;
  /** Hour indices the stub marks isEstimated (estimationMethod TIME_SLICER_AVERAGE). */
  emEstimatedHours?: readonly number[];
  /** WattTime: 5-minute points, lbs/MWh as a function of the point's epoch seconds. */
  wtRegion?: string;
  wtLbsPerMwh?: (pointTS: number) => number;
  /** WattTime data exists up to this time (exclusive); later points are not published yet. */
  wtPublishedUntilS?: number;
}

export interface StubRequest {
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
}

export interface GridStub {
  url: string;
  requests: StubRequest[];
  mode: StubMode;
  /** Invalidates every issued WattTime token (they expire after 30 minutes in reality). */
  expireTokens(): void;
  close(): Promise<void>;
}

const iso = (tS: number): string => new Date(tS * 1000).toISOString().replace('.000Z', 'Z');

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export function emPoint(zone: string, tS: number, g: number, estimated = false): Record<string, unknown> {
  return {
    zone,
    carbonIntensity: g,
    datetime: iso(tS).replace('Z', '.000Z'),
    updatedAt: iso(tS + 7200).replace('Z', '.000Z'),
    createdAt: iso(tS - 86400).replace('Z', '.000Z'),
    emissionFactorType: 'lifecycle',
    isEstimated: estimated,
    estimationMethod: estimated ? 'TIME_SLICER_AVERAGE' : null,
  };
}

export async function startGridStub(opts: GridStubOptions = {}): Promise<GridStub> {
  const emZone = opts.emZone ?? 'US-NE-ISNE';
  const emStartS = opts.emStartS ?? 1_800_000_000 - 7200;
  const emHours = opts.emHours ?? 24;
  const emG = opts.emGPerKwh ?? ((h: number) => 100 + 10 * h);
  const wtRegion = opts.wtRegion ?? 'CAISO_NORTH';
  const wtLbs = opts.wtLbsPerMwh ?? ((tS: number) => 800 + ((tS / 300) % 12) * 10);
  const validTokens = new Set<string>();
  let tokenSeq = 0;
  const requests: StubRequest[] = [];
  const stub = { mode: 'ok' as StubMode };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(u.searchParams);
    requests.push({ path: u.pathname, query, headers: req.headers });
    switch (stub.mode) {
      case 'hang':
        return; // never answers
      case 'rate-limited':
        return send(res, 429, { message: 'Too many requests' }, { 'retry-after': '120' });
      case 'server-error':
        return send(res, 503, { message: 'Service unavailable' });
      case 'not-json':
        return send(res, 200, '<html>maintenance</html>');
      default:
    }
    if (u.pathname.startsWith('/v3/carbon-intensity/')) {
      if (stub.mode === 'unauthorized' || req.headers['auth-token'] !== EM_KEY) return send(res, 401, { message: 'Invalid auth-token' });
      if (stub.mode === 'malformed') return send(res, 200, { zone: emZone, history: [{ datetime: iso(emStartS), carbonIntensity: 'high' }] });
      if (query.zone !== emZone) return send(res, 404, { status: 'error', message: `Zone '${query.zone}' does not exist.` });
      const points = Array.from({ length: emHours }, (_, h) => emPoint(emZone, emStartS + h * 3600, emG(h), opts.emEstimatedHours?.includes(h) ?? false));
      if (u.pathname === '/v3/carbon-intensity/history') return send(res, 200, { zone: emZone, history: points });
      if (u.pathname === '/v3/carbon-intensity/past') {
        const tS = Date.parse(query.datetime ?? '') / 1000;
        const h = Math.floor((tS - emStartS) / 3600);
        if (!Number.isFinite(tS) || h < 0 || h >= emHours) return send(res, 404, { status: 'error', message: 'No data available for this datetime' });
        return send(res, 200, points[h]);
      }
      return send(res, 404, { message: 'not found' });
    }
    if (u.pathname === '/login') {
      const basic = `Basic ${Buffer.from(`${WT_USER}:${WT_PASSWORD}`).toString('base64')}`;
      if (stub.mode === 'unauthorized' || req.headers.authorization !== basic) return send(res, 401, { error: 'Unauthorized' });
      const token = `wt-token-${++tokenSeq}-abcdef`;
      validTokens.add(token);
      return send(res, 200, { token });
    }
    if (u.pathname === '/v3/historical') {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!validTokens.has(token)) return send(res, 401, { error: 'Token expired or invalid' });
      if (query.region !== wtRegion) return send(res, 400, { error: `Invalid region: ${query.region}` });
      const startS = Date.parse(query.start ?? '') / 1000;
      const endS = Date.parse(query.end ?? '') / 1000;
      if (!Number.isFinite(startS) || !Number.isFinite(endS)) return send(res, 400, { error: 'start and end are required' });
      if (stub.mode === 'malformed') return send(res, 200, { data: [{ point_time: iso(startS), value: 900 }], meta: { units: 'g_co2_per_kwh', region: wtRegion } });
      const data: { point_time: string; value: number }[] = [];
      for (let t = Math.ceil(startS / 300) * 300; t < endS && t < (opts.wtPublishedUntilS ?? Infinity); t += 300) data.push({ point_time: iso(t).replace('Z', '+00:00'), value: wtLbs(t) });
      return send(res, 200, {
        data,
        meta: {
          data_point_period_seconds: 300,
          region: wtRegion,
          signal_type: query.signal_type,
          units: 'lbs_co2_per_mwh',
          warnings: [],
          model: { date: '2024-10-01', type: 'binned_regression' },
          generated_at_period_seconds: 300,
          generated_at: iso(Date.now() / 1000),
        },
      });
    }
    send(res, 404, { message: 'not found' });
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    requests,
    expireTokens: () => validTokens.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A URL on which nothing listens: a port that was free a moment ago. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
