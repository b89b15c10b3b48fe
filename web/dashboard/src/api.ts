// Types of the control plane's /dashboard/api answers (mesh/dashboard/dashboard.cc).

export interface Traffic {
  protocol: "http" | "tcp" | "http+tcp";
  rps: number;
  errorRate: number;
  requests: number;
  p50: number | null;
  p99: number | null;
  connections: number; // TCP connections opened in the window
  bytesPerSecond: number; // TCP bytes both ways
  mtls: "mutual_tls" | "none" | "partial" | "unknown";
}

export interface GraphNode {
  id: string;
  kind: "service" | "workload";
  name: string;
  namespace: string;
  proxy: string;
  stale: boolean; // its proxy could not be scraped in the last round
}

export interface GraphEdge extends Traffic {
  source: string;
  target: string;
  stale: boolean; // from a proxy the last round could not scrape: older numbers
}

export interface Graph {
  generatedAt: number;
  windowSeconds: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface ServiceSummary extends Traffic {
  namespace: string;
  name: string;
  fqdn: string;
  source: string;
  findings: number;
}

export interface Finding {
  level: string;
  code: string;
  text: string;
}

export interface AppliedResource {
  kind: string;
  namespace: string;
  name: string;
  relation: string;
  yaml: string;
  findings: Finding[];
}

export interface ServiceDetail {
  service: { namespace: string; name: string; fqdn: string; source: string };
  totals: Traffic;
  windowSeconds: number;
  slotSeconds: number;
  history: (Traffic & { t: number })[];
  workloads: { proxy: string; name: string; namespace: string }[];
  config: AppliedResource[];
}

export interface ProxyInfo {
  id: string;
  type: string;
  workload: string;
  namespace: string;
  statsPort: number;
  types: Record<string, { status: string; resources: number; nack: string }>;
  scrape: { ok: boolean; stale: boolean; error: string; lastSuccess: number; samples: number } | null;
}

export interface Status {
  scrapeIntervalSeconds: number;
  historySeconds: number;
  rounds: number;
  lastRound: number;
  proxies: number;
  scrapeFailures: number;
  edges: number;
  configGeneration: number;
  configError: string;
  resources: number;
  analyzerMessages: number;
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { cache: "no-store" });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = ((await res.json()) as { error?: string }).error ?? detail;
    } catch {
      // not JSON
    }
    throw new Error(`${path}: HTTP ${res.status} ${detail}`);
  }
  return (await res.json()) as T;
}
