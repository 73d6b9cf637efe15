/**
 * The `table` engine and the tabular benchmark (DESIGN section 7): a CSV where each row is one config
 * as if it had been measured, so that search strategies can be compared offline on the same budget.
 *
 * ## The table
 *
 *   model,quant,batch,input_len,output_len,tok_s,power_w,bpb[,params]
 *
 * One row per config (duplicates are an error). Lines starting with `#` are comments (a generated table
 * says there where its numbers come from); other columns are allowed and ignored. A config absent from
 * the table fails as an out-of-memory would: a (model, quant) with no row at all dies while loading; a
 * (model, quant) with rows but not this (batch, input_len, output_len) fails at warm-up.
 *
 * ## Scoring a row (the pure evaluator, for search-bench)
 *
 *   J/token = power_w / tok_s
 *   SCI [µgCO2e/token] = (power_w × I / 3.6e6 + TE / lifetime_s × 1 / gpus_total) / tok_s × 1e6
 *
 * with I the grid intensity (gCO2e/kWh), TE the embodied gCO2e of the machine's GPUs: the SCI formula
 * of DESIGN section 6 (src/carbon/sci.ts) for one GPU in use, which does not depend on the window
 * length. `noise` σ multiplies tok_s and power_w by 1 + σ·z each (z a clipped standard normal drawn
 * from (seed, config, repetition), as the sim engine does): the same seed replays the same numbers and a
 * repeated config draws fresh noise, so the pipeline can measure its noise floor. BPB is never noisy
 * (it is cached per checkpoint in a real run).
 *
 * ## The engine (carbonbench run / measure with `engine: table`)
 *
 * It runs under the ordinary experiment protocol on the sim engine's virtual-clock machinery: the
 * simulated board (sim-telemetry.ts's SimDevice on the session's VirtualClock) draws the row's power_w
 * while serving, the load generator (grid-load.ts, as SimLoad) emits the row's tok_s on a 1-second
 * segment grid, and the sim telemetry and energy meter measure it like any other simulated experiment. The board
 * (idle power, embodied carbon) is the session's simulated one. Engine options: `table` (path of the
 * CSV, required), `table_noise` (σ, default 0), `table_seed` (integer, default 0). The table has no
 * latencies: requests carry an end-to-end time (batch × output_len / tok_s) but no TTFT or ITL.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { J_PER_KWH, SECONDS_PER_YEAR } from '../carbon/sci.js';
import { EngineError, InputError, describeValue } from '../errors.js';
import { VirtualClock, type Clock } from '../runner/clock.js';
import { baselineBpbs, isFeasible } from '../search/space.js';
import { pointKey, type BpbConstraint, type Observation, type SearchSpace, type SpacePoint } from '../search/types.js';
import { parseCsv } from '../util/csv.js';
import { experimentNoiseKey, GridLoad, type GridLoadOptions } from './grid-load.js';
import { MAX_SIM_NOISE } from './sim.js';
import { SERVER_START_BASE_S, SIM_QUANTS, noiseFactor, serverStartS, weightBytes } from './sim-model.js';
import { simDevice, type SimBoardState } from './sim-telemetry.js';
import { startOnVirtualClock, validateShape, virtualServer } from './virtual-server.js';
import type { Engine, ExperimentConfig } from './types.js';

export const TABLE_COLUMNS = ['model', 'quant', 'batch', 'input_len', 'output_len', 'tok_s', 'power_w', 'bpb'] as const;
export const TABLE_OPTIONS = ['table', 'table_noise', 'table_seed'] as const;

export interface TableRow {
  point: SpacePoint;
  tokS: number;
  powerW: number;
  bpb: number;
  /** From the optional `params` column. */
  params: number | null;
  /** 1-based line in the file. */
  line: number;
}

export interface Table {
  /** Where it was read from (null for an in-memory table). */
  file: string | null;
  rows: TableRow[];
  byKey: Map<string, TableRow>;
  /** Distinct values: models, quants and lengths in order of first appearance, batches ascending. */
  space: SearchSpace;
  /** From the `params` column, where given. */
  modelParams: Record<string, number>;
  /** The `#` comment lines, without the `#`. */
  comments: string[];
}

