"""A request Graph refuses and the collector re-sends reduced (guests without signInActivity): the
manifest records the request that produced the evidence and the one refused, and the PDF says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from markupsafe import escape

from audit.checks import CATALOGUE, SPECS, Context, evaluate, score
from audit.collect.tenant import TenantCollector
from audit.graph.client import GraphClient
from audit.models import ResourceStatus, TenantManifest
from audit.normalize import normalize_tenant
from audit.render.build import RunInfo, customer_report, evidence_source
from audit.render.pdf import render_customer_html
from audit.resources import resource
from audit.snapshot.store import RunStore
from tests.checks import tenant_builder as tb

GUESTS = resource("guests")
EXTERNAL = resource("external_members")
assert GUESTS.reduced is not None and EXTERNAL.reduced is not None
REFUSED = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}


class _Tokens:
    roles = ("User.Read.All",)

    async def token(self, *, stale: str | None = None) -> str:
        return "token"


def _collect(tmp_path: Path, *, sign_ins_allowed: bool,
             specs: tuple[Any, ...] = (GUESTS,)) -> tuple[TenantManifest, list[str]]:
    selects: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        select = request.url.params.get("$select", "")
        selects.append(f"{select} top={request.url.params.get('$top')}")
        if "signInActivity" in select and not sign_ins_allowed:
            return httpx.Response(403, json=REFUSED)
        return httpx.Response(200, json={"value": [tb.guest(1, last=tb.days(-5)), tb.guest(2, last=tb.days(-9))]})

    async def collect() -> TenantManifest:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            tokens: Any = _Tokens()
            client = GraphClient(base_url="https://graph.example/v1.0", tokens=tokens, http=http)
            collector = TenantCollector(store=RunStore(tmp_path, "run"), tenant_id=tb.TENANT, customer="Contoso",
                                        specs=specs, client=client, tokens=tokens, collected_at=tb.NOW)
            return await collector.run()

    return asyncio.run(collect()), selects


def test_a_refused_request_and_its_reduced_form_are_both_in_the_manifest(tmp_path: Path) -> None:
    manifest, selects = _collect(tmp_path, sign_ins_allowed=False)
    guests, sign_ins = manifest.resources["guests"], manifest.resources["guest_sign_ins"]
    assert selects == [f"{GUESTS.path.split('$select=')[1].split('&')[0]} top=500",
                       f"{GUESTS.reduced.path.split('$select=')[1].split('&')[0]} top=999"]
    assert guests.status is ResourceStatus.OK and guests.items == 2
    assert guests.endpoint == GUESTS.reduced.path, "the request that produced the evidence"
    assert guests.refused_endpoint == GUESTS.path
    assert guests.refused_reason == ("missing permission AuditLog.Read.All "
                                     "(Graph said 403 Authorization_RequestDenied)")
    assert guests.lower_bound == 1 and guests.requests == 2       # the reduced chain's page size is 999
    assert sign_ins.status is ResourceStatus.FORBIDDEN and sign_ins.endpoint == GUESTS.path
    assert sign_ins.reason == guests.refused_reason
    stored = RunStore(tmp_path, "run").read_tenant_manifest(tb.TENANT)
    assert stored is not None and stored.resources["guests"] == guests     # the fields survive the JSON


def test_an_allowed_request_records_no_refusal(tmp_path: Path) -> None:
    manifest, selects = _collect(tmp_path, sign_ins_allowed=True)
    guests = manifest.resources["guests"]
    assert len(selects) == 1 and guests.endpoint == GUESTS.path
    assert guests.refused_endpoint == guests.refused_reason == ""
    assert manifest.resources["guest_sign_ins"].status is ResourceStatus.OK


def test_the_pdf_provenance_names_the_request_that_produced_the_evidence(tmp_path: Path) -> None:
    manifest, _ = _collect(tmp_path, sign_ins_allowed=False)
    store = RunStore(tmp_path, "run")
    data = normalize_tenant(store.tenant_dir(tb.TENANT), manifest)
    config = tb.config()
    results = evaluate(data, Context(tb.NOW, config, config.customers[0]), CATALOGUE)
    report = customer_report(config.customers[0], data, results, SPECS, score(results, SPECS), "0" * 64,
                             RunInfo("run", datetime(2026, 11, 22, 3, tzinfo=UTC), "0.0.0-test"), config=config)
    view = next(r for r in report.resources if r.name == "guests")
    assert view.endpoint == f"GET /v1.0/{GUESTS.reduced.path}"
    assert view.refused_endpoint == f"GET /v1.0/{GUESTS.path}"
    assert view.refused_reason.endswith("; re-read without signInActivity")
    inventory = next(t for t in report.appendix if t.title == "Guest inventory")
    assert inventory.source == evidence_source(data, "guests") == view.endpoint
    assert "signInActivity" not in inventory.source, "the evidence table does not claim the refused request"
    html = " ".join(render_customer_html(report).split())
    assert (f"<code>{escape(view.endpoint)}</code><div class=\"reason\">Reduced request: Graph first refused "
            f"<code>{escape(view.refused_endpoint)}</code> — missing permission AuditLog.Read.All (Graph said 403 "
            "Authorization_RequestDenied); re-read without signInActivity.</div>") in html


def test_a_refusal_is_asked_once_per_tenant_not_once_per_users_query(tmp_path: Path) -> None:
    """Guests and member-type B2B users both ask for signInActivity; a tenant without P1/P2 refuses
    it for both. The second query goes straight to its reduced form and its facet says why."""
    manifest, selects = _collect(tmp_path, sign_ins_allowed=False, specs=(GUESTS, EXTERNAL))
    assert sum("signInActivity" in s for s in selects) == 1, selects
    assert len(selects) == 3                     # one refusal, two reduced chains
    refused_first = next(n for n in ("guests", "external_members") if manifest.resources[n].refused_endpoint)
    other = "external_members" if refused_first == "guests" else "guests"
    second = manifest.resources[other]
    assert second.status is ResourceStatus.OK and second.endpoint == resource(other).reduced.path  # type: ignore[union-attr]
    assert second.refused_endpoint == "", "the reduced request was the only one sent: nothing was refused for it"
    facet = manifest.resources[resource(other).reduced.without]  # type: ignore[union-attr]
    first_path = resource(refused_first).path
    assert facet.status is ResourceStatus.FORBIDDEN and facet.requests == 0
    assert facet.reason.endswith(f"not asked again: Graph refused signInActivity on {first_path} in this run")
    assert second.requests == second.lower_bound == 1


def test_an_allowed_part_is_asked_by_every_users_query(tmp_path: Path) -> None:
    manifest, selects = _collect(tmp_path, sign_ins_allowed=True, specs=(GUESTS, EXTERNAL))
    assert sum("signInActivity" in s for s in selects) == 2
    for facet in ("guest_sign_ins", "external_member_sign_ins"):
        assert manifest.resources[facet].status is ResourceStatus.OK
