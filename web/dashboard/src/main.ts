import "./style.css";
import { getJson, type Graph, type GraphNode, type ProxyInfo, type ServiceDetail, type ServiceSummary, type Status } from "./api";
import { lineChart } from "./charts";
import { el, fmtBytes, fmtMs, fmtPct, fmtRate } from "./format";
import { renderGraph, type GraphView } from "./graph";

const API = "/dashboard/api";
const MAX_TABLE_ROWS = 200;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $("status");
const graphEl = $("graph");
const graphNote = $("graph-note");
const detailEl = $("detail");
const filterEl = $<HTMLInputElement>("filter");
const activeOnlyEl = $<HTMLInputElement>("active-only");
const windowEl = $<HTMLSelectElement>("window");

const view: GraphView = { filter: "", activeOnly: false, selected: null };
let selectedService: { ns: string; name: string } | null = null;
let lastGraph: Graph | null = null;
let lastServices: ServiceSummary[] = [];
let refreshMs = 2000;
const errors = new Map<string, string>();

function setError(source: string, err: unknown | null): void {
  if (err === null) errors.delete(source);
  else errors.set(source, err instanceof Error ? err.message : String(err));
}

function showStatus(status: Status | null): void {
  if (errors.size > 0) {
    statusEl.className = "status error";
    statusEl.textContent = `error: ${[...errors.values()].join("; ")}`;
    return;
  }
  if (!status) return;
  const issues: string[] = [];
  if (status.rounds === 0) issues.push("waiting for the first scrape");
  if (status.scrapeFailures > 0) issues.push(`${status.scrapeFailures} of ${status.proxies} proxies not scraped`);
  if (status.configError) issues.push(`config: ${status.configError}`);
  statusEl.className = issues.length ? "status warn" : "status ok";
  const when = status.lastRound ? new Date(status.lastRound).toLocaleTimeString() : "–";
  statusEl.textContent =
    `${status.proxies} proxies · ${status.resources} resources · ${status.analyzerMessages} analyzer findings · ` +
    `scraped every ${status.scrapeIntervalSeconds} s, last ${when}` + (issues.length ? ` · ${issues.join(" · ")}` : "");
}

function windowParam(): string {
  return `window=${windowEl.value}`;
}

function drawGraph(): void {
  if (lastGraph) renderGraph(graphEl, graphNote, lastGraph, view, onSelectNode);
}

function onSelectNode(n: GraphNode): void {
  if (n.kind !== "service") return;
  selectService(n.namespace, n.name);
}

function selectService(ns: string, name: string): void {
  selectedService = { ns, name };
  const svc = lastServices.find((s) => s.namespace === ns && s.name === name);
  view.selected = svc ? `svc:${svc.fqdn}` : null;
  drawGraph();
  detailEl.replaceChildren(el("p", { class: "hint" }, `loading ${ns}/${name}…`));
  void refreshDetail();
}

async function refreshGraph(): Promise<void> {
  try {
    const [graph, services] = await Promise.all([
      getJson<Graph>(`${API}/graph?${windowParam()}`),
      getJson<{ services: ServiceSummary[] }>(`${API}/services?${windowParam()}`),
    ]);
    lastGraph = graph;
    lastServices = services.services;
    setError("graph", null);
    drawGraph();
    drawServices();
  } catch (e) {
    setError("graph", e);
  }
}

