#!/usr/bin/env python3
"""Static checks of deploy/ (CTest label "integration"; no Docker needed).

- shellcheck passes on every script in deploy/docker; scripts and entrypoints are executable
  in git;
- the three Dockerfiles share byte-identical builder/runtime stages (compiled once), run as
  1000:1000, have a HEALTHCHECK and EXPOSE the seed's ports, and their ENV defaults match the
  seed's tables;
- every flag an entrypoint passes exists in the app's source, and every seed variable is mapped;
- docker-compose.yml has what the seed describes (build contexts, bridge network, named volume
  read-only in the gateway, health checks, depends_on service_healthy, the CSV mounted, the
  seed's environment variables) and `docker-compose config` accepts it with the limits file;
- yamllint passes on the plain YAML (compose files, Chart.yaml, values.yaml);
- the Helm chart: every .Values path used by a template exists in values.yaml, the seed's keys
  exist, and the templates (rendered here with values.yaml, conditionals taken) are YAML with
  the expected kinds, non-root security contexts, probes on the apps' health endpoints, ports
  and environment variables matching the images; `helm lint`/`helm template` when helm exists.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.environ.get("RM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../..")))
D = os.path.join(ROOT, "deploy/docker")
CHART = os.path.join(ROOT, "deploy/helm/telemetry-pipeline")
YAMLLINT_CFG = os.path.join(ROOT, "deploy/.yamllint")

# The seed's environment tables (variable -> default) and ports.
SEED_ENV = {
    "telemetry-streamer": {"CSV_FILE": "/data/telemetry.csv", "BROKER_PORT": "9000", "RATE": "10.0", "WORKERS": "2"},
    "telemetry-collector": {"WORKERS": "4", "DATA_DIR": "/data", "MAX_ENTRIES": "10000", "HEALTH_PORT": "8080",
                            "BROKER_PORT": "9000", "CHECKPOINT_ENABLED": "true"},
    "api-gateway": {"PORT": "8081", "DATA_DIR": "/data", "COLLECTOR_PORT": "8080"},
}
SEED_PORTS = {"telemetry-streamer": set(), "telemetry-collector": {8080, 9000, 9091}, "api-gateway": {8081, 9092}}
ENTRYPOINT = {"telemetry-streamer": "entrypoint-streamer.sh", "telemetry-collector": "entrypoint-collector.sh",
              "api-gateway": "entrypoint-api-gateway.sh"}
SOURCES = {"telemetry-streamer": ["telemetry/src/ingest/streamer.cpp", "apps/telemetry-streamer/main.cpp"],
           "telemetry-collector": ["telemetry/src/ingest/collector.cpp", "apps/telemetry-collector/main.cpp"],
           "api-gateway": ["apps/api-gateway/main.cpp", "telemetry/src/gateway/gateway.cpp", "telemetry/src/gateway/gateway_app.cpp"]}
HEALTH_PATHS = {"telemetry-collector": {"/health", "/ready"}, "api-gateway": {"/health"}}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, flush=True)
    return cond


def read(path):
    with open(os.path.join(ROOT, path) if not os.path.isabs(path) else path) as f:
        return f.read()


def app_source(app):
    return "\n".join(read(p) for p in SOURCES[app] if os.path.exists(os.path.join(ROOT, p)))


def check_scripts():
    scripts = sorted(os.path.join(D, f) for f in os.listdir(D) if f.endswith(".sh"))
    check(len(scripts) >= 6, f"expected the entrypoints, healthcheck, build-and-push.sh, setup.sh in {D}")
    if check(shutil.which("shellcheck") is not None, "shellcheck missing (apt-get install shellcheck)"):
        p = subprocess.run(["shellcheck", "-x", *scripts], capture_output=True, text=True)
        check(p.returncode == 0, "shellcheck:\n" + p.stdout + p.stderr)
    for s in scripts:
        check(os.access(s, os.X_OK), f"{s} is not executable (chmod +x)")
    if shutil.which("git") and os.path.isdir(os.path.join(ROOT, ".git")):
        p = subprocess.run(["git", "-C", ROOT, "ls-files", "-s", "deploy/docker"], capture_output=True, text=True)
        modes = {line.split("\t")[1]: line.split()[0] for line in p.stdout.splitlines() if "\t" in line}
        for s in scripts:
            rel = os.path.relpath(s, ROOT)
            if rel in modes:
                check(modes[rel] == "100755", f"{rel} is not executable in git (git update-index --chmod=+x {rel})")


def dockerfile(app):
    return read(os.path.join(D, f"{app}.Dockerfile"))


def env_defaults(text):
    """ENV lines of the final stage (after the shared stages) as a dict."""
    final = text.split("# ---- end of shared stages ----", 1)[1]
    joined = re.sub(r"\\\n\s*", " ", final)
    out = {}
    for line in joined.splitlines():
        if line.startswith("ENV "):
            for k, v in re.findall(r"(\w+)=(\S+)", line[4:]):
                out[k] = v
    return out


def check_dockerfiles():
    shared = {}
    ignore = [l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
    for app in SEED_ENV:
        text = dockerfile(app)
        marker = "# ---- end of shared stages ----"
        if not check(marker in text, f"{app}.Dockerfile lacks the shared-stage marker"):
            continue
        shared[app] = text.split(marker, 1)[0]
        check(re.search(r"^FROM \$\{BASE_IMAGE\} AS builder$", text, re.M) is not None, f"{app}: no builder stage")
        check("-DRM_BUILD_TESTS=OFF" in text and "-DRM_BUILD_BENCH=OFF" in text, f"{app}: tests/bench not off")
        check(re.search(r"^USER 1000:1000$", text, re.M) is not None, f"{app}: does not run as 1000:1000")
        check(re.search(r"^HEALTHCHECK ", text, re.M) is not None, f"{app}: no HEALTHCHECK")
        check('ENTRYPOINT ["/entrypoint.sh"]' in text, f"{app}: entrypoint is not /entrypoint.sh")
        check(f"COPY deploy/docker/{ENTRYPOINT[app]} /entrypoint.sh" in text, f"{app}: wrong entrypoint copied")
        exposed = {int(p) for line in re.findall(r"^EXPOSE (.*)$", text, re.M) for p in line.split()}
        check(exposed == SEED_PORTS[app], f"{app}: EXPOSE {sorted(exposed)} != seed {sorted(SEED_PORTS[app])}")
        env = env_defaults(text)
        for k, v in SEED_ENV[app].items():
            check(env.get(k) == v, f"{app}: ENV {k}={env.get(k)} but the seed's default is {v}")
        for src in re.findall(r"^COPY (?!--from)(\S+) ", text, re.M):
            check(os.path.exists(os.path.join(ROOT, src)), f"{app}: COPY source {src} does not exist")
            top = src.strip("/").split("/")[0]
            check(top not in ignore, f"{app}: COPY source {src} is excluded by .dockerignore")
    if len(shared) == 3:
        first = next(iter(shared.values()))
        for app, text in shared.items():
            check(text == first, f"{app}.Dockerfile: shared stages differ from the others (the code would compile more than once)")


def check_entrypoints():
    for app, ep in ENTRYPOINT.items():
        text = read(os.path.join(D, ep))
        mapped = dict((v, f) for f, v in re.findall(r"^add (--[\w-]+) (\w+)$", text, re.M))
        src = app_source(app)
        for var, flag in mapped.items():
            check(f'"{flag}"' in src, f"{ep}: {flag} (from {var}) is not a flag of {app} ({', '.join(SOURCES[app])})")
            check(f'"{var}"' in src, f"{ep}: {var} is not an environment variable {app} reads")
        for var in SEED_ENV[app]:
            check(var in mapped, f"{ep}: the seed's {var} is not mapped to a flag")
        check(re.search(rf"^exec /usr/local/bin/{app} \"\$\{{args\[@\]\}}\" \"\$@\"$", text, re.M) is not None,
              f"{ep}: does not exec /usr/local/bin/{app} with the flags")


def env_dict(svc):
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: str(v) for k, v in env.items()}


def check_compose():
    c = yaml.safe_load(read(os.path.join(D, "docker-compose.yml")))
    check(str(c.get("version")) == "2.4", "docker-compose.yml: version must be \"2.4\" (Compose v1 + v2)")
    services = c.get("services", {})
    check(set(services) == set(SEED_ENV), f"services {sorted(services)}")
    check(c.get("networks", {}).get("telemetry", {}).get("driver") == "bridge", "no bridge network 'telemetry'")
    check("collector-data" in (c.get("volumes") or {}), "no named volume collector-data")
    for name, svc in services.items():
        b = svc.get("build", {})
        check(b.get("context") == "../..", f"{name}: build context {b.get('context')}")
        check(b.get("dockerfile") == f"deploy/docker/{name}.Dockerfile", f"{name}: dockerfile {b.get('dockerfile')}")
        check(b.get("network") == "host", f"{name}: build.network should be host (apt in the build)")
        check("healthcheck" in svc, f"{name}: no healthcheck")
        check(svc.get("networks") == ["telemetry"], f"{name}: not on the telemetry network")
        env = env_dict(svc)
        for k in SEED_ENV[name]:
            check(k in env, f"{name}: environment lacks the seed's {k}")
        published = {int(p.rsplit(":", 1)[1]) for p in svc.get("ports", [])}
        check(published == SEED_PORTS[name], f"{name}: publishes {sorted(published)}, seed {sorted(SEED_PORTS[name])}")
        hc = " ".join(svc.get("healthcheck", {}).get("test", []))
        for port in re.findall(r"http (\d+) (/\S+)", hc):
            check(int(port[0]) in SEED_PORTS[name], f"{name}: healthcheck port {port[0]}")
            check(port[1] in HEALTH_PATHS[name] and f'"{port[1]}"' in app_source(name), f"{name}: healthcheck path {port[1]}")
    col, stre, gw = services["telemetry-collector"], services["telemetry-streamer"], services["api-gateway"]
    check("collector-data:/data" in col.get("volumes", []), "collector: collector-data not mounted at /data")
    check("collector-data:/data:ro" in gw.get("volumes", []), "gateway: collector-data not mounted read-only")
    for name, svc in (("streamer", stre), ("gateway", gw)):
        dep = svc.get("depends_on", {})
        check(isinstance(dep, dict) and dep.get("telemetry-collector", {}).get("condition") == "service_healthy",
              f"{name}: no depends_on telemetry-collector service_healthy")
    check(env_dict(stre).get("BROKER_HOST") == "telemetry-collector", "streamer: BROKER_HOST != telemetry-collector")
    check(env_dict(gw).get("COLLECTOR_HOST") == "telemetry-collector", "gateway: COLLECTOR_HOST != telemetry-collector")
    csv_mounts = [v for v in stre.get("volumes", []) if ":/data/telemetry.csv:ro" in v]
    if check(len(csv_mounts) == 1, "streamer: the CSV is not mounted read-only at /data/telemetry.csv"):
        default = re.search(r"\$\{TELEMETRY_CSV:-([^}]+)\}", csv_mounts[0])
        check(default is not None and os.path.exists(os.path.join(D, default.group(1))),
              f"streamer: default CSV {csv_mounts[0]} does not exist")
    limits = yaml.safe_load(read(os.path.join(D, "docker-compose.limits.yml")))
    for name in SEED_ENV:
        s = limits.get("services", {}).get(name, {})
        check("cpus" in s and "mem_limit" in s, f"docker-compose.limits.yml: {name} has no cpus/mem_limit")
    if shutil.which("docker-compose"):
        p = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.limits.yml", "config", "-q"],
                           cwd=D, capture_output=True, text=True)
        check(p.returncode == 0, f"docker-compose config rejects the files: {p.stdout}{p.stderr}")
    check(re.search(r"^COMPOSE_PROJECT_NAME=telemetry-pipeline$", read(os.path.join(D, ".env")), re.M) is not None,
          "deploy/docker/.env does not name the project telemetry-pipeline")


def check_compose_cluster():
    """docker-compose.cluster.yml: 3 NATS servers routed to each other (image built from
    nats-server.Dockerfile), 3 collectors, 2 streamers splitting the rows, 2 gateways, every app with
    NATS_URL naming the three servers, no volume shared by apps; `docker-compose config` accepts it."""
    path = os.path.join(D, "docker-compose.cluster.yml")
    c = yaml.safe_load(read(path))
    svcs = c.get("services", {})
    kinds = {}
    for name, s in svcs.items():
        kinds.setdefault(name.rsplit("-", 1)[0], []).append(name)
    check({k: len(v) for k, v in kinds.items()} == {"nats": 3, "collector": 3, "streamer": 2, "gateway": 2},
          f"cluster compose services {sorted(svcs)}")
    for name in kinds.get("nats", []):
        s = svcs[name]
        check(s["build"]["dockerfile"] == "deploy/docker/nats-server.Dockerfile", f"{name}: not built from nats-server.Dockerfile")
        cmd = s.get("command", [])
        check("-js" in cmd and "--routes" in cmd and cmd[cmd.index("--routes") + 1].count("nats://") == 3, f"{name}: {cmd}")
    split = set()
    for kind in ("collector", "streamer", "gateway"):
        for name in kinds.get(kind, []):
            env = svcs[name].get("environment", {})
            check(str(env.get("NATS_URL", "")).count("nats://") == 3, f"{name}: NATS_URL {env.get('NATS_URL')}")
            for v in svcs[name].get("volumes", []):
                check(str(v).endswith(":ro") and "telemetry.csv" in str(v), f"{name}: volume {v}")
            if kind == "streamer":
                split.add((env.get("INSTANCE_INDEX"), env.get("INSTANCE_COUNT")))
    check(split == {("0", "2"), ("1", "2")}, f"streamers do not split the rows: {split}")
    nd = read(os.path.join(D, "nats-server.Dockerfile"))
    check(re.search(r"^USER 1000:1000$", nd, re.M) and "apt-get install -y --no-install-recommends nats-server" in nd,
          "nats-server.Dockerfile: Debian's nats-server as 1000:1000")
    if shutil.which("docker-compose"):
        p = subprocess.run(["docker-compose", "-f", path, "config", "-q"], capture_output=True, text=True, cwd=D)
        check(p.returncode == 0, f"docker-compose config (cluster): {p.stderr}")


def check_yamllint():
    files = [os.path.join(D, "docker-compose.yml"), os.path.join(D, "docker-compose.limits.yml"),
             os.path.join(D, "docker-compose.cluster.yml"),
             os.path.join(CHART, "Chart.yaml"), os.path.join(CHART, "values.yaml")]
    if check(shutil.which("yamllint") is not None, "yamllint missing (apt-get install yamllint)"):
        p = subprocess.run(["yamllint", "-s", "-c", YAMLLINT_CFG, *files], capture_output=True, text=True)
        check(p.returncode == 0, "yamllint:\n" + p.stdout + p.stderr)


def lookup(values, dotted):
    cur = values
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(dotted)
        cur = cur[part]
    return cur


def render(text, values):
    """A deliberately small stand-in for `helm template`: resolves .Values paths, takes every
    conditional branch, replaces names with placeholders. Enough to parse the YAML structure."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if re.fullmatch(r"\{\{-?\s*(/\*.*\*/|if .*|else.*|end|with .*|range .*|\$\w+ :=.*)\s*-?\}\}", s):
            continue
        m = re.fullmatch(r"(\s*)\{\{-?\s*(.*?)\s*\|\s*nindent (\d+)\s*\}\}", line)
        if m:
            expr, n = m.group(2), int(m.group(3))
            if expr.startswith('include "tp.labels"'):
                block = {"app.kubernetes.io/part-of": "telemetry-pipeline"}
            else:
                vm = re.fullmatch(r"(?:toYaml )?\.Values\.([\w.]+)", expr)
                block = lookup(values, vm.group(1)) if vm else "placeholder"
            dumped = block if isinstance(block, str) else yaml.safe_dump(block, default_flow_style=False)
            out.extend(" " * n + l for l in dumped.rstrip("\n").splitlines())
            continue

        def inline(mm):
            expr = mm.group(1).strip()
            vm = re.fullmatch(r"\.Values\.([\w.]+)(\s*\|\s*quote)?", expr)
            if vm:
                v = lookup(values, vm.group(1))
                if vm.group(2):
                    return json.dumps(str(v).lower() if isinstance(v, bool) else str(v))
                return str(v)
            if expr.startswith('include "tp.image"'):
                return "registry/image:tag"
            return "rel-telemetry-pipeline"
        out.append(re.sub(r"\{\{-?(.*?)-?\}\}", inline, line))
    return "\n".join(out)