// ---------------------------------------------------------------------------------------------------
// Parsing

/** Parses a table; `source` names it in error messages. Throws InputError naming line, column, value and what is allowed. */
export function parseTable(text: string, source = 'table'): Table {
  const comments: string[] = [];
  const lines: { n: number; cells: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '') return;
    if (trimmed.startsWith('#')) {
      comments.push(trimmed.slice(1).trim());
      return;
    }
    lines.push({ n: i + 1, cells: (parseCsv(raw)[0] ?? []).map((c) => c.trim()) });
  });
  const header = lines.shift();
  if (!header) throw new InputError(`${source}: no header line; allowed: a CSV with columns ${TABLE_COLUMNS.join(',')} (optional params)`);
  const col = new Map(header.cells.map((h, i) => [h.toLowerCase(), i]));
  const missing = TABLE_COLUMNS.filter((c) => !col.has(c));
  if (missing.length > 0) {
    throw new InputError(`${source} line ${header.n}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; allowed: a header with ${TABLE_COLUMNS.join(',')} (optional params, other columns ignored)`);
  }
  const rows: TableRow[] = [];
  const byKey = new Map<string, TableRow>();
  const modelParams: Record<string, number> = {};
  for (const { n, cells } of lines) {
    const cell = (name: string): string => cells[col.get(name)!] ?? '';
    const text = (name: string): string => {
      const v = cell(name);
      if (v === '') throw new InputError(`${source} line ${n}: column ${name} is empty; allowed: a non-empty value`);
      return v;
    };
    /** `kind`: 'int' (≥ 1), 'positive' (> 0) or 'nonneg' (≥ 0). */
    const num = (name: string, kind: 'int' | 'positive' | 'nonneg', allowed: string): number => {
      const raw = cell(name);
      const v = Number(raw);
      const ok = kind === 'int' ? Number.isInteger(v) && v >= 1 : kind === 'positive' ? v > 0 : v >= 0;
      if (raw === '' || !Number.isFinite(v) || !ok) {
        throw new InputError(`${source} line ${n}: column ${name} ${describeValue(raw)} is invalid; allowed: ${allowed}`);
      }
      return v;
    };
    const point: SpacePoint = {
      model: text('model'),
      quant: text('quant'),
      batch: num('batch', 'int', 'a positive integer'),
      inputLen: num('input_len', 'int', 'a positive integer'),
      outputLen: num('output_len', 'int', 'a positive integer'),
    };
    const row: TableRow = {
      point,
      tokS: num('tok_s', 'positive', 'a number of tokens per second > 0'),
      powerW: num('power_w', 'positive', 'a number of watts > 0'),
      bpb: num('bpb', 'nonneg', 'a number of bits per byte >= 0'),
      params: col.has('params') && cell('params') !== '' ? num('params', 'positive', 'a parameter count > 0 (e.g. 7.6e9) or empty') : null,
      line: n,
    };
    const key = pointKey(point);
    const dup = byKey.get(key);
    if (dup) throw new InputError(`${source} line ${n}: the config ${describeConfig(point)} is already on line ${dup.line}; allowed: one row per config`);
    if (row.params !== null) {
      const known = modelParams[point.model];
      if (known !== undefined && known !== row.params) throw new InputError(`${source} line ${n}: params ${row.params} for ${point.model} differs from ${known} on an earlier line; allowed: one parameter count per model`);
      modelParams[point.model] = row.params;
    }
    rows.push(row);
    byKey.set(key, row);
  }
  if (rows.length === 0) throw new InputError(`${source}: no rows after the header; allowed: at least one config`);
  const distinct = <T>(values: T[]): T[] => [...new Set(values)];
  const space: SearchSpace = {
    models: distinct(rows.map((r) => r.point.model)),
    quant: distinct(rows.map((r) => r.point.quant)),
    batch: distinct(rows.map((r) => r.point.batch)).sort((a, b) => a - b),
    inputLen: distinct(rows.map((r) => r.point.inputLen)),
    outputLen: distinct(rows.map((r) => r.point.outputLen)),
  };
  return { file: null, rows, byKey, space, modelParams, comments };
}

const cache = new Map<string, { mtimeMs: number; size: number; table: Table }>();

