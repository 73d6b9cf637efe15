/**
 * `carbonbench measure`: one experiment under the full protocol, stored with phase `manual`.
 */
import { readFileSync } from 'node:fs';
import { getEngine } from '../engines/registry.js';
import type { ExperimentConfig, ModelSpec } from '../engines/types.js';
import { InputError, describeValue } from '../errors.js';
import { parseProgram, type ParsedProgram } from '../program/parse.js';
import { MODEL_REF_ALLOWED, modelRefProblem } from '../program/schema.js';
import { DEFAULT_PROTOCOL, runExperiment } from '../runner/experiment.js';
import { ServerPool } from '../runner/server-pool.js';
import { experimentDepsOf, timedIntensityOf } from '../runner/run.js';
import { openSession, simFaultsOf } from '../runner/setup.js';
import { resolveSysfsRoot } from '../telemetry/sysfs.js';
import { engineOptionFlags, gpuListFlag, intFlag, numberFlag } from './flags.js';
import { printJson, printText, sig, type GlobalOptions } from './output.js';

export interface MeasureFlags {
  engine: string;
  model: string;
  quant?: string;
  batch: string;
  inputLen: string;
  outputLen: string;
  program?: string;
  params?: string;
  region?: string;
  intensity?: string;
  nvidiaSmi?: string;
  sysfsRoot?: string;
  gpus?: string;
  experimentSeconds?: string;
  startTimeoutS?: string;
  engineOption?: string[];
}

const DEFAULT_QUANT: Record<string, string | undefined> = { vllm: 'bf16', transformers: 'bf16', sim: 'bf16' };

