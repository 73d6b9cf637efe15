/**
 * Streams read on worker threads (src/workload/reader-threads.ts, reader-thread.ts): real worker threads
 * (the compiled entry from `npm run build`), real TCP servers on 127.0.0.1.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEpochClock } from '../../src/runner/clock.js';
import type { Http1RequestOptions } from '../../src/workload/http1.js';
import { ThreadedHttp1Client, defaultReaderThreads, readerThreadEntry } from '../../src/workload/reader-threads.js';
import { rawServer, type Handler, type RawServer } from './raw-http-server.js';

const servers: RawServer[] = [];
const clients: ThreadedHttp1Client[] = [];

async function server(handler: Handler): Promise<RawServer> {
  const s = await rawServer(handler);
  servers.push(s);
  return s;
}

function client(url: URL, threads: number, entry = readerThreadEntry()): ThreadedHttp1Client {
  if (entry === null) throw new Error('no compiled reader-thread entry: run `npm run build` first');
  const c = new ThreadedHttp1Client(url, threads, entry);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function post(c: ThreadedHttp1Client, extra: Partial<Http1RequestOptions> = {}) {
  const pieces: { text: string; arrivalS: number }[] = [];
  let status: number | null = null;
  let headers: ReadonlyMap<string, string> | null = null;
  let sentS: number | null = null;
  const result = await c.request({
    method: 'POST',
    path: '/v1/completions',
    body: '{}',
    onSent: (t) => (sentS = t),
    onHead: (s, h) => {
      status = s;
      headers = h;
    },
    onText: (text, arrivalS) => pieces.push({ text, arrivalS }),
    ...extra,
  });
  return { result, pieces, text: pieces.map((p) => p.text).join(''), status, headers: headers as ReadonlyMap<string, string> | null, sentS: sentS as number | null };
}

function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

describe('defaultReaderThreads', () => {
  it('one thread per 32 streams, at most 8, at most the CPUs but two; none below 4 CPUs', () => {
    expect(defaultReaderThreads(1, 16)).toBe(1);
    expect(defaultReaderThreads(32, 16)).toBe(1);
    expect(defaultReaderThreads(33, 16)).toBe(2);
    expect(defaultReaderThreads(64, 16)).toBe(2);
    expect(defaultReaderThreads(256, 16)).toBe(8);
    expect(defaultReaderThreads(1024, 64)).toBe(8);
    expect(defaultReaderThreads(256, 5)).toBe(3);
    expect(defaultReaderThreads(256, 4)).toBe(2);
    expect(defaultReaderThreads(256, 3)).toBe(0);
    expect(defaultReaderThreads(1, 2)).toBe(0);
  });
});

describe('ThreadedHttp1Client', () => {
  it('reads on the threads: status, headers, text with sub-millisecond epoch stamps, keep-alive reuse; requests spread over the threads', async () => {
    const s = await server((socket, _req, i) => {
      socket.setNoDelay(true);
      socket.write(`HTTP/1.1 200 OK\r\nx-request: ${i}\r\ntransfer-encoding: chunked\r\n\r\n6\r\nfirst \r\n`);
      setTimeout(() => socket.write('6\r\nsecond\r\n0\r\n\r\n'), 40);
    });
    const c = client(s.url, 2);
    const before = Date.now() / 1000;
    // Four at once: two threads, two connections each; then four more reuse those connections.
    const first = await Promise.all([0, 1, 2, 3].map(() => post(c)));
    const second = await Promise.all([0, 1, 2, 3].map(() => post(c)));
    const after = Date.now() / 1000;
    expect(c.threadsStarted).toBe(2);
    for (const r of [...first, ...second]) {
      expect(r.result).toEqual({ status: 200, complete: true, error: null, reusedConnection: expect.any(Boolean), aborted: false, timedOut: false });
      expect(r.status).toBe(200);
      expect(r.headers?.get('x-request')).toMatch(/^\d$/);
      expect(r.text).toBe('first second');
      const [a, b] = r.pieces;
      // Sent (the thread's stamp at the write) before the first byte of the answer arrived.
      expect(r.sentS).toBeGreaterThanOrEqual(before - 0.002);
      expect(r.sentS).toBeLessThanOrEqual(a!.arrivalS);
      expect(a!.arrivalS).toBeGreaterThanOrEqual(before - 0.002);
      expect(b!.arrivalS).toBeLessThanOrEqual(after + 0.002);
      expect(b!.arrivalS - a!.arrivalS).toBeGreaterThan(0.03);
      // Stamps of the threads' epoch clock are not whole milliseconds.
    }
    expect(first.every((r) => !r.result.reusedConnection)).toBe(true);
    expect(second.every((r) => r.result.reusedConnection)).toBe(true);
    expect(s.connections).toBe(4);
    const fractional = [...first, ...second].flatMap((r) => r.pieces).filter((p) => Math.abs(p.arrivalS * 1000 - Math.round(p.arrivalS * 1000)) > 1e-6);
    expect(fractional.length).toBeGreaterThan(0);
  });

  it('errors come back with their kind: protocol errors, connection errors with their code, timeouts, aborts', async () => {
    const s = await server((socket, req) => {
      if (req.includes('/bad')) socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
      else if (req.includes('/cut')) socket.destroy();
      else if (req.includes('/slow')) socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n');
      // /silent: no answer
    });
    const c = client(s.url, 1);
    const bad = await post(c, { path: '/bad' });
    expect(bad.result.error?.protocol).toBe(true);
    expect(bad.result.error?.message).toMatch(/chunk size "zz"/);
    const cut = await post(c, { path: '/cut' });
    expect(cut.result.status).toBeNull();
    expect(cut.result.error?.code).toBe('ECONNRESET');
    expect(cut.result.error?.protocol).toBe(false);
    const silent = await post(c, { path: '/silent', timeoutMs: 100 });
    expect(silent.result.timedOut).toBe(true);
    const controller = new AbortController();
    const slow = await post(c, { path: '/slow', signal: controller.signal, onText: () => controller.abort() });
    expect(slow.result.aborted).toBe(true);
    expect(slow.result.complete).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.open).toBe(0); // every failed exchange closed its connection
    expect(() => c.request({ method: 'GET', path: '/x', headers: { a: 'b\nc: d' } })).toThrow(/without line breaks/);
  });

  it('destroy() ends requests in flight, closes the connections and stops the threads', async () => {
    const s = await server(() => {}); // never answers
    const tasksBefore = threadCount();
    const c = client(s.url, 2);
    const pending = [post(c), post(c), post(c)];
    await vi.waitFor(() => expect(s.requests.length).toBe(3));
    expect(threadCount()).toBeGreaterThanOrEqual(tasksBefore + 2);
    await c.destroy();
    const results = await Promise.all(pending);
    for (const r of results) expect(r.result.error?.message).toBe('the client was closed');
    await vi.waitFor(() => expect(s.open).toBe(0));
    await vi.waitFor(() => expect(threadCount()).toBeLessThanOrEqual(tasksBefore));
    const late = await post(c);
    expect(late.result.error?.message).toBe('the client was closed');
  });

  it('a reader thread that dies fails its requests with the reason, and later requests too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carbonbench-reader-'));
    try {
      const entry = join(dir, 'broken-reader.mjs');
      writeFileSync(entry, "throw new Error('broken on purpose');\n");
      const s = await server(() => {});
      const c = client(s.url, 1, pathToFileURL(entry));
      const { result } = await post(c);
      expect(result.status).toBeNull();
      expect(result.error?.code).toBe('ERR_READER_THREAD');
      expect(result.error?.message).toMatch(/a reader thread of the load generator stopped: broken on purpose/);
      const again = await post(c);
      expect(again.result.error?.message).toMatch(/broken on purpose/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createEpochClock', () => {
  it('epoch seconds with sub-millisecond steps, within a few ms of Date.now()', () => {
    const clock = createEpochClock();
    const values: number[] = [];
    for (let i = 0; i < 2000; i++) values.push(clock.now());
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
    // Date.now() is the floor of the wall clock's ms: the epoch clock is at most 1 ms ahead of it.
    const wallS = Date.now() / 1000;
    const t = clock.now();
    expect(t - wallS).toBeGreaterThanOrEqual(-0.0002);
    expect(t - wallS).toBeLessThan(0.0011);
    expect(values.some((v) => Math.abs(v * 1000 - Math.round(v * 1000)) > 1e-6)).toBe(true);
  });

  it('refines its anchor from later comparisons, follows a step of the system clock forward or back, ignores a wall clock a little behind', () => {
    let perfMs = 1000;
    let wallMs = 1_800_000_000_000;
    let anchorReads = 0;
    const perf = vi.spyOn(performance, 'now').mockImplementation(() => perfMs);
    // The anchor's first read is a millisecond before a tick (seen with no gap: a precise anchor).
    const wall = vi.spyOn(Date, 'now').mockImplementation(() => (anchorReads++ === 0 ? wallMs - 1 : wallMs));
    try {
      const clock = createEpochClock();
      expect(clock.now() * 1000).toBeCloseTo(wallMs, 3);
      // A second later the wall clock reads 5 ms ahead (a preempted anchor, or a step forward): followed.
      perfMs += 1000;
      wallMs += 1005;
      expect(clock.now() * 1000).toBeCloseTo(wallMs, 3);
      // 10 ms behind (under the tolerance; Date.now()'s floor alone is up to 1 ms behind): ignored.
      perfMs += 1000;
      wallMs += 990;
      expect(clock.now() * 1000).toBeCloseTo(wallMs + 10, 3);
      // The system clock steps 30 s forward: followed at the next check (at most a second later).
      wallMs += 30_000;
      perfMs += 200;
      wallMs += 200;
      expect(clock.now() * 1000).toBeCloseTo(wallMs + 10 - 30_000, 3);
      perfMs += 1000;
      wallMs += 1000;
      expect(clock.now() * 1000).toBeCloseTo(wallMs, 3);
      // And 30 s back.
      perfMs += 1000;
      wallMs += 1000 - 30_000;
      expect(clock.now() * 1000).toBeCloseTo(wallMs, 3);
    } finally {
      perf.mockRestore();
      wall.mockRestore();
    }
  });
});
