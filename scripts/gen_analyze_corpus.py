#!/usr/bin/env python3
"""Generates a synthetic mesh configuration of about N resources for analyze benchmarks.

Each namespace gets services with a Deployment, Service, VirtualService and
DestinationRule, plus one Gateway; about 1% of the VirtualServices point at a missing
gateway or host and 1% of the DestinationRules at a missing subset label, so the
analyzers have real findings to report.
Usage: gen_analyze_corpus.py N OUTDIR   (files of ~1000 resources each)
"""
import os
import sys


def service_block(ns, i, broken):
    name = f"svc-{i}"
    gw = "missing-gw" if broken else f"gw-{ns}"
    host = f"{name}.{ns}.svc.cluster.local" if not broken else f"nowhere-{i}.{ns}.svc.cluster.local"
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
        version: v1
    spec:
      containers:
      - name: app
        image: example/app:1.0
        ports:
        - containerPort: 8080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
  namespace: {ns}
spec:
  hosts:
  - {name}.example.com
  gateways:
  - {gw}
  http:
  - match:
    - uri:
        prefix: /v1
    route:
    - destination:
        host: {host}
        subset: v1
        port:
          number: 80
      weight: 90
    - destination:
        host: {name}.{ns}.svc.cluster.local
        subset: v1
        port:
          number: 80
      weight: 10
    timeout: 5s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
  namespace: {ns}
spec:
  host: {name}.{ns}.svc.cluster.local
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: {"v9" if broken else "v1"}
"""


def namespace_block(ns):
    return f"""apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    istio-injection: enabled
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw-{ns}
  namespace: {ns}
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "{ns}/*.example.com"
"""


def main():
    total = int(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    per_ns = 50  # services per namespace: 4 resources each + 2 per namespace
    count = 0
    ns_index = 0
    file_index = 0
    buf = []
    while count < total:
        ns = f"ns-{ns_index}"
        buf.append(namespace_block(ns))
        count += 2
        for i in range(per_ns):
            if count >= total:
                break
            buf.append(service_block(ns, i, broken=(count // 4) % 100 == 7))
            count += 4
        ns_index += 1
        if len(buf) >= 250:
            with open(os.path.join(out, f"part-{file_index:04d}.yaml"), "w") as f:
                f.write("---\n".join(buf))
            file_index += 1
            buf = []
    if buf:
        with open(os.path.join(out, f"part-{file_index:04d}.yaml"), "w") as f:
            f.write("---\n".join(buf))
    print(count)


if __name__ == "__main__":
    main()
