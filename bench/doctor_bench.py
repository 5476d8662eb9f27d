"""`mssp-audit doctor` on many tenants against the emulator with latency on every Graph request.

The emulator serves in this process (its own threads); `mssp-audit doctor` runs as the operator runs
it, a separate process through the real CLI, so the two do not share an interpreter. Wall time of
the whole command (start-up, config, every tenant's token and probes, output) is measured per
repetition, with the CPU time of the doctor process; the median wall time is reported. A measurement, not a test: nothing here asserts a time.

Run from the repository root:
    PYTHONPATH=. python bench/doctor_bench.py --tenants 100 --latency-ms 50 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

from audit.demo import demo_config, demo_environment
from audit.doctor import tenant_concurrency


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tenants", type=int, default=100)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    now = datetime.now(UTC)
    with demo_environment(now=now, customers=args.tenants, seed=7) as env, \
            tempfile.TemporaryDirectory(prefix="doctor-bench-") as tmp:
        for tenant in env.estate.tenants.values():
            tenant.faults = replace(tenant.faults, latency_ms=args.latency_ms)
        config = demo_config(env.estate, env.server, env.certificate_path, Path(tmp) / "data")
        path = Path(tmp) / "c.toml"
        path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
        times, cpu, codes, graph_requests = [], [], set(), []
        for _ in range(args.repeat):
            before = len(env.server.request_log)
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "audit", "doctor", "--config", str(path), "--format",
                                     "json"], capture_output=True, text=True, env=os.environ.copy())
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
            codes.add(result.returncode)
            sent = list(env.server.request_log)[before:]
            graph_requests.append(sum(1 for r in sent if r.path.startswith(("/v1.0", "/beta"))))
            report = json.loads(result.stdout)
        ready = sum(t["ready"] for t in report["tenants"])
    print(json.dumps({
        "tenants": len(report["tenants"]), "ready": ready, "latency_ms": args.latency_ms,
        "tenant_concurrency": tenant_concurrency(config), "repeat": args.repeat,
        "exit_codes": sorted(codes), "graph_requests_per_run": graph_requests,
        "seconds": [round(t, 2) for t in times], "median_s": round(statistics.median(times), 2),
        "doctor_cpu_s": [round(c, 2) for c in cpu], "load_average": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