def check_helm():
    chart = yaml.safe_load(read(os.path.join(CHART, "Chart.yaml")))
    check(chart.get("apiVersion") == "v2" and chart.get("name") == "telemetry-pipeline", f"Chart.yaml: {chart}")
    values = yaml.safe_load(read(os.path.join(CHART, "values.yaml")))
    for key in ("streamer.image.registry", "collector.image.registry", "apiGateway.image.registry", "global.imageTag"):
        try:
            lookup(values, key)
        except KeyError:
            check(False, f"values.yaml lacks the seed's key {key}")
    tdir = os.path.join(CHART, "templates")
    docs = []
    for f in sorted(os.listdir(tdir)):
        text = read(os.path.join(tdir, f))
        for path in re.findall(r"\.Values\.([A-Za-z_][\w.]*)", text):
            try:
                lookup(values, path.rstrip("."))
            except KeyError:
                check(False, f"templates/{f}: .Values.{path} is not in values.yaml")
        if f.endswith(".yaml") and text.startswith('{{- if eq .Values.broker.mode "nats" }}'):
            continue  # broker.mode=nats only: checked with helm below
        if f.endswith(".yaml"):
            try:
                docs += [d for d in yaml.safe_load_all(render(text, values)) if d]
            except (yaml.YAMLError, KeyError) as e:
                check(False, f"templates/{f} is not YAML once rendered: {e}")
    kinds = sorted(d["kind"] for d in docs)
    check(kinds == sorted(["StatefulSet", "Service", "ConfigMap", "Deployment", "Deployment", "Service",
                           "HorizontalPodAutoscaler"]), f"chart kinds {kinds}")
    by_app = {}
    for d in docs:
        by_app.setdefault(d["metadata"]["labels"].get("app.kubernetes.io/name"), []).append(d)
    sts = [d for d in docs if d["kind"] == "StatefulSet"]
    check(len(sts) == 1 and sts[0]["spec"].get("volumeClaimTemplates"), "collector StatefulSet without volumeClaimTemplates")
    for d in docs:
        if d["kind"] not in ("StatefulSet", "Deployment"):
            continue
        app = d["metadata"]["labels"]["app.kubernetes.io/name"]
        pod = d["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        check(sc.get("runAsUser") == 1000 and sc.get("fsGroup") == 1000 and sc.get("runAsNonRoot") is True,
              f"{app}: pod securityContext {sc}")
        (ctr,) = pod["containers"]
        check("resources" in ctr and ctr["resources"].get("limits"), f"{app}: no resource limits")
        env = {e["name"] for e in ctr.get("env", [])}
        for k in SEED_ENV[app]:
            check(k in env, f"{app}: chart env lacks the seed's {k}")
        ports = {p["containerPort"] for p in ctr.get("ports", [])}
        check(ports == SEED_PORTS[app], f"{app}: containerPorts {sorted(ports)} != {sorted(SEED_PORTS[app])}")
        check("livenessProbe" in ctr, f"{app}: no liveness probe")
        for probe in ("livenessProbe", "readinessProbe"):
            path = ctr.get(probe, {}).get("httpGet", {}).get("path")
            if path:
                check(path in HEALTH_PATHS.get(app, set()) and f'"{path}"' in app_source(app),
                      f"{app}: {probe} on {path}, which the app does not serve")
        names = {p["name"] for p in ctr.get("ports", [])}
        for svc in (s for s in by_app.get(app, []) if s["kind"] == "Service"):
            for sp in svc["spec"]["ports"]:
                check(sp["targetPort"] in names, f"{app}: Service targetPort {sp['targetPort']} is no container port name")
    gw = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/name"] == "api-gateway"]
    if gw:
        pod = gw[0]["spec"]["template"]["spec"]
        mounts = pod["containers"][0].get("volumeMounts", [])
        check(any(m.get("mountPath") == "/data" and m.get("readOnly") for m in mounts), "gateway: /data not read-only")
        check(any("persistentVolumeClaim" in v for v in pod.get("volumes", [])), "gateway: does not mount the collector's PVC")
    helm = shutil.which("helm")
    local_helm = os.path.join(ROOT, "build-tools/helm/helm")  # scripts/helm-setup.sh
    if not helm and os.access(local_helm, os.X_OK):
        helm = local_helm
    if helm:
        p = subprocess.run([helm, "lint", CHART], capture_output=True, text=True)
        check(p.returncode == 0, f"helm lint:\n{p.stdout}{p.stderr}")
        p = subprocess.run([helm, "template", "t", CHART], capture_output=True, text=True)
        check(p.returncode == 0, f"helm template:\n{p.stdout}{p.stderr}")
        if p.returncode == 0:
            real = sorted(d["kind"] for d in yaml.safe_load_all(p.stdout) if d)
            check(real == kinds, f"helm template kinds {real} != {kinds}")
        check_helm_nats_mode(helm)
    else:
        print("note: no helm binary; helm lint/template not run", flush=True)


