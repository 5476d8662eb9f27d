"""Schema fuzz: every property Graph sent for a real customer, given a value Graph never documents.

One licensed customer is collected once over the emulator (real HTTPS, real raw files, Defender
RBAC included). Then, for every resource file and every property path of its items (every
distinct path, nested objects and lists included), a copy of the raw page is rewritten with a
wrong type and with one of a null, the key deleted or a 10 MB string, and normalisation,
evaluation and the view-model run in-process. Whatever arrives: nothing raises, every check has
a result, and a value we do not understand never moves a check to another PASS/FAIL/WARN — its
checks are unaffected (the property is not read) or ERROR naming the resource and the property.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, SPECS, Context, evaluate
from audit.checks._framework import run_check
from audit.collect.run import collect_all
from audit.config import Config
from audit.demo import demo_config, demo_environment
from audit.graph.auth import load_credential
from audit.models import CheckResult, ResourceStatus, Status, TenantManifest
from audit.normalize import TenantData, normalize_tenant
from audit.resources import RESOURCES, RESOURCES_BY_NAME, SINGLETONS
from audit.render.build import RunInfo, customer_report, expiry_rows, licence_row
from audit.snapshot.store import RunStore

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
HUGE = "x" * (10 * 1024 * 1024)
PLACEHOLDER = "<the 10 MB string>"
DELETED = object()
Path_ = tuple[str | int, ...]          # a path inside a page record: ("page", "value", 0, "accountEnabled")


@dataclass(frozen=True)
class Estate:
    config: Config
    tenant_id: str
    partner_id: str
    work: Path                         # a copy of the run whose raw files the mutations rewrite
    manifests: dict[str, TenantManifest]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    out = tmp_path_factory.mktemp("fuzz")
    with demo_environment(now=NOW, customers=1, seed=7, include_broken_tenant=False) as env:
        # An identity-sync policy from the MSSP tenant and consent to read Defender RBAC, so that every
        # resource has objects to fuzz.
        tenant = env.estate.tenants[env.estate.customers[0].tenant_id]
        tenant.granted_roles.append("RoleManagement.Read.Defender")
        tenant.identity_sync[env.estate.mssp_tenant_id] = {
            "tenantId": env.estate.mssp_tenant_id, "displayName": "MSSP", "userSyncInbound": {"isSyncAllowed": True}}
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data",
                             expectations={"collect_defender_rbac": True})
        store = RunStore(out / "data", "fuzz")
        asyncio.run(collect_all(config, store, load_credential(config.app.certificate_path), NOW))
    tenant_id = config.customers[0].tenant_id.lower()
    partner_id = (config.mssp.partner_tenant_id or "").lower()
    work = out / "work"
    shutil.copytree(store.root, work)
    manifests = {t: m for t in (tenant_id, partner_id) if (m := store.read_tenant_manifest(t)) is not None}
    yield Estate(config, tenant_id, partner_id, work, manifests)


def _manifest(estate: Estate, tenant_id: str) -> TenantManifest:
    return estate.manifests[tenant_id]


def normalize(estate: Estate) -> TenantData:
    return normalize_tenant(estate.work / "tenants" / estate.tenant_id, _manifest(estate, estate.tenant_id),
                            partner_dir=estate.work / "tenants" / estate.partner_id,
                            partner=_manifest(estate, estate.partner_id))


def evaluate_and_view(estate: Estate, data: TenantData, resource: str | None = None) -> dict[str, CheckResult]:
    """What the nightly run does with one customer, in memory: results, view-model, portfolio rows.

    With `resource`, only the checks that declare it are evaluated: a check reads nothing else
    (test_each_check_reads_only_what_it_declares), so the others' results cannot move.
    """
    customer = estate.config.customers[0]
    catalogue = [c for c in CATALOGUE if resource is None or resource in c.spec.resources]
    results = evaluate(data, Context(now=NOW, config=estate.config, customer=customer), catalogue)
    customer_report(customer, data, results, SPECS, None, "0" * 64, RunInfo("fuzz", NOW, "test"),
                    config=estate.config)
    licence_row(customer, data, estate.config)
    expiry_rows(customer, data, estate.config)
    return {r.check_id: r for r in results}


def same(a: TenantData, b: TenantData) -> bool:
    """The checks are pure functions of the normalised data: equal data, equal results."""
    return (a.unreadable == b.unreadable and a.singletons == b.singletons and a.tables.keys() == b.tables.keys()
            and all(a.tables[name].equals(b.tables[name]) for name in a.tables))


@dataclass(frozen=True)
class Baseline:
    data: TenantData
    results: dict[str, CheckResult]


@pytest.fixture(scope="module")
def baseline(estate: Estate) -> Baseline:
    data = normalize(estate)
    assert not data.unreadable
    results = evaluate_and_view(estate, data)
    assert {Status.PASS, Status.FAIL} <= {r.status for r in results.values()}, "the customer should exercise checks"
    return Baseline(data, results)


def raw_files(estate: Estate) -> dict[str, Path]:
    """resource → raw file, for every resource collected for the customer and the partner's GDAP files.
    (A facet — guest_sign_ins, external_member_sign_ins — is recorded from its carrier's query and
    shares its file.)"""
    out: dict[str, Path] = {}
    for tenant_id in (estate.tenant_id, estate.partner_id):
        for name, record in sorted(_manifest(estate, tenant_id).resources.items()):
            if record.status is ResourceStatus.OK and record.file and RESOURCES_BY_NAME[name].kind != "facet":
                out[name] = estate.work / "tenants" / tenant_id / record.file
    return out


def _walk(value: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _signature(path: Path_) -> str:
    return ".".join("[]" if isinstance(p, int) else p for p in path)


def targets(lines: list[dict[str, Any]], keep: Callable[[dict[str, Any], Any], bool]) -> list[tuple[int, Path_]]:
    """The first occurrence of every distinct property path of a resource's pages (list positions
    folded together), taken from the items `keep` says this customer reads."""
    seen: dict[str, tuple[int, Path_]] = {}
    for number, record in enumerate(lines):
        page = record["page"]
        for path, _ in _walk(page, ("page",)):
            item = page["value"][path[2]] if path[1:2] == ("value",) and len(path) > 2 else None
            if len(path) > 1 and keep(record, item):
                seen.setdefault(_signature(path), (number, path))
    return list(seen.values())


def customer_reads(resource: str, files: dict[str, Path], tenant_id: str) -> Callable[[dict[str, Any], Any], bool]:
    """The partner's GDAP pages hold every customer's relationships; this customer reads only its own
    (audit.normalize skips the others unread), so only those are worth mutating."""
    if resource not in ("gdap_relationships", "gdap_access_assignments"):
        return lambda record, item: True
    ids = {item["id"] for line in files["gdap_relationships"].read_text().splitlines()
           for item in json.loads(line)["page"]["value"]
           if str((item.get("customer") or {}).get("tenantId")).lower() == tenant_id}
    if resource == "gdap_relationships":
        return lambda record, item: item is None or item.get("id") in ids
    return lambda record, item: record.get("parent") in ids


def wrong_type(value: Any) -> Any:
    """A value of another JSON type than the one Graph sent here."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, dict):
        return ["an", "object", "was", "expected"]
    if isinstance(value, list):
        return {"a": "list was expected"}
    return {"unexpected": True}           # a null: any type but the one it will have one day


