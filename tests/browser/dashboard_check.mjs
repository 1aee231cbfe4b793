// Drives the dashboard in Debian's headless Chromium (playwright-core, no downloaded browser) for
// tests/integration/test_dashboard.py, which owns the daemon and the MQTT clients:
//   node dashboard_check.mjs URL TOKEN CLIENT_ID SCREENSHOT
// Protocol on stdout, one JSON object per line: {"step":"ready"} once the page is authenticated,
// shows CLIENT_ID and has plotted a rate; then it waits for the rate chart to rise above zero
// (the test publishes after "ready"), takes the screenshot and prints {"step":"done", ...}.
// Everything the browser logged at error level is reported, never thrown away.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, token, clientId, screenshot] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const profile = mkdtempSync(join(tmpdir(), "edgemq-chromium-"));

const errors = [];
let context = null;
try {
  // A fresh, empty profile (--user-data-dir, which playwright passes for a persistent context).
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1200, height: 1000 },
    // Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning")
      errors.push({ type: m.type(), text: m.text(), url: m.location().url || "" });
  });
  page.on("pageerror", (e) => errors.push({ type: "pageerror", text: String(e), url: "" }));
  page.setDefaultTimeout(20000);

  await page.goto(url);
  // A token is configured: the page asks for it once.
  await page.locator("#token-form").waitFor({ state: "visible" });
  await page.fill("#token-input", token);
  await page.click("#token-form button[type=submit]");
  await page.locator("#panels").waitFor({ state: "visible" });
  const row = page.locator(`#clients tr[data-client-id="${clientId}"]`);
  await row.waitFor();
  await page.waitForFunction(() => Number(document.getElementById("rate-chart").dataset.points) >= 1);
  const before = await page.evaluate(() => ({ ...document.getElementById("rate-chart").dataset }));
  say({ step: "ready", before, row: await row.locator("td").allTextContents() });

  // The test publishes now: the plotted rate of received messages must rise above zero.
  await page.waitForFunction(() => Number(document.getElementById("rate-chart").dataset.lastRateIn) > 0);
  // Two more samples so the line is visible on the screenshot.
  const points = Number(await page.getAttribute("#rate-chart", "data-points"));
  await page.waitForFunction((n) => Number(document.getElementById("rate-chart").dataset.points) >= n + 2, points);
  const after = await page.evaluate(() => ({ ...document.getElementById("rate-chart").dataset }));
  // The chart was really drawn: some non-blank pixels in the plotting area.
  const inked = await page.evaluate(() => {
    const c = document.getElementById("rate-chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
  });
  const keys = await page.evaluate(() => ({
    state: document.getElementById("keys").dataset.state || "",
    note: document.getElementById("keys-note").textContent,
  }));
  const retained = await page.textContent("#retained-count");
  await page.screenshot({ path: screenshot, fullPage: true });
  say({ step: "done", before, after, inked, keys, retained, errors });
} catch (e) {
  say({ step: "failed", error: String(e && e.stack || e), errors });
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
