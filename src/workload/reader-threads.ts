/**
 * HTTP requests read on worker threads (issue 7.1: inter-token timestamps within 1 ms of the server's
 * send times at p99).
 *
 * Node spends microseconds of JS on every network read before user code can read the clock; a decode
 * step of a busy server is a burst of one chunk per stream, so on one event loop the last socket of a
 * 256-stream burst is stamped a millisecond or more after the first, and any other work of the main
 * thread (SSE and JSON parsing, NVML reads that block 2–5 ms, SQLite writes) delays the stamps further.
 * Here the connections live on reader threads (reader-thread.ts), each running the lean client of
 * http1.ts for a share of the streams and doing nothing else: it stamps every read with its own
 * sub-millisecond epoch clock, frames the HTTP body, and posts the text with its arrival time to the main
 * thread once per turn. The main thread parses as before; only the stamps moved.
 *
 * Each request goes to the thread with the fewest requests in flight. A thread that dies fails its
 * requests with a clear error (the load then fails by its own rules).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Http1Error, checkRequest, unansweredResult, type Http1RequestOptions, type Http1Result } from './http1.js';

/** What the load generator needs of an HTTP client (http1.ts Http1Client, or threads). */
export interface Http1Requester {
  request(opts: Http1RequestOptions): Promise<Http1Result>;
  /** Closes every connection (and thread); requests in flight end with an error. */
  destroy(): void | Promise<void>;
}

export interface ReaderThreadData {
  origin: string;
}

export type ReaderCommand =
  | { op: 'request'; id: number; method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body: string; timeoutMs: number | undefined }
  | { op: 'abort'; id: number };

export type ReaderEvent =
  | { k: 'sent'; id: number; sentS: number }
  | { k: 'head'; id: number; status: number; headers: [string, string][] }
  | { k: 'text'; id: number; text: string; arrivalS: number }
  | {
      k: 'end';
      id: number;
      status: number | null;
      complete: boolean;
      reusedConnection: boolean;
      aborted: boolean;
      timedOut: boolean;
      error: { message: string; code: string | undefined; protocol: boolean } | null;
    };

/** Streams per reader thread the default aims at (a burst of this many reads takes ~0.1–0.3 ms). */
const STREAMS_PER_THREAD = 32;
const MAX_THREADS = 8;

/** Below this many CPUs (of this process's affinity) the streams are read on the main thread. */
const MIN_CPUS_FOR_THREADS = 4;

/**
 * Reader threads for `concurrency` streams: one per STREAMS_PER_THREAD streams, at most MAX_THREADS and
 * at most the CPUs left after two (the main thread and the engine's own process); none below
 * MIN_CPUS_FOR_THREADS CPUs, where a reader thread would share a CPU with the main thread and its stamps
 * would wait for the main thread's time slice (measured on the 2-core box: ITL error p99 1.9 ms with a
 * thread, 0.5 ms without). Pure.
 */
export function defaultReaderThreads(concurrency: number, cpus: number = availableParallelism()): number {
  if (cpus < MIN_CPUS_FOR_THREADS) return 0;
  return Math.max(1, Math.min(Math.ceil(concurrency / STREAMS_PER_THREAD), MAX_THREADS, cpus - 2));
}

/**
 * The compiled reader-thread entry: next to this module in dist/, or (when this module runs from the
 * TypeScript sources, as under vitest) in the package's dist/ — built by `npm run build`. Null when there
 * is none: requests are then read on the main thread.
 */