/** Reads and parses a table file (cached by path, modification time and size). */
export function loadTable(file: string): Table {
  const path = resolve(file);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    throw new InputError(`table ${describeValue(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); allowed: the path of a CSV with columns ${TABLE_COLUMNS.join(',')}`, { cause: err });
  }
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.table;
  const table = { ...parseTable(readFileSync(path, 'utf8'), file), file: path };
  cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, table });
  return table;
}

function describeConfig(p: SpacePoint): string {
  return `${p.model} ${p.quant} batch ${p.batch} input ${p.inputLen} output ${p.outputLen}`;
}

// ---------------------------------------------------------------------------------------------------
// The pure evaluator

/** Carbon inputs of the SCI formula (from a region and a hardware profile). */
export interface TableCarbon {
  intensityGPerKwh: number;
  /** TE: embodied kgCO2e of all gpusTotal GPUs. */
  embodiedTotalKg: number;
  lifetimeYears: number;
  gpusTotal: number;
}

/** SCI in µgCO2e/token of a config that generates `tokS` at `powerW` on one GPU (file header). */
export function tableSciUg(tokS: number, powerW: number, carbon: TableCarbon): number {
  const operationalGPerS = (powerW * carbon.intensityGPerKwh) / J_PER_KWH;
  const embodiedGPerS = ((carbon.embodiedTotalKg * 1000) / (carbon.lifetimeYears * SECONDS_PER_YEAR)) * (1 / carbon.gpusTotal);
  return ((operationalGPerS + embodiedGPerS) / tokS) * 1e6;
}

export interface TableEvaluatorOptions {
  /** Relative σ of the multiplicative noise on tok_s and power_w (0: exact). */
  noise?: number;
  seed?: number;
  carbon: TableCarbon;
}

/** Answers an experiment by lookup (see the file header): a missing config is a failed observation. */
export type TableEvaluator = (point: SpacePoint, phase?: string) => Observation;

export function tableEvaluator(table: Table, opts: TableEvaluatorOptions): TableEvaluator {
  const sigma = opts.noise ?? 0;
  if (!(sigma >= 0 && sigma <= MAX_SIM_NOISE)) throw new InputError(`noise ${describeValue(sigma)} is invalid; allowed: a relative σ from 0 to ${MAX_SIM_NOISE}`);
  const seed = opts.seed ?? 0;
  const repetitions = new Map<string, number>();
  return (point, phase = 'bench') => {
    const key = pointKey(point);
    const row = table.byKey.get(key);
    if (!row) return { point, status: 'failed', sciUg: null, bpb: null, tokS: null, phase };
    const rep = repetitions.get(key) ?? 0;
    repetitions.set(key, rep + 1);
    const noiseKey = `${seed}|${key}|${rep}`;
    const tokS = row.tokS * noiseFactor(`${noiseKey}|throughput`, sigma);
    const powerW = row.powerW * noiseFactor(`${noiseKey}|power`, sigma);
    return { point, status: 'ok', sciUg: tableSciUg(tokS, powerW, opts.carbon), bpb: row.bpb, tokS, phase };
  };
}

export interface TableTruth {
  /** Noise-free SCI per config key. */
  sciUg: Map<string, number>;
  /** Keys of the configs that satisfy the constraint, baselines taken from the whole table. */
  feasible: Set<string>;
  optimum: { row: TableRow; sciUg: number } | null;
}

/**
 * The table's ground truth: noise-free SCI of every row and the feasible optimum. Each model's baseline
 * BPB is its highest-precision quant in the whole table (space.ts), i.e. what a search would know after
 * measuring everything.
 */
export function tableTruth(table: Table, constraint: BpbConstraint | null, carbon: TableCarbon): TableTruth {
  const sciUg = new Map<string, number>();
  const observations: Observation[] = table.rows.map((r) => {
    const sci = tableSciUg(r.tokS, r.powerW, carbon);
    sciUg.set(pointKey(r.point), sci);
    return { point: r.point, status: 'ok', sciUg: sci, bpb: r.bpb, tokS: r.tokS, phase: 'truth' };
  });
  const baselines = baselineBpbs(observations);
  const feasible = new Set<string>();
  let optimum: TableTruth['optimum'] = null;
  observations.forEach((o, i) => {
    if (!isFeasible(o, constraint, baselines)) return;
    feasible.add(pointKey(o.point));
    if (optimum === null || o.sciUg! < optimum.sciUg) optimum = { row: table.rows[i]!, sciUg: o.sciUg! };
  });
  return { sciUg, feasible, optimum };
}

