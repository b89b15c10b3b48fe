// The service graph as SVG with a deterministic layered layout: callers (gateways,
// clients) on the left, services in the middle, the workloads behind them on the right;
// each column sorted by namespace and name. Large meshes are cut down by the filter,
// the "only with traffic" switch and a per-column cap, so the page stays responsive.

import type { Graph, GraphEdge, GraphNode } from "./api";
import { fmtBytes, fmtMs, fmtPct, fmtRate, svg } from "./format";

const COLUMN_X = [10, 400, 790];
const NODE_W = 200;
const WIDTH = COLUMN_X[2] + NODE_W + 10;
const NODE_H = 26;
const ROW_H = 36;
const MAX_PER_COLUMN = 250;

export interface GraphView {
  filter: string;
  activeOnly: boolean;
  selected: string | null;
}

function columnOf(n: GraphNode, incoming: Set<string>, outgoing: Set<string>): number {
  if (n.kind === "service") return 1;
  if (incoming.has(n.id)) return 2;
  if (outgoing.has(n.id)) return 0;
  return n.proxy === "router" ? 0 : 2;
}

export function renderGraph(
  container: HTMLElement,
  note: HTMLElement,
  graph: Graph,
  view: GraphView,
  onSelect: (n: GraphNode) => void,
): void {
  const incoming = new Set(graph.edges.map((e) => e.target));
  const outgoing = new Set(graph.edges.map((e) => e.source));
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const f = view.filter.trim().toLowerCase();
  const matches = (n: GraphNode) => !f || n.name.toLowerCase().includes(f) || n.namespace.toLowerCase().includes(f);

  // Visible: matching nodes and their neighbours; with "only with traffic", nodes on an edge.
  const visible = new Set<string>();
  for (const n of graph.nodes) {
    if (matches(n) && (!view.activeOnly || incoming.has(n.id) || outgoing.has(n.id))) visible.add(n.id);
  }
  if (f) {
    for (const e of graph.edges) {
      const s = byId.get(e.source);
      const t = byId.get(e.target);
      if (s && t && (matches(s) || matches(t))) {
        visible.add(e.source);
        visible.add(e.target);
      }
    }
  }

  const columns: GraphNode[][] = [[], [], []];
  for (const n of graph.nodes) {
    if (visible.has(n.id)) columns[columnOf(n, incoming, outgoing)].push(n);
  }
  let hidden = graph.nodes.length - visible.size;
  for (const col of columns) {
    // Nodes with traffic first, then by namespace and name.
    col.sort((a, b) => {
      const ta = incoming.has(a.id) || outgoing.has(a.id) ? 0 : 1;
      const tb = incoming.has(b.id) || outgoing.has(b.id) ? 0 : 1;
      return ta - tb || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
    });
    if (col.length > MAX_PER_COLUMN) {
      hidden += col.length - MAX_PER_COLUMN;
      col.length = MAX_PER_COLUMN;
    }
  }
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((n, i) => pos.set(n.id, { x: COLUMN_X[c], y: 30 + i * ROW_H })));
  const rows = Math.max(1, ...columns.map((c) => c.length));
  const height = 40 + rows * ROW_H;

  note.textContent =
    `${graph.nodes.length} nodes, ${graph.edges.length} edges with traffic in the last ${graph.windowSeconds} s` +
    (hidden > 0 ? ` · ${hidden} nodes hidden (use the filter)` : "");

  const root = svg("svg", { width: "100%", viewBox: `0 0 ${WIDTH} ${height}`, role: "img" }) as SVGSVGElement;
  root.style.minWidth = `${WIDTH * 0.75}px`;
  root.setAttribute("aria-label", "service graph");
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
  defs.append(marker);
  root.append(defs);
  ["callers", "services", "workloads"].forEach((t, c) => {
    const h = svg("text", { x: COLUMN_X[c], y: 16, class: "column-title" });
    h.textContent = t;
    root.append(h);
  });

  const edgeLayer = svg("g", { class: "edges" });
  const nodeLayer = svg("g", { class: "nodes" });
  root.append(edgeLayer, nodeLayer);

  for (const e of graph.edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (!a || !b) continue;
    edgeLayer.append(renderEdge(e, a, b));
  }
  for (const col of columns) {
    for (const n of col) {
      const p = pos.get(n.id)!;
      const g = svg("g", {
        class: `node ${n.kind}${view.selected === n.id ? " selected" : ""}${incoming.has(n.id) || outgoing.has(n.id) ? " active" : ""}${n.stale ? " stale" : ""}`,
        "data-id": n.id,
        "data-name": n.name,
        "data-namespace": n.namespace,
        transform: `translate(${p.x},${p.y})`,
        tabindex: 0,
      });
      g.append(svg("rect", { width: NODE_W, height: NODE_H, rx: n.kind === "service" ? 13 : 3 }));
      const label = svg("text", { x: 10, y: 17 });
      const full = `${n.name}.${n.namespace}`;
      label.textContent = `${n.kind === "service" ? "◆" : n.proxy === "router" ? "⇥" : "●"} ${full.length > 28 ? `${full.slice(0, 27)}…` : full}`;
      g.append(label);
      const title = svg("title");
      title.textContent = `${n.kind} ${n.namespace}/${n.name}${n.proxy ? ` (${n.proxy})` : ""}${n.stale ? " · stale: its proxy could not be scraped" : ""}`;
      g.append(title);
      g.addEventListener("click", () => onSelect(n));
      g.addEventListener("keydown", (ev) => {
        if ((ev as KeyboardEvent).key === "Enter") onSelect(n);
      });
      nodeLayer.append(g);
    }
  }
  container.replaceChildren(root);
}

