/** Throttling over a window: the union of slowdown reasons in clocks_event_reasons.active. */
import { throttleReasons, type EventReason } from './smi-fields.js';
import type { GpuSample } from './types.js';

export interface ThrottleSummary {
  throttled: boolean;
  reasons: EventReason[];
  /** Samples with a throttle bit set. */
  throttledSamples: number;
  /** Samples whose bitmask was missing ([N/A]): throttling there is unknown, not absent. */
  unknownSamples: number;
}

export function summarizeThrottling(samples: readonly GpuSample[]): ThrottleSummary {
  const reasons = new Set<EventReason>();
  let throttledSamples = 0;
  let unknownSamples = 0;
  for (const s of samples) {
    if (s.eventReasons === null) {
      unknownSamples++;
      continue;
    }
    const found = throttleReasons(s.eventReasons);
    if (found.length > 0) throttledSamples++;
    for (const r of found) reasons.add(r);
  }
  return { throttled: reasons.size > 0, reasons: [...reasons], throttledSamples, unknownSamples };
}
