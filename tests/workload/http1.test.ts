/**
 * The lean HTTP/1.1 client (src/workload/http1.ts) against real TCP servers on 127.0.0.1 that write
 * exact bytes: framing split at every byte, keep-alive reuse, interim responses, close-delimited bodies,
 * and every way a server can fail (refused, hang-up before answering, reset mid-body, malformed status
 * line or chunk size, silence until the timeout, abort).
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Client, type Http1RequestOptions, type Http1Result } from '../../src/workload/http1.js';
import { realClock } from '../../src/runner/clock.js';
import { rawServer as startRawServer, type Handler, type RawServer } from './raw-http-server.js';

const servers: RawServer[] = [];

async function rawServer(handler: Handler): Promise<RawServer> {
  const server = await startRawServer(handler);
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** Writes `bytes` one byte per TCP segment (Nagle off, a turn of the event loop between bytes). */
async function dribble(socket: net.Socket, bytes: Buffer): Promise<void> {
  socket.setNoDelay(true);
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, 0));
  }
}

async function get(client: Http1Client, extra: Partial<Http1RequestOptions> = {}): Promise<{ result: Http1Result; text: string; pieces: { text: string; arrivalS: number }[]; status: number | null }> {
  const pieces: { text: string; arrivalS: number }[] = [];
  let status: number | null = null;
  const result = await client.request({
    method: 'POST',
    path: '/v1/completions',
    headers: { 'content-type': 'application/json' },
    body: '{"x":"é"}',
    onHead: (s) => (status = s),
    onText: (text, arrivalS) => pieces.push({ text, arrivalS }),
    ...extra,
  });
  return { result, text: pieces.map((p) => p.text).join(''), pieces, status };
}

const BODY = 'data: {"text":"héllo wörld €"}\n\ndata: [DONE]\n\n';

function chunked(body: string, pieces: number): string {
  const bytes = Buffer.from(body);
  const size = Math.ceil(bytes.length / pieces);
  let out = '';
  for (let i = 0; i < bytes.length; i += size) {
    const part = bytes.subarray(i, i + size);
    out += `${part.length.toString(16)};ext=1\r\n${part.toString('latin1')}\r\n`;
  }
  return `${out}0\r\nx-trailer: yes\r\n\r\n`;
}

