const QUANT_SYMBOLS = ['circle', 'rect', 'triangle', 'diamond', 'roundRect', 'pin', 'arrow'];
const QUANT_GLYPHS = ['●', '■', '▲', '◆', '▢', '📍', '➤'];
const NUM_FORMATS = new Map();
function numberFormat(digits) {
    let f = NUM_FORMATS.get(digits);
    if (!f)
        NUM_FORMATS.set(digits, (f = new Intl.NumberFormat('en-US', { maximumSignificantDigits: digits })));
    return f;
}
const NUM3 = numberFormat(3);
function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (k === 'class')
            node.className = v;
        else
            node.setAttribute(k, v);
    }
    for (const c of children) {
        if (c === null || c === undefined || c === false)
            continue;
        node.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
}
function byId(id) {
    const node = document.getElementById(id);
    if (!node)
        throw new Error(`report page: element #${id} is missing`);
    return node;
}
function badge(text, kind) {
    return el('span', { class: `badge ${kind}` }, text);
}
function empty(text) {
    return el('p', { class: 'empty' }, text);
}
function fmt(x, digits = 4) {
    if (x === null || x === undefined || !Number.isFinite(x))
        return '–';
    if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e9))
        return x.toExponential(digits - 1);
    return numberFormat(digits).format(x);
}
/** 7.6e9 → "7.6B", 4.9e8 → "490M", 1.8e12 → "1.8T". */
function fmtParams(p) {
    if (p === null || !Number.isFinite(p))
        return '–';
    if (p >= 1e12)
        return `${NUM3.format(p / 1e12)}T`;
    if (p >= 1e9)
        return `${NUM3.format(p / 1e9)}B`;
    if (p >= 1e6)
        return `${NUM3.format(p / 1e6)}M`;
    return NUM3.format(p);
}
/** a = 2.07e-4 → "2.07 × 10⁻⁴" */
function fmtTimesTen(x) {
    if (x === 0 || !Number.isFinite(x))
        return String(x);
    const e = Math.floor(Math.log10(Math.abs(x)));
    if (e >= -2 && e <= 3)
        return NUM3.format(x);
    const sup = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };
    return `${NUM3.format(x / 10 ** e)} × 10${String(e).replace(/[-0-9]/g, (c) => sup[c] ?? c)}`;
}
function table(headers, rows, caption) {
    const head = el('tr', {}, ...headers.map((h) => (typeof h === 'string' ? el('th', {}, h) : el('th', { class: 'num' }, h[0]))));
    return el('table', {}, caption ? el('caption', {}, caption) : null, el('thead', {}, head), el('tbody', {}, ...rows));
}
function td(content, cls) {
    const cell = el('td', cls ? { class: cls } : {});
    for (const c of Array.isArray(content) ? content : [content])
        if (c !== null && c !== undefined && c !== false)
            cell.append(c);
    return cell;
}
function num(x, digits = 4) {
    return td(fmt(x, digits), 'num');
}
// -------------------------------------------------------------------------------------------------
// The data, with readable accessors over the columns.
class Report {
    d;
    n;
    constructor(d) {
        this.d = d;
        this.n = d.exp.id.length;
    }
    str(dict, i) {
        return i < 0 ? null : (dict[i] ?? null);
    }
    model(r) {
        return this.d.dict.model[this.d.exp.model[r]] ?? '?';
    }
    family(r) {
        return this.str(this.d.dict.family, this.d.exp.family[r]) ?? '–';
    }
    quant(r) {
        return this.str(this.d.dict.quant, this.d.exp.quant[r]) ?? '–';
    }
    engine(r) {
        return this.str(this.d.dict.engine, this.d.exp.engine[r]) ?? '–';
    }
    phase(r) {
        return this.str(this.d.dict.phase, this.d.exp.phase[r]) ?? '–';
    }
    energySource(r) {
        return this.str(this.d.dict.energySource, this.d.exp.energySource[r]) ?? 'unknown';
    }
    region(r) {
        return this.str(this.d.dict.region, this.d.exp.region[r]);
    }
    hardware(r) {
        return this.str(this.d.dict.hardware, this.d.exp.hardware[r]);
    }
    rationale(r) {
        return this.str(this.d.dict.rationale, this.d.exp.rationale[r]);
    }
    simulated(r) {
        return this.d.exp.simulated[r] === 1;
    }
    pareto(r) {
        return this.d.exp.pareto[r] === 1;
    }
    /** "fp8 · batch 32 · 512→128 tokens" */
    configText(r) {
        const e = this.d.exp;
        return `${this.quant(r)} · batch ${e.batch[r] ?? '–'} · ${e.inputLen[r] ?? '–'}→${e.outputLen[r] ?? '–'} tokens`;
    }
    rowOfId(id) {
        return this.d.exp.id.indexOf(id);
    }
}
/**
 * The calculator's formula: src/carbon/sci.ts computeSci, operation for operation and with the same
 * inputs as src/analysis/calculator.ts (TE, lifetime and GPU share from `embodied`), so that the page
 * gives the very floating-point numbers that `carbonbench calc` prints. Embodied carbon does not
 * depend on the grid; only the operational part changes with the region.
 */