def check_helm_nats_mode(helm):
    """broker.mode=nats rendered by helm: a 3-server JetStream StatefulSet with its own PVCs and
    routes to every server, collectors as a scalable Deployment without volumes, gateways and
    streamers with NATS_URL naming every server, gateways without a volume or collector affinity."""
    p = subprocess.run([helm, "lint", CHART, "--set", "broker.mode=nats"], capture_output=True, text=True)
    check(p.returncode == 0, f"helm lint (nats):\n{p.stdout}{p.stderr}")
    p = subprocess.run([helm, "template", "t", CHART, "--set", "broker.mode=nats", "--set", "collector.replicas=5"],
                       capture_output=True, text=True)
    if not check(p.returncode == 0, f"helm template (nats):\n{p.stdout}{p.stderr}"):
        return
    docs = [d for d in yaml.safe_load_all(p.stdout) if d]
    by = {(d["kind"], d["metadata"]["labels"]["app.kubernetes.io/name"]): d for d in docs}
    check(sorted(d["kind"] for d in docs) == sorted(["StatefulSet", "Service", "Service", "ConfigMap", "Deployment",
                                                     "Deployment", "Deployment", "Service", "HorizontalPodAutoscaler"]),
          f"nats mode kinds {sorted(d['kind'] for d in docs)}")
    nats = by.get(("StatefulSet", "nats"))
    if check(nats is not None, "nats mode: no NATS StatefulSet"):
        check(nats["spec"]["replicas"] == 3 and nats["spec"].get("volumeClaimTemplates"), "NATS StatefulSet: 3 replicas with PVCs")
        args = nats["spec"]["template"]["spec"]["containers"][0]["args"]
        check("-js" in args and "--routes" in args and args[args.index("--routes") + 1].count("nats://") == 3,
              f"NATS args {args}")
        check(nats["spec"]["template"]["spec"]["securityContext"].get("runAsUser") == 1000, "NATS runs as 1000")
    check(("StatefulSet", "telemetry-collector") not in by, "nats mode still renders the collector StatefulSet")
    coll = by.get(("Deployment", "telemetry-collector"))
    if check(coll is not None, "nats mode: collectors are not a Deployment"):
        check(coll["spec"]["replicas"] == 5, "collector.replicas not applied")
        pod = coll["spec"]["template"]["spec"]
        check(not pod.get("volumes") and not pod["containers"][0].get("volumeMounts"), "nats collectors mount a volume")
    for app in ("api-gateway", "telemetry-streamer", "telemetry-collector"):
        d = by.get(("Deployment", app))
        if not check(d is not None, f"nats mode: no {app} Deployment"):
            continue
        env = {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        check((env.get("NATS_URL") or "").count("nats://") == 3, f"{app}: NATS_URL {env.get('NATS_URL')}")
    gw = by.get(("Deployment", "api-gateway"))
    if gw:
        pod = gw["spec"]["template"]["spec"]
        check("affinity" not in pod and not pod.get("volumes"), "nats mode gateway has collector affinity or a volume")


def main():
    for step in (check_scripts, check_dockerfiles, check_entrypoints, check_compose, check_compose_cluster,
                 check_yamllint, check_helm):
        before = len(failures)
        step()
        print(f"{step.__name__}: {'ok' if len(failures) == before else 'FAILED'}", flush=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
