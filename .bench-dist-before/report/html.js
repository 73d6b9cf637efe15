const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text → HTML text or attribute value. */
export function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
/**
 * JSON that is safe inside `<script type="application/json">`: `<`, `>` and `&` become \u escapes, so
 * no `</script>`, `<!--` or `<script` can occur; U+2028/2029 too (harmless in JSON, but not in every
 * consumer). JSON.parse reads it back unchanged.
 */
export function jsonForScript(value) {
    return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
/**
 * JavaScript source that is safe inside a `<script>` element. `</script` would end the element and
 * `<!--` followed by `<script` would change how the parser finds its end (the "double escaped" state).
 * Both are rewritten with a backslash, which means the same inside string, template and regular
 * expression literals, the only places they can occur in real code; the libraries inlined today
 * contain neither (tests check).
 */
export function scriptForInline(code) {
    return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}
// No network at view time, enforced by the browser: nothing may be fetched, only inline scripts and
// styles run, images only from data:/blob: URLs (ECharts' "save as image" and echarts-gl textures).
// 'unsafe-eval': echarts-gl (claygl) compiles its texture-size expressions with new Function; the only
// code it evaluates is its own, and the page's data is never evaluated.
const CSP = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'";
export function renderHtml(data, assets) {
    const m = data.meta;
    const simulated = m.simulatedScored;
    const banner = simulated > 0
        ? `<div class="banner" id="sim-banner" role="alert"><strong>Simulated data.</strong> ${simulated === m.experimentsScored
            ? `${simulated === 1 ? 'The' : `All ${count(simulated)}`} scored experiment${simulated === 1 ? '' : 's'} in this report came`
            : `${count(simulated)} of the ${count(m.experimentsScored)} scored experiments in this report came`} from the <code>sim</code> or <code>table</code> engine: not measurements of real hardware. Simulated rows are marked <span class="badge sim">simulated</span>.</div>`
        : '';
    const title = `carbonbench report: ${m.db}`;
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CSP)}">
<meta name="generator" content="carbonbench ${escapeHtml(m.toolVersion)}">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="page">
<h1>Carbon per generated token</h1>
<p class="subtitle">${escapeHtml(m.db)} · ${count(m.experimentsScored)} scored experiment${m.experimentsScored === 1 ? '' : 's'} of ${count(m.experimentsTotal)} in the database · generated ${escapeHtml(m.generatedAt)} by carbonbench ${escapeHtml(m.toolVersion)} · SCI per ISO/IEC 21031 (Green Software Foundation)</p>
${banner}
<nav aria-label="sections"><a href="#per-model">Throughput vs SCI</a><a href="#scaling-law">Scaling law</a><a href="#explore-3d">3D explorer</a><a href="#top5">Top 5</a><a href="#leaderboards">Leaderboards</a><a href="#calculator">Calculator</a><a href="#by-region">By region</a><a href="#methodology">Methodology</a></nav>
<noscript><p class="banner">The charts, tables and calculator of this report need JavaScript.</p></noscript>
</header>
<main>
<section id="per-model">
<h2>Throughput vs carbon per token</h2>
<p class="lead">One chart per model family, both axes logarithmic. Each point is one experiment: lower is greener, further right is faster. Point size grows with the batch size (the concurrency of the load); the shape is the quantization. Hover a point for its config; click it to open it in the calculator.</p>
<div class="charts" id="per-model-charts"></div>
</section>
<section id="scaling-law">
<h2>Scaling law: carbon per token against model size</h2>
<p class="lead">Per family, each model’s best SCI against its parameter count, fitted as SCI = a · params<sup>b</sup> by least squares in log–log space, then extrapolated to frontier models. Extrapolated values are <em>estimates</em>.</p>
<div id="scaling-formulas" class="formulas"></div>
<div class="chart" id="scaling-chart" style="height:440px"></div>
<div id="scaling-tables"></div>
<ul id="scaling-notes" class="notes"></ul>
</section>
<section id="explore-3d">
<h2>3D explorer: throughput × SCI × BPB</h2>
<p class="lead">Every scored experiment in three dimensions: throughput (tokens/s, log), SCI (µgCO₂e/token, log) and quality as bits per byte on the held-out text (lower is better). Drag to rotate, scroll to zoom, right-drag to pan.</p>
<div class="chart" id="explore-3d-chart" style="height:560px"></div>
</section>
<section id="top5">
<h2>The five greenest configurations</h2>
<p class="lead">Lowest SCI first. Pareto: not beaten on every one of ${escapeHtml(m.paretoObjectives)} by any other experiment.</p>
<div id="top5-table" class="table-wrap"></div>
</section>
<section id="leaderboards">
<h2>Leaderboards</h2>
<p class="lead">The best (lowest-SCI) experiment of each group, greenest group first, with the group’s median.</p>
<div id="leaderboard-tables" class="stack"></div>
</section>
<section id="calculator">
<h2>Carbon calculator</h2>
<p class="lead">The same measured energy, tokens and embodied share on another electricity grid. Operational carbon scales with the grid’s intensity; embodied carbon does not. Same formula and inputs as <code>carbonbench calc --experiment ID --region R</code>.</p>
<form id="calc-form" class="calc-form" autocomplete="off">
<label>Model <select id="calc-model"></select></label>
<label class="wide">Experiment (greenest first) <select id="calc-experiment"></select></label>
<label class="wide">Grid region <select id="calc-region"></select></label>
</form>
<div class="calc-out" id="calc-output" aria-live="polite"></div>
<div id="calc-details" class="details"></div>
</section>
<section id="by-region">
<h2>SCI by grid region</h2>
<p class="lead" id="by-region-lead">SCI of the experiment chosen in the calculator on every grid in the region table, operational and embodied parts stacked. The chosen region is highlighted.</p>
<div class="chart" id="by-region-chart"></div>
</section>
<section id="methodology">
<h2>Methodology</h2>
<div class="method">
<h3>Score</h3>
<p>Software Carbon Intensity (Green Software Foundation, ISO/IEC 21031:2024), with the functional unit R = one generated (output) token:</p>
<pre class="formula">SCI = (E × I + M) / R
O   = E[kWh] × I[gCO₂e/kWh]                    operational carbon of the window
M   = TE × (window_s / lifetime_s) × (gpus_used / gpus_total)   embodied carbon of the window
SCI = (O + M) / R   → µgCO₂e per token (sci_ug = sci_op_ug + sci_emb_ug)</pre>
<p><strong>E</strong> is the energy over the measurement window; <strong>R</strong> the output tokens generated inside the same window, from the server’s usage data; <strong>I</strong> the grid’s carbon intensity; <strong>TE</strong> the embodied emissions of the hardware, charged by the share of its lifetime and of its GPUs that the window used. Quality is <strong>BPB</strong>, bits per UTF-8 byte on a held-out text: Σ −log₂ p(token) ÷ bytes, computed once per engine, model and quantization.</p>
<h3>Boundary</h3>
<p>Energy is <strong>GPU board energy</strong> only: what the GPU reports through NVML’s total-energy counter, or the trapezoid of nvidia-smi’s power.draw at 1 Hz. CPU, host memory, storage, network, cooling and power-supply losses (PUE) are outside the boundary, so SCI here is a lower bound for a whole server. Idle time between experiments, warm-up and model loading are excluded: only the measurement window counts.</p>
<h3>Energy source per experiment</h3>
<div id="method-energy"></div>
<details id="method-experiments"><summary>Every scored experiment: energy source, precision and inputs</summary><div id="method-experiments-table" class="table-wrap tall"></div></details>
<h3>Hardware profile (embodied carbon)</h3>
<div id="method-hardware"></div>
<h3>Grid regions</h3>
<p>The region table (data/grid-regions.csv) with each row’s source. The default, US-NE-ISNE (Connecticut / ISO New England, 210 gCO₂e/kWh), is the reference study’s figure; the generation-based eGRID2023 figure for the same grid is row US-NE-NEWE.</p>
<details id="method-regions"><summary>All regions and sources</summary><div id="method-regions-table" class="table-wrap tall"></div></details>
<h3>Runs</h3>
<div id="method-runs"></div>
<h3>Limitations</h3>
<ul>
<li>The boundary is the GPU board: host CPU, memory, networking, cooling and PUE are excluded.</li>
<li>nvidia-smi’s power.draw is a one-second average sampled at 1 Hz; where NVML’s energy counter exists it is used instead. Each experiment stores the 95% confidence interval of its J/token.</li>
<li>Embodied carbon figures are estimates from the hardware table (sources above); manufacturers rarely publish per-GPU footprints.</li>
<li>Grid intensities are annual averages; the real marginal intensity at the hour of inference differs.</li>
<li>Each config was measured under a closed-loop load at a fixed concurrency, input and output length; other traffic patterns give other figures.</li>
<li>Scaling-law extrapolations to frontier models are estimates outside the measured range.</li>
${simulated > 0 ? '<li><strong>Simulated experiments</strong> (sim/table engines) model energy and throughput; they are for testing the tool, not evidence about hardware.</li>' : ''}
</ul>
<p class="small" id="method-libraries"></p>
</div>
</section>
</main>
<footer class="page"><p>Self-contained: everything this page shows is inside this file; it loads nothing from the network.</p></footer>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
${assets.libraries.map(libraryScript).join('\n')}
<script type="module">${scriptForInline(assets.client)}</script>
</body>
</html>
`;
}
const count = (n) => n.toLocaleString('en-US');
function libraryScript(lib) {
    return `<script data-library="${escapeHtml(lib.name)}" data-version="${escapeHtml(lib.version)}">/* ${escapeHtml(lib.name)} ${escapeHtml(lib.version)}, ${escapeHtml(lib.license)} licence */\n${scriptForInline(lib.code)}</script>`;
}
const STYLE = `
:root{--fg:#1d2327;--muted:#5f6b76;--line:#d9dee3;--bg:#fff;--alt:#f5f7f9;--accent:#1f7a4d;--warn-bg:#fff4d6;--warn-line:#e0b54a;--est:#8a5a00}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header.page,main,footer.page{max-width:1200px;margin:0 auto;padding:0 24px}
header.page{padding-top:20px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:21px;margin:0 0 6px}
h3{font-size:16px;margin:20px 0 6px}
.subtitle{color:var(--muted);margin:0 0 12px}
nav{display:flex;flex-wrap:wrap;gap:4px 16px;padding:8px 0;border-bottom:1px solid var(--line);position:sticky;top:0;background:var(--bg);z-index:10}
nav a{color:var(--accent);text-decoration:none;font-weight:500}
nav a:hover{text-decoration:underline}
section{padding:26px 0 18px;border-bottom:1px solid var(--line)}
.lead{color:var(--muted);margin:0 0 14px;max-width:900px}
.banner{background:var(--warn-bg);border:1px solid var(--warn-line);border-radius:6px;padding:10px 14px;margin:0 0 12px}
.badge{display:inline-block;font-size:11px;line-height:16px;padding:0 6px;border-radius:8px;background:#e8eef3;color:#34495e;margin-left:6px;vertical-align:1px;white-space:nowrap}
.badge.sim{background:var(--warn-bg);color:#7a5200;border:1px solid var(--warn-line)}
.badge.pareto{background:#e1f3e8;color:#17603b}
.badge.est{background:#fbecd5;color:var(--est)}
.chart{width:100%;min-height:200px}
.charts{display:grid;grid-template-columns:1fr;gap:18px}
.chart-block h3{margin:0 0 2px}
.chart-block .caption{color:var(--muted);font-size:13px;margin:0 0 4px}
.stack{display:grid;grid-template-columns:1fr;gap:18px}
.stack table{width:auto;min-width:760px}
.table-wrap{overflow-x:auto}
.table-wrap.tall{max-height:460px;overflow-y:auto;border:1px solid var(--line)}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--alt);font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
td.model{overflow-wrap:anywhere}
td.source{min-width:260px;font-size:13px}
td.name{white-space:nowrap}
tr.estimate td{color:var(--est);font-style:italic}
caption{text-align:left;font-weight:600;padding:4px 0}
.formulas p{margin:4px 0;font-size:15px}
.formula{background:var(--alt);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow-x:auto;font-size:13px}
.notes{color:var(--muted);font-size:13px}
.calc-form{display:flex;flex-wrap:wrap;gap:10px 22px;align-items:flex-end;margin:0 0 14px}
.calc-form label{display:flex;flex-direction:column;font-size:13px;color:var(--muted);gap:3px}
.calc-form select{font:inherit;color:var(--fg);padding:4px 6px;max-width:100%;min-width:200px}
.calc-form label.wide{flex:1 1 560px}
.calc-form label.wide select{width:100%}
.calc-out{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:12px;margin:0 0 12px}
.stat{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--alt)}
.stat .label{font-size:13px;color:var(--muted)}
.stat .value{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.stat .unit{font-size:12px;color:var(--muted)}
.stat.total{border-color:var(--accent);background:#eef8f2}
.details dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;font-size:14px}
.details dt{color:var(--muted)}
.details dd{margin:0;word-break:break-word}
.empty{color:var(--muted);font-style:italic;padding:10px 0}
.small{font-size:12px;color:var(--muted)}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
footer.page{color:var(--muted);font-size:12px;padding-top:10px;padding-bottom:30px}
.ec-tip{font-size:13px;line-height:1.45}
.ec-tip b{font-weight:600}
@media (max-width:760px){.calc-out{grid-template-columns:repeat(2,minmax(0,1fr))}}
`;
//# sourceMappingURL=html.js.map