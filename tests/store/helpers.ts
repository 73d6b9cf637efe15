/** Shared setup for the store tests: a fresh temp directory per test and small row factories. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach } from 'vitest';

import type { NewExperiment, NewRun, Store } from '../../src/store/index.js';

const dirs: string[] = [];
const stores: Store[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'carbonbench-store-'));
  dirs.push(dir);
  return dir;
}

/** Registers a store to be closed after the test even when an assertion fails. */
export function track<T extends Store>(store: T): T {
  stores.push(store);
  return store;
}

export const newRun = (over: Partial<NewRun> = {}): NewRun => ({
  programText: '---\nengine: sim\n---\nFind the greenest config.\n',
  programHash: 'a'.repeat(64),
  toolVersion: '0.1.0',
  ...over,
});

export const newExperiment = (runId: number, over: Partial<NewExperiment> = {}): NewExperiment => ({
  runId,
  engine: 'vllm',
  model: 'Qwen/Qwen2.5-7B-Instruct',
  config: { quant: 'bf16', batch: 8, input_len: 512, output_len: 128 },
  quant: 'bf16',
  batch: 8,
  inputLen: 512,
  outputLen: 128,
  phase: 'grid',
  ...over,
});
