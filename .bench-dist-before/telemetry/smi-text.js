/** `GPU 0: NVIDIA H200 (UUID: GPU-0da11bf5-…)` lines. Other lines are ignored. */
export function parseGpuList(text) {
    const gpus = [];
    for (const line of text.split(/\r?\n/)) {
        const m = /^GPU (\d+): (.+) \(UUID: ([^)]+)\)\s*$/.exec(line.trim());
        if (m)
            gpus.push({ index: Number(m[1]), name: m[2], uuid: m[3] });
    }
    return gpus;
}
function emptySection() {
    return { values: {}, sections: {} };
}
/**
 * Parses `nvidia-smi -q` into nested sections by indentation. Keys keep nvidia-smi's wording
 * ("Average Power Draw"); values stay text ("123.90 W", "N/A"); a section title is a line without " : ".
 * Each GPU is a top-level section titled by its bus id ("GPU 00000000:00:06.0").
 */
export function parseQuery(text) {
    const root = emptySection();
    const stack = [{ indent: -1, section: root }];
    for (const raw of text.split(/\r?\n/)) {
        if (raw.trim() === '' || /^=+NVSMI LOG=+$/.test(raw.trim()))
            continue;
        const indent = raw.length - raw.trimStart().length;
        while (stack.length > 1 && stack[stack.length - 1].indent >= indent)
            stack.pop();
        const parent = stack[stack.length - 1].section;
        const m = /^(.*?)\s+:\s?(.*)$/.exec(raw.trim());
        if (m) {
            parent.values[m[1].trim()] = m[2].trim();
        }
        else {
            const child = emptySection();
            parent.sections[raw.trim()] = child;
            stack.push({ indent, section: child });
        }
    }
    return root;
}
function watts(v) {
    const m = v === undefined ? null : /^(-?\d+(?:\.\d+)?) W$/.exec(v);
    return m ? Number(m[1]) : null;
}
/** The power figures of each GPU in `nvidia-smi -q -d POWER` (or the full `-q`). */
export function powerReports(q) {
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
//# sourceMappingURL=smi-text.js.map