export function readerThreadEntry(): URL | null {
  const here = new URL('./reader-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/workload/reader-thread.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? pathToFileURL(fileURLToPath(built)) : null;
}

interface Pending {
  opts: Http1RequestOptions;
  resolve: (r: Http1Result) => void;
  thread: ReaderThread;
  onAbort: (() => void) | null;
}

interface ReaderThread {
  worker: Worker;
  inFlight: number;
  failed: Error | null;
}

export class ThreadedHttp1Client implements Http1Requester {
  private readonly threads: ReaderThread[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private destroyed = false;

  constructor(
    private readonly origin: URL,
    private readonly threadCount: number,
    private readonly entry: URL,
  ) {
    if (!Number.isInteger(threadCount) || threadCount < 1) throw new RangeError(`Expected \`threadCount\` to be a positive integer, got \`${threadCount}\``);
  }

  /** Threads started so far (they start with the first requests that need them). */
  get threadsStarted(): number {
    return this.threads.length;
  }

  request(opts: Http1RequestOptions): Promise<Http1Result> {
    checkRequest(opts);
    return new Promise<Http1Result>((resolve) => {
      if (this.destroyed) return resolve(unansweredResult({ error: new Http1Error('the client was closed', undefined, false) }));
      if (opts.signal?.aborted) return resolve(unansweredResult({ aborted: true }));
      const thread = this.pick();
      if (thread.failed) return resolve(unansweredResult({ error: new Http1Error(thread.failed.message, 'ERR_READER_THREAD', false) }));
      const id = this.nextId++;
      const p: Pending = { opts, resolve, thread, onAbort: null };
      if (opts.signal) {
        p.onAbort = () => thread.worker.postMessage({ op: 'abort', id } satisfies ReaderCommand);
        opts.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.pending.set(id, p);
      if (thread.inFlight++ === 0) thread.worker.ref();
      thread.worker.postMessage({ op: 'request', id, method: opts.method, path: opts.path, headers: opts.headers ?? {}, body: opts.body ?? '', timeoutMs: opts.timeoutMs } satisfies ReaderCommand);
    });
  }

  /** Closes every connection and stops the threads; resolves once they have exited. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const closed = new Http1Error('the client was closed', undefined, false);
    for (const id of [...this.pending.keys()]) this.end(id, unansweredResult({ error: closed }));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  /** The thread with the fewest requests in flight; a new one while fewer than threadCount run. */
  private pick(): ReaderThread {
    let best: ReaderThread | null = null;
    for (const t of this.threads) if (!t.failed && (best === null || t.inFlight < best.inFlight)) best = t;
    if (best !== null && (best.inFlight === 0 || this.threads.length >= this.threadCount)) return best;
    if (this.threads.length >= this.threadCount) return this.threads[0]!; // all failed: report that
    return this.spawn();
  }

  private spawn(): ReaderThread {
    const worker = new Worker(this.entry, { workerData: { origin: this.origin.href } satisfies ReaderThreadData });
    const thread: ReaderThread = { worker, inFlight: 0, failed: null };
    worker.unref();
    worker.on('message', (events: ReaderEvent[]) => {
      for (const ev of events) this.onEvent(ev);
    });
    const die = (why: string): void => {
      if (thread.failed) return;
      thread.failed = new Error(`a reader thread of the load generator stopped: ${why}`);
      const err = new Http1Error(thread.failed.message, 'ERR_READER_THREAD', false);
      for (const [id, p] of [...this.pending]) if (p.thread === thread) this.end(id, unansweredResult({ error: err }));
    };
    worker.on('error', (err) => die(err instanceof Error ? err.message : String(err)));
    worker.on('exit', (code) => {
      if (!this.destroyed) die(`exit code ${code}`);
    });
    this.threads.push(thread);
    return thread;
  }

  private onEvent(ev: ReaderEvent): void {
    const p = this.pending.get(ev.id);
    if (!p) return; // ended here already (destroyed, thread failure)
    if (ev.k === 'sent') p.opts.onSent?.(ev.sentS);
    else if (ev.k === 'head') p.opts.onHead?.(ev.status, new Map(ev.headers));
    else if (ev.k === 'text') p.opts.onText?.(ev.text, ev.arrivalS);
    else {
      const error = ev.error ? new Http1Error(ev.error.message, ev.error.code, ev.error.protocol) : null;
      this.end(ev.id, { status: ev.status, complete: ev.complete, error, reusedConnection: ev.reusedConnection, aborted: ev.aborted, timedOut: ev.timedOut });
    }
  }

  private end(id: number, result: Http1Result): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.onAbort) p.opts.signal?.removeEventListener('abort', p.onAbort);
    if (--p.thread.inFlight === 0) p.thread.worker.unref();
    p.resolve(result);
  }
}
