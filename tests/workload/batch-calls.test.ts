import { describe, expect, it } from 'vitest';
import { BatchCalls, EDGE_EPS_S, type BatchCall } from '../../src/workload/batch-calls.js';

function call(startS: number, endS: number, over: Partial<BatchCall> = {}): BatchCall {
  return { startS, endS, tokens: 100, sequences: 4, warmup: false, ...over };
}

/** 'resolved: v', 'rejected: message' or 'pending', once the microtasks queued so far have run. */
async function state(p: Promise<unknown>): Promise<string> {
  let s = 'pending';
  p.then(
    (v) => (s = `resolved: ${String(v)}`),
    (err: Error) => (s = `rejected: ${err.message}`),
  );
  await new Promise((r) => setImmediate(r));
  return s;
}

describe('BatchCalls window queries', () => {
  // Three calls back to back: [10, 12] 100 tokens × 4 sequences, [12, 15] 60 × 2, [15, 16] 30 × 1.
  function book(): BatchCalls {
    const b = new BatchCalls();
    b.add(call(10, 12));
    b.add(call(12, 15, { tokens: 60, sequences: 2 }));
    b.add(call(15, 16, { tokens: 30, sequences: 1 }));
    return b;
  }

  it('counts only the calls wholly inside the window', () => {
    const b = book();
    expect(b.tokensBetween(10, 16)).toBe(190);
    expect(b.requestsCompletedBetween(10, 16)).toBe(7);
    // [11, 15]: the first call started before the window, the last ends after it.
    expect(b.tokensBetween(11, 15)).toBe(60);
    expect(b.requestsCompletedBetween(11, 15)).toBe(2);
    expect(b.segments(11, 15)).toEqual([{ fromS: 12, toS: 15, tokens: 60 }]);
    // A window inside one call holds none of it.
    expect(b.tokensBetween(12.5, 14.5)).toBe(0);
    expect(b.segments(12.5, 14.5)).toEqual([]);
  });

  it('keeps a call whose edge is within EDGE_EPS_S of the window edge, and drops one beyond it', () => {
    const b = book();
    const inside = 0.5 * EDGE_EPS_S;
    const beyond = 2 * EDGE_EPS_S;
    // The window opens a hair after the first call's start (float noise of a snapped edge): still in.
    expect(b.tokensBetween(10 + inside, 16 - inside)).toBe(190);
    expect(b.requestsCompletedBetween(10 + inside, 16 - inside)).toBe(7);
    expect(b.segments(10 + inside, 16 - inside)).toEqual([
      { fromS: 10, toS: 12, tokens: 100 },
      { fromS: 12, toS: 15, tokens: 60 },
      { fromS: 15, toS: 16, tokens: 30 },
    ]);
    // Further than EDGE_EPS_S: the edge calls are cut, so they are out.
    expect(b.tokensBetween(10 + beyond, 16)).toBe(90);
    expect(b.tokensBetween(10, 16 - beyond)).toBe(160);
    expect(b.requestsCompletedBetween(10 + beyond, 16 - beyond)).toBe(2);
    expect(b.within(10 + beyond, 16 - beyond).map((c) => c.startS)).toEqual([12]);
  });

  it('lists what finished and the last end', () => {
    const b = new BatchCalls<BatchCall & { label: string }>();
    expect(b.lastEndS()).toBeNull();
    expect(b.finished).toEqual([]);
    b.add({ ...call(1, 2), label: 'a' });
    b.add({ ...call(2, 3.5), label: 'b' });
    expect(b.lastEndS()).toBe(3.5);
    expect(b.finished.map((c) => c.label)).toEqual(['a', 'b']);
    expect(b.within(0, 10).map((c) => c.label)).toEqual(['a', 'b']);
  });
});

