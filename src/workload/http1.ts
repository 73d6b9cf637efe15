/**
 * A lean HTTP/1.1 client for the load generator's requests (issue 7.1: inter-token timestamps within
 * 1 ms of the server's send times).
 *
 * Why not node:http: measured on the H100 host (bench/RESULTS.md, "where the tail comes from"), reading
 * the same paced stream with `node:http` put 2.2–2.5 ms at p99 between the server's send and the
 * client's timestamp, raw `net` sockets 0.6–1.3 ms, a Python epoll loop 0.3 ms. node:http runs its
 * parser, a Readable stream and a string decoder per network read before user code sees the bytes; here
 * the socket's 'data' handler only reads the clock and queues the bytes, and all parsing (HTTP framing,
 * UTF-8, the caller's SSE and JSON) runs afterwards in one setImmediate per event-loop turn, so every
 * socket of a burst is stamped before any of them is parsed.
 *
 * What it speaks: one request per connection at a time (no pipelining), keep-alive reuse of idle
 * connections, request bodies with Content-Length, responses framed by Transfer-Encoding: chunked,
 * Content-Length, or the connection's close; 1xx interim responses are skipped; `http:` over `net` and
 * `https:` over `tls` (certificates verified). Anything else the server sends is a protocol error.
 */
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import tls from 'node:tls';

export interface Http1RequestOptions {
  method: 'GET' | 'POST';
  /** Path and query, starting with '/'. */
  path: string;
  /** Extra request headers (Host, Content-Length and Connection are set here). */
  headers?: Record<string, string>;
  body?: string;
  /** Aborts the request: its socket is destroyed and the result says `aborted`. */
  signal?: AbortSignal;
  /** No complete response within this many ms: the socket is destroyed and the result says `timedOut`. */
  timeoutMs?: number;
  /** The request was handed to the socket, at this time (clock epoch s): when it was sent. */
  onSent?: (sentS: number) => void;
  /** The status line and headers arrived (header names lower-case). */
  onHead?: (status: number, headers: ReadonlyMap<string, string>) => void;
  /** Decoded body text, with the time (clock epoch s) of the network read that carried its bytes. */
  onText?: (text: string, arrivalS: number) => void;
}

export interface Http1Result {
  /** The final status code; null if no response head arrived. */
  status: number | null;
  /** The body ended where its framing says (or the server closed a close-delimited body). */
  complete: boolean;
  /** What went wrong, if anything (connection errors keep their `code`). */
  error: Http1Error | null;
  /** The request went out on a connection that had served an earlier one. */
  reusedConnection: boolean;
  aborted: boolean;
  timedOut: boolean;
}

export class Http1Error extends Error {
  constructor(
    message: string,
    /** errno-style code of a socket error (ECONNRESET, ECONNREFUSED, …) when there was one. */
    readonly code: string | undefined,
    /** True for protocol violations (malformed status line, chunk size, …): not a connection problem. */
    readonly protocol: boolean,
  ) {
    super(message);
    this.name = 'Http1Error';
  }
}

/**
 * Throws on a request that could not be written safely: a path that is not absolute or has spaces, a
 * header with a line break (request smuggling) or a name with ':'.
 */
export function checkRequest(opts: Pick<Http1RequestOptions, 'path' | 'headers'>): void {
  if (!opts.path.startsWith('/') || /\s/.test(opts.path)) throw new RangeError(`Expected a request path starting with '/' and without spaces, got \`${opts.path}\``);
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) throw new RangeError(`Expected header \`${k}\` without line breaks (and a name without ':')`);
  }
}

/** The result of a request that got no answer: refused or ended with `error` (client closed, thread gone), or aborted. */
export function unansweredResult(how: { error: Http1Error } | { aborted: true }): Http1Result {
  return { status: null, complete: false, error: 'error' in how ? how.error : null, reusedConnection: false, aborted: 'aborted' in how, timedOut: false };
}

interface ClockLike {
  now(): number;
}

const CR = 13;
const LF = 10;
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

type BodyMode = 'chunked' | 'length' | 'close' | 'none';
type ChunkState = 'size' | 'data' | 'data-crlf' | 'trailers';

