/**
 * The HTML report (src/report, DESIGN section 9) in a real headless browser: playwright-core driving
 * Debian's chromium (`apt-get install chromium`; .ci/run installs it). The report of a real sim sweep
 * (the built CLI, as a user runs it) must draw every section with no console error and no network
 * request, and its calculator must give the numbers of `carbonbench calc`. A second page with hostile
 * strings checks that nothing from the database becomes HTML; a third, 10,000 experiments, records the
 * file size and the time to first render.
 *
 * Needs `npm run build` first (npm test does it): the sweep runs bin/carbonbench.js, and the report
 * inlines the compiled page script dist/report/client.js.
 *
 * Screenshots: tests/.tmp/report-screens/ (kept as test artifacts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeFor } from '../../src/analysis/calculator.js';
import { openResultsReader } from '../../src/analysis/query.js';
import { loadRegions } from '../../src/carbon/regions.js';
import { SECONDS_PER_YEAR, computeSci } from '../../src/carbon/sci.js';
import { buildReport, escapeHtml, jsonForScript, scriptForInline, writeReport } from '../../src/report/index.js';
import { loadAssets } from '../../src/report/assets.js';
import { openStore, type ExperimentRecord, type NewExperiment, type Store } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

/** The page's ECharts global, for the functions that run inside the page. */
declare const echarts: typeof import('echarts');

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const SCREENS = join(ROOT, 'tests', '.tmp', 'report-screens');
const SIM_PROGRAM = join(ROOT, 'tests', 'fixtures', 'programs', 'sim-sweep.md');
const SECTIONS = ['per-model', 'scaling-law', 'explore-3d', 'top5', 'leaderboards', 'calculator', 'by-region', 'methodology'] as const;

const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!haveChromium && !inCi) {
  // Visible in the test output: a skipped browser test must say why.
  console.warn(`report browser tests skipped: ${CHROMIUM} not found (apt-get install chromium); they fail instead when CI=true`);
}

const tmpDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cb-report-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------
// Without a browser: the escaping the page's safety rests on.

