/**
 * From one window's measurements to what the experiment stores (issue 9): the boundary SCI uses, the
 * per-component figures, the per-source detail (`energy_components`) and provenance sentences. Pure.
 */
import type { EnergyComponentRecord, JsonObject } from '../store/types.js';
import { describeBoundary, selectBoundary, type BoundaryChoice, type BoundaryMode } from './boundary.js';
import type { WindowMeasurement } from './meter.js';

export interface WindowBoundary {
  choice: BoundaryChoice;
  energyCpuJ: number | null;
  energyDramJ: number | null;
  energyModuleJ: number | null;
  components: EnergyComponentRecord[];
  /** Provenance entries keyed by column name. */
  provenance: JsonObject;
}

export interface WindowBoundaryInput {
  measurement: Pick<WindowMeasurement, 'energyJ' | 'moduleJ' | 'moduleError' | 'host'>;
  /** How energyJ was measured (`nvml`, `nvidia-smi`, `sim`). */
  gpuSource: string;
  gpus: readonly number[];
  mode: BoundaryMode;
}

export function windowBoundary({ measurement: m, gpuSource, gpus, mode }: WindowBoundaryInput): WindowBoundary {
  const host = m.host;
  const choice = selectBoundary({ gpuJ: m.energyJ, moduleJ: m.moduleJ, cpuJ: host?.cpuJ ?? null, dramJ: host?.dramJ ?? null }, mode);
  const inBoundary = (c: EnergyComponentRecord['component']): boolean => c !== null && choice.included.includes(c);
  const gpuList = gpus.join('+');
  const components: EnergyComponentRecord[] = [
    { component: 'gpu', source: gpuSource, sensor: `GPU ${gpuList}`, energy_j: m.energyJ, counted: true, in_boundary: inBoundary('gpu'), note: null },
  ];
  if (m.moduleJ !== null || m.moduleError !== null) {
    components.push({ component: 'module', source: 'nvidia-smi', sensor: `module.power.draw.average, GPU ${gpuList}`, energy_j: m.moduleJ, counted: m.moduleJ !== null, in_boundary: inBoundary('module'), note: m.moduleError });
  }
  for (const s of host?.sources ?? []) {
    components.push({ component: s.component, source: s.kind, sensor: `${s.id} ${s.sensor}`, energy_j: s.energyJ, counted: s.counted, in_boundary: s.counted && inBoundary(s.component), note: s.note });
  }
  const excludedWhy = (c: string): string | undefined => choice.excluded.find((e) => e.component === c)?.why;
  const notMeasured = (what: string, error: string | null | undefined, none: string): string => (error ? `not measured: ${error}` : `not measured: ${none}`);
  const provenance: JsonObject = {
    boundary: `${choice.boundary} (${describeBoundary(choice.boundary)}), mode ${mode}: the widest boundary measured${choice.excluded.length > 0 ? `; left out: ${choice.excluded.map((e) => `${e.component} (${e.why})`).join(', ')}` : ''}`,
    energy_boundary_j: `sum of ${choice.included.join(' + ')} over the window of energy_j`,
    energy_cpu_j: host?.cpuJ != null
      ? `${host.cpuSource} over the same window${excludedWhy('cpu') ? `; not in the boundary: ${excludedWhy('cpu')}` : ''}`
      : notMeasured('cpu', host?.cpuError, host ? 'no readable CPU package source (RAPL package zone or known hwmon CPU sensor)' : 'no host energy meter (simulated telemetry)'),
    energy_dram_j: host?.dramJ != null
      ? `${host.dramSource} over the same window${excludedWhy('dram') ? `; not in the boundary: ${excludedWhy('dram')}` : ''}`
      : notMeasured('dram', host?.dramError, host ? 'no readable RAPL dram zone' : 'no host energy meter (simulated telemetry)'),
    energy_module_j: m.moduleJ !== null ? `trapezoid of nvidia-smi module.power.draw.average (aligned like power.draw), GPU ${gpuList}` : notMeasured('module', m.moduleError, 'the board reports no module power'),
  };
  return { choice, energyCpuJ: host?.cpuJ ?? null, energyDramJ: host?.dramJ ?? null, energyModuleJ: m.moduleJ, components, provenance };
}
