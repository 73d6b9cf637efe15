import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(ROOT, 'tests', 'fixtures', 'h200');
export const FAKE_SMI = join(ROOT, 'tests', 'fakes', 'nvidia-smi');
export const CLI = join(ROOT, 'bin', 'carbonbench.js');
export const fixture = (name: string): string => join(FIXTURES, name);

/** The noheader field list of gen-smi-1hz.csv (fixtures README). */
export const GEN_FIELDS = 'timestamp,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used,clocks_event_reasons.active';
