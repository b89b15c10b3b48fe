// Drives the dashboard in a real headless Chromium (playwright-core, the system's
// /usr/bin/chromium): the graph must show gateway -> helloworldsvc with traffic and the
// mTLS mark, and clicking the service must show its VirtualService.
// Usage: node dashboard.mjs URL SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const EDGE = 'g.edge[data-edge="wl:istio-system/istio-ingressgateway->svc:helloworldsvc.devops.svc.cluster.local"]';
// The gateway's TCP route to an echo server (ServiceEntry), drawn as a TCP edge.
const TCP_EDGE = 'g.edge.tcp[data-edge="wl:istio-system/istio-ingressgateway->svc:tcp-echo.example.internal"]';
// The plain-text client without a proxy (dashboard_e2e_test.sh): an unknown caller.
const PLAIN_EDGE = 'g.edge[data-edge="wl:unknown/unknown->svc:helloworldsvc.devops.svc.cluster.local"]';
const SERVICE_NODE = 'g.node.service[data-id="svc:helloworldsvc.devops.svc.cluster.local"]';
const VS = '#detail .resource[data-kind="VirtualService"]';

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const pageErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector(EDGE, { timeout: 30000 });
  await page.waitForFunction(
    (sel) => {
      const e = document.querySelector(sel);
      return e && Number(e.getAttribute("data-rps")) > 0 && e.getAttribute("data-mtls") === "mutual_tls";
    },
    EDGE,
    { timeout: 30000 },
  );
  const edge = page.locator(EDGE);
  const label = await edge.locator("text.edge-label").textContent();
  const mark = await edge.locator("g.mtls text").textContent();
  console.log(`edge gateway -> helloworldsvc: "${label}" "${mark}" (data-rps=${await edge.getAttribute("data-rps")})`);
  if (!/rps/.test(label ?? "")) fail(`edge label without a rate: ${label}`);
  if (!/mTLS/.test(mark ?? "")) fail(`edge without the mTLS mark: ${mark}`);
  // Per edge: the plain-text caller of the same service is not marked.
  await page.waitForFunction(
    (sel) => {
      const e = document.querySelector(sel);
      return e && Number(e.getAttribute("data-rps")) > 0 && e.getAttribute("data-mtls") === "none";
    },
    PLAIN_EDGE,
    { timeout: 30000 },
  );
  const plainMarks = await page.locator(`${PLAIN_EDGE} g.mtls`).count();
  console.log(`edge unknown -> helloworldsvc: data-mtls=${await page.getAttribute(PLAIN_EDGE, "data-mtls")}, ${plainMarks} mTLS badges`);
  if (plainMarks !== 0) fail("the plain-text caller's edge shows an mTLS badge");
  if ((await edge.getAttribute("data-mtls")) !== "mutual_tls") fail("the gateway edge lost its mTLS mark next to a plain-text caller");

  await page.waitForSelector(TCP_EDGE, { timeout: 30000 });
  const tcpLabel = await page.locator(`${TCP_EDGE} text.edge-label`).textContent();
  console.log(`edge gateway -> tcp-echo: "${tcpLabel}"`);
  if (!/^TCP .*\/s · \d+ conn/.test(tcpLabel ?? "")) fail(`TCP edge label: ${tcpLabel}`);

  await page.click(SERVICE_NODE);
  await page.waitForSelector(VS, { timeout: 15000 });
  const summary = await page.locator(`${VS} summary`).first().textContent();
  console.log(`config panel: ${summary}`);
  if (!/VirtualService/.test(summary ?? "") || !/helloworld/.test(summary ?? "")) fail(`unexpected VirtualService entry: ${summary}`);
  await page.locator(`${VS} summary`).first().click();
  const yaml = await page.locator(`${VS} pre`).first().textContent();
  if (!/helloworldsvc/.test(yaml ?? "")) fail("the VirtualService's YAML does not route to helloworldsvc");
  const title = await page.textContent("#detail-title");
  if (title !== "helloworldsvc.devops") fail(`detail title: ${title}`);
  // Charts have points once two scrapes saw traffic.
  await page.waitForFunction(() => document.querySelectorAll("#detail .chart path.line").length >= 3, null, { timeout: 10000 });
  const status = await page.getAttribute("#status", "class");
  if (/error/.test(status ?? "")) fail(`status bar shows an error: ${await page.textContent("#status")}`);
  const proxies = await page.locator("#proxies tbody tr").count();
  if (proxies !== 3) fail(`proxy table has ${proxies} rows, expected 3`);
  const synced = await page.locator("#proxies td.sync.synced").count();
  console.log(`proxy table: ${proxies} proxies, ${synced} SYNCED cells`);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  if (pageErrors.length) fail(`errors in the page: ${pageErrors.join(" | ")}`);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
} finally {
  await browser.close();
}
