/** A small synthetic tabular benchmark and a fake bayesian strategy for the search tests. */
import { parseTable, type Table, type TableCarbon } from '../../src/engines/table.js';
import { allPoints, observedKeys } from '../../src/search/space.js';
import { pointKey, type Observation, type SearchSpace, type SpacePoint, type Strategy } from '../../src/search/types.js';

export const CARBON: TableCarbon = { intensityGPerKwh: 210, embodiedTotalKg: 200, lifetimeYears: 5, gpusTotal: 1 };

export const MODELS = { small: 1e9, big: 8e9 } as const;
const QUANT_SPEED: Record<string, number> = { bf16: 1, fp8: 1.5, awq: 1.8 };
const QUANT_BPB: Record<string, number> = { bf16: 1, fp8: 1.003, awq: 1.05 };

/** A row is absent (fails like an OOM) for these configs. */
export const MISSING: SpacePoint[] = [{ model: 'big', quant: 'bf16', batch: 32, inputLen: 512, outputLen: 128 }];

/**
 * 2 models × 3 quants × batch [1, 2, 8, 32] × input [128, 512] × output [128] = 48 configs, one missing.
 * tok/s grows with √batch, with faster quants and for the small model; power is constant, so SCI falls
 * the same way. The big model listed first, so ordering by params matters.
 */
export function syntheticCsv(): string {
  const lines = ['# synthetic test table', 'model,quant,batch,input_len,output_len,tok_s,power_w,bpb,params'];
  for (const model of ['big', 'small'] as const)
    for (const quant of ['awq', 'bf16', 'fp8'])
      for (const batch of [1, 2, 8, 32])
        for (const inputLen of [128, 512]) {
          const p = { model, quant, batch, inputLen, outputLen: 128 };
          if (MISSING.some((m) => pointKey(m) === pointKey(p))) continue;
          const tokS = 1000 * Math.sqrt(batch) * QUANT_SPEED[quant]! * (model === 'small' ? 4 : 1) / (inputLen === 512 ? 1.2 : 1);
          const bpb = QUANT_BPB[quant]! * (model === 'small' ? 1 : 0.8);
          lines.push([model, quant, batch, inputLen, 128, tokS, 100, bpb, MODELS[model]].join(','));
        }
  return `${lines.join('\n')}\n`;
}

export function syntheticTable(): Table {
  return parseTable(syntheticCsv(), 'synthetic.csv');
}

/** A deterministic stand-in for the Optuna strategy: the unobserved points in reverse factorial order. */
export class FakeBayesian implements Strategy {
  readonly name = 'bayesian' as const;
  readonly told: Observation[] = [];
  closed = false;
  private readonly order: SpacePoint[];

  constructor(space: SearchSpace) {
    this.order = allPoints(space).reverse();
  }

  async propose(history: readonly Observation[], n: number): Promise<SpacePoint[]> {
    const seen = observedKeys(history);
    return this.order.filter((p) => !seen.has(pointKey(p))).slice(0, n);
  }

  async tell(obs: Observation): Promise<void> {
    this.told.push(obs);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
