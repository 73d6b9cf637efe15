/**
 * The energy boundary of an experiment (issue 9): which components its SCI energy covers. A pure
 * function from what was measured over the window to the boundary and its energy.
 *
 *   gpu            GPU board energy only (NVML counter or nvidia-smi power): always measured
 *   gpu+cpu        + CPU package energy (RAPL package-N summed over sockets, or a known hwmon CPU sensor)
 *   gpu+cpu+dram   + DRAM energy (RAPL dram zones)
 *   module         a superchip's module power (GB10, GH200: GPU + CPU + the module's memory): replaces the
 *                  GPU figure, and CPU and DRAM are NOT added (the module already contains them)
 *   system         reserved for a whole-node meter (wall power); no source produces it yet
 * The widest measured boundary is chosen. DRAM without the CPU does not widen the boundary (there is no
 * `gpu+dram`): it is recorded, not added.
 */
export const BOUNDARIES = ['gpu', 'gpu+cpu', 'gpu+cpu+dram', 'module', 'system'] as const;
export type Boundary = (typeof BOUNDARIES)[number];

/** `auto`: the widest boundary measured; `gpu`: GPU board energy only (comparable with older results). */
export const BOUNDARY_MODES = ['auto', 'gpu'] as const;
export type BoundaryMode = (typeof BOUNDARY_MODES)[number];

export interface MeasuredComponents {
  /** GPU board energy over the window (all GPUs used). */
  gpuJ: number;
  /** Module energy (all modules of the GPUs used); null when not measured. */
  moduleJ: number | null;
  cpuJ: number | null;
  dramJ: number | null;
}

export type Component = 'gpu' | 'cpu' | 'dram' | 'module';

export interface BoundaryChoice {
  boundary: Boundary;
  /** The energy SCI uses: the sum of `included`. */
  energyJ: number;
  included: Component[];
  /** Measured components left out, and why. */
  excluded: { component: Component; why: string }[];
}

export function selectBoundary(m: MeasuredComponents, mode: BoundaryMode = 'auto'): BoundaryChoice {
  const excluded: BoundaryChoice['excluded'] = [];
  const measured = (['module', 'cpu', 'dram'] as const).filter((c) => m[`${c}J`] !== null);
  if (mode === 'gpu') {
    for (const component of measured) excluded.push({ component, why: 'energy boundary set to gpu' });
    return { boundary: 'gpu', energyJ: m.gpuJ, included: ['gpu'], excluded };
  }
  if (m.moduleJ !== null) {
    if (m.cpuJ !== null) excluded.push({ component: 'cpu', why: 'contained in module power' });
    if (m.dramJ !== null) excluded.push({ component: 'dram', why: 'contained in module power' });
    excluded.push({ component: 'gpu', why: 'contained in module power' });
    return { boundary: 'module', energyJ: m.moduleJ, included: ['module'], excluded };
  }
  if (m.cpuJ !== null && m.dramJ !== null) {
    return { boundary: 'gpu+cpu+dram', energyJ: m.gpuJ + m.cpuJ + m.dramJ, included: ['gpu', 'cpu', 'dram'], excluded };
  }
  if (m.cpuJ !== null) return { boundary: 'gpu+cpu', energyJ: m.gpuJ + m.cpuJ, included: ['gpu', 'cpu'], excluded };
  if (m.dramJ !== null) excluded.push({ component: 'dram', why: 'DRAM without the CPU package widens no boundary' });
  return { boundary: 'gpu', energyJ: m.gpuJ, included: ['gpu'], excluded };
}

/**
 * The energy an experiment's SCI used: energy_boundary_j, or energy_j for rows without it (a row written
 * by another tool, or never migrated: those are GPU board energy). Shared by calc and the report so that
 * both recompute from the figure the run scored with.
 */
export function sciEnergyOf(e: { energyJ: number | null; energyBoundaryJ?: number | null }): number | null {
  return e.energyBoundaryJ ?? e.energyJ;
}

/** The boundary of that energy (null rows → `gpu`: energy_j is GPU board energy). */
export function boundaryOf(e: { energyJ: number | null; boundary?: Boundary | null }): Boundary | null {
  return e.boundary ?? (e.energyJ === null ? null : 'gpu');
}

/** One sentence for reports and provenance: `GPU + CPU package + DRAM (RAPL)`. */
export function describeBoundary(boundary: Boundary): string {
  switch (boundary) {
    case 'gpu':
      return 'GPU board only';
    case 'gpu+cpu':
      return 'GPU board + CPU package';
    case 'gpu+cpu+dram':
      return 'GPU board + CPU package + DRAM';
    case 'module':
      return 'superchip module (GPU + CPU + module memory)';
    case 'system':
      return 'whole system';
  }
}
