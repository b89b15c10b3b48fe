// Small SVG line charts for a service's golden signals.

import { svg } from "./format";

export interface Series {
  name: string;
  cls: string;
  values: (number | null)[];
}

export function lineChart(title: string, series: Series[], times: number[], fmt: (v: number) => string): HTMLElement {
  const W = 300;
  const H = 110;
  const PAD_L = 46;
  const PAD_B = 16;
  const figure = document.createElement("figure");
  figure.className = "chart";
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  figure.append(cap);
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(0, ...all) || 1;
  const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  const plotW = W - PAD_L - 4;
  const plotH = H - PAD_B - 6;
  const x = (i: number) => PAD_L + (times.length <= 1 ? 0 : (i * plotW) / (times.length - 1));
  const y = (v: number) => 6 + plotH - (v / max) * plotH;
  root.append(svg("line", { x1: PAD_L, y1: 6 + plotH, x2: W - 4, y2: 6 + plotH, class: "axis" }));
  for (const frac of [0, 0.5, 1]) {
    const t = svg("text", { x: PAD_L - 4, y: y(max * frac) + 4, "text-anchor": "end", class: "tick" });
    t.textContent = fmt(max * frac);
    root.append(t);
  }
  if (times.length > 1) {
    const mins = Math.round((times[times.length - 1] - times[0]) / 60000);
    const t = svg("text", { x: PAD_L, y: H - 3, class: "tick" });
    t.textContent = `−${mins} min`;
    const n = svg("text", { x: W - 4, y: H - 3, "text-anchor": "end", class: "tick" });
    n.textContent = "now";
    root.append(t, n);
  }
  for (const s of series) {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null) return;
      d += `${d === "" || s.values[i - 1] === null ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    });
    root.append(svg("path", { d, class: `line ${s.cls}` }));
  }
  figure.append(root);
  if (series.length > 1) {
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      item.className = s.cls;
      item.textContent = s.name;
      legend.append(item);
    }
    figure.append(legend);
  }
  return figure;
}
