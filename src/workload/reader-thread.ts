/**
 * Entry of a reader thread (reader-threads.ts): owns HTTP connections, stamps every network read on
 * its own event loop, and posts what it read to the main thread once per turn. Nothing else runs here,
 * so the stamps do not wait for the main thread's work (SSE and JSON parsing, NVML reads, SQLite).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Http1Client, Http1Error, unansweredResult, type Http1Result } from './http1.js';
import { createEpochClock } from '../runner/clock.js';
import type { ReaderCommand, ReaderEvent, ReaderThreadData } from './reader-threads.js';

const port = parentPort;
if (!port) throw new Error('reader-thread.js runs only as a worker thread');
const data = workerData as ReaderThreadData;
const client = new Http1Client(new URL(data.origin), createEpochClock());
const aborts = new Map<number, AbortController>();

/**
 * Text goes to the main thread at most this often: its stamps were taken at the read, so only the main
 * thread's bookkeeping waits, and one message per 2 ms instead of one per turn saves most of the
 * messaging CPU when streams are read flat out. A request's end goes at once (the closed loop starts
 * the next request on it), with everything queued before it.
 */
const TEXT_POST_INTERVAL_MS = 2;

let outbox: ReaderEvent[] = [];
let timer: NodeJS.Timeout | null = null;
let sendQueued = false;

function post(event: ReaderEvent): void {
  outbox.push(event);
  if (event.k === 'end') {
    if (!sendQueued) {
      sendQueued = true;
      queueMicrotask(send); // after the turn's flush: one message for all of it
    }
  } else if (timer === null && !sendQueued) {
    timer = setTimeout(send, TEXT_POST_INTERVAL_MS);
  }
}

function send(): void {
  sendQueued = false;
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
  }
  if (outbox.length === 0) return;
  const events = outbox;
  outbox = [];
  port!.postMessage(events);
}

function ended(id: number, r: Http1Result): void {
  aborts.delete(id);
  post({
    k: 'end',
    id,
    status: r.status,
    complete: r.complete,
    reusedConnection: r.reusedConnection,
    aborted: r.aborted,
    timedOut: r.timedOut,
    error: r.error ? { message: r.error.message, code: r.error.code, protocol: r.error.protocol } : null,
  });
}

port.on('message', (cmd: ReaderCommand) => {
  if (cmd.op === 'abort') {
    aborts.get(cmd.id)?.abort();
    return;
  }
  const { id } = cmd;
  const controller = new AbortController();
  aborts.set(id, controller);
  let promise: Promise<Http1Result>;
  try {
    promise = client.request({
      method: cmd.method,
      path: cmd.path,
      headers: cmd.headers,
      body: cmd.body,
      timeoutMs: cmd.timeoutMs,
      signal: controller.signal,
      onSent: (sentS) => post({ k: 'sent', id, sentS }),
      onHead: (status, headers) => post({ k: 'head', id, status, headers: [...headers] }),
      onText: (text, arrivalS) => post({ k: 'text', id, text, arrivalS }),
    });
  } catch (err) {
    // The main thread validated the request; this is a bug, reported as a protocol error.
    promise = Promise.resolve(unansweredResult({ error: new Http1Error(String(err), undefined, true) }));
  }
  void promise.then((r) => ended(id, r));
});
