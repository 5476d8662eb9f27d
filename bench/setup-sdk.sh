#!/usr/bin/env bash
# The msgraph-sdk baseline's own venv (bench/sdk_baseline.py). Never install these into the
# project's venv: msgraph-sdk is ~470 MB and only the benchmark uses it.
#   bash bench/setup-sdk.sh            # -> /tmp/sdkvenv
#   bash bench/setup-sdk.sh DIR        # -> DIR (then pass --sdk-python DIR/bin/python to run.py)
set -euo pipefail
VENV="${1:-/tmp/sdkvenv}"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# The versions the figures in BENCHMARKS.md were measured with.
"$VENV/bin/pip" install --quiet "msgraph-sdk==1.65.0" "azure-identity==1.27.0"
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print("sdk venv ready:", ", ".join(f"{n} {version(n)}" for n in ("msgraph-sdk", "msgraph-core", "microsoft-kiota-http", "azure-identity", "httpx")))
PY
