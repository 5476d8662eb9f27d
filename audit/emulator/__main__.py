"""``python -m audit.emulator``: serve a generated estate in the foreground (benchmarks, demos).

Prints the authority host, Graph base and CA file, and writes ``emulator.json`` into the TLS
directory: the app's client id, secret and certificate files, and every customer's tenant id,
so a separate client process can authenticate and find the tenants.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import secrets
import signal
import sys
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

from audit.emulator._gen_common import new_uuid
from audit.emulator.certs import make_app_certificate, write_private
from audit.emulator.estate import AppRegistration, generate_estate
from audit.emulator.server import EmulatorServer


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m audit.emulator",
                                     description="Serve a generated MSSP estate over HTTPS in the foreground.")
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--tls-dir", type=Path, default=None, help="where the CA, server and app files go")
    parser.add_argument("--guests", type=int, default=None, help="guests per tenant (benchmarks)")
    parser.add_argument("--assignments", type=int, default=None, help="assignments per tenant (benchmarks)")
    parser.add_argument("--reviews", type=int, default=None, help="access reviews per tenant (benchmarks)")
    parser.add_argument("--now", type=datetime.fromisoformat, default=None, help="ISO time the estate is relative to")
    parser.add_argument("--no-broken-tenant", action="store_true", help="let every customer issue tokens")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    tls_dir: Path = args.tls_dir or Path(tempfile.mkdtemp(prefix="graph-emulator-"))
    tls_dir.mkdir(parents=True, exist_ok=True)
    certificate = make_app_certificate()
    app = AppRegistration(
        client_id=new_uuid(random.Random(f"{args.seed}:app")),
        certificate_pem=certificate.certificate_pem,
        client_secret=secrets.token_urlsafe(24),
    )
    estate = generate_estate(
        now=args.now or datetime.now(timezone.utc), app=app, seed=args.seed, customers=args.customers,
        guests_per_tenant=args.guests, assignments_per_tenant=args.assignments, reviews_per_tenant=args.reviews,
        include_broken_tenant=not args.no_broken_tenant,
    )
    # A 1,000-tenant estate is ~10 million long-lived objects: move them out of the collector's
    # sight, or every full collection while serving rescans them all.
    gc.freeze()
    write_private(tls_dir / "app-key.pem", certificate.private_key_pem)
    (tls_dir / "app-cert.pem").write_text(certificate.certificate_pem, encoding="utf-8")
    server = EmulatorServer(estate, tls_dir, port=args.port, seed=args.seed).start()
    info = {
        "authority_host": server.authority_host,
        "graph_base": server.graph_base,
        "ca_file": str(server.ca_file),
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "certificate_file": str(tls_dir / "app-cert.pem"),
        "private_key_file": str(tls_dir / "app-key.pem"),
        "thumbprint": certificate.thumbprint,
        "mssp_tenant_id": estate.mssp_tenant_id,
        "partner_tenant_id": estate.partner_tenant_id,
        "customers": [{"name": c.name, "tenant_id": c.tenant_id} for c in estate.customers],
    }
    write_private(tls_dir / "emulator.json", json.dumps(info, indent=2))
    print(f"authority host: {server.authority_host}")
    print(f"graph base:     {server.graph_base}")
    print(f"CA file:        {server.ca_file}")
    print(f"details:        {tls_dir / 'emulator.json'}", flush=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