describe('report HTML escaping', () => {
  const hostile = '</script><script>window.__pwned=1</script><!--<script>\u2028\u2029&amp;"\'';

  it('escapes text for HTML', () => {
    expect(escapeHtml('<b a="1">&\'')).toBe('&lt;b a=&quot;1&quot;&gt;&amp;&#39;');
  });

  it('embeds JSON that cannot end or confuse its script element, and reads back unchanged', () => {
    const json = jsonForScript({ model: hostile, n: [1.5, null] });
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual({ model: hostile, n: [1.5, null] });
  });

  it('rewrites </script and <!-- inside inlined code', () => {
    const code = 'const s = "</script>"; const t = "<!--"; const r = /<\\/SCRIPT/;';
    const safe = scriptForInline(code);
    expect(safe).not.toMatch(/<\/script|<!--/i);
    // Same meaning inside string literals.
    expect(new Function(`${safe}; return [s, t];`)()).toEqual(['</script>', '<!--']);
  });

  it('inlines ECharts, echarts-gl and the page script with nothing to rewrite', () => {
    const assets = loadAssets();
    expect(assets.libraries.map((l) => l.name)).toEqual(['echarts', 'echarts-gl']);
    for (const code of [...assets.libraries.map((l) => l.code), assets.client]) {
      expect(code).not.toMatch(/<\/script|<!--/i);
      expect(code).not.toMatch(/sourceMappingURL/);
    }
  });

  it('builds a page for an empty database with every section', async () => {
    const dir = tempDir();
    await (await openStore(join(dir, 'empty.db'))).close();
    const reader = await openResultsReader(join(dir, 'empty.db'));
    try {
      const { html, bytes, experiments } = await buildReport(reader, { generatedAt: '2025-01-01T00:00:00.000Z' });
      expect(experiments).toBe(0);
      expect(bytes).toBe(Buffer.byteLength(html));
      for (const id of SECTIONS) expect(html).toContain(`<section id="${id}">`);
      // Nothing may be loaded from elsewhere: no src, and no href but the in-page links of the nav.
      const markup = html.replace(/(<script[^>]*>)[\s\S]*?<\/script>/g, '$1</script>');
      expect(markup.match(/\s(src|href)="(?!#)/g)).toBeNull();
      expect(markup.match(/<(link|iframe|img|object|embed)\b/g)).toBeNull();
      expect(html).not.toContain('id="sim-banner"');
    } finally {
      await reader.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// In the browser

interface PageWatch {
  errors: string[];
  warnings: string[];
  requests: string[];
}

/**
 * Chromium's software WebGL (SwiftShader, because of --disable-gpu) reports driver performance notes
 * as console warnings; they are about the test machine, not the page.
 */
const BROWSER_NOISE = /GL Driver Message|GPU stall due to ReadPixels|WebGL: too many errors|Automatic fallback to software WebGL/;

async function openReport(browser: Browser, file: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; watch: PageWatch }> {
  const context = await browser.newContext({ viewport });
  const watch: PageWatch = { errors: [], warnings: [], requests: [] };
  // Every request goes through here: only the file itself and data:/blob: URLs may load.
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (/^(file|data|blob):/.test(url)) await route.continue();
    else {
      watch.requests.push(url);
      await route.abort();
    }
  });
  const page = await context.newPage();
  page.on('request', (r) => {
    if (!/^(file|data|blob):/.test(r.url()) && !watch.requests.includes(r.url())) watch.requests.push(r.url());
  });
  page.on('websocket', (ws) => watch.requests.push(ws.url()));
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') watch.errors.push(m.text());
    else if (m.type() === 'warning' && !BROWSER_NOISE.test(m.text())) watch.warnings.push(m.text());
  });
  page.on('pageerror', (e) => watch.errors.push(`${e.name}: ${e.message}`));
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => window.carbonbenchReport?.ready === true || window.carbonbenchReport?.error != null, null, { timeout: 60_000 });
  const error = await page.evaluate(() => window.carbonbenchReport?.error ?? null);
  expect(error).toBeNull();
  await page.waitForFunction(() => window.carbonbenchReport?.settledMs != null, null, { timeout: 60_000 });
  return { page, watch };
}

async function calcValues(page: Page): Promise<Record<'intensity' | 'operational' | 'embodied' | 'total', number>> {
  return page.evaluate(() => {
    const v = (id: string): number => Number(document.getElementById(id)?.getAttribute('data-value'));
    return { intensity: v('calc-intensity'), operational: v('calc-operational'), embodied: v('calc-embodied'), total: v('calc-total') };
  });
}

/** `carbonbench calc --json`'s numbers: through the CLI when main.ts registers `calc`, else its function. */
async function expectedCalc(db: string, exp: ExperimentRecord, region: string, cliHasCalc: boolean): Promise<{ sci_op_ug: number; sci_emb_ug: number; sci_ug: number; intensity_g_kwh: number }> {
  if (cliHasCalc) {
    const r = await runCli(['calc', '--experiment', String(exp.id), '--region', region, '--db', db, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { results: { sci_op_ug: number; sci_emb_ug: number; sci_ug: number; intensity_g_kwh: number }[] };
    return doc.results[0]!;
  }
  const r = recomputeFor(exp, { region });
  return { sci_op_ug: r.sci.sciOpUg, sci_emb_ug: r.sci.sciEmbUg, sci_ug: r.sci.sciUg, intensity_g_kwh: r.intensityGKwh };
}

describe.skipIf(!haveChromium && !inCi)('report in headless chromium', () => {
  let browser: Browser;
  let dir: string;
  let db: string;
  let reportFile: string;
  let rows: ExperimentRecord[];
  let cliHasCalc = false;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); CI=true requires it`);
    mkdirSync(SCREENS, { recursive: true });
    dir = tempDir();
    db = join(dir, 'results.db');
    const run = await runCli(['run', '--program', SIM_PROGRAM, '--db', db, '--json'], { cwd: dir, timeoutMs: 120_000 });
    expect(run.exitCode, run.stderr).toBe(0);
    // The command when main.ts registers it (the user's path), else the same function it calls.
    const out = join(dir, 'report');
    const viaCli = await runCli(['report', '--db', db, '--out', out, '--json']);
    if (viaCli.exitCode === 0) reportFile = (JSON.parse(viaCli.stdout) as { path: string }).path;
    else reportFile = (await writeReport(db, out)).path;
    cliHasCalc = /^\s+calc\b/m.test((await runCli(['--help'])).stdout);
    const store = await openStore(db, { readonly: true });
    try {
      rows = (await store.listExperiments()).filter((e) => e.status === 'ok' && e.sciUg !== null);
    } finally {
      await store.close();
    }
    expect(rows.length).toBeGreaterThan(10);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('draws every section of a sim sweep, offline and without console errors', async () => {
    const { page, watch } = await openReport(browser, reportFile);
    try {
      for (const id of SECTIONS) {
        const box = await page.locator(`section#${id}`).boundingBox();
        expect(box, id).not.toBeNull();
        expect(box!.height, id).toBeGreaterThan(100);
      }
      // Simulated data is labelled.
      await expect.poll(() => page.locator('#sim-banner').isVisible()).toBe(true);
      expect(await page.locator('#top5 .badge.sim').count()).toBe(5);

      // Charts: an ECharts instance on each container, with a canvas of non-zero size.
      const charts = await page.evaluate(() => {
        const ids = ['#per-model-charts .chart', '#scaling-chart', '#explore-3d-chart', '#by-region-chart'];
        return ids.map((sel) => {
          const nodes = [...document.querySelectorAll<HTMLElement>(sel)];
          return {
            sel,
            nodes: nodes.length,
            instances: nodes.filter((n) => echarts.getInstanceByDom(n) !== undefined).length,
            canvases: nodes.map((n) => [...n.querySelectorAll('canvas')].map((c) => [c.width, c.height])).flat(),
          };
        });
      });
      for (const c of charts) {
        expect(c.nodes, c.sel).toBeGreaterThan(0);
        expect(c.instances, c.sel).toBe(c.nodes);
        expect(c.canvases.length, c.sel).toBeGreaterThan(0);
        for (const [w, h] of c.canvases) expect(w! * h!, c.sel).toBeGreaterThan(0);
      }
      // The 2D charts really drew something: coloured pixels on their canvas.
      const inked = await page.evaluate(() =>
        ['#per-model-charts .chart', '#scaling-chart', '#by-region-chart'].map((sel) => {
          const canvas = document.querySelector<HTMLCanvasElement>(`${sel} canvas`)!;
          const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          let coloured = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0 && !(data[i] === data[i + 1] && data[i + 1] === data[i + 2])) coloured++;
          return coloured;
        }),
      );
      for (const n of inked) expect(n).toBeGreaterThan(500);
      // The 3D view has its series (echarts-gl draws on WebGL: checked by instance and screenshot).
      const series3d = await page.evaluate(() => {
        const option = echarts.getInstanceByDom(document.getElementById('explore-3d-chart')!)!.getOption() as { series: { type: string }[] };
        return option.series.map((s) => s.type);
      });
      expect(series3d.length).toBeGreaterThan(0);
      expect(new Set(series3d)).toEqual(new Set(['scatter3D']));

      // Tables: top 5, four leaderboards, regions and methodology.
      expect(await page.locator('#top5 tbody tr').count()).toBe(5);
      expect(await page.locator('#leaderboards table').count()).toBe(4);
      expect(await page.locator('#method-regions-table tbody tr').count()).toBe(loadRegions().length);
      expect(await page.locator('#method-energy tbody tr').count()).toBeGreaterThan(0);
      expect(await page.locator('#scaling-formulas').textContent()).toMatch(/SCI = .*R² = /);
      expect(await page.locator('#scaling-tables tr.estimate').count()).toBeGreaterThan(0);

      for (const id of SECTIONS) {
        await page.locator(`section#${id}`).scrollIntoViewIfNeeded();
        await page.locator(`section#${id}`).screenshot({ path: join(SCREENS, `sim-${id}.png`) });
      }
      await page.screenshot({ path: join(SCREENS, 'sim-full.png'), fullPage: true });

      expect(watch.requests).toEqual([]);
      expect(watch.errors).toEqual([]);
      expect(watch.warnings).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 90_000);

  it('recomputes the calculator on selection with the numbers of carbonbench calc', async () => {
    const { page, watch } = await openReport(browser, reportFile);
    try {
      // Initially: the greenest experiment on the grid it was measured on, i.e. the stored figures.
      const greenest = [...rows].sort((a, b) => a.sciUg! - b.sciUg! || a.id - b.id)[0]!;
      const initial = await calcValues(page);
      expect(await page.evaluate(() => window.carbonbenchReport?.calc?.experimentId)).toBe(greenest.id);
      expect(initial.intensity).toBe(greenest.intensityGKwh);
      expect(initial.total).toBe(greenest.sciUg);
      expect(initial.operational).toBe(greenest.sciOpUg);
      expect(initial.embodied).toBe(greenest.sciEmbUg);

      // Choose another model's least green experiment and another grid, through the form.
      const target = [...rows].filter((e) => e.model !== greenest.model).sort((a, b) => b.sciUg! - a.sciUg!)[0]!;
      const region = 'FR';
      const optionValue = (select: string, prefix: string): Promise<string | null> =>
        page.evaluate(([s, p]) => [...document.querySelectorAll<HTMLOptionElement>(`${s} option`)].find((o) => o.textContent!.startsWith(p))?.value ?? null, [select, prefix] as const);
      await page.selectOption('#calc-model', (await optionValue('#calc-model', `${target.model} (`))!);
      await page.selectOption('#calc-experiment', (await optionValue('#calc-experiment', `#${target.id} `))!);
      await page.selectOption('#calc-region', region);
      await expect.poll(() => page.evaluate(() => window.carbonbenchReport?.calc?.region)).toBe(region);

      const got = await calcValues(page);
      const want = await expectedCalc(db, target, region, cliHasCalc);
      expect(got.intensity).toBe(want.intensity_g_kwh);
      expect(got.operational).toBe(want.sci_op_ug);
      expect(got.embodied).toBe(want.sci_emb_ug);
      expect(got.total).toBe(want.sci_ug);
      // What a person reads: 4 significant digits of the same number.
      expect(await page.locator('#calc-total').textContent()).toBe(new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 }).format(want.sci_ug));

      // Independently of src/analysis: SCI's formula from the stored row (its provenance holds TE,
      // lifetime and the GPU share the run used).
      const m = /TE (\S+) kg over (\S+) y, (\d+)\/(\d+) GPUs$/.exec(String(target.provenance?.embodied_g))!;
      const direct = computeSci({
        energyJ: target.energyJ!,
        tokensOut: target.tokensOut!,
        intensityGPerKwh: loadRegions().find((r) => r.id === region)!.intensityGPerKwh,
        embodiedTotalG: Number(m[1]) * 1000,
        lifetimeS: Number(m[2]) * SECONDS_PER_YEAR,
        windowS: target.windowS!,
        gpusUsed: Number(m[3]),
        gpusTotal: Number(m[4]),
      });
      expect(got.total).toBe(direct.sciUg);

      // SCI by region follows the calculator: the chosen region is highlighted with the same total.
      const byRegion = await page.evaluate((reg) => {
        const option = echarts.getInstanceByDom(document.getElementById('by-region-chart')!)!.getOption() as {
          yAxis: { data: { value: string; textStyle: { fontWeight?: string } }[] }[];
          series: { data: { value: number }[] }[];
        };
        const labels = option.yAxis[0]!.data;
        const i = labels.findIndex((l) => l.value.startsWith(`${reg} `));
        return { bold: labels[i]?.textStyle.fontWeight, op: option.series[0]!.data[i]!.value, emb: option.series[1]!.data[i]!.value, bars: labels.length };
      }, region);
      expect(byRegion.bars).toBe(loadRegions().length);
      expect(byRegion.bold).toBe('bold');
      expect(byRegion.op).toBe(want.sci_op_ug);
      expect(byRegion.emb).toBe(want.sci_emb_ug);
      expect(await page.locator('#by-region-lead').textContent()).toContain(`#${target.id}`);

      await page.locator('#calculator').screenshot({ path: join(SCREENS, 'sim-calculator-fr.png') });
      expect(watch.requests).toEqual([]);
      expect(watch.errors).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 90_000);

  it('inserts what the agent or a user wrote as text, never as HTML', async () => {
    const hostile = {
      model: 'evil/<img src=x onerror="window.__pwned=1">',
      rationale: '</script><script>window.__pwned=2</script><b>bold?</b>',
      quant: '"><svg onload=window.__pwned=3>',
    };
    const d = tempDir();
    const hostileDb = join(d, 'hostile.db');
    const store = await openStore(hostileDb);
    try {
      await fillSynthetic(store, 12, { model: hostile.model, rationale: hostile.rationale, quant: hostile.quant });
    } finally {
      await store.close();
    }
    const { path } = await writeReport(hostileDb, join(d, 'report'));
    const html = readFileSync(path, 'utf8');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<svg onload');
    const { page, watch } = await openReport(browser, path);
    try {
      const result = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
        injected:
          document.querySelectorAll('img, svg, [onerror], [onload]').length +
          [...document.querySelectorAll('b')].filter((b) => b.textContent === 'bold?').length,
        top: document.querySelector('#top5 tbody')?.textContent ?? '',
        details: document.querySelector('#calc-details')?.textContent ?? '',
      }));
      expect(result.pwned).toBeNull();
      expect(result.injected).toBe(0);
      expect(result.top).toContain(hostile.model);
      expect(result.details).toContain(hostile.rationale.slice(0, 40));
      // A tooltip (ECharts accepts HTML there): hover a point and read it back as text.
      const chart = page.locator('#per-model-charts .chart').first();
      await chart.scrollIntoViewIfNeeded();
      const point = await page.evaluate(() => {
        const node = document.querySelector<HTMLElement>('#per-model-charts .chart')!;
        const c = echarts.getInstanceByDom(node)!;
        const s = (c.getOption() as { series: { data: number[][] }[] }).series[0]!.data[0]!;
        const [x, y] = c.convertToPixel({ seriesIndex: 0 }, [s[0]!, s[1]!]) as number[];
        const rect = node.getBoundingClientRect();
        return { x: rect.left + x!, y: rect.top + y! };
      });
      await page.mouse.move(point.x, point.y);
      await expect.poll(() => page.locator('.ec-tip').first().textContent(), { timeout: 5_000 }).toContain(hostile.model);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned ?? null)).toBeNull();
      expect(watch.errors).toEqual([]);
      expect(watch.requests).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 90_000);

  it('stays usable with 10,000 experiments (file size, time to first render)', async () => {
    const d = tempDir();
    const bigDb = join(d, 'big.db');
    const store = await openStore(bigDb);
    try {
      await fillSynthetic(store, 10_000);
    } finally {
      await store.close();
    }
    const t0 = performance.now();
    const { path, bytes, experiments } = await writeReport(bigDb, join(d, 'report'));
    const buildMs = performance.now() - t0;
    expect(experiments).toBe(10_000);
    const { page, watch } = await openReport(browser, path);
    try {
      const timing = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
        const h = window.carbonbenchReport!;
        return { firstRenderMs: h.firstRenderMs!, settledMs: h.settledMs!, domContentLoadedMs: nav?.domContentLoadedEventEnd ?? null, steps: h.timings };
      });
      // Interaction stays quick: switching the calculator's region recomputes and redraws by-region.
      const t1 = Date.now();
      await page.selectOption('#calc-region', 'FR');
      await expect.poll(() => page.evaluate(() => window.carbonbenchReport?.calc?.region)).toBe('FR');
      const interactionMs = Date.now() - t1;
      await page.screenshot({ path: join(SCREENS, '10k-top.png') });
      await page.locator('section#per-model').screenshot({ path: join(SCREENS, '10k-per-model.png') });
      console.log(
        `report at 10,000 experiments: ${(bytes / 1e6).toFixed(2)} MB, built in ${Math.round(buildMs)} ms; ` +
          `first render ${Math.round(timing.firstRenderMs)} ms, ` +
          `all charts settled ${Math.round(timing.settledMs)} ms after navigation start; region change ${interactionMs} ms; ` +
          `steps (ms after navigation start): ${Object.entries(timing.steps).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}`,
      );
      // Generous bounds: a loaded CI machine must not flake, a regression by an order of magnitude must fail.
      expect(bytes).toBeLessThan(10e6);
      expect(timing.firstRenderMs).toBeLessThan(15_000);
      expect(watch.errors).toEqual([]);
      expect(watch.requests).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------------
// Synthetic results: a seeded stand-in for a long sweep (simulated, and labelled so).

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function fillSynthetic(store: Store, n: number, hostile?: { model: string; rationale: string; quant: string }): Promise<void> {
  const rand = mulberry32(42);
  const runId = await store.createRun({ programText: '---\nengine: table\n---\nsynthetic\n', programHash: 'f'.repeat(64), toolVersion: '0.0.0-test', hardware: 'h100-sxm', host: 'test', gpuNames: ['NVIDIA H100 80GB HBM3'] });
  const families: { family: string; sizes: number[] }[] = [
    { family: 'qwen2.5', sizes: [0.49e9, 1.54e9, 3.1e9, 7.6e9, 14.7e9] },
    { family: 'llama-3.1', sizes: [1.2e9, 3.2e9, 8e9] },
    { family: 'gemma-2', sizes: [2.6e9, 9.2e9, 27e9] },
    { family: 'phi-3', sizes: [3.8e9] },
  ];
  const models = families.flatMap((f) => f.sizes.map((params) => ({ family: f.family, params, model: hostile ? hostile.model : `${f.family}/${f.family}-${(params / 1e9).toFixed(1)}b` })));
  const quants = hostile ? [hostile.quant] : ['bf16', 'fp8', 'awq', 'gptq'];
  const batches = [1, 2, 4, 8, 16, 32, 64, 128];
  const lifetimeS = 5 * SECONDS_PER_YEAR;
  await store.transaction(async (tx) => {
    for (let i = 0; i < n; i++) {
      const m = models[i % models.length]!;
      const quant = quants[Math.floor(rand() * quants.length)]!;
      const batch = batches[Math.floor(rand() * batches.length)]!;
      const windowS = 10 + rand() * 50;
      const tokS = (4000 / Math.sqrt(m.params / 1e9)) * Math.pow(batch, 0.7) * (0.8 + rand() * 0.4);
      const tokensOut = Math.max(1, Math.round(tokS * windowS));
      const powerW = 200 + 400 * Math.min(1, batch / 64) + rand() * 40;
      const energyJ = powerW * windowS;
      const intensity = 210;
      const sci = computeSci({ energyJ, tokensOut, intensityGPerKwh: intensity, embodiedTotalG: 164_000, lifetimeS, windowS, gpusUsed: 1, gpusTotal: 1 });
      const row: NewExperiment = {
        runId,
        engine: i % 3 === 0 ? 'vllm' : 'llamacpp',
        model: m.model,
        params: m.params,
        quant,
        batch,
        inputLen: [128, 512, 2048][i % 3]!,
        outputLen: [128, 512][i % 2]!,
        config: { family: m.family, quant, batch },
        phase: ['grid', 'random', 'bayesian'][i % 3]!,
        rationale: hostile ? hostile.rationale : `synthetic row ${i}: ${quant} at batch ${batch}`,
        status: 'ok',
        windowS,
        tokensOut,
        tokS: tokensOut / windowS,
        energyJ,
        energySource: 'table',
        energyCiRel: 0.01 + rand() * 0.03,
        bpb: 0.6 + 0.3 / Math.log10(m.params) + (quant === 'bf16' ? 0 : 0.01 + rand() * 0.02),
        region: 'US-NE-ISNE',
        intensityGKwh: intensity,
        embodiedG: sci.embodiedG,
        hardwareId: 'h100-sxm',
        hardwareFallback: false,
        gpusUsed: 1,
        sciOpUg: sci.sciOpUg,
        sciEmbUg: sci.sciEmbUg,
        sciUg: sci.sciUg,
        simulated: true,
        provenance: { embodied_g: `h100-sxm: test; TE 164 kg over 5 y, 1/1 GPUs` },
      };
      await tx.insertExperiment(row);
    }
  });
}
