/**
 * The bench's `--report` page, opened in real headless Chromium: its charts render (each SVG is laid out with a
 * size, and its lines and bars are drawn with one), nothing is fetched, nothing fails. A screenshot is saved in
 * $TMPDIR/mcp-index-dashboard-screenshots/bench-report.png.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailability, launchChromium, type Browser } from '../helpers/chromium.js';
import { cleanupTemp, snapshotBuild, spawnCli, tempDir, type Build } from '../cluster/helpers.js';

const avail = chromiumAvailability();

describe.skipIf(!avail.ok)(`bench --report in headless Chromium${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  let build: Build;
  let browser: Browser;
  const shots = join(tmpdir(), 'mcp-index-dashboard-screenshots');

  beforeAll(async () => {
    build = await snapshotBuild();
    mkdirSync(shots, { recursive: true });
    browser = await launchChromium({ shots });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    cleanupTemp();
  });

  it('draws every chart with a size: throughput, speedup and phases', async () => {
    const work = tempDir('bench-report');
    const html = join(work, 'report.html');
    const r = await spawnCli(build.bin, ['bench', '--json', '--files', '20', '--repeat', '1', '--threads-list', '1,2', '--no-ctags', '--work-dir', work, '--report', html], { timeoutMs: 600_000 }).done;
    expect(r.code, r.stderr).toBe(0);

    const { page, problems, requests } = await browser.tab();
    await page.goto(pathToFileURL(html).href);
    const charts = await page.$$eval('svg', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        // What the chart draws: lines (polyline) and bars (rect), each with a box of its own.
        const marks = [...svg.querySelectorAll('polyline, rect')].map((m) => (m as SVGGraphicsElement).getBBox());
        return {
          label: svg.getAttribute('aria-label'),
          width: box.width,
          height: box.height,
          lines: svg.querySelectorAll('polyline').length,
          marks: marks.length,
          drawn: marks.filter((b) => b.width > 0 && b.height > 0).length,
        };
      }),
    );
    expect(charts).toHaveLength(3);
    for (const c of charts) {
      expect(c.width, `${c.label}: width`).toBeGreaterThan(100);
      expect(c.height, `${c.label}: height`).toBeGreaterThan(100);
      expect(c.drawn, `${c.label}: marks drawn with a size`).toBeGreaterThan(0);
    }
    // Throughput and speedup against threads are lines (1 and 2 threads: two points each); phases are bars.
    expect(charts.filter((c) => c.lines > 0)).toHaveLength(2);
    expect(charts.some((c) => c.lines === 0 && c.drawn >= 2)).toBe(true);
    await browser.screenshot(page, 'bench-report');
    expect(requests.filter((u) => u !== pathToFileURL(html).href)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 600_000);
});