function computeSci(input, jPerKwh) {
    const { energyJ, tokensOut, intensityGPerKwh, embodiedTotalG, lifetimeS, windowS, gpusUsed, gpusTotal } = input;
    const energyKwh = energyJ / jPerKwh;
    const operationalG = energyKwh * intensityGPerKwh;
    const embodiedG = embodiedTotalG * (windowS / lifetimeS) * (gpusUsed / gpusTotal);
    const totalG = operationalG + embodiedG;
    return {
        intensityGPerKwh,
        energyKwh,
        jPerToken: energyJ / tokensOut,
        operationalG,
        embodiedG,
        totalG,
        sciOpUg: (operationalG / tokensOut) * 1e6,
        sciEmbUg: (embodiedG / tokensOut) * 1e6,
        sciUg: (totalG / tokensOut) * 1e6,
    };
}
function calcFor(rep, r, region) {
    const e = rep.d.exp;
    const energyJ = e.energyJ[r];
    const tokensOut = e.tokensOut[r];
    const windowS = e.windowS[r];
    const emb = rep.d.embodied[e.embodied[r] ?? -1];
    if (energyJ === null || energyJ === undefined || !tokensOut || !windowS || !emb)
        return null;
    const input = { energyJ, tokensOut, intensityGPerKwh: region.intensityGPerKwh, embodiedTotalG: emb.embodiedTotalG, lifetimeS: emb.lifetimeS, windowS, gpusUsed: emb.gpusUsed, gpusTotal: emb.gpusTotal };
    return { experimentId: e.id[r], region: region.id, ...computeSci(input, rep.d.meta.jPerKwh) };
}
function makeChart(host, key, node, option, renderer = 'canvas') {
    const chart = echarts.init(node, null, { renderer });
    host.pending.push(new Promise((resolve) => chart.on('finished', () => resolve())));
    chart.setOption(option);
    host.charts[key] = chart;
    return chart;
}
/** The experiment a chart item stands for: the row index is the data item's last dimension. */
function rowOfParams(p) {
    const value = p.value;
    if (!Array.isArray(value))
        return null;
    const r = value[value.length - 1];
    return typeof r === 'number' ? r : null;
}
function tooltipFor(rep, r, extra) {
    const e = rep.d.exp;
    const lines = [
        el('b', {}, rep.model(r)),
        rep.simulated(r) ? badge('simulated', 'sim') : null,
        rep.pareto(r) ? badge('Pareto', 'pareto') : null,
        el('br'),
        `#${e.id[r]} · ${rep.engine(r)} · ${rep.configText(r)}`,
        el('br'),
        `SCI ${fmt(e.sciUg[r])} µgCO₂e/token (op ${fmt(e.sciOpUg[r])} + emb ${fmt(e.sciEmbUg[r])})`,
        el('br'),
        `${fmt(e.tokS[r])} tokens/s · BPB ${fmt(e.bpb[r])} · energy: ${rep.energySource(r)}`,
    ];
    if (extra)
        lines.push(el('br'), el('i', {}, extra));
    return el('div', { class: 'ec-tip' }, ...lines);
}
const AXIS_NAME = { nameLocation: 'middle', nameTextStyle: { fontSize: 13, color: '#333' } };
const LOG_GRID = { minorTick: { show: true }, minorSplitLine: { show: true, lineStyle: { color: '#f0f0f0' } }, splitLine: { show: true, lineStyle: { color: '#dcdcdc' } } };
function symbolSizeForBatch(batch) {
    return 6 + 3 * Math.log2(Math.max(1, batch));
}
/**
 * A log axis fitted to the data with a margin, instead of ECharts' default of whole powers of ten
 * (which can leave most of the plot empty). Ticks stay at powers of ten, minor lines in between.
 */
