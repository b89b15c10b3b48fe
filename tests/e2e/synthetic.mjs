// The dashboard page with a synthetic mesh of 500 services (1000 workloads, ~1500
// edges) served by a fake API next to the built front end (web/dashboard/dist): the page
// must stay usable (capped graph, filter, table, detail panel) and show API errors.
// Usage: node synthetic.mjs DIST_DIR SCREENSHOT.png
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const [dist, screenshot] = process.argv.slice(2);
const SERVICES = 500;

function traffic(i) {
  const rps = (i % 17) / 3;
  return { protocol: "http", rps, requests: Math.round(rps * 60), errorRate: i % 23 === 0 ? 0.12 : 0, p50: 2 + (i % 5), p99: 20 + (i % 40), connections: 0, bytesPerSecond: 0, mtls: i % 7 === 0 ? "none" : "mutual_tls", stale: false };
}
// Every 25th service is a TCP service (a database): bytes/s, no requests.
function tcpTraffic(i) {
  return { protocol: "tcp", rps: 0, requests: 0, errorRate: 0, p50: null, p99: null, connections: 3 + (i % 4), bytesPerSecond: 2048 * (1 + (i % 9)), mtls: "mutual_tls", stale: false };
}
// Every 40th service's first replica has a dead proxy: its node and edges are stale.
const staleWorkload = (i, r) => i % 40 === 1 && r === 1;
const services = Array.from({ length: SERVICES }, (_, i) => ({
  namespace: `ns-${i % 20}`,
  name: `svc-${i}`,
  fqdn: `svc-${i}.ns-${i % 20}.svc.cluster.local`,
  source: "Service",
  findings: i % 50 === 0 ? 1 : 0,
  ...traffic(i),
}));
const nodes = [];
const edges = [];
nodes.push({ id: "wl:istio-system/istio-ingressgateway", kind: "workload", name: "istio-ingressgateway", namespace: "istio-system", proxy: "router", stale: false });
for (const [i, s] of services.entries()) {
  nodes.push({ id: `svc:${s.fqdn}`, kind: "service", name: s.name, namespace: s.namespace, proxy: "" });
  for (const r of [1, 2]) {
    const wl = `wl:${s.namespace}/${s.name}-${r}`;
    nodes.push({ id: wl, kind: "workload", name: `${s.name}-${r}`, namespace: s.namespace, proxy: "sidecar", stale: staleWorkload(i, r) });
    if (i % 25 === 0) edges.push({ source: `svc:${s.fqdn}`, target: wl, ...tcpTraffic(i) });
    else if (s.rps > 0) edges.push({ source: `svc:${s.fqdn}`, target: wl, ...traffic(i), stale: staleWorkload(i, r) });
  }
  const caller = i % 10 === 0 ? "wl:istio-system/istio-ingressgateway" : `wl:${services[(i + 1) % SERVICES].namespace}/svc-${(i + 1) % SERVICES}-1`;
  if (i % 25 === 0) edges.push({ source: caller, target: `svc:${s.fqdn}`, ...tcpTraffic(i) });
  else if (s.rps > 0) edges.push({ source: caller, target: `svc:${s.fqdn}`, ...traffic(i) });
}
const now = Date.now();
let failGraph = false;
const api = {
  "/dashboard/api/status": () => ({ scrapeIntervalSeconds: 5, historySeconds: 300, rounds: 3, lastRound: now, proxies: 1001, scrapeFailures: 0, edges: edges.length, configGeneration: 7, configError: "", resources: 1500, analyzerMessages: 10 }),
  "/dashboard/api/graph": () => (failGraph ? null : { generatedAt: now, windowSeconds: 60, nodes, edges }),
  "/dashboard/api/services": () => ({ windowSeconds: 60, services }),
  "/dashboard/api/proxies": () => ({
    proxies: nodes.filter((n) => n.kind === "workload").map((n) => ({ id: `sidecar~${n.name}`, type: n.proxy, workload: n.name, namespace: n.namespace, statsPort: 15090, types: { CDS: { status: "SYNCED", resources: 3, nack: "" } }, scrape: n.stale ? { ok: false, stale: true, error: "127.0.0.1:15090/stats/prometheus: read timed out", lastSuccess: now - 60000, samples: 0 } : { ok: true, stale: false, error: "", lastSuccess: now, samples: 10 } })),
  }),
};
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  const detail = p.match(/^\/dashboard\/api\/services\/([^/]+)\/([^/]+)$/);
  let body = null;
  if (api[p]) body = api[p]();
  else if (detail) {
    const s = services.find((x) => x.namespace === detail[1] && x.name === detail[2]);
    if (s) body = { service: s, totals: s, windowSeconds: 60, slotSeconds: 5, workloads: [], history: Array.from({ length: 60 }, (_, k) => ({ t: now - (60 - k) * 5000, ...traffic(k) })), config: [{ kind: "VirtualService", namespace: s.namespace, name: s.name, relation: "hosts", yaml: "spec: {}\n", findings: [{ level: "Warning", code: "IST0132", text: "synthetic finding" }] }] };
  }
  if (p.startsWith("/dashboard/api/")) {
    res.writeHead(body ? 200 : 503, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { error: "synthetic outage" }));
    return;
  }
  const file = path.join(dist, p.replace(/^\/dashboard\/?/, "") || "index.html");
  if (!file.startsWith(dist) || !fs.existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
  res.end(fs.readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}/dashboard/`;

let failed = false;
const fail = (m) => {
  console.error(`FAIL: ${m}`);
  failed = true;
};
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  const t0 = Date.now();
  await page.goto(base);
  await page.waitForSelector("g.node.service", { timeout: 20000 });
  console.log(`first render of ${nodes.length} nodes / ${edges.length} edges: ${Date.now() - t0} ms`);
  const drawn = await page.locator("g.node").count();
  const note = await page.textContent("#graph-note");
  console.log(`graph: ${drawn} nodes drawn; "${note}"`);
  if (drawn > 760) fail(`too many nodes drawn: ${drawn}`);
  if (!/hidden/.test(note)) fail("the graph does not say nodes are hidden");
  const rows = await page.locator("#services tbody tr").count();
  if (rows !== 200) fail(`services table shows ${rows} rows, expected the 200 busiest`);
  // TCP edges are drawn apart (dashed, bytes/s); stale data is marked.
  const tcpEdge = page.locator('g.edge.tcp[data-edge="wl:istio-system/istio-ingressgateway->svc:svc-0.ns-0.svc.cluster.local"]');
  const tcpLabel = await tcpEdge.locator("text.edge-label").textContent();
  console.log(`TCP edge: "${tcpLabel}"`);
  if (!/^TCP .*KiB\/s · \d+ conn/.test(tcpLabel ?? "")) fail(`TCP edge label: ${tcpLabel}`);
  if ((await tcpEdge.locator("path").getAttribute("stroke-dasharray")) === null &&
      (await tcpEdge.locator("path").evaluate((p) => getComputedStyle(p).strokeDasharray)) === "none") fail("TCP edge is not dashed");
  const staleEdge = page.locator('g.edge.stale[data-edge="svc:svc-1.ns-1.svc.cluster.local->wl:ns-1/svc-1-1"]');
  if (!/stale/.test((await staleEdge.locator("text.edge-label").textContent()) ?? "")) fail("stale edge not labelled");
  if ((await page.locator('g.node.stale[data-id="wl:ns-1/svc-1-1"]').count()) !== 1) fail("stale node not marked");
  const staleProxy = await page.locator('#proxies tr[data-proxy="sidecar~svc-1-1"] td.scrape-stale').textContent();
  console.log(`stale proxy row: "${staleProxy}"`);
  if (!/^stale since .*read timed out/.test(staleProxy ?? "")) fail(`stale proxy row: ${staleProxy}`);
  await page.fill("#filter", "svc-42");
  await page.waitForFunction(() => document.querySelectorAll("#services tbody tr").length <= 11, null, { timeout: 5000 });
  const filtered = await page.locator("g.node.service").count();
  console.log(`filter "svc-42": ${filtered} service nodes`);
  if (filtered < 1 || filtered > 20) fail(`filter left ${filtered} service nodes`);
  await page.click('#services tr[data-service="ns-2/svc-42"]');
  await page.waitForSelector('#detail .resource[data-kind="VirtualService"] .finding', { timeout: 5000 });
  await page.screenshot({ path: screenshot, fullPage: false });
  failGraph = true;
  await page.waitForSelector("#status.error", { timeout: 15000 });
  const status = await page.textContent("#status");
  console.log(`API outage shown as: ${status}`);
  if (!/synthetic outage/.test(status)) fail(`status bar does not name the error: ${status}`);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
