/** `carbonbench merge A.db B.db … --into C.db|postgresql://…` (issue 10): see src/store/merge.ts. */
import { InputError } from '../errors.js';
import { mergeDatabases, type MergeCounts } from '../store/merge.js';
import { formatTable, printJson, printText } from './output.js';
import type { GlobalOptions } from './output.js';

export async function mergeCommand(sources: readonly string[], flags: { into?: string }, global: GlobalOptions): Promise<number> {
  if (flags.into === undefined || flags.into.trim() === '') {
    throw new InputError('merge: --into is required; allowed: a results.db path (created if missing) or a postgresql:// URL');
  }
  const report = await mergeDatabases(sources, flags.into);
  if (global.json) {
    printJson(report);
    return 0;
  }
  const pair = (c: MergeCounts): string => `${c.imported} new, ${c.skipped} dup`;
  printText(
    formatTable(
      ['source', 'runs', 'experiments', 'unfinished', 'samples', 'requests', 'notes', 'bpb cache'],
      report.sources.map((s) => [s.source, pair(s.runs), pair(s.experiments), s.experiments.unfinished, s.samples, s.requests, pair(s.notes), pair(s.bpbCache)]),
    ),
  );
  printText(`merged into ${report.into} (schema version ${report.schemaVersion}); "dup" = already there, skipped`);
  return 0;
}