function renderEdge(e: GraphEdge, a: { x: number; y: number }, b: { x: number; y: number }): SVGElement {
  // Forward edges leave a node's right side; edges back to an earlier column (a sidecar
  // calling a service) leave its left side and enter the target's right side.
  const forward = b.x > a.x;
  const x1 = forward ? a.x + NODE_W : a.x;
  const y1 = a.y + NODE_H / 2;
  const x2 = forward ? b.x : b.x + NODE_W;
  const y2 = b.y + NODE_H / 2;
  const bend = forward ? 60 : -60;
  const d = `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
  const cls = e.errorRate > 0.05 ? "bad" : e.errorRate > 0 ? "warn" : "ok";
  const tcp = e.protocol === "tcp";
  const g = svg("g", {
    class: `edge ${cls} ${tcp ? "tcp" : "http"}${e.stale ? " stale" : ""}`,
    "data-edge": `${e.source}->${e.target}`,
    "data-protocol": e.protocol,
    "data-rps": e.rps,
    "data-bps": e.bytesPerSecond,
    "data-mtls": e.mtls,
    "data-stale": String(e.stale),
  });
  // TCP edges are drawn dashed and sized by bytes/s (KiB scale); HTTP by requests/s.
  const weight = tcp ? Math.log10(1 + e.bytesPerSecond / 1024) : Math.log10(1 + e.rps * 10);
  g.append(svg("path", { d, "marker-end": "url(#arrow)", "stroke-width": Math.min(6, 1.5 + weight) }));
  // Label just above the curve's midpoint; the mTLS mark as a badge on the same line so
  // edges fanning out of one node (18 px apart there) do not overlap.
  const mx = (x1 + x2) / 2;
  const my = (y1 + y2) / 2 - 5;
  const tcpText = `TCP ${fmtBytes(e.bytesPerSecond)}/s · ${e.connections} conn`;
  const httpText = `${fmtRate(e.rps)} rps${e.errorRate > 0 ? ` · ${fmtPct(e.errorRate)} err` : ""} · p99 ${fmtMs(e.p99)}`;
  const labelText =
    (tcp ? tcpText : e.protocol === "http+tcp" ? `${httpText} · ${tcpText}` : httpText) + (e.stale ? " · stale" : "");
  const mtls = e.mtls === "mutual_tls" || e.mtls === "partial";
  const labelW = labelText.length * 5.6;
  const badgeW = e.mtls === "partial" ? 74 : 36;
  const left = mx - (labelW + (mtls ? badgeW + 4 : 0)) / 2;
  const text = svg("text", { x: left, y: my, class: "edge-label" });
  text.textContent = labelText;
  g.append(text);
  if (mtls) {
    const badge = svg("g", { class: `mtls ${e.mtls}`, transform: `translate(${left + labelW + 4},${my - 10})` });
    badge.append(svg("rect", { width: badgeW, height: 13, rx: 6 }));
    const t = svg("text", { x: badgeW / 2, y: 10, "text-anchor": "middle" });
    t.textContent = e.mtls === "partial" ? "partly mTLS" : "mTLS";
    badge.append(t);
    g.append(badge);
  }
  const title = svg("title");
  title.textContent =
    `${e.source} → ${e.target}\n` +
    (tcp ? "" : `${e.requests} requests · ${fmtRate(e.rps)} rps · errors ${fmtPct(e.errorRate)} · p50 ${fmtMs(e.p50)} · p99 ${fmtMs(e.p99)} · `) +
    (e.protocol === "http" ? "" : `TCP ${e.connections} connections · ${fmtBytes(e.bytesPerSecond)}/s · `) +
    e.mtls +
    (e.stale ? "\nstale: a proxy at one end could not be scraped in the last round" : "");
  g.append(title);
  return g;
}