// ---------------------------------------------------------------------------------------------------
// The engine

interface TableEngineOptions {
  file: string;
  noise: number;
  seed: number;
}

function tableOptions(config: ExperimentConfig): TableEngineOptions {
  const o = config.engineOptions ?? {};
  return {
    file: typeof o.table === 'string' ? o.table : '',
    noise: typeof o.table_noise === 'number' ? o.table_noise : 0,
    seed: typeof o.table_seed === 'number' ? o.table_seed : 0,
  };
}

function requireVirtualClock(clock: Clock): VirtualClock {
  if (!(clock instanceof VirtualClock)) {
    throw new EngineError('the table engine needs a VirtualClock (src/runner/clock.ts), but ctx.clock is not one: its rows are answered in simulated time, never slept for real');
  }
  return clock;
}

const MIB = 1024 * 1024;

/** Simulated load time: the sim model's (20 s + 2 s per GB of weights) when params and quant allow, else 20 s. */
function loadSeconds(params: number | null | undefined, quant: string): number {
  return params && SIM_QUANTS[quant] ? serverStartS(params, quant) : SERVER_START_BASE_S;
}

function estimatedWeightMib(params: number | null | undefined, quant: string): number {
  return params && SIM_QUANTS[quant] ? weightBytes(params, quant) / MIB : 0;
}

function oomTail(config: ExperimentConfig, what: string, table: Table): string {
  return [
    `[table] ${config.model.id} (${config.quant}) from ${table.file ?? 'table'}`,
    `torch.OutOfMemoryError: CUDA out of memory. ${what} (simulated: the table has no row for this config)`,
  ].join('\n');
}

export const tableEngine: Engine = {
  name: 'table',
  simulated: true,

  validate(config) {
    const o = config.engineOptions ?? {};
    for (const key of Object.keys(o)) {
      if (key.startsWith('table') && !(TABLE_OPTIONS as readonly string[]).includes(key)) {
        throw new InputError(`engine option ${key} is unknown to the table engine; allowed: ${TABLE_OPTIONS.join(', ')}`);
      }
    }
    if (typeof o.table !== 'string' || o.table === '') {
      throw new InputError(`engine option table ${describeValue(o.table)} is invalid; allowed: the path of a table CSV (columns ${TABLE_COLUMNS.join(',')}), e.g. engine_options: { table: bench/search/table-500.csv }`);
    }
    if (o.table_noise !== undefined && !(typeof o.table_noise === 'number' && o.table_noise >= 0 && o.table_noise <= MAX_SIM_NOISE)) {
      throw new InputError(`engine option table_noise ${describeValue(o.table_noise)} is invalid; allowed: a number from 0 to ${MAX_SIM_NOISE} (relative σ)`);
    }
    if (o.table_seed !== undefined && !(typeof o.table_seed === 'number' && Number.isInteger(o.table_seed))) {
      throw new InputError(`engine option table_seed ${describeValue(o.table_seed)} is invalid; allowed: an integer`);
    }
    const table = loadTable(o.table);
    if (!table.space.models.includes(config.model.id)) {
      throw new InputError(`model ${describeValue(config.model.id)} is not in the table ${o.table}; allowed: ${table.space.models.join(', ')}`);
    }
    if (!table.space.quant.includes(config.quant)) {
      throw new InputError(`quant ${describeValue(config.quant)} is not in the table ${o.table}; allowed: ${table.space.quant.join(', ')}`);
    }
    validateShape(config);
  },

  serverKey(config) {
    const o = tableOptions(config);
    return JSON.stringify(['table', o.file === '' ? '' : resolve(o.file), config.model.id, config.quant]);
  },

  async start(config, ctx) {
    const clock = requireVirtualClock(ctx.clock);
    const opts = tableOptions(config);
    const table = loadTable(opts.file);
    const device = simDevice(clock, ctx.gpus[0] ?? 0);
    const hw = device.hardware;
    const params = config.model.params ?? table.modelParams[config.model.id] ?? null;
    const loadS = loadSeconds(params, config.quant);
    const key = tableEngine.serverKey(config);
    const rows = table.rows.filter((r) => r.point.model === config.model.id && r.point.quant === config.quant);
    const weightsMib = estimatedWeightMib(params, config.quant);
    ctx.log.info({ model: config.model.id, quant: config.quant, table: table.file, loadS }, 'table server loading');
    await startOnVirtualClock({
      engine: 'table',
      config,
      device,
      ctx,
      loadS,
      loadingMib: weightsMib,
      // As the sim engine: a (model, quant) with no row dies of an out-of-memory while loading.
      oomTail: rows.length === 0 ? oomTail(config, `loading ${config.model.id} (${config.quant} weights)`, table) : null,
    });
    const idleLoaded: SimBoardState = { label: 'idle', powerW: hw.idleW, utilPct: 0, memUsedMib: weightsMib };
    device.set(idleLoaded);
    ctx.log.info({ loadS }, 'table server ready');

    return virtualServer({
      engine: tableEngine,
      key,
      device,
      requireVirtualClock,
      // A table server never dies on its own.
      died: new Promise<never>(() => {}),
      newLoad: (cfg, c) => {
        const row = table.byKey.get(pointKey({ model: cfg.model.id, quant: cfg.quant, batch: cfg.batch, inputLen: cfg.inputLen, outputLen: cfg.outputLen })) ?? null;
        return new TableLoad({ config: cfg, row, table, device, idleLoaded, signal: c.signal, serverKey: key, noise: opts.noise, seed: opts.seed, weightsMib });
      },
      bpb: (cfg) => {
        const row = rows[0]!;
        return { bpb: row.bpb, method: `table: bpb column of ${table.file ?? 'the table'} for ${cfg.model.id} ${cfg.quant} (line ${row.line}), not a measurement` };
      },
    });
  },
};