function drawServices(): void {
  const f = view.filter.trim().toLowerCase();
  const rows = lastServices
    .filter((s) => !f || s.name.toLowerCase().includes(f) || s.namespace.toLowerCase().includes(f))
    .filter((s) => !view.activeOnly || s.requests > 0)
    .sort((a, b) => b.rps - a.rps || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  $("services-note").textContent =
    rows.length > MAX_TABLE_ROWS ? `showing ${MAX_TABLE_ROWS} of ${rows.length} (busiest first; filter to narrow)` : `${rows.length} services`;
  const table = $("services");
  const head = el("tr", {}, ...["service", "namespace", "rps", "errors", "p50", "p99", "mTLS", "findings"].map((h) => el("th", {}, h)));
  const body = rows.slice(0, MAX_TABLE_ROWS).map((s) => {
    const tr = el(
      "tr",
      { class: "clickable", "data-service": `${s.namespace}/${s.name}` },
      el("td", {}, s.name),
      el("td", {}, s.namespace),
      el("td", { class: "num" }, s.protocol === "tcp" ? `TCP ${fmtBytes(s.bytesPerSecond)}/s` : fmtRate(s.rps)),
      el("td", { class: `num ${s.errorRate > 0 ? "bad" : ""}` }, fmtPct(s.errorRate)),
      el("td", { class: "num" }, fmtMs(s.p50)),
      el("td", { class: "num" }, fmtMs(s.p99)),
      el("td", {}, s.mtls === "mutual_tls" ? "✓ yes" : s.mtls === "unknown" ? "–" : s.mtls),
      el("td", { class: s.findings > 0 ? "warn" : "" }, String(s.findings)),
    );
    tr.addEventListener("click", () => selectService(s.namespace, s.name));
    return tr;
  });
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
}

async function refreshDetail(): Promise<void> {
  if (!selectedService) return;
  const { ns, name } = selectedService;
  try {
    const d = await getJson<ServiceDetail>(`${API}/services/${encodeURIComponent(ns)}/${encodeURIComponent(name)}?${windowParam()}`);
    if (!selectedService || selectedService.ns !== ns || selectedService.name !== name) return;
    setError("detail", null);
    drawDetail(d);
  } catch (e) {
    setError("detail", e);
    detailEl.replaceChildren(el("p", { class: "error" }, String(e instanceof Error ? e.message : e)));
  }
}

function drawDetail(d: ServiceDetail): void {
  const open = new Set([...detailEl.querySelectorAll("details[open]")].map((x) => x.getAttribute("data-key")));
  const t = d.totals;
  const times = d.history.map((p) => p.t);
  const header = el(
    "div",
    { class: "detail-head" },
    el("h2", { id: "detail-title" }, `${d.service.name}.${d.service.namespace}`),
    el("div", { class: "muted" }, `${d.service.fqdn} · from ${d.service.source} · ${d.workloads.length} workload(s) with a proxy`),
    el(
      "div",
      { class: "kpis" },
      t.protocol === "tcp" ? kpi("TCP", `${fmtBytes(t.bytesPerSecond)}/s`) : kpi("rate", `${fmtRate(t.rps)} rps`),
      kpi("errors", fmtPct(t.errorRate)),
      kpi("p50", fmtMs(t.p50)),
      kpi("p99", fmtMs(t.p99)),
      kpi("mTLS", t.mtls === "mutual_tls" ? "✓ all" : t.mtls),
    ),
  );
  const charts = el(
    "div",
    { class: "charts" },
    lineChart("requests / s", [{ name: "rps", cls: "s1", values: d.history.map((p) => p.rps) }], times, fmtRate),
    lineChart("5xx errors", [{ name: "error %", cls: "s3", values: d.history.map((p) => (p.requests ? p.errorRate * 100 : null)) }], times, (v) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)}%`),
    lineChart(
      "latency",
      [
        { name: "p50", cls: "s1", values: d.history.map((p) => p.p50) },
        { name: "p99", cls: "s2", values: d.history.map((p) => p.p99) },
      ],
      times,
      (v) => fmtMs(v),
    ),
  );
  const findings = d.config.reduce((n, c) => n + c.findings.length, 0);
  const config = el("div", { class: "config" }, el("h3", {}, `Configuration that applies (${d.config.length}) · ${findings} analyzer finding(s)`));
  if (d.config.length === 0) config.append(el("p", { class: "muted" }, "No resources apply to this service."));
  for (const c of d.config) {
    const key = `${c.kind}/${c.namespace}/${c.name}`;
    // Findings stay visible; the YAML folds.
    const box = el("div", { class: "resource", "data-kind": c.kind, "data-key": key });
    const det = el("details", { "data-key": key });
    if (open.has(key)) det.setAttribute("open", "");
    det.append(
      el(
        "summary",
        {},
        el("span", { class: "kind" }, c.kind),
        ` ${c.namespace ? `${c.namespace}/` : ""}${c.name} `,
        el("span", { class: "muted" }, `(${c.relation})`),
        ...(c.findings.length ? [el("span", { class: "badge warn" }, `${c.findings.length} finding(s)`)] : []),
      ),
      el("pre", {}, c.yaml),
    );
    box.append(det);
    for (const f of c.findings) {
      box.append(el("div", { class: `finding ${f.level.toLowerCase()}` }, `${f.level} [${f.code}] ${f.text}`));
    }
    config.append(box);
  }
  detailEl.replaceChildren(header, charts, config);
}

function kpi(label: string, value: string): HTMLElement {
  return el("div", { class: "kpi" }, el("div", { class: "kpi-value" }, value), el("div", { class: "kpi-label" }, label));
}

async function refreshProxies(): Promise<void> {
  try {
    const { proxies } = await getJson<{ proxies: ProxyInfo[] }>(`${API}/proxies`);
    setError("proxies", null);
    const types = ["CDS", "LDS", "RDS", "EDS", "SDS"];
    const table = $("proxies");
    const head = el("tr", {}, ...["proxy", "type", "workload", ...types, "metrics"].map((h) => el("th", {}, h)));
    const sorted = [...proxies].sort((a, b) => a.id.localeCompare(b.id));
    $("proxies-note").textContent = `${proxies.length} connected${proxies.length > MAX_TABLE_ROWS ? ` (showing the first ${MAX_TABLE_ROWS} by id)` : ""}`;
    const rows = sorted.slice(0, MAX_TABLE_ROWS).map((p) =>
      el(
        "tr",
        { "data-proxy": p.id },
        el("td", { class: "mono" }, p.id),
        el("td", {}, p.type),
        el("td", {}, `${p.namespace}/${p.workload}`),
        ...types.map((t) => {
          const s = p.types[t];
          const status = s ? s.status : "–";
          const cell = el("td", { class: `sync ${status.replace(" ", "-").toLowerCase()}` }, status);
          if (s && s.nack) cell.title = s.nack;
          return cell;
        }),
        el(
          "td",
          { class: p.scrape && p.scrape.stale ? "bad scrape-stale" : "" },
          p.statsPort === 0
            ? "no stats port"
            : !p.scrape
              ? "not yet"
              : p.scrape.ok
                ? `ok (:${p.statsPort})`
                : `stale${p.scrape.lastSuccess ? ` since ${new Date(p.scrape.lastSuccess).toLocaleTimeString()}` : ""}: ${p.scrape.error}`,
        ),
      ),
    );
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  } catch (e) {
    setError("proxies", e);
  }
}

async function refreshStatus(): Promise<void> {
  try {
    const status = await getJson<Status>(`${API}/status`);
    setError("status", null);
    refreshMs = Math.max(1000, Math.min(5000, status.scrapeIntervalSeconds * 1000));
    showStatus(status);
  } catch (e) {
    setError("status", e);
    showStatus(null);
  }
}

async function tick(): Promise<void> {
  await Promise.all([refreshStatus(), refreshGraph(), refreshProxies(), refreshDetail()]);
  showStatus(null);
  document.body.dataset.loaded = "true";
  window.setTimeout(() => void tick(), refreshMs);
}

let filterTimer = 0;
filterEl.addEventListener("input", () => {
  window.clearTimeout(filterTimer);
  filterTimer = window.setTimeout(() => {
    view.filter = filterEl.value;
    drawGraph();
    drawServices();
  }, 150);
});
activeOnlyEl.addEventListener("change", () => {
  view.activeOnly = activeOnlyEl.checked;
  drawGraph();
  drawServices();
});
windowEl.addEventListener("change", () => void Promise.all([refreshGraph(), refreshDetail()]));

void tick();
