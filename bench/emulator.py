"""Bench-side launcher: the Graph emulator in its own process, with latency and throttle budgets.

`python -m audit.emulator` cannot set `Faults` (latency, throttle budgets) from its command line,
so this script builds the same estate the same way, sets the faults on every tenant and serves
in the foreground until SIGTERM/SIGINT. It writes ``TLS_DIR/bench-emulator.json`` (owner-only,
atomically) with everything a client in another process needs: hosts, CA, the app's client id,
secret and certificate, the MSSP/partner/corporate tenant ids, and every tenant with its size
and throttle budget.

SIGUSR1 replaces every tenant's ``Faults`` with an identical fresh object, which restarts its
throttle windows (emulator README, "Faults"), then bumps ``resets`` in ``TLS_DIR/bench-reset``:
run.py does this between our collector and the msgraph-sdk baseline so both start with full
budgets.

Run from the repository root:  PYTHONPATH=. python bench/emulator.py --customers 10 --tls-dir /tmp/x
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import secrets
import signal
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from audit.emulator._gen_common import new_uuid
from audit.emulator.certs import make_app_certificate, write_private
from audit.emulator.estate import AppRegistration, Faults, TenantData, generate_estate
from audit.emulator.server import EmulatorServer

# graph-api.md §11, Identity and access service limits per app+tenant pair, per 10 s, by tenant
# size: S < 50 users, M 50-500, L > 500. The emulator counts requests, not resource units: one
# request = one unit here, which is generous (GET users costs 1-2 RU with $select,
# transitiveMembers 4), so the budgets below throttle no more than Graph would.
GRAPH_BUDGETS = ((50, 3_500), (500, 5_000), (None, 8_000))
GRAPH_WINDOW_S = 10.0
SIGNIN_PER_MIN = 10          # §11: GET signInActivity, 10 per minute per app and tenant


def graph_budget(users: int) -> int:
    for ceiling, budget in GRAPH_BUDGETS:
        if ceiling is None or users < ceiling:
            return budget
    raise AssertionError("unreachable")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=8)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-dir", type=Path, required=True)
    p.add_argument("--guests", type=int, default=None)
    p.add_argument("--assignments", type=int, default=None)
    p.add_argument("--reviews", type=int, default=None)
    p.add_argument("--now", type=datetime.fromisoformat, default=None)
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every Graph request")
    p.add_argument("--throttle", choices=("on", "off"), default="off",
                   help="on: Graph's per-tenant budgets by size, and signInActivity 10/min")
    p.add_argument("--throttle-budget", type=int, default=None,
                   help="requests per window for every tenant instead of the size-based budget")
    p.add_argument("--throttle-window", type=float, default=GRAPH_WINDOW_S)
    p.add_argument("--broken-tenant", action="store_true", help="keep the demo's consent-revoked tenant")
    return p.parse_args(argv)


def _faults(args: argparse.Namespace, tenant: TenantData) -> Faults:
    faults = replace(tenant.faults, latency_ms=args.latency_ms)
    if args.throttle == "on":
        budget = args.throttle_budget or graph_budget(len(tenant.users))
        faults = replace(faults, throttle_budget=budget, throttle_window_s=args.throttle_window,
                         signin_budget_per_min=SIGNIN_PER_MIN)
    return faults


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    tls_dir: Path = args.tls_dir
    tls_dir.mkdir(parents=True, exist_ok=True)
    (tls_dir / "bench-reset").unlink(missing_ok=True)
    started = time.perf_counter()
    certificate = make_app_certificate()
    app = AppRegistration(client_id=new_uuid(random.Random(f"{args.seed}:app")),
                          certificate_pem=certificate.certificate_pem, client_secret=secrets.token_urlsafe(24))
    estate = generate_estate(
        now=args.now or datetime.now(UTC), app=app, seed=args.seed, customers=args.customers,
        guests_per_tenant=args.guests, assignments_per_tenant=args.assignments, reviews_per_tenant=args.reviews,
        include_broken_tenant=args.broken_tenant,
    )
    for tenant in estate.tenants.values():
        tenant.faults = _faults(args, tenant)
    generated_s = time.perf_counter() - started
    gc.freeze()   # as `python -m audit.emulator`: millions of long-lived objects out of the GC's sight
    # One PEM with key and certificate (what [app] certificate_path takes), owner-only.
    write_private(tls_dir / "app.pem", certificate.private_key_pem + certificate.certificate_pem)
    server = EmulatorServer(estate, tls_dir, port=args.port, seed=args.seed).start()

    def tenant_info(tenant_id: str, name: str, growth: int | None) -> dict[str, object]:
        t = estate.tenants[tenant_id]
        return {"tenant_id": tenant_id, "name": name, "default_domain": t.default_domain,
                "projected_growth": growth, "users": len(t.users),
                "guests": sum(1 for u in t.users if u.get("userType") == "Guest"),
                "assignments": len(t.assignments), "review_definitions": len(t.review_definitions),
                "throttle_budget": t.faults.throttle_budget, "latency_ms": t.faults.latency_ms}

    info = {
        "pid": os.getpid(),
        "authority_host": server.authority_host,
        "graph_base": server.graph_base,
        "ca_file": str(server.ca_file),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "certificate_path": str(tls_dir / "app.pem"),
        "mssp_tenant_id": estate.mssp_tenant_id,
        "partner_tenant_id": estate.partner_tenant_id,
        "corporate_tenant_ids": list(estate.corporate_tenant_ids),
        "generated_s": round(generated_s, 3),
        "faults": {"latency_ms": args.latency_ms, "throttle": args.throttle,
                   "throttle_budget": args.throttle_budget, "throttle_window_s": args.throttle_window,
                   "signin_budget_per_min": SIGNIN_PER_MIN if args.throttle == "on" else None},
        "customers": [tenant_info(c.tenant_id, c.name, c.projected_growth) for c in estate.customers],
        "partner": tenant_info(estate.partner_tenant_id, "partner", None),
    }
    write_private(tls_dir / "bench-emulator.json", json.dumps(info, indent=2))
    print(f"graph base {server.graph_base}; {len(estate.customers)} customers generated in {generated_s:.1f} s",
          flush=True)

    stopping = threading.Event()
    resets = 0

    def reset(*_: object) -> None:
        nonlocal resets
        for tenant in estate.tenants.values():
            tenant.faults = replace(tenant.faults)   # a new object: its throttle windows start afresh
        resets += 1
        (tls_dir / "bench-reset").write_text(str(resets), encoding="utf-8")

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    signal.signal(signal.SIGUSR1, reset)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
