/**
 * nvidia-smi's human-readable outputs: `-L` (the GPU list) and `-q` (the full query, indented
 * `key : value` sections). carbonbench samples through --query-gpu; doctor reads `-L` for the list and
 * `-q -d POWER` for what the board reports about power (whether the module power of a superchip such as
 * GB10 or GH200 is readable, which sets the energy boundary).
 */
export interface ListedGpu {
  index: number;
  name: string;
  uuid: string;
}

/** `GPU 0: NVIDIA H200 (UUID: GPU-0da11bf5-…)` lines. Other lines are ignored. */
export function parseGpuList(text: string): ListedGpu[] {
  const gpus: ListedGpu[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^GPU (\d+): (.+) \(UUID: ([^)]+)\)\s*$/.exec(line.trim());
    if (m) gpus.push({ index: Number(m[1]), name: m[2]!, uuid: m[3]! });
  }
  return gpus;
}

/** A `-q` section: values by key, nested sections by title. */
export interface QuerySection {
  values: Record<string, string>;
  sections: Record<string, QuerySection>;
}

function emptySection(): QuerySection {
  return { values: {}, sections: {} };
}

/**
 * Parses `nvidia-smi -q` into nested sections by indentation. Keys keep nvidia-smi's wording
 * ("Average Power Draw"); values stay text ("123.90 W", "N/A"); a section title is a line without " : ".
 * Each GPU is a top-level section titled by its bus id ("GPU 00000000:00:06.0").
 */
export function parseQuery(text: string): QuerySection {
  const root = emptySection();
  const stack: { indent: number; section: QuerySection }[] = [{ indent: -1, section: root }];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '' || /^=+NVSMI LOG=+$/.test(raw.trim())) continue;
    const indent = raw.length - raw.trimStart().length;
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!.section;
    const m = /^(.*?)\s+:\s?(.*)$/.exec(raw.trim());
    if (m) {
      parent.values[m[1]!.trim()] = m[2]!.trim();
    } else {
      const child = emptySection();
      parent.sections[raw.trim()] = child;
      stack.push({ indent, section: child });
    }
  }
  return root;
}

export interface PowerReport {
  gpu: string;
  /** power.draw's averaging: "Average Power Draw" present means a 1-second average exists. */
  averagePowerW: number | null;
  instantPowerW: number | null;
  powerLimitW: number | null;
  defaultPowerLimitW: number | null;
  /** Module (CPU+GPU superchip) power, when the board reports it: then GPU power may include the CPU. */
  modulePowerW: number | null;
  memoryPowerW: number | null;
}

function watts(v: string | undefined): number | null {
  const m = v === undefined ? null : /^(-?\d+(?:\.\d+)?) W$/.exec(v);
  return m ? Number(m[1]) : null;
}

/** The power figures of each GPU in `nvidia-smi -q -d POWER` (or the full `-q`). */
export function powerReports(q: QuerySection): PowerReport[] {
  return Object.entries(q.sections)
    .filter(([title]) => title.startsWith('GPU '))
    .map(([gpu, s]) => {
      const readings = s.sections['GPU Power Readings'] ?? s.sections['Power Readings'];
      const module = s.sections['Module Power Readings'];
      const memory = s.sections['GPU Memory Power Readings'];
      return {
        gpu,
        averagePowerW: watts(readings?.values['Average Power Draw'] ?? readings?.values['Power Draw']),
        instantPowerW: watts(readings?.values['Instantaneous Power Draw']),
        powerLimitW: watts(readings?.values['Current Power Limit'] ?? readings?.values['Enforced Power Limit']),
        defaultPowerLimitW: watts(readings?.values['Default Power Limit']),
        modulePowerW: watts(module?.values['Average Power Draw']),
        memoryPowerW: watts(memory?.values['Average Power Draw']),
      };
    });
}