def mutated_line(record: dict[str, Any], path: Path_, value: Any) -> bytes:
    """The page record with the value at `path` replaced (or its key removed), as one raw line."""
    copy = json.loads(json.dumps(record))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    if value is DELETED:
        del holder[path[-1]]
    else:
        holder[path[-1]] = PLACEHOLDER if value is HUGE else value
    line = json.dumps(copy)
    # 10 MB of "x" needs no escaping: put it in without encoding it again for every mutation.
    return (line.replace(json.dumps(PLACEHOLDER), f'"{HUGE}"') if value is HUGE else line).encode() + b"\n"


def graph_path(path: Path_) -> str:
    """The property path as a ShapeError names it, from the item (or the singleton) down."""
    inner = path[3:] if path[1:2] == ("value",) and len(path) > 2 else path[1:]
    if path[1:2] == ("value",) and len(path) == 2:
        return "value"
    if not inner:
        return "(the item itself)"
    text = ""
    for step in inner:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def test_every_property_of_every_resource_survives_every_mutation(estate: Estate, baseline: Baseline) -> None:
    """Every distinct property path gets a wrong type. A path whose wrong type changed nothing is not
    read (the parsers read by key, and the scope walker reads every value), so no other value there
    can matter either. Every path that is read also gets one of a null, its key deleted or (for a
    string) a 10 MB string, in turn, which keeps the test within half a minute. (A singleton is kept
    as Graph sent it, so any change to it is evaluated; only the properties its reader declares are
    read, and only those get the second mutation.)"""
    files = raw_files(estate)
    walked: dict[str, set[str]] = {}
    tried: dict[str, int] = {}
    evaluated: set[str] = set()
    problems: list[str] = []
    for resource, file in files.items():
        original = file.read_bytes()
        raw_lines = original.splitlines(keepends=True)
        lines = [json.loads(line) for line in raw_lines]
        for number, path in targets(lines, customer_reads(resource, files, estate.tenant_id)):
            value: Any = lines[number]
            for step in path:
                value = value[step]
            walked.setdefault(resource, set()).add(_signature(path))
            others = [("null", None)] + ([] if isinstance(path[-1], int) else [("deleted", DELETED)]) + (
                [("10 MB string", HUGE)] if isinstance(value, str) else [])
            for kind, new in (("wrong type", wrong_type(value)), others[sum(tried.values()) % len(others)]):
                file.write_bytes(b"".join(mutated_line(lines[i], path, new) if i == number else line
                                          for i, line in enumerate(raw_lines)))
                where = f"{resource} {graph_path(path)} ← {kind}"
                try:
                    data = normalize(estate)
                    if same(data, baseline.data):
                        break                     # not read: no value here can change anything
                    tried[kind] = tried.get(kind, 0) + 1
                    read = resource in data.unreadable
                    # The whole catalogue once per resource, then the checks that declare it.
                    results = evaluate_and_view(estate, data, resource if resource in evaluated else None)
                    evaluated.add(resource)
                except Exception as exc:  # noqa: BLE001 - the point of the test
                    problems.append(f"{where}: raised {type(exc).__name__}: {exc}"[:300])
                    continue
                finally:
                    file.write_bytes(original)
                problems += judge(where, kind, resource, graph_path(path), results, baseline.results)
                if not read:
                    break                         # a singleton's property no reader declares: not read either
    assert not problems, "\n".join(problems[:60]) + f"\n({len(problems)} problems)"
    assert set(files) == set(walked) == {r.name for r in RESOURCES if r.tables or r.kind == "single"}, \
        "every resource is walked"
    assert sum(map(len, walked.values())) > 300, walked
    assert min(tried.values()) > 30 and len(tried) == 4, tried