describe('Http1Client', () => {
  it('sends one well-formed request and parses a chunked body split at every byte (UTF-8 split too, extensions, trailers)', async () => {
    const server = await rawServer((socket) => {
      const response = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${chunked(BODY, 3)}`, 'latin1');
      void dribble(socket, response);
    });
    const client = new Http1Client(server.url, realClock);
    const { result, text, status } = await get(client);
    expect(result).toEqual({ status: 200, complete: true, error: null, reusedConnection: false, aborted: false, timedOut: false });
    expect(status).toBe(200);
    expect(text).toBe(BODY);
    const request = server.requests[0]!;
    expect(request.startsWith('POST /v1/completions HTTP/1.1\r\n')).toBe(true);
    expect(request).toContain(`host: 127.0.0.1:${server.url.port}\r\n`);
    expect(request).toContain('content-length: 10\r\n'); // {"x":"é"} is 10 bytes in UTF-8
    expect(request).toContain('content-type: application/json\r\n');
    expect(Buffer.from(request, 'latin1').toString('utf8').endsWith('\r\n\r\n{"x":"é"}')).toBe(true);
    client.destroy();
  });

  it('reuses a keep-alive connection for the next request, and says so; Connection: close is honoured', async () => {
    const server = await rawServer((socket, _req, i) => {
      const body = `answer ${i}`;
      const close = i === 1 ? 'connection: close\r\n' : '';
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${close}\r\n${body}`);
    });
    const client = new Http1Client(server.url, realClock);
    const a = await get(client);
    const b = await get(client);
    const c = await get(client);
    expect([a.text, b.text, c.text]).toEqual(['answer 0', 'answer 1', 'answer 2']);
    expect([a.result.reusedConnection, b.result.reusedConnection, c.result.reusedConnection]).toEqual([false, true, false]);
    expect(server.connections).toBe(2);
    client.destroy();
  });

  it('skips a 100 Continue interim response and reads a close-delimited body to the end', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      socket.write('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
      setTimeout(() => socket.end('part two'), 20);
    });
    const client = new Http1Client(server.url, realClock);
    const { result, text } = await get(client);
    expect(result.status).toBe(200);
    expect(result.complete).toBe(true);
    expect(result.error).toBeNull();
    expect(text).toBe('part one, part two');
    client.destroy();
  });

  it('stamps each network read: text from one read shares its arrival time, a later read gets a later one', async () => {
    const server = await rawServer((socket) => {
      socket.setNoDelay(true);
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n6\r\nsecond\r\n');
      setTimeout(() => socket.write('5\r\nthird\r\n0\r\n\r\n'), 80);
    });
    const client = new Http1Client(server.url, realClock);
    const { result, pieces } = await get(client);
    expect(result.complete).toBe(true);
    expect(pieces.map((p) => p.text)).toEqual(['first', 'second', 'third']);
    expect(pieces[1]!.arrivalS).toBe(pieces[0]!.arrivalS);
    expect(pieces[2]!.arrivalS - pieces[1]!.arrivalS).toBeGreaterThan(0.06);
    client.destroy();
  });

  it('gives the status and body of an error answer', async () => {
    const server = await rawServer((socket) => {
      const body = '{"error":{"message":"bad model"}}';
      socket.write(`HTTP/1.1 404 Not Found\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
    const client = new Http1Client(server.url, realClock);
    const { result, text } = await get(client);
    expect(result.status).toBe(404);
    expect(result.complete).toBe(true);
    expect(text).toBe('{"error":{"message":"bad model"}}');
    client.destroy();
  });

  it('a connection refused is a connection error with its code, not a protocol error', async () => {
    const server = await rawServer(() => {});
    const url = server.url;
    await server.close();
    servers.length = 0;
    const client = new Http1Client(url, realClock);
    const { result } = await get(client);
    expect(result.status).toBeNull();
    expect(result.complete).toBe(false);
    expect(result.error?.code).toBe('ECONNREFUSED');
    expect(result.error?.protocol).toBe(false);
    expect(result.reusedConnection).toBe(false);
  });

  it('a server that hangs up before answering: a connection error; on a reused connection, marked reused (safe to retry)', async () => {
    const server = await rawServer((socket, _req, i) => {
      if (i === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const client = new Http1Client(server.url, realClock);
    expect((await get(client)).result.complete).toBe(true);
    const { result } = await get(client);
    expect(result.status).toBeNull();
    expect(result.error?.message).toMatch(/socket hang up|ECONNRESET/);
    expect(result.error?.code).toBe('ECONNRESET');
    expect(result.reusedConnection).toBe(true);
    client.destroy();
  });

  it('a body cut off mid-stream is incomplete, with the status it had', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => socket.destroy(), 20);
    });
    const client = new Http1Client(server.url, realClock);
    const { result, text } = await get(client);
    expect(result.status).toBe(200);
    expect(result.complete).toBe(false);
    expect(result.error?.message).toMatch(/connection closed mid-stream/);
    expect(text).toBe('hello');
    client.destroy();
  });

  it.each([
    ['a status line that is not HTTP/1.x', 'HTP/1.1 200 OK\r\n\r\n', /not an HTTP\/1\.x status line/],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', /chunk size "zz"/],
    ['no CRLF after chunk data', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', /no CRLF after a chunk/],
    ['an unsupported transfer-encoding', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n', /unsupported transfer-encoding `gzip`/],
    ['an invalid content-length', 'HTTP/1.1 200 OK\r\ncontent-length: -4\r\n\r\n', /invalid content-length `-4`/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken header\r\n\r\n', /malformed response header line/],
  ])('%s is a protocol error that says what is wrong', async (_name, response, message) => {
    const server = await rawServer((socket) => socket.write(response));
    const client = new Http1Client(server.url, realClock);
    const { result } = await get(client);
    expect(result.complete).toBe(false);
    expect(result.error?.protocol).toBe(true);
    expect(result.error?.message).toMatch(message);
    client.destroy();
  });

  it('a server that never answers: timedOut after timeoutMs, and the connection is closed', async () => {
    let closed = false;
    const server = await rawServer((socket) => socket.on('close', () => (closed = true)));
    const client = new Http1Client(server.url, realClock);
    const t0 = Date.now();
    const { result } = await get(client, { timeoutMs: 150 });
    expect(result.timedOut).toBe(true);
    expect(result.complete).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
    client.destroy();
  });

  it('abort mid-body ends the request at once as aborted; an aborted signal sends nothing', async () => {
    const server = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n'));
    const client = new Http1Client(server.url, realClock);
    const controller = new AbortController();
    const pending = get(client, {
      signal: controller.signal,
      onText: () => controller.abort(),
    });
    const { result } = await pending;
    expect(result.aborted).toBe(true);
    expect(result.complete).toBe(false);
    const again = await get(client, { signal: controller.signal });
    expect(again.result.aborted).toBe(true);
    expect(server.requests).toHaveLength(1);
    client.destroy();
  });

  it('refuses header values with line breaks and paths that are not absolute (no request smuggling)', () => {
    const client = new Http1Client(new URL('http://127.0.0.1:9/'), realClock);
    expect(() => client.request({ method: 'GET', path: '/x', headers: { a: 'b\r\nevil: 1' } })).toThrow(/without line breaks/);
    expect(() => client.request({ method: 'GET', path: 'x y' })).toThrow(/starting with '\/' and without spaces/);
    expect(() => new Http1Client(new URL('ftp://127.0.0.1/'), realClock)).toThrow(/http: or https:/);
  });

  it('https: speaks TLS and verifies the certificate (a self-signed one is refused with the reason)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carbonbench-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      const server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (socket) => {
        socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as net.AddressInfo).port;
      const client = new Http1Client(new URL(`https://127.0.0.1:${port}/`), realClock);
      const { result } = await get(client);
      expect(result.status).toBeNull();
      expect(result.error?.message).toMatch(/self[- ]signed certificate/);
      client.destroy();
      server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
