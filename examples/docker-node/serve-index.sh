#!/usr/bin/env bash
# Serves a PEP 503 index with a small pure-Python wheel (rmdemo 1.0 and 2.0) on 127.0.0.1, for the
# example's python_packages entry (there is no PyPI on this machine). Prints the URL to export
# as RM_PIP_INDEX_URL and serves until interrupted.
#   usage: examples/docker-node/serve-index.sh [port]
set -euo pipefail
PORT=${1:-8765}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/packages" "$DIR/simple/rmdemo"
/usr/bin/python3 - "$DIR/packages" <<'PY'
import base64, hashlib, os, sys, zipfile
out = sys.argv[1]
name = "rmdemo"
# Two versions, so nodes can pin different ones (examples/seed/scenario1-here.yaml).
for ver in ("1.0", "2.0"):
    dist = f"{name}-{ver}.dist-info"
    greeting = "hello from rmdemo" if ver == "1.0" else "hello from rmdemo 2"
    files = {
        f"{name}/__init__.py": f"GREETING = {greeting!r}\n__version__ = {ver!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: remotemedia-example\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(os.path.join(out, f"{name}-{ver}-py3-none-any.whl"), "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
PY
{
  echo '<!DOCTYPE html><html><body>'
  for v in 1.0 2.0; do
    echo "<a href=\"../../packages/rmdemo-$v-py3-none-any.whl\">rmdemo-$v-py3-none-any.whl</a>"
  done
  echo '</body></html>'
} > "$DIR/simple/rmdemo/index.html"
echo "export RM_PIP_INDEX_URL=http://127.0.0.1:$PORT/simple"
exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DIR"