def judge(where: str, kind: str, resource: str, prop: str, results: dict[str, CheckResult],
          baseline: dict[str, CheckResult]) -> list[str]:
    wanted = {i for i in baseline if len(results) == len(baseline) or resource in SPECS[i].resources}
    if results.keys() != wanted:
        return [f"{where}: checks without a result: {sorted(wanted - results.keys())}"]
    problems = []
    for check_id, result in results.items():
        before = baseline[check_id]
        if result.status is before.status:
            continue
        if result.status is Status.ERROR:
            # Only an ERROR that names the resource and the property is an honest one.
            if resource not in result.reason or prop not in result.reason:
                problems.append(f"{where}: {check_id} ERROR without naming {resource}/{prop}: {result.reason[:200]}")
        elif kind in ("wrong type", "10 MB string"):
            # A null or an absent key is a documented state for most properties, and a check may rightly
            # conclude otherwise from it; from a value of the wrong type it never may.
            problems.append(f"{where}: {check_id} went {before.status} → {result.status}: {result.summary[:80]}")
    return problems


def test_each_check_reads_only_what_it_declares(estate: Estate, baseline: Baseline) -> None:
    """Given only the tables and singletons of the resources in its spec, every check answers as it
    does with everything: what a check needs is what the framework gates on (and what the fuzz
    above re-evaluates when one of those resources changes)."""
    tables_of = {r.name: r.tables for r in RESOURCES}
    customer = estate.config.customers[0]
    context = Context(now=NOW, config=estate.config, customer=customer)
    for item in CATALOGUE:
        declared = set(item.spec.resources)
        names = {name for resource in declared for name in tables_of.get(resource, ())}
        only = replace(baseline.data, tables={n: t for n, t in baseline.data.tables.items() if n in names},
                       singletons={n: s for n, s in baseline.data.singletons.items() if n in declared})
        assert run_check(item, only, context) == baseline.results[item.spec.id], item.spec.id