export async function measureCommand(flags: MeasureFlags, global: GlobalOptions): Promise<number> {
  const engine = await getEngine(flags.engine);
  // Fix (issue 6): --model reaches the engine's argv like models[].id; refuse what program.md refuses.
  const modelProblem = modelRefProblem(flags.model);
  if (modelProblem !== null) throw new InputError(`--model ${describeValue(flags.model)} ${modelProblem}; allowed: ${MODEL_REF_ALLOWED}`);
  let parsed: ParsedProgram | null = null;
  if (flags.program) {
    let text: string;
    try {
      text = readFileSync(flags.program, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read --program ${flags.program}: ${(err as Error).message}`);
    }
    parsed = parseProgram(text, flags.program);
  }
  const program = parsed?.program;
  const fromProgram = program?.models.find((m) => m.id === flags.model);
  const model: ModelSpec = fromProgram ? { ...fromProgram } : { id: flags.model };
  const params = numberFlag('--params', flags.params, 1, 1e13, 'a parameter count');
  if (params !== undefined) model.params = params;
  const quant = flags.quant ?? DEFAULT_QUANT[engine.name];
  if (quant === undefined) throw new InputError(`--quant is required for the ${engine.name} engine (the quantization selects the model file)`);
  const config: ExperimentConfig = {
    engine: engine.name,
    model,
    quant,
    batch: intFlag('--batch', flags.batch, 1, 4096)!,
    inputLen: intFlag('--input-len', flags.inputLen, 1, 1 << 20)!,
    outputLen: intFlag('--output-len', flags.outputLen, 1, 1 << 20)!,
    engineOptions: { ...(program?.engine_options ?? {}), ...engineOptionFlags(flags.engineOption) },
  };
  engine.validate(config);
  const sysfsRoot = flags.sysfsRoot === undefined ? undefined : resolveSysfsRoot(flags.sysfsRoot);
  const experimentSeconds = intFlag('--experiment-seconds', flags.experimentSeconds, 10, 86_400) ?? program?.budget.experiment_seconds ?? DEFAULT_PROTOCOL.experimentSeconds;
  const startTimeoutS = intFlag('--start-timeout-s', flags.startTimeoutS, 1, 86_400) ?? DEFAULT_PROTOCOL.startTimeoutS;
  const gpus = gpuListFlag('--gpus', flags.gpus) ?? program?.gpus;
  const intensity = numberFlag('--intensity', flags.intensity, 0, 2000, 'gCO2e/kWh');
  const carbon = program?.carbon ?? {};

  const session = await openSession({
    db: global.db,
    engine,
    programText: parsed?.text ?? `carbonbench measure ${JSON.stringify(flags)}`,
    nvidiaSmi: flags.nvidiaSmi,
    sysfsRoot,
    nvmlHz: program?.energy.nvml_hz ?? 'auto',
    gpus,
    carbon: {
      region: intensity === undefined ? (flags.region ?? carbon.region) : undefined,
      intensity: intensity ?? (flags.region ? undefined : carbon.intensity),
      hardware: carbon.hardware,
      embodiedKg: carbon.embodied_kg,
      lifetimeYears: carbon.lifetime_years,
      gpusTotal: carbon.gpus_total,
      ...(program ? { timed: timedIntensityOf(program.carbon) } : {}),
    },
    consoleLog: !global.json && process.stderr.isTTY,
    simHardware: typeof config.engineOptions?.sim_hardware === 'string' ? config.engineOptions.sim_hardware : undefined,
    simFaults: simFaultsOf(config.engineOptions ?? {}),
  });
  const pool = new ServerPool();
  let status: 'completed' | 'interrupted' | 'failed' = 'completed';
  try {
    const record = await runExperiment(
      { config, phase: 'manual', rationale: 'carbonbench measure', labels: { host: session.host } },
      experimentDepsOf(
        session,
        pool,
        engine,
        {
          ...DEFAULT_PROTOCOL,
          experimentSeconds,
          startTimeoutS,
          abortTempC: program?.safety.abort_temp_c ?? DEFAULT_PROTOCOL.abortTempC,
          cooldownTempC: program?.safety.cooldown_temp_c ?? DEFAULT_PROTOCOL.cooldownTempC,
          cooldownMaxS: program?.safety.cooldown_max_s ?? DEFAULT_PROTOCOL.cooldownMaxS,
        },
        program?.energy.boundary ?? 'auto',
      ),
    );
    if (record.status === 'interrupted') status = 'interrupted';
    else if (record.status !== 'ok') status = 'failed';
    if (global.json) printJson(record);
    else {
      const lines: [string, unknown][] = [
        ['experiment', record.id],
        ['status', record.status],
        ...(record.error ? ([['error', record.error]] as [string, unknown][]) : []),
        ['config', `${record.engine} ${record.model} ${record.quant} batch ${record.batch} in ${record.inputLen} out ${record.outputLen}${record.simulated ? ' (SIMULATED)' : ''}`],
        ['window_s', sig(record.windowS, 5)],
        ['tokens_out', record.tokensOut],
        ['tok_s', sig(record.tokS, 5)],
        ['energy_j', `${sig(record.energyJ, 6)} (${record.energySource}; nvml ${sig(record.energyNvmlJ, 6)}, nvidia-smi ${sig(record.energySmiJ, 6)})`],
        ['boundary', record.boundary === null ? null : `${record.boundary}: ${sig(record.energyBoundaryJ, 6)} J for SCI (cpu ${sig(record.energyCpuJ, 6)}, dram ${sig(record.energyDramJ, 6)}, module ${sig(record.energyModuleJ, 6)})`],
        ['j_per_token', sig(record.energyJ !== null && record.tokensOut ? record.energyJ / record.tokensOut : null, 4)],
        ['energy_ci_rel', record.energyCiRel === null ? null : `±${(100 * record.energyCiRel).toFixed(2)}% (95%)`],
        ['avg_power_w', sig(record.avgPowerW, 4)],
        ['sci_ug', `${sig(record.sciUg, 4)} µgCO2e/token (operational ${sig(record.sciOpUg, 4)}, embodied ${sig(record.sciEmbUg, 4)}; ${record.intensityGKwh} g/kWh ${record.region ?? ''})`],
        ['bpb', sig(record.bpb, 5)],
        ['throttled', record.throttled],
      ];
      printText(lines.map(([k, v]) => `${k}: ${v ?? '–'}`).join('\n'));
    }
    return record.status === 'ok' ? 0 : 1;
  } catch (err) {
    status = 'failed';
    throw err;
  } finally {
    await pool.release().catch(() => {});
    await session.close(status);
  }
}