describe('BatchCalls warm-up accounting', () => {
  it('ends the warm-up at the first call end where both minS and minRequests are met', async () => {
    const b = new BatchCalls();
    expect(b.warmingUp).toBe(false);
    const warm = b.warmUp({ minS: 5, minRequests: 10 }, 100);
    expect(b.warmingUp).toBe(true);
    // 4 sequences at 102: neither minimum.
    b.countWarmUp(102, 4);
    expect(await state(warm)).toBe('pending');
    // 12 sequences by 103: enough sequences, not enough time.
    b.countWarmUp(103, 8);
    expect(await state(warm)).toBe('pending');
    expect(b.warmingUp).toBe(true);
    // 105 − 100 = 5 s: both met.
    b.countWarmUp(105, 1);
    expect(await state(warm)).toBe('resolved: undefined');
    expect(b.warmingUp).toBe(false);
    // Later call ends count for nothing (no warm-up pending).
    b.countWarmUp(200, 100);
    expect(b.warmingUp).toBe(false);
  });

  it('waits for the sequences when time alone is enough', async () => {
    const b = new BatchCalls();
    const warm = b.warmUp({ minS: 1, minRequests: 8 }, 0);
    b.countWarmUp(30, 4);
    expect(await state(warm)).toBe('pending');
    b.countWarmUp(31, 4);
    expect(await state(warm)).toBe('resolved: undefined');
  });

  it('refuses a second warm-up while one is pending, and takes a new one after it ended', async () => {
    const b = new BatchCalls();
    const first = b.warmUp({ minS: 0, minRequests: 1 }, 0);
    expect(await state(b.warmUp({ minS: 0, minRequests: 1 }, 0))).toBe('rejected: warmUp() is already running');
    b.countWarmUp(1, 1);
    expect(await state(first)).toBe('resolved: undefined');
    const second = b.warmUp({ minS: 0, minRequests: 2 }, 1);
    // Counting starts again from zero.
    b.countWarmUp(2, 1);
    expect(await state(second)).toBe('pending');
    b.countWarmUp(3, 1);
    expect(await state(second)).toBe('resolved: undefined');
  });
});

describe('BatchCalls open-window waiters, failure and stop', () => {
  it('resolves every waiting window with the next call start, and only those', async () => {
    const b = new BatchCalls();
    const w1 = b.nextStart();
    const w2 = b.nextStart();
    b.callStarted(42.5);
    expect(await state(w1)).toBe('resolved: 42.5');
    expect(await state(w2)).toBe('resolved: 42.5');
    const w3 = b.nextStart();
    expect(await state(w3)).toBe('pending');
    b.callStarted(50);
    expect(await state(w3)).toBe('resolved: 50');
  });

  it('fail() rejects the waiting windows and warm-up, and keeps the first failure', async () => {
    const b = new BatchCalls();
    const w = b.nextStart();
    const warm = b.warmUp({ minS: 0, minRequests: 1 }, 0);
    expect(b.failure).toBeNull();
    b.fail(new Error('runner died'));
    // Both observed at once: neither rejection is ever left without a handler.
    expect(await Promise.all([state(w), state(warm)])).toEqual(['rejected: runner died', 'rejected: runner died']);
    expect(b.warmingUp).toBe(false);
    b.fail(new Error('a later error'));
    expect(b.failure?.message).toBe('runner died');
  });

  it('stop() rejects the waiting windows with the stopped error and simply ends a warm-up', async () => {
    const b = new BatchCalls();
    const w = b.nextStart();
    const warm = b.warmUp({ minS: 60, minRequests: 100 }, 0);
    b.stop(new Error('the load was stopped'));
    expect(await Promise.all([state(w), state(warm)])).toEqual(['rejected: the load was stopped', 'resolved: undefined']);
    expect(b.warmingUp).toBe(false);
    // Stopping is not a failure.
    expect(b.failure).toBeNull();
  });
});

describe('BatchCalls boundary listeners', () => {
  it('calls every listener on notify until it unsubscribes', () => {
    const b = new BatchCalls();
    expect(b.hasBoundaryListeners).toBe(false);
    const heard: string[] = [];
    const offA = b.onBoundary(() => heard.push('a'));
    const offB = b.onBoundary(() => heard.push('b'));
    expect(b.hasBoundaryListeners).toBe(true);
    b.notifyBoundary();
    expect(heard).toEqual(['a', 'b']);
    offA();
    b.notifyBoundary();
    expect(heard).toEqual(['a', 'b', 'b']);
    offB();
    expect(b.hasBoundaryListeners).toBe(false);
    b.notifyBoundary();
    expect(heard).toEqual(['a', 'b', 'b']);
  });

  it('lets a listener unsubscribe itself while being notified, without skipping the others', () => {
    const b = new BatchCalls();
    const heard: string[] = [];
    const off: () => void = b.onBoundary(() => {
      heard.push('once');
      off();
    });
    b.onBoundary(() => heard.push('always'));
    b.notifyBoundary();
    b.notifyBoundary();
    expect(heard).toEqual(['once', 'always', 'always']);
  });
});