interface TableLoadOptions extends Omit<GridLoadOptions, 'engine'> {
  row: TableRow | null;
  table: Table;
  serverKey: string;
  noise: number;
  seed: number;
  weightsMib: number;
}

/**
 * The table engine's load generator: the shared grid load (grid-load.ts) at the row's throughput and
 * power. Requests complete at a steady rate of tok_s / output_len, each taking batch × output_len / tok_s;
 * the table has no latencies (no TTFT or ITL).
 */
export class TableLoad extends GridLoad {
  /** Power after the per-experiment noise; 0 for a missing row (as tokPerS; requestS is then Infinity). */
  readonly powerW: number;
  private readonly row: TableRow | null;
  private readonly table: Table;
  private readonly weightsMib: number;

  constructor(opts: TableLoadOptions) {
    const { config, device, row } = opts;
    const noiseKey = experimentNoiseKey(device, opts.serverKey, config, opts.seed, undefined);
    const tokPerS = row ? row.tokS * noiseFactor(`${noiseKey}|throughput`, opts.noise) : 0;
    super(
      { engine: 'table', config, device, idleLoaded: opts.idleLoaded, signal: opts.signal },
      {
        tokPerS,
        noise: opts.noise,
        noiseKey,
        requestS: row ? (config.batch * config.outputLen) / tokPerS : Infinity,
        intervalS: config.outputLen / tokPerS,
        ttftMs: null,
        itlMs: [],
      },
    );
    this.powerW = row ? row.powerW * noiseFactor(`${noiseKey}|power`, opts.noise) : 0;
    this.row = row;
    this.table = opts.table;
    this.weightsMib = opts.weightsMib;
  }

  protected warmUpFailure(): Error | null {
    if (this.row) return null;
    const { config } = this.grid;
    return new EngineError(`CUDA out of memory at batch ${config.batch} (input ${config.inputLen}, output ${config.outputLen}): the table has no row for this config (simulated)`, {
      outputTail: oomTail(config, `the KV cache for ${config.batch} × ${config.inputLen + config.outputLen} tokens does not fit`, this.table),
    });
  }

  protected startServing(): void {
    this.grid.device.set({ label: 'serving', powerW: this.powerW, utilPct: 100, memUsedMib: this.weightsMib });
  }
}