function tightLog(margin = 1.35) {
    return { min: (v) => v.min / margin, max: (v) => v.max * margin };
}
/** Integers with thousands separators (counts are not rounded). */
function fmtInt(x) {
    return x === null || x === undefined || !Number.isFinite(x) ? '–' : Math.round(x).toLocaleString('en-US');
}
/** ECharts' default palette, so that a family's fitted line has its points' colour. */
const PALETTE = ['#5070dd', '#b6d634', '#505372', '#ff994d', '#0ca8df', '#ffd10a', '#fb628b', '#785db0', '#3fbe95'];
function renderPerModel(rep, host, onPick) {
    const container = byId('per-model-charts');
    if (rep.n === 0) {
        container.append(empty('No finished experiment with an SCI yet.'));
        return;
    }
    const e = rep.d.exp;
    const families = new Map();
    for (let r = 0; r < rep.n; r++) {
        const f = e.family[r];
        const list = families.get(f) ?? [];
        list.push(r);
        families.set(f, list);
    }
    const quantsSeen = new Set();
    for (const q of e.quant)
        quantsSeen.add(q);
    const quantLegend = [...quantsSeen].sort((a, b) => a - b).map((q) => `${QUANT_GLYPHS[symbolIndex(q)]} ${q < 0 ? '–' : (rep.d.dict.quant[q] ?? '?')}`).join('   ');
    const order = [...families.keys()].sort((a, b) => (rep.d.dict.family[a] ?? '').localeCompare(rep.d.dict.family[b] ?? ''));
    for (const f of order) {
        const rows = families.get(f);
        const byModel = new Map();
        let skipped = 0;
        for (const r of rows) {
            const x = e.tokS[r];
            const y = e.sciUg[r];
            // Log axes cannot show zero or negative values.
            if (x === null || x === undefined || !(x > 0) || !(y > 0)) {
                skipped++;
                continue;
            }
            const m = e.model[r];
            const list = byModel.get(m) ?? [];
            list.push([x, y, e.batch[r] ?? 1, e.quant[r], r]);
            byModel.set(m, list);
        }
        const familyName = rep.d.dict.family[f] ?? '?';
        const sim = rows.every((r) => rep.simulated(r)) ? ' (simulated)' : rows.some((r) => rep.simulated(r)) ? ' (partly simulated)' : '';
        const chartNode = el('div', { class: 'chart', style: 'height:440px', 'data-family': familyName });
        const block = el('div', { class: 'chart-block' }, el('h3', {}, `Family ${familyName}${sim}`), el('p', { class: 'caption' }, `${rows.length} experiment${rows.length === 1 ? '' : 's'} · shape = quantization: ${quantLegend} · size = batch${skipped > 0 ? ` · ${skipped} without a positive throughput not shown` : ''}`), chartNode);
        container.append(block);
        const total = rows.length - skipped;
        // Legend from the smallest model to the largest (then by name), as a reader compares them.
        const paramsByModel = new Map();
        for (const r of rows)
            if (!paramsByModel.has(e.model[r]))
                paramsByModel.set(e.model[r], e.params[r] ?? Infinity);
        const paramsOf = (m) => paramsByModel.get(m) ?? Infinity;
        const series = [...byModel.entries()]
            .sort((a, b) => paramsOf(a[0]) - paramsOf(b[0]) || (rep.d.dict.model[a[0]] ?? '').localeCompare(rep.d.dict.model[b[0]] ?? ''))
            .map(([m, data]) => ({
            type: 'scatter',
            name: rep.d.dict.model[m] ?? '?',
            data,
            symbolSize: (v) => symbolSizeForBatch(v[2]),
            symbol: (v) => QUANT_SYMBOLS[symbolIndex(v[3])],
            itemStyle: { opacity: total > 2000 ? 0.55 : 0.8, borderColor: '#fff', borderWidth: total > 2000 ? 0 : 0.5 },
            emphasis: { focus: 'series', itemStyle: { opacity: 1, borderColor: '#000', borderWidth: 1 } },
        }));
        const chart = makeChart(host, `per-model:${familyName}`, chartNode, {
            animation: total <= 1000,
            grid: { left: 78, right: 36, top: 44, bottom: 62 },
            legend: { type: 'scroll', top: 4, left: 0, right: 90 },
            toolbox: { right: 4, top: 0, feature: { dataZoom: { title: { zoom: 'Zoom to a box', back: 'Undo zoom' } }, restore: { title: 'Reset' }, saveAsImage: { title: 'Save as PNG', name: `carbonbench-${familyName}` } } },
            tooltip: { trigger: 'item', confine: true, formatter: (p) => tipOrEmpty(rep, p, 'click: open in the calculator') },
            xAxis: { type: 'log', name: 'Throughput (tokens/s, log scale)', nameGap: 32, ...AXIS_NAME, ...LOG_GRID, ...tightLog(), axisLabel: { formatter: (v) => fmt(v, 3), showMinLabel: false, showMaxLabel: false } },
            yAxis: { type: 'log', name: 'SCI (µgCO₂e per token, log scale)', nameGap: 56, ...AXIS_NAME, ...LOG_GRID, ...tightLog(), axisLabel: { formatter: (v) => fmt(v, 3), showMinLabel: false, showMaxLabel: false } },
            series,
        });
        chart.on('click', (p) => {
            const r = rowOfParams(p);
            if (r !== null)
                onPick(r);
        });
    }
}
function symbolIndex(quant) {
    return quant < 0 ? 0 : quant % QUANT_SYMBOLS.length;
}
function tipOrEmpty(rep, p, extra) {
    const r = rowOfParams(Array.isArray(p) ? p[0] : p);
    return r === null ? '' : tooltipFor(rep, r, extra);
}
function renderScaling(rep, host) {
    const s = rep.d.scaling;
    const formulas = byId('scaling-formulas');
    const chartNode = byId('scaling-chart');
    const tables = byId('scaling-tables');
    const notes = byId('scaling-notes');
    for (const n of s.notes)
        notes.append(el('li', {}, n));
    for (const k of s.skipped)
        notes.append(el('li', {}, `Not in the fit: ${k.model} (${k.reason}).`));
    if (s.families.length === 0) {
        formulas.append(empty('No model with a parameter count has an SCI yet: nothing to fit.'));
        chartNode.remove();
        return;
    }
    const formula = (fam) => {
        const f = fam.fit;
        if (!f)
            return el('p', {}, el('b', {}, `${fam.family}: `), fam.message ?? 'no fit');
        const r2 = f.r2 === null ? '–' : f.r2.toFixed(3);
        return el('p', {}, el('b', {}, `${fam.family}: `), 'SCI = ', fmtTimesTen(f.a), ' · params', el('sup', {}, fmt(f.b, 3)), ` µgCO₂e/token  (R² = ${r2}, n = ${f.n} models; 95% interval of the exponent ${fmt(f.bLow, 3)} … ${fmt(f.bHigh, 3)})`);
    };
    const series = [];
    let xMax = 0;
    let xMin = Infinity;
    for (const [fi, fam] of s.families.entries()) {
        const color = PALETTE[fi % PALETTE.length];
        for (const p of fam.points) {
            xMin = Math.min(xMin, p.params);
            xMax = Math.max(xMax, p.params);
        }
        formulas.append(formula(fam));
        series.push({
            type: 'scatter',
            name: `${fam.family} (measured)`,
            data: fam.points.map((p) => [p.params, p.sciUg, p.row]),
            symbolSize: 11,
            itemStyle: { color },
            label: { show: true, position: 'right', formatter: (p) => shortModel(fam.points.find((x) => x.row === rowOfParams(p))?.model ?? ''), fontSize: 12 },
            labelLayout: { hideOverlap: true },
            tooltip: { formatter: (p) => tipOrEmpty(rep, p, 'the model\u2019s best experiment') },
        });
        if (!fam.fit || fam.points.length === 0)
            continue;
        const { a, b } = fam.fit;
        const lo = fam.points[0].params;
        const hi = fam.points[fam.points.length - 1].params;
        const far = Math.max(hi, ...fam.extrapolation.map((x) => x.paramsUsed));
        xMax = Math.max(xMax, far);
        const at = (x) => [x, a * x ** b];
        series.push({ type: 'line', name: `${fam.family} fit`, data: [at(lo), at(hi)], symbol: 'none', itemStyle: { color }, lineStyle: { width: 2, color }, tooltip: { show: false } });
        if (far > hi) {
            series.push({ type: 'line', name: `${fam.family} fit (extrapolated)`, data: [at(hi), at(far)], symbol: 'none', itemStyle: { color }, lineStyle: { width: 1.5, type: 'dashed', color }, tooltip: { show: false } });
        }
        if (fam.extrapolation.length > 0) {
            series.push({
                type: 'scatter',
                name: `${fam.family} frontier (estimates)`,
                data: fam.extrapolation.map((x, i) => [x.paramsUsed, x.sciUg, i]),
                symbol: 'diamond',
                symbolSize: 10,
                itemStyle: { color: '#fff', borderColor: '#b26b00', borderWidth: 2 },
                // No labels: frontier models cluster (37B and 39B, 70B and 72.7B …) and their names would
                // collide; the tooltip and the table below name every point.
                tooltip: {
                    formatter: (p) => {
                        const x = fam.extrapolation[rowOfParams(p) ?? -1];
                        if (!x)
                            return '';
                        return el('div', { class: 'ec-tip' }, el('b', {}, x.name), badge('estimate', 'est'), el('br'), `≈ ${fmt(x.sciUg, 3)} µgCO₂e/token (95% prediction interval ${fmt(x.sciLowUg, 3)} … ${fmt(x.sciHighUg, 3)})`, el('br'), `${fmtParams(x.paramsUsed)} parameters used${x.moe ? ` (active; ${fmtParams(x.paramsTotal)} total, mixture of experts)` : ''}, ${fmt(x.extrapolationFactor, 3)}× the largest measured model`);
                    },
                },
            });
        }
        tables.append(frontierTable(fam.family, fam.extrapolation));
    }
    if (s.pooled) {
        formulas.append(formula(s.pooled));
        if (s.pooled.fit)
            tables.append(frontierTable(s.pooled.family, s.pooled.extrapolation));
    }
    xMin = Number.isFinite(xMin) ? xMin : 1e8;
    makeChart(host, 'scaling-law', chartNode, {
        animation: false,
        grid: { left: 78, right: 40, top: 50, bottom: 62 },
        legend: { type: 'scroll', top: 4 },
        toolbox: { right: 4, top: 0, feature: { saveAsImage: { title: 'Save as PNG', name: 'carbonbench-scaling-law' } } },
        tooltip: { trigger: 'item', confine: true },
        xAxis: { type: 'log', name: 'Parameters (log scale; active parameters for mixture-of-experts)', nameGap: 32, ...AXIS_NAME, ...LOG_GRID, min: 10 ** Math.floor(Math.log10(xMin)), max: 10 ** Math.ceil(Math.log10(xMax)), axisLabel: { formatter: (v) => fmtParams(v) } },
        yAxis: { type: 'log', name: 'Best SCI (µgCO₂e per token, log scale)', nameGap: 56, ...AXIS_NAME, ...LOG_GRID, axisLabel: { formatter: (v) => fmt(v, 3) } },
        series,
    });
}
function shortModel(model) {
    return model.split('/').pop() ?? model;
}
function frontierTable(family, rows) {
    if (rows.length === 0)
        return el('div');
    const body = rows.map((x) => el('tr', { class: 'estimate' }, td(x.name, 'name'), td(fmtParams(x.paramsTotal), 'num'), td(fmtParams(x.paramsUsed) + (x.moe ? ' active' : ''), 'num'), td([`≈ ${fmt(x.sciUg, 3)}`, badge('estimate', 'est')], 'num'), td(`${fmt(x.sciLowUg, 3)} … ${fmt(x.sciHighUg, 3)}`, 'num'), td(`${fmt(x.extrapolationFactor, 2)}×`, 'num'), td(`${x.basis}: ${x.source}`, 'source')));
    return el('div', { class: 'table-wrap' }, table(['Frontier model', ['Total params', 'num'], ['Params used', 'num'], ['SCI µgCO₂e/token', 'num'], ['95% prediction interval', 'num'], ['× largest measured', 'num'], 'Parameter count: basis and source'], body, `Extrapolation of the ${family} fit (estimates, not measurements)`));
}
/** Does this browser give us WebGL? Without it echarts-gl cannot draw; say so instead of throwing. */
function hasWebGl() {
    try {
        const c = document.createElement('canvas');
        return (c.getContext('webgl') ?? c.getContext('experimental-webgl')) !== null;
    }
    catch {
        return false;
    }
}
function render3d(rep, host) {
    const node = byId('explore-3d-chart');
    const e = rep.d.exp;
    const byModel = new Map();
    let withoutBpb = 0;
    for (let r = 0; r < rep.n; r++) {
        const x = e.tokS[r];
        const z = e.bpb[r];
        if (x === null || x === undefined || !(x > 0) || z === null || z === undefined) {
            withoutBpb++;
            continue;
        }
        const list = byModel.get(e.model[r]) ?? [];
        list.push([x, e.sciUg[r], z, r]);
        byModel.set(e.model[r], list);
    }
    if (byModel.size === 0) {
        node.replaceWith(empty(rep.n === 0 ? 'No finished experiment yet.' : 'No experiment has both a throughput and a BPB: nothing to show in 3D.'));
        return;
    }
    if (!hasWebGl()) {
        node.replaceWith(empty('This browser has no WebGL, which the 3D view needs. The other sections show the same data.'));
        return;
    }
    if (withoutBpb > 0)
        node.before(el('p', { class: 'small' }, `${withoutBpb} experiment${withoutBpb === 1 ? '' : 's'} without a BPB (or throughput) are not shown.`));
    const series = [...byModel.entries()].map(([m, data]) => ({
        type: 'scatter3D',
        name: rep.d.dict.model[m] ?? '?',
        data,
        symbolSize: rep.n > 2000 ? 4 : 7,
        itemStyle: { opacity: 0.85 },
        emphasis: { itemStyle: { color: '#000' } },
    }));
    const all = [...byModel.values()].flat();
    const extent = (k) => all.reduce(([lo, hi], v) => [Math.min(lo, v[k]), Math.max(hi, v[k])], [Infinity, -Infinity]);
    const [bpbMin, bpbMax] = extent(2);
    const bpbPad = Math.max((bpbMax - bpbMin) * 0.08, Math.abs(bpbMax) * 0.005, 1e-3);
    // echarts-gl ignores showMinLabel/showMaxLabel: the fitted ends (e.g. 0.404, 15,900) would crowd the
    // corners, so a log axis labels only powers of ten and the BPB axis leaves out its lowest value.
    const axis = (name, type, range) => ({
        type,
        name,
        ...range,
        nameGap: 30,
        // echarts-gl draws axis text into a texture atlas, one row per label, sized by the text's line
        // height; glyphs taller than that overlap the row above and lose their tops (apache/echarts#14786,
        // seen here with Chromium's fonts). A generous lineHeight gives each label room. Short names: long
        // ones repeat (ecomfe/echarts-gl#236).
        nameTextStyle: { fontSize: 15, lineHeight: 32, color: '#222' },
        axisLabel: {
            formatter: (v) => (type === 'log' ? (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9 ? fmt(v, 3) : '') : v <= range.min ? '' : fmt(v, 3)),
            textStyle: { fontSize: 13, lineHeight: 28, color: '#333' },
        },
    });
    // Axes fitted to the data (ECharts' default for log is whole powers of ten, and 0 for BPB, which
    // squeezes every point into a corner of the box).
    const logRange = ([lo, hi]) => ({ min: lo / 1.3, max: hi * 1.3 });
    // echarts-gl's options are not in ECharts' option type: a structural literal, cast once.
    const option = {
        tooltip: { confine: true, formatter: (p) => tipOrEmpty(rep, p) },
        legend: { type: 'scroll', top: 4 },
        toolbox: { right: 4, top: 0, feature: { saveAsImage: { title: 'Save as PNG', name: 'carbonbench-3d' } } },
        grid3D: { boxWidth: 110, boxDepth: 110, boxHeight: 80, top: 16, viewControl: { distance: 215, alpha: 16, beta: 35, zoomSensitivity: 1.2 }, light: { main: { intensity: 1.1 }, ambient: { intensity: 0.4 } } },
        xAxis3D: axis('tokens/s', 'log', logRange(extent(0))),
        yAxis3D: axis('SCI µg/token', 'log', logRange(extent(1))),
        zAxis3D: axis('BPB', 'value', { min: Number((bpbMin - bpbPad).toPrecision(3)), max: Number((bpbMax + bpbPad).toPrecision(3)) }),
        series,
    };
    makeChart(host, 'explore-3d', node, option);
}
function experimentRow(rep, r, cells, onPick) {
    const tr = el('tr', { title: 'click: open in the calculator', style: 'cursor:pointer' }, ...cells);
    tr.addEventListener('click', () => onPick(r));
    return tr;
}
function modelCell(rep, r) {
    return td([rep.model(r), rep.simulated(r) ? badge('simulated', 'sim') : null], 'model');
}
function renderTop(rep, onPick) {
    const host = byId('top5-table');
    if (rep.d.top.length === 0) {
        host.append(empty('No finished experiment with an SCI yet.'));
        return;
    }
    const e = rep.d.exp;
    const rows = rep.d.top.map((r, i) => experimentRow(rep, r, [
        num(i + 1),
        modelCell(rep, r),
        td(rep.quant(r)),
        num(e.batch[r]),
        td(`${e.inputLen[r] ?? '–'} → ${e.outputLen[r] ?? '–'}`, 'num'),
        num(e.sciUg[r]),
        num(e.bpb[r]),
        num(e.tokS[r]),
        td(rep.pareto(r) ? badge('Pareto', 'pareto') : '–'),
        td(`#${e.id[r]}`, 'num'),
    ], onPick));
    host.append(table([['#', 'num'], 'Model', 'Quant', ['Batch', 'num'], ['In → out tokens', 'num'], ['SCI µgCO₂e/token', 'num'], ['BPB bits/byte', 'num'], ['Throughput tokens/s', 'num'], 'Pareto', ['Experiment', 'num']], rows));
}
function renderLeaderboards(rep, onPick) {
    const host = byId('leaderboard-tables');
    if (rep.n === 0) {
        host.append(empty('No finished experiment with an SCI yet.'));
        return;
    }
    const e = rep.d.exp;
    for (const lb of rep.d.leaderboards) {
        const rows = lb.rows.map((g) => experimentRow(rep, g.best, [
            td(g.group, lb.by === 'batch' ? 'num' : 'model'),
            num(e.sciUg[g.best]),
            num(g.medianSciUg),
            num(g.count),
            td([lb.by === 'model' ? rep.configText(g.best) : `${shortModel(rep.model(g.best))} · ${rep.configText(g.best)}`, rep.simulated(g.best) ? badge('simulated', 'sim') : null]),
        ], onPick));
        const label = { model: 'Model', quant: 'Quant', engine: 'Engine', batch: 'Batch' }[lb.by];
        host.append(el('div', { class: 'table-wrap', 'data-by': lb.by }, table([label, ['Best SCI µg/token', 'num'], ['Median SCI µg/token', 'num'], ['n', 'num'], 'Best config'], rows, lb.title)));
    }
}
function initCalculator(rep, host, handle) {
    const modelSel = byId('calc-model');
    const expSel = byId('calc-experiment');
    const regionSel = byId('calc-region');
    const out = byId('calc-output');
    const details = byId('calc-details');
    const regionChartNode = byId('by-region-chart');
    const regions = rep.d.regions;
    const e = rep.d.exp;
    if (rep.n === 0 || regions.length === 0) {
        for (const s of [modelSel, expSel, regionSel])
            s.disabled = true;
        out.append(empty(rep.n === 0 ? 'No finished experiment to recompute yet.' : 'No grid regions in data/grid-regions.csv.'));
        regionChartNode.replaceWith(empty('Nothing to show until an experiment has finished.'));
        return { select: () => { } };
    }
    // Experiments grouped by model, greenest first: one <select> of thousands of options is unusable.
    const rowsByModel = new Map();
    for (let r = 0; r < rep.n; r++) {
        const list = rowsByModel.get(e.model[r]) ?? [];
        list.push(r);
        rowsByModel.set(e.model[r], list);
    }
    for (const list of rowsByModel.values())
        list.sort((a, b) => e.sciUg[a] - e.sciUg[b] || e.id[a] - e.id[b]);
    const models = [...rowsByModel.keys()].sort((a, b) => (rep.d.dict.model[a] ?? '').localeCompare(rep.d.dict.model[b] ?? ''));
    for (const m of models)
        modelSel.append(el('option', { value: String(m) }, `${rep.d.dict.model[m] ?? '?'} (${rowsByModel.get(m).length})`));
    for (const reg of regions)
        regionSel.append(el('option', { value: reg.id }, `${reg.id} · ${reg.name} (${fmt(reg.intensityGPerKwh)} gCO₂e/kWh)`));
    const fillExperiments = (m) => {
        const frag = document.createDocumentFragment();
        for (const r of rowsByModel.get(m) ?? []) {
            frag.append(el('option', { value: String(r) }, `#${e.id[r]} · ${rep.configText(r)} · ${fmt(e.sciUg[r])} µg/token${rep.simulated(r) ? ' · simulated' : ''}`));
        }
        expSel.replaceChildren(frag);
    };
    const regionChart = echarts.init(regionChartNode, null, { renderer: 'canvas' });
    host.charts['by-region'] = regionChart;
    host.pending.push(new Promise((resolve) => regionChart.on('finished', () => resolve())));
    const stat = (id, label, value, unit, cls = '') => el('div', { class: `stat ${cls}` }, el('div', { class: 'label' }, label), el('div', { class: 'value', id, 'data-value': String(value) }, fmt(value)), el('div', { class: 'unit' }, unit));
    const update = () => {
        const r = Number(expSel.value);
        const region = regions.find((x) => x.id === regionSel.value) ?? regions[0];
        const res = calcFor(rep, r, region);
        handle.calc = res;
        out.replaceChildren();
        if (!res) {
            out.append(empty(`Experiment #${e.id[r]} lacks energy, tokens or embodied carbon: it cannot be recomputed.`));
        }
        else {
            out.append(stat('calc-intensity', `Grid intensity · ${region.id}`, res.intensityGPerKwh, 'gCO₂e/kWh'), stat('calc-operational', 'Operational', res.sciOpUg, 'µgCO₂e/token'), stat('calc-embodied', 'Embodied', res.sciEmbUg, 'µgCO₂e/token'), stat('calc-total', 'Total SCI', res.sciUg, 'µgCO₂e/token', 'total'));
        }
        renderDetails(rep, r, region, res, details);
        renderByRegion(rep, r, region.id, regionChart, regionChartNode);
    };
    const select = (r, regionId, scroll = false) => {
        const m = e.model[r];
        if (modelSel.value !== String(m)) {
            modelSel.value = String(m);
            fillExperiments(m);
        }
        expSel.value = String(r);
        const reg = regionId ?? rep.region(r) ?? rep.d.defaultRegion;
        regionSel.value = regions.some((x) => x.id === reg) ? reg : (regions.find((x) => x.id === rep.d.defaultRegion)?.id ?? regions[0].id);
        update();
        if (scroll)
            byId('calculator').scrollIntoView({ behavior: 'smooth', block: 'start' });
    };
    modelSel.addEventListener('change', () => {
        fillExperiments(Number(modelSel.value));
        update();
    });
    expSel.addEventListener('change', update);
    regionSel.addEventListener('change', update);
    // Start on the greenest experiment, on the grid it was measured on.
    fillExperiments(e.model[rep.d.top[0] ?? 0]);
    select(rep.d.top[0] ?? 0);
    return { select };
}
function renderDetails(rep, r, region, res, host) {
    const e = rep.d.exp;
    const storedRegion = rep.region(r);
    const pairs = [
        ['Experiment', [`#${e.id[r]} (run ${e.run[r]}, phase ${rep.phase(r)})`, rep.simulated(r) ? badge('simulated', 'sim') : null, rep.pareto(r) ? badge('Pareto', 'pareto') : null]],
        ['Model', `${rep.model(r)} · family ${rep.family(r)} · ${fmtParams(e.params[r] ?? null)} parameters`],
        ['Config', `${rep.engine(r)} · ${rep.configText(r)}`],
        ['Measured', `${fmt(e.energyJ[r])} J over ${fmt(e.windowS[r])} s for ${fmtInt(e.tokensOut[r])} tokens = ${fmt(res?.jPerToken)} J/token (±${fmt((e.energyCiRel[r] ?? NaN) * 100, 2)}% at 95%) · ${fmt(e.tokS[r])} tokens/s · BPB ${fmt(e.bpb[r])}`],
        ['Energy source', rep.energySource(r)],
        ['Embodied (M)', res ? `${fmt(res.embodiedG)} gCO₂e for the window (${rep.d.embodied[e.embodied[r]]?.description ?? '–'}) · hardware profile ${rep.hardware(r) ?? '–'}` : '–'],
        ['As stored', `${storedRegion ?? 'custom intensity'} at ${fmt(e.intensityGKwh[r])} gCO₂e/kWh → ${fmt(e.sciUg[r])} µgCO₂e/token`],
        ['This grid', `${region.name} (${region.id}): ${fmt(region.intensityGPerKwh)} gCO₂e/kWh, ${region.year ?? 'year n/a'}, ${region.basis}; source: ${region.source}`],
        ['Per million tokens', res ? `${fmt(res.sciUg)} gCO₂e on this grid` : '–'],
    ];
    const rationale = rep.rationale(r);
    if (rationale !== null)
        pairs.push(['Why it was run', rationale]);
    const dl = el('dl');
    for (const [k, v] of pairs) {
        const dd = el('dd');
        for (const c of Array.isArray(v) ? v : [v])
            if (c !== null && c !== undefined && c !== false)
                dd.append(c);
        dl.append(el('dt', {}, k), dd);
    }
    host.replaceChildren(dl);
}
function renderByRegion(rep, r, chosen, chart, node) {
    const rows = rep.d.regions
        .map((reg) => ({ reg, res: calcFor(rep, r, reg) }))
        .filter((x) => x.res !== null)
        .sort((a, b) => a.res.sciUg - b.res.sciUg || a.reg.id.localeCompare(b.reg.id));
    const lead = byId('by-region-lead');
    lead.textContent = `SCI of experiment #${rep.d.exp.id[r]} (${rep.model(r)}, ${rep.configText(r)}${rep.simulated(r) ? ', simulated' : ''}) on each of the ${rows.length} grids of the region table, operational and embodied parts stacked, greenest first. The region chosen in the calculator (${chosen}) is highlighted; pick another experiment or region there.`;
    const rowPx = 19;
    const height = Math.max(240, rows.length * rowPx + 90);
    if (node.style.height !== `${height}px`) {
        node.style.height = `${height}px`;
        chart.resize();
    }
    const label = (reg) => `${reg.id} · ${reg.name}`;
    const isChosen = (reg) => reg.id === chosen;
    const option = {
        animation: false,
        // A fixed label column: long region names are cut with an ellipsis (the tooltip has them whole).
        grid: { left: 290, right: 60, top: 34, bottom: 44 },
        legend: { top: 0, data: ['Operational', 'Embodied'] },
        tooltip: {
            trigger: 'axis',
            axisPointer: { type: 'shadow' },
            confine: true,
            formatter: (p) => {
                const first = Array.isArray(p) ? p[0] : p;
                const i = first?.dataIndex;
                const row = i === undefined ? undefined : rows[i];
                if (!row)
                    return '';
                const { reg, res } = row;
                return el('div', { class: 'ec-tip' }, el('b', {}, `${reg.name} (${reg.id})`), el('br'), `${fmt(reg.intensityGPerKwh)} gCO₂e/kWh · ${reg.year ?? 'year n/a'} · ${reg.basis}`, el('br'), `operational ${fmt(res.sciOpUg)} + embodied ${fmt(res.sciEmbUg)} = ${fmt(res.sciUg)} µgCO₂e/token`, el('br'), el('i', {}, reg.source));
            },
        },
        xAxis: { type: 'value', name: 'SCI (µgCO₂e per token)', nameLocation: 'middle', nameGap: 26, nameTextStyle: { fontSize: 13, color: '#333' }, position: 'bottom', axisLabel: { formatter: (v) => fmt(v, 3) } },
        yAxis: {
            type: 'category',
            inverse: true,
            data: rows.map((x) => ({ value: label(x.reg), textStyle: isChosen(x.reg) ? { fontWeight: 'bold', color: '#000' } : { color: '#444' } })),
            axisLabel: { fontSize: 12, interval: 0, width: 280, overflow: 'truncate' },
            axisTick: { show: false },
        },
        series: [
            { type: 'bar', name: 'Operational', stack: 'sci', barWidth: 13, data: rows.map((x) => ({ value: x.res.sciOpUg, itemStyle: { color: isChosen(x.reg) ? '#1f7a4d' : '#86c3a1' } })) },
            {
                type: 'bar',
                name: 'Embodied',
                stack: 'sci',
                barWidth: 13,
                data: rows.map((x) => ({ value: x.res.sciEmbUg, itemStyle: { color: isChosen(x.reg) ? '#5b3f99' : '#c2b3e0' } })),
                label: { show: true, position: 'right', fontSize: 11, color: '#333', formatter: (p) => fmt(rows[p.dataIndex]?.res.sciUg, 3) },
            },
        ],
        color: ['#86c3a1', '#c2b3e0'],
    };
    chart.setOption(option, { notMerge: true });
}
// -------------------------------------------------------------------------------------------------
// Methodology
const ENERGY_SOURCE_MEANING = {
    nvml: 'NVML total-energy counter: difference of its readings at the window edges (mJ, updated about every 100 ms)',
    'nvidia-smi': 'trapezoid of nvidia-smi power.draw (a one-second average) sampled at 1 Hz, interpolated at the window edges',
    sim: 'simulated power model of the sim engine: not a measurement',
    table: 'looked up in a tabular benchmark: not a measurement',
};
function renderMethodology(rep) {
    const e = rep.d.exp;
    const energy = byId('method-energy');
    if (rep.d.energySources.length === 0)
        energy.append(empty('No scored experiment yet.'));
    else {
        energy.append(table(['Energy source', 'How E was obtained', ['Experiments', 'num'], ['Simulated', 'num']], rep.d.energySources.map((s) => el('tr', {}, td(s.source), td(ENERGY_SOURCE_MEANING[s.source] ?? 'see the provenance column of the experiments table'), num(s.experiments), num(s.simulated)))));
    }
    // Built on first opening: ten thousand rows are not worth building before anyone asks.
    const details = byId('method-experiments');
    const expHost = byId('method-experiments-table');
    details.addEventListener('toggle', () => {
        if (!details.open || expHost.childElementCount > 0)
            return;
        const rows = [];
        for (let r = 0; r < rep.n; r++) {
            rows.push(el('tr', {}, num(e.id[r]), td([rep.model(r), rep.simulated(r) ? badge('simulated', 'sim') : null], 'model'), td(rep.configText(r)), td(rep.energySource(r)), num(e.energyJ[r]), td(fmtInt(e.tokensOut[r]), 'num'), num(e.windowS[r]), td(e.energyCiRel[r] === null || e.energyCiRel[r] === undefined ? '–' : `±${fmt(e.energyCiRel[r] * 100, 2)}%`, 'num'), td(rep.region(r) ?? 'custom'), num(e.intensityGKwh[r]), num(e.sciUg[r])));
        }
        expHost.append(table([['#', 'num'], 'Model', 'Config', 'Energy source', ['Energy J', 'num'], ['Tokens', 'num'], ['Window s', 'num'], ['95% CI J/token', 'num'], 'Region', ['gCO₂e/kWh', 'num'], ['SCI µg/token', 'num']], rows));
    });
    const hw = byId('method-hardware');
    if (rep.d.hardware.length === 0)
        hw.append(empty('No hardware profile recorded.'));
    else {
        hw.append(table(['Profile', 'Hardware', ['Embodied kgCO₂e', 'num'], ['Lifetime years', 'num'], ['TDP W', 'num'], ['Experiments', 'num'], 'How it was chosen', 'Source'], rep.d.hardware.map((h) => el('tr', {}, td([h.id, h.fallback ? badge('fallback', 'sim') : null]), td(h.name), num(h.embodiedKg), num(h.lifetimeYears), num(h.tdpW), num(h.experiments), td(h.matchedBy.length > 0 ? h.matchedBy.join(' | ') : '–'), td(h.source)))));
        if (rep.d.hardware.some((h) => h.fallback))
            hw.append(el('p', { class: 'banner' }, 'Some experiments used the generic fallback profile because the GPU name matched no profile: their embodied carbon is a rough estimate.'));
    }
    byId('method-regions-table').append(table(['Region', 'Name', ['gCO₂e/kWh', 'num'], ['Year', 'num'], 'Basis', 'Source'], rep.d.regions.map((reg) => el('tr', {}, td([reg.id, reg.id === rep.d.defaultRegion ? badge('default', '') : null]), td(reg.name), num(reg.intensityGPerKwh), td(reg.year === null ? '–' : String(reg.year), 'num'), td(reg.basis), td(reg.source)))));
    const runs = byId('method-runs');
    if (rep.d.runs.length === 0)
        runs.append(empty('No run recorded.'));
    else {
        runs.append(el('div', { class: 'table-wrap' }, table([['Run', 'num'], 'Status', 'Started (UTC)', 'Ended (UTC)', 'Hardware profile', 'GPUs', 'Host', 'carbonbench'], rep.d.runs.map((run) => el('tr', {}, num(run.id), td(run.status), td(run.startedAt), td(run.endedAt ?? '–'), td(run.hardware ?? '–'), td(run.gpuNames?.join(', ') ?? '–'), td(run.host ?? '–'), td(run.toolVersion))))));
    }
    const statuses = rep.d.meta.statusCounts.map((s) => `${s.count} ${s.status}`).join(', ');
    runs.append(el('p', { class: 'small' }, `Experiments in the database: ${rep.d.meta.experimentsTotal} (${statuses || 'none'}). This report shows every finished one with an SCI, simulated ones and those of carbonbench measure included (and labelled): ` +
        `carbonbench top --include-simulated --include-manual ranks the same set. Rationales longer than ${rep.d.meta.rationaleMaxChars} characters are shortened here (results.db keeps them whole).`));
    byId('method-libraries').textContent = `Charts drawn with ${rep.d.meta.libraries.map((l) => `${l.name} ${l.version} (${l.license})`).join(' and ') || 'ECharts'}, inlined in this file.`;
}
// -------------------------------------------------------------------------------------------------
function main() {
    const host = { charts: {}, pending: [] };
    let calculator = { select: () => { } };
    let rep = null;
    const handle = {
        ready: false,
        firstRenderMs: null,
        settledMs: null,
        timings: { scriptStart: performance.now() },
        error: null,
        charts: host.charts,
        calc: null,
        select(experimentId, regionId) {
            const r = rep?.rowOfId(experimentId) ?? -1;
            if (r < 0)
                return false;
            calculator.select(r, regionId);
            return true;
        },
    };
    window.carbonbenchReport = handle;
    try {
        const text = byId('report-data').textContent ?? '';
        const data = JSON.parse(text);
        handle.timings.dataParsed = performance.now();
        if (data.version !== 1)
            throw new Error(`report data version ${String(data.version)} is not supported by this page`);
        rep = new Report(data);
        const report = rep;
        const pick = (r) => calculator.select(r, undefined, true);
        const step = (name, draw) => {
            draw();
            handle.timings[name] = performance.now();
        };
        step('perModel', () => renderPerModel(report, host, pick));
        step('scaling', () => renderScaling(report, host));
        step('explore3d', () => render3d(report, host));
        step('tables', () => {
            renderTop(report, pick);
            renderLeaderboards(report, pick);
        });
        step('calculator', () => (calculator = initCalculator(report, host, handle)));
        step('methodology', () => renderMethodology(report));
        handle.timings.sectionsBuilt = performance.now();
        let resizeTimer = 0;
        window.addEventListener('resize', () => {
            clearTimeout(resizeTimer);
            resizeTimer = window.setTimeout(() => Object.values(host.charts).forEach((c) => c.resize()), 100);
        });
        requestAnimationFrame(() => requestAnimationFrame(() => {
            handle.firstRenderMs = performance.now();
            handle.ready = true;
        }));
        void Promise.all(host.pending).then(() => {
            handle.settledMs = performance.now();
        });
    }
    catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        handle.error = message;
        document.querySelector('main')?.prepend(el('p', { class: 'banner' }, `This report could not be drawn: ${message}`));
        throw err;
    }
}
main();
export {};
//# sourceMappingURL=client.js.map