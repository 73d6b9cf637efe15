/** Throttling over a window: the union of slowdown reasons in clocks_event_reasons.active. */
import { throttleReasons } from './smi-fields.js';
export function summarizeThrottling(samples) {
    const reasons = new Set();
    let throttledSamples = 0;
    let unknownSamples = 0;
    for (const s of samples) {
        if (s.eventReasons === null) {
            unknownSamples++;
            continue;
        }
        const found = throttleReasons(s.eventReasons);
        if (found.length > 0)
            throttledSamples++;
        for (const r of found)
            reasons.add(r);
    }
    return { throttled: reasons.size > 0, reasons: [...reasons], throttledSamples, unknownSamples };
}
//# sourceMappingURL=throttle.js.map