// Opens every page of the generated HTML site in headless Debian Chromium (playwright-core,
// no browser download) and checks it: no console error, no page error, no failed request,
// every diagram image loaded with a non-zero size and every SVG holds drawn nodes; saves one
// screenshot per page; on the index, types into the search box and checks that results link
// to existing pages.
// Usage: node check-site.mjs SITE_DIR SCREENSHOT_DIR
// Prints a JSON report; exits 1 when any check failed.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const [siteDir, shotDir] = process.argv.slice(2);
if (!siteDir || !shotDir) { console.error('usage: check-site.mjs SITE_DIR SCREENSHOT_DIR'); process.exit(2); }
fs.mkdirSync(shotDir, { recursive: true });

function pages(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { out.push(...pages(p)); } else if (e.name.endsWith('.html')) { out.push(p); }
  }
  return out.sort();
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-site-check-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
const report = { playwright: require('playwright-core/package.json').version, browser: context.browser() ? context.browser().version() : null, pages: [], failures: [] };
try {
  for (const file of pages(siteDir)) {
    const rel = path.relative(siteDir, file);
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') { problems.push(`console ${m.type()}: ${m.text()}`); } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure() ? r.failure().errorText : ''}`));
    const resp = await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    if (!resp) { problems.push('no response'); }
    const diagrams = await page.evaluate(async () => {
      const out = [];
      for (const img of Array.from(document.querySelectorAll('img.diagram'))) {
        if (!img.complete) { await new Promise((r) => { img.onload = r; img.onerror = r; }); }
        out.push({ src: img.getAttribute('src'), url: img.src, width: img.naturalWidth, height: img.naturalHeight, shown: img.getBoundingClientRect().width });
      }
      return out;
    });
    for (const d of diagrams) {
      // A broken SVG never loads as an image (natural size 0); count the drawn nodes too.
      let svg = '';
      try { svg = fs.readFileSync(new URL(d.url), 'utf8'); } catch (e) { problems.push(`diagram file unreadable: ${d.src}`); }
      d.nodes = (svg.match(/<g class="node /g) || []).length;
      d.texts = (svg.match(/<text /g) || []).length;
      delete d.url;
      if (d.nodes === 0) { problems.push(`diagram has no node: ${d.src}`); }
    }
    for (const d of diagrams) {
      if (!(d.width > 0 && d.height > 0 && d.shown > 0)) { problems.push(`diagram not rendered: ${d.src}`); }
    }
    const title = await page.title();
    if (!title) { problems.push('no title'); }
    const shot = path.join(shotDir, rel.replace(/[\\/]/g, '__').replace(/\.html$/, '.png'));
    await page.screenshot({ path: shot, fullPage: true });
    let search = null;
    if (rel === 'index.html') {
      await page.fill('#search', process.env.SEARCH_TERM || 'command');
      await page.waitForTimeout(100);
      const hrefs = await page.$$eval('#search-results a', (as) => as.map((a) => a.href));
      const missing = hrefs.filter((h) => !fs.existsSync(new URL(h)));
      search = { term: process.env.SEARCH_TERM || 'command', results: hrefs.length, missing };
      if (hrefs.length === 0) { problems.push('search found nothing'); }
      if (missing.length > 0) { problems.push(`search links to missing pages: ${missing.join(', ')}`); }
      await page.screenshot({ path: path.join(shotDir, 'index__search.png') });
    }
    report.pages.push({ page: rel, title, diagrams, search, problems });
    for (const p of problems) { report.failures.push(`${rel}: ${p}`); }
    await page.close();
  }
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(report, null, 1));
process.exit(report.failures.length > 0 ? 1 : 0);
