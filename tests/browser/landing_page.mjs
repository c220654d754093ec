// Lays out the exporter's landing page in Debian's headless Chromium
// (driven by playwright-core) at a laptop width and a phone width, checks
// what a layout can break, and saves a full-page screenshot of each.
//
//   node tests/browser/landing_page.mjs URL OUT_DIR
//
// Prints one line per check; exits 1 when one fails.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: landing_page.mjs URL OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
  timeout: 60_000,
});
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failed++;
};

try {
  for (const [name, width, height] of [["laptop", 1024, 768], ["phone", 390, 844]]) {
    // No network but the page itself: an external resource would fail here.
    const context = await browser.newContext({ viewport: { width, height }, offline: false });
    const page = await context.newPage();
    const requests = [];
    const violations = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      if (/Content Security Policy|Refused/.test(m.text())) violations.push(m.text());
    });
    const response = await page.goto(url, { waitUntil: "load", timeout: 30_000 });
    check(response.status() === 200, `${name}: / answers 200`);
    const facts = await page.evaluate(() => {
      const vw = document.documentElement.clientWidth;
      const cells = [...document.querySelectorAll("table td, table th")];
      const wide = cells
        .filter((c) => c.getBoundingClientRect().width > vw)
        .map((c) => `${c.tagName} ${c.className} ${Math.round(c.getBoundingClientRect().width)}px: ` +
                    c.textContent.slice(0, 60));
      // A detail line is one line: its <summary> (or plain text) no taller
      // than 1.6 lines of its font.
      const tall = [...document.querySelectorAll("#targets td.d")]
        .filter((td) => getComputedStyle(td).display !== "block")  // the table layout only
        .map((td) => td.querySelector("summary, .line"))
        .filter((el) => el !== null)
        .map((el) => {
          const lh = parseFloat(getComputedStyle(el).fontSize) * 1.35;
          return { h: el.getBoundingClientRect().height, lh, text: el.textContent.slice(0, 60) };
        })
        .filter((x) => x.h > x.lh * 1.6);
      // Columns keep a readable width (not squeezed to a few characters).
      const narrow = [...document.querySelectorAll("#targets td.n, #targets td.a, #targets td.d")]
        .filter((td) => getComputedStyle(td).display !== "block" && td.getBoundingClientRect().width < 100)
        .map((td) => `${td.className} ${Math.round(td.getBoundingClientRect().width)}px`);
      const styleOk = getComputedStyle(document.querySelector(".summary")).display === "flex";
      return { vw, cells: cells.length, wide, tall, narrow, styleOk,
               scrollWidth: document.documentElement.scrollWidth };
    });
    check(facts.cells > 100, `${name}: ${facts.cells} table cells laid out`);
    check(facts.wide.length === 0,
          `${name}: no table cell wider than the viewport (${facts.vw}px)` +
          (facts.wide.length ? `: ${facts.wide.slice(0, 5).join("; ")}` : ""));
    check(facts.styleOk, `${name}: the stylesheet applies under the Content-Security-Policy`);
    check(violations.length === 0, `${name}: no CSP violation` +
          (violations.length ? `: ${violations[0]}` : ""));
    const foreign = requests.filter((r) => !r.startsWith(new URL(url).origin));
    check(foreign.length === 0, `${name}: no external resource` + (foreign.length ? `: ${foreign[0]}` : ""));
    if (name === "laptop") {
      check(facts.tall.length === 0, `${name}: every detail takes one line` +
            (facts.tall.length ? `: ${JSON.stringify(facts.tall.slice(0, 3))}` : ""));
      check(facts.narrow.length === 0, `${name}: target, address and detail columns stay readable` +
            (facts.narrow.length ? `: ${facts.narrow.slice(0, 5).join("; ")}` : ""));
    } else {
      check(facts.scrollWidth <= facts.vw, `${name}: no horizontal scrolling (${facts.scrollWidth}px)`);
    }
    await page.screenshot({ path: `${outDir}/landing-page-${width}.png`, fullPage: true });
    // What the first screen shows (the README's picture).
    await page.screenshot({ path: `${outDir}/landing-page-${width}-first-screen.png` });
    console.log(`screenshot: ${outDir}/landing-page-${width}.png`);
    await context.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