/** One request/response on a connection. */
class Exchange {
  status: number | null = null;
  keepAlive = false;
  /** Parsing the head (true) or the body (false). */
  inHead = true;
  headChunks: Buffer[] = [];
  headBytes = 0;
  mode: BodyMode = 'none';
  /** Body bytes left: of the current chunk (chunked) or of the body (length). */
  remaining = 0;
  chunkState: ChunkState = 'size';
  line = '';
  readonly decoder = new StringDecoder('utf8');
  done = false;
  timer: NodeJS.Timeout | null = null;
  onAbort: (() => void) | null = null;

  constructor(
    readonly opts: Http1RequestOptions,
    readonly reused: boolean,
    readonly resolve: (r: Http1Result) => void,
  ) {}
}

/** A socket with its queue of stamped reads. */
class Connection {
  readonly pending: Buffer[] = [];
  readonly pendingS: number[] = [];
  exchange: Exchange | null = null;
  served = 0;
  error: Error | null = null;
  ended = false;
  closed = false;

  constructor(readonly socket: net.Socket) {}
}

/**
 * Connections to one origin. `request` never rejects: every failure is in its result.
 */
export class Http1Client {
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;
  private readonly hostHeader: string;
  private readonly idle: Connection[] = [];
  private readonly open = new Set<Connection>();
  /** Connections with stamped reads not parsed yet. */
  private readonly dirty = new Set<Connection>();
  private flushScheduled = false;
  private destroyed = false;
  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    for (const conn of this.dirty) this.drain(conn);
    this.dirty.clear();
  };

  constructor(
    origin: URL,
    private readonly clock: ClockLike,
  ) {
    if (origin.protocol !== 'http:' && origin.protocol !== 'https:') throw new RangeError(`Expected an http: or https: URL, got \`${origin.protocol}\``);
    this.secure = origin.protocol === 'https:';
    // URL keeps IPv6 literals in brackets; sockets want them bare.
    this.host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = origin.port ? Number(origin.port) : this.secure ? 443 : 80;
    this.hostHeader = origin.host;
  }

  request(opts: Http1RequestOptions): Promise<Http1Result> {
    checkRequest(opts);
    const body = opts.body ?? '';
    let head = `${opts.method} ${opts.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\nconnection: keep-alive\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    for (const [k, v] of Object.entries(opts.headers ?? {})) head += `${k}: ${v}\r\n`;
    const message = `${head}\r\n${body}`;
    return new Promise<Http1Result>((resolve) => {
      if (this.destroyed) {
        resolve(unansweredResult({ error: new Http1Error('the client was closed', undefined, false) }));
        return;
      }
      if (opts.signal?.aborted) {
        resolve(unansweredResult({ aborted: true }));
        return;
      }
      const conn = this.acquire();
      const ex = new Exchange(opts, conn.served > 0, resolve);
      conn.exchange = ex;
      if (opts.timeoutMs !== undefined) {
        ex.timer = setTimeout(() => this.settle(conn, ex, { timedOut: true }), opts.timeoutMs);
      }
      if (opts.signal) {
        ex.onAbort = () => this.settle(conn, ex, { aborted: true });
        opts.signal.addEventListener('abort', ex.onAbort, { once: true });
      }
      conn.socket.write(message);
      opts.onSent?.(this.clock.now());
    });
  }

  /** Closes every connection; requests in flight end with an error. */
  destroy(): void {
    this.destroyed = true;
    for (const conn of [...this.open]) conn.socket.destroy();
    this.idle.length = 0;
  }

  // ---- connections -----------------------------------------------------------------------------

  private acquire(): Connection {
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      if (!conn.closed && !conn.ended && !conn.socket.destroyed) return conn;
    }
    const socket = this.secure ? tls.connect({ host: this.host, port: this.port, servername: net.isIP(this.host) ? undefined : this.host }) : net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    const conn = new Connection(socket);
    this.open.add(conn);
    socket.on('data', (buf: Buffer) => {
      // The read path: one clock read and a queue push. Parsing waits for the end of this turn.
      conn.pending.push(buf);
      conn.pendingS.push(this.clock.now());
      this.dirty.add(conn);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushAll);
      }
    });
    socket.on('error', (err) => {
      conn.error ??= err;
    });
    socket.on('end', () => {
      conn.ended = true;
      this.drain(conn);
      const ex = conn.exchange;
      if (ex && !ex.done && !ex.inHead && ex.mode === 'close') this.settle(conn, ex, {});
    });
    socket.on('close', () => {
      conn.closed = true;
      this.open.delete(conn);
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      this.drain(conn);
      const ex = conn.exchange;
      if (!ex || ex.done) return;
      if (!ex.inHead && ex.mode === 'close' && !conn.error) return this.settle(conn, ex, {});
      const code = (conn.error as NodeJS.ErrnoException | null)?.code;
      const cause = conn.error ? conn.error.message : null;
      const message = ex.inHead
        ? (cause ?? 'socket hang up: the server closed the connection before answering')
        : `connection closed mid-stream${cause ? ` (${cause})` : ''}`;
      this.settle(conn, ex, { error: new Http1Error(message, code ?? (ex.inHead && !cause ? 'ECONNRESET' : undefined), false) });
    });
    return conn;
  }

  private release(conn: Connection): void {
    conn.exchange = null;
    conn.served++;
    if (this.destroyed || conn.closed || conn.ended) {
      conn.socket.destroy();
      return;
    }
    this.idle.push(conn);
  }

  /** Ends an exchange once: resolves its promise and frees or closes its connection. */
  private settle(conn: Connection, ex: Exchange, how: { error?: Http1Error; aborted?: boolean; timedOut?: boolean }): void {
    if (ex.done) return;
    ex.done = true;
    if (ex.timer) clearTimeout(ex.timer);
    if (ex.onAbort) ex.opts.signal?.removeEventListener('abort', ex.onAbort);
    const failed = how.error !== undefined || how.aborted === true || how.timedOut === true;
    if (!failed) {
      const rest = ex.decoder.end();
      if (rest.length > 0) ex.opts.onText?.(rest, this.clock.now());
    }
    const complete = !failed;
    if (complete && ex.keepAlive && conn.pending.length === 0) this.release(conn);
    else {
      conn.exchange = null;
      conn.socket.destroy();
    }
    ex.resolve({ status: ex.status, complete, error: how.error ?? null, reusedConnection: ex.reused, aborted: how.aborted === true, timedOut: how.timedOut === true });
  }

  // ---- parsing -----------------------------------------------------------------------------------

  /** Parses every queued read of a connection, in order. */
  private drain(conn: Connection): void {
    while (conn.pending.length > 0) {
      const buf = conn.pending.shift()!;
      const arrivalS = conn.pendingS.shift()!;
      const ex = conn.exchange;
      if (!ex || ex.done) {
        // Bytes with no request waiting for them (an idle keep-alive connection): not HTTP/1.1 as we
        // speak it. Drop the connection.
        conn.pending.length = 0;
        conn.pendingS.length = 0;
        conn.socket.destroy();
        return;
      }
      try {
        this.consume(conn, ex, buf, arrivalS);
      } catch (err) {
        const e = err instanceof Http1Error ? err : new Http1Error(err instanceof Error ? err.message : String(err), undefined, true);
        this.settle(conn, ex, { error: e });
      }
    }
  }

  private consume(conn: Connection, ex: Exchange, buf: Buffer, arrivalS: number): void {
    let pos = 0;
    while (pos < buf.length && !ex.done) {
      if (ex.inHead) {
        pos = this.consumeHead(ex, buf, pos);
        if (!ex.inHead && ex.mode === 'none') this.settle(conn, ex, {});
        continue;
      }
      if (ex.mode === 'length' || ex.mode === 'close') {
        const end = ex.mode === 'length' ? Math.min(buf.length, pos + ex.remaining) : buf.length;
        this.text(ex, buf, pos, end, arrivalS);
        if (ex.mode === 'length') ex.remaining -= end - pos;
        pos = end;
        if (ex.mode === 'length' && ex.remaining === 0) this.settle(conn, ex, {});
        continue;
      }
      pos = this.consumeChunked(conn, ex, buf, pos, arrivalS);
    }
    if (pos < buf.length && ex.done && !conn.socket.destroyed) {
      // Bytes after a complete response (no pipelining here): the connection is not reusable.
      conn.socket.destroy();
    }
  }

  private text(ex: Exchange, buf: Buffer, start: number, end: number, arrivalS: number): void {
    if (end <= start) return;
    const s = ex.decoder.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    if (s.length > 0) ex.opts.onText?.(s, arrivalS);
  }

  /** Collects head bytes; parses the head once complete. Returns the position after what it used. */
  private consumeHead(ex: Exchange, buf: Buffer, pos: number): number {
    const piece = pos === 0 ? buf : buf.subarray(pos);
    ex.headChunks.push(piece);
    ex.headBytes += piece.length;
    const all = ex.headChunks.length === 1 ? piece : Buffer.concat(ex.headChunks);
    const end = all.indexOf(HEAD_END);
    if (end < 0) {
      if (ex.headBytes > MAX_HEAD_BYTES) throw new Http1Error(`the response head is larger than ${MAX_HEAD_BYTES} bytes`, undefined, true);
      if (ex.headChunks.length > 1) ex.headChunks = [all];
      return buf.length;
    }
    const used = end + HEAD_END.length - (ex.headBytes - piece.length); // bytes of `piece` in the head
    ex.headChunks = [];
    ex.headBytes = 0;
    this.parseHead(ex, all.toString('latin1', 0, end));
    return pos + used;
  }

  private parseHead(ex: Exchange, head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!m) throw new Http1Error(`not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 100))}`, undefined, true);
    const status = Number(m[2]);
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Http1Error(`malformed response header line: ${JSON.stringify(line.slice(0, 100))}`, undefined, true);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers.get(name);
      headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    if (status >= 100 && status < 200) return; // interim (100 Continue): the real head follows
    ex.status = status;
    const connection = (headers.get('connection') ?? '').toLowerCase();
    ex.keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
    const cl = headers.get('content-length');
    if (status === 204 || status === 304) ex.mode = 'none';
    else if (te !== '') {
      if (!/(^|,)\s*chunked\s*$/.test(te)) throw new Http1Error(`unsupported transfer-encoding \`${te}\` (only chunked)`, undefined, true);
      ex.mode = 'chunked';
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new Http1Error(`invalid content-length \`${cl}\``, undefined, true);
      ex.remaining = Number(cl);
      ex.mode = ex.remaining === 0 ? 'none' : 'length';
    } else {
      ex.mode = 'close';
      ex.keepAlive = false;
    }
    ex.inHead = false;
    ex.opts.onHead?.(status, headers);
  }

  /** Chunked framing: size line, data, CRLF, …, 0, trailers, blank line. */
  private consumeChunked(conn: Connection, ex: Exchange, buf: Buffer, pos: number, arrivalS: number): number {
    const n = buf.length;
    while (pos < n && !ex.done) {
      switch (ex.chunkState) {
        case 'data': {
          const end = Math.min(n, pos + ex.remaining);
          this.text(ex, buf, pos, end, arrivalS);
          ex.remaining -= end - pos;
          pos = end;
          if (ex.remaining === 0) ex.chunkState = 'data-crlf';
          break;
        }
        case 'data-crlf': {
          // The CRLF after a chunk's data (its CR, then its LF, possibly in separate reads).
          const b = buf[pos]!;
          if (b === CR && ex.line === '') ex.line = '\r';
          else if (b === LF && ex.line === '\r') {
            ex.line = '';
            ex.chunkState = 'size';
          } else throw new Http1Error('malformed chunked body: no CRLF after a chunk', undefined, true);
          pos++;
          break;
        }
        case 'size':
        case 'trailers': {
          const lf = buf.indexOf(LF, pos);
          const end = lf < 0 ? n : lf;
          ex.line += buf.toString('latin1', pos, end);
          if (ex.line.length > MAX_LINE_BYTES) throw new Http1Error('malformed chunked body: a chunk-size or trailer line is too long', undefined, true);
          pos = lf < 0 ? n : lf + 1;
          if (lf < 0) break;
          const line = ex.line.endsWith('\r') ? ex.line.slice(0, -1) : ex.line;
          ex.line = '';
          if (ex.chunkState === 'trailers') {
            if (line === '') this.settle(conn, ex, {});
            break;
          }
          const sizeText = line.split(';', 1)[0]!.trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) throw new Http1Error(`malformed chunked body: chunk size ${JSON.stringify(sizeText.slice(0, 20))}`, undefined, true);
          const size = parseInt(sizeText, 16);
          if (size === 0) ex.chunkState = 'trailers';
          else {
            ex.remaining = size;
            ex.chunkState = 'data';
          }
          break;
        }
      }
    }
    return pos;
  }
}
