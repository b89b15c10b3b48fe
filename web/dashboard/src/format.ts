export function fmtRate(v: number): string {
  if (v === 0) return "0";
  if (v < 0.01) return v.toExponential(1);
  if (v < 10) return v.toFixed(2);
  return v.toFixed(0);
}

export function fmtBytes(v: number): string {
  if (v < 1024) return `${v.toFixed(0)} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}

export function fmtPct(v: number): string {
  return `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 0)}%`;
}

export function fmtMs(v: number | null): string {
  if (v === null || v === undefined) return "–";
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 10000) return `${v.toFixed(0)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}
