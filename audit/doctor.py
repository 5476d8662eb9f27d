"""`mssp-audit doctor`: is every tenant ready for its first night? Read-only, in parallel.

For each configured customer tenant (and the MSSP partner tenant): a token (a refusal is named by its
AADSTS code and what that code means in plain English), then one cheap GET per permission the
resource catalogue requires on that side (audit/resources.py), so that each cell of the table says
granted, missing or not licensed. The licence state is licences.py's decision from subscribedSkus.
Only GET is ever sent to Graph.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.collect.run import PARTNER_NAME
from audit.config import Config
from audit.graph.auth import Credential, TokenError, TokenProvider
from audit.graph.client import GraphClient, GraphError, Tally
from audit.normalize.licences import RESOURCE_FEATURES, Feature, LicenceState, licence_from_skus
from audit.resources import bind, permissions


GRANTED, MISSING, NOT_LICENSED, ERROR, NOT_CHECKED = "granted", "missing", "not licensed", "error", "not checked"

# The AADSTS codes a token request meets while onboarding, in plain English (Microsoft's
# "Microsoft Entra authentication and authorization error codes" page), and whether an administrator
# of the tenant fixes it by opening the admin-consent URL.
AADSTS: dict[str, tuple[str, bool]] = {
    "AADSTS65001": ("not consented: no administrator of this tenant has granted the app its permissions", True),
    "AADSTS7000229": ("not consented: the app has no service principal in this tenant (never consented, "
                      "or the consent was removed)", True),
    "AADSTS700016": ("app missing in tenant: no application with this client id in this tenant (not consented "
                     "yet, or app.client_id is wrong)", True),
    "AADSTS90002": ("unknown tenant: no tenant with this id exists (check the tenant id in the configuration)",
                    False),
    "AADSTS900023": ("unknown tenant: the tenant id is not a valid tenant identifier", False),
    "AADSTS90023": ("unknown tenant: the tenant id is not a valid tenant identifier", False),
    "AADSTS700027": ("wrong certificate: the certificate that signed the request is not one uploaded to the app "
                     "registration (or it expired)", False),
    "AADSTS7000215": ("wrong secret: the client secret is not one of the app registration's", False),
    "AADSTS7000222": ("expired secret: the client secret has expired; make a new one", False),
    "AADSTS700024": ("the signed request is outside its validity: check this machine's clock", False),
    "AADSTS50027": ("the signed request is malformed (certificate credential)", False),
    "AADSTS7000218": ("no credential was sent: configure a certificate or a client secret", False),
    "AADSTS53003": ("blocked by a Conditional Access policy for workload identities in this tenant", False),
    "AADSTS500011": ("Microsoft Graph is not available in this tenant (resource principal not found)", False),
    "AADSTS1002012": ("the requested scope is invalid (check the cloud settings)", False),
}
_AADSTS = re.compile(r"AADSTS\d+")
# Graph's answer to a tenant without the licence a feature needs (graph-api.md §1–§3, licences.py).
LICENCE_ERRORS = frozenset({"AadPremiumLicenseRequired", "Authentication_RequestFromNonPremiumTenantOrB2CTenant"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Probe:
    """The one cheap GET that shows whether a permission is granted in a tenant."""

    permission: str
    resource: str            # the catalogue resource it reads
    path: str                # relative to the Graph base
    feature: Feature | None  # the licence-gated feature the read belongs to, if any
    absent_ok: bool = False  # 404 is an answer (none configured), so the permission is granted
    needs: str | None = None  # a part of another request (signInActivity): that request's permission first


@dataclass(frozen=True)
class Cell:
    state: str               # granted | missing | not licensed | error | not checked
    detail: str = ""         # Graph's status and code, or why it was not checked


@dataclass
class TenantReport:
    name: str
    tenant_id: str
    partner: bool
    token_ok: bool = False
    token_code: str = ""
    token_meaning: str = ""
    token_message: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)
    licence: LicenceState | None = None
    consent_url: str | None = None

    @property
    def ready(self) -> bool:
        """A token, and every permission granted; a feature the tenant has no licence for is reported,
        and the audit says so for that tenant, but no consent can fix it."""
        return self.token_ok and all(c.state in (GRANTED, NOT_LICENSED) for c in self.cells.values())

    def to_json(self) -> dict[str, Any]:
        licence = None
        if not self.partner:
            licence = {"p1": None, "p2": None, "evidence": "not read"} if self.licence is None else \
                {"p1": self.licence.p1, "p2": self.licence.p2, "evidence": self.licence.evidence}
        return {"name": self.name, "tenant_id": self.tenant_id, "partner": self.partner, "ready": self.ready,
                "token": {"ok": self.token_ok, "code": self.token_code or None,
                          "meaning": self.token_meaning or None, "message": self.token_message or None},
                "permissions": {p: {"state": c.state, "detail": c.detail} for p, c in self.cells.items()},
                "licence": licence, "consent_url": self.consent_url}


@dataclass(frozen=True)
class FileCheck:
    """A file the configuration names besides the certificate, read as the night will read it."""

    name: str                # e.g. "responses file"
    ok: bool
    detail: str              # what was found, or the one-line error naming the file and the key

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def file_checks(config: Config) -> list[FileCheck]:
    """The management responses file, validated against every configured customer and the catalogue:
    a bad one would stop the night with exit 2, so the doctor says so first. Pass the whole
    configuration, before customers are selected."""
    from audit.responses import ResponsesError, load_responses
    if config.output.responses is None:
        return []
    try:
        responses = load_responses(config)
    except ResponsesError as exc:
        return [FileCheck("responses file", False, str(exc))]
    return [FileCheck("responses file", True, f"{config.output.responses}: {len(responses)} response(s)")]


def probes(config: Config, *, partner: bool) -> tuple[Probe, ...]:
    """One probe per permission the catalogue requires on this side, from the catalogue's own requests:
    the first resource (in catalogue order) read with that permission. A resource read with a reduced
    request when an optional part is refused is probed with the reduced one (its own permission only);
    the optional part's permission (signInActivity: AuditLog.Read.All) with the full request."""
    m = config.mssp
    from audit.checks.app_permissions import opted_in    # the same opt-ins the permission check counts
    opted = opted_in(config.expectations)
    bound = {r.name: r for r in bind(m.analyst_tenant_id, (m.tier1_group, m.tier2_group, m.approvers_group))}
    found: list[Probe] = []
    for permission in permissions(partner=partner, opted_in=opted):
        for r in bound.values():
            if r.permission != permission or r.partner != partner or r.kind == "fanout":
                continue
            if r.kind == "facet":
                parent = bound[r.parent or ""]
                found.append(Probe(permission, r.name, _one_item(parent.path), RESOURCE_FEATURES.get(r.name),
                                   needs=parent.permission))
            else:
                path = r.reduced.path if r.reduced else r.path
                found.append(Probe(permission, r.name, _one_item(path), RESOURCE_FEATURES.get(r.name), r.absent_ok))
            break
        else:   # pragma: no cover - permissions() derives from the same catalogue
            raise AssertionError(f"no resource reads {permission}")
    return tuple(found)


def _one_item(path: str) -> str:
    """The request asking for one item a page: cheap, and still refused when the permission is missing."""
    return re.sub(r"\$top=\d+", "$top=1", path)


def clean(text: object, limit: int = 300) -> str:
    """A string from a tenant or the network, safe for one line of a terminal."""
    return _CONTROL.sub(" ", str(text))[:limit]


def consent_url(config: Config, tenant_id: str) -> str:
    return f"{config.cloud.authority}/{tenant_id}/adminconsent?client_id={config.app.client_id}"


async def _check(config: Config, credential: Credential, report: TenantReport, side: Sequence[Probe],
                 http: Any) -> None:
    settings = config.collect
    tokens = TokenProvider(tenant_id=report.tenant_id, client_id=config.app.client_id, credential=credential,
                           authority_host=config.cloud.authority, scope=config.cloud.scope,
                           ca_bundle=config.cloud.ca_bundle,
                           timeout=(settings.connect_timeout_seconds, settings.timeout_seconds))
    try:
        try:
            await tokens.token()
        except TokenError as exc:
            message = clean(exc)
            if not _AADSTS.search(message):
                # MSAL fails on the tenant's OpenID discovery document before any token request, and
                # says only "Unable to get authority configuration": ask the authority itself (a GET).
                message = await _discovery_refusal(config, report.tenant_id, http) or message
            code = _AADSTS.search(message)
            report.token_code = code[0] if code else ""
            meaning, consent = AADSTS.get(report.token_code, ("the token request was refused" if code else
                                                              "no token: the authority could not be reached", False))
            report.token_meaning, report.token_message = meaning, message
            report.cells = {p.permission: Cell(NOT_CHECKED, "no token") for p in side}
            if consent:
                report.consent_url = consent_url(config, report.tenant_id)
            return
        report.token_ok = True
        client = GraphClient(base_url=config.cloud.base_url, tokens=tokens, http=http,
                             concurrency=settings.requests_per_tenant, max_retries=min(settings.max_retries, 2),
                             request_deadline=settings.timeout_seconds)
        answers = await asyncio.gather(*(_get(client, p) for p in side))
        by_permission = dict(zip((p.permission for p in side), answers, strict=True))
        licence_probe = next((p for p in side if p.resource == "subscribed_skus"), None)
        if licence_probe is not None:
            body = by_permission[licence_probe.permission]
            if not isinstance(body, GraphError):
                report.licence = _licence(body)
        for probe in side:
            if probe.needs is not None and isinstance(by_permission.get(probe.needs), GraphError):
                # Graph refuses the whole request for want of the other permission: this one is unknown.
                report.cells[probe.permission] = Cell(NOT_CHECKED, f"needs {probe.needs} first")
                continue
            report.cells[probe.permission] = _cell(probe, by_permission[probe.permission], report.licence,
                                                   tokens.roles)
        if any(c.state == MISSING for c in report.cells.values()):
            report.consent_url = consent_url(config, report.tenant_id)
    finally:
        tokens.close()


async def _discovery_refusal(config: Config, tenant_id: str, http: Any) -> str | None:
    """Entra's own words when it refuses the tenant's discovery document (AADSTS90002: unknown tenant)."""
    url = f"{config.cloud.authority}/{tenant_id}/v2.0/.well-known/openid-configuration"
    try:
        response = await http.get(url)
        body = response.json()
    except Exception:     # unreachable, or not JSON: the token error stands as it was
        return None
    description = body.get("error_description") if isinstance(body, dict) else None
    if response.status_code < 400 or not isinstance(description, str) or not _AADSTS.search(description):
        return None
    return clean(description.splitlines()[0] if description else description)


async def _get(client: GraphClient, probe: Probe) -> Any:
    try:
        return await client.get(client.url(probe.path), Tally())
    except GraphError as exc:
        return exc


def _licence(body: Any) -> LicenceState | None:
    from audit.normalize.directory import subscribed_skus
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list):
        return None
    try:
        return licence_from_skus(subscribed_skus([(item, None) for item in values]))
    except Exception:   # a body of unexpected types: the licence stays unknown, never guessed
        return None


def _cell(probe: Probe, answer: Any, licence: LicenceState | None, roles: Sequence[str]) -> Cell:
    if not isinstance(answer, GraphError):
        return Cell(GRANTED)
    detail = clean(f"{answer.status or 'network'} {answer.code}")
    if answer.status == 404 and probe.absent_ok:
        return Cell(GRANTED, "404: none configured")
    if answer.status == 403:
        if answer.code in LICENCE_ERRORS:
            return Cell(NOT_LICENSED, detail)
        # Graph does not always name the licence; the SKUs decide (licences.py), but only when the
        # token holds the permission (its API's, e.g. AccessReview.*): else consent is what is missing.
        held = any(r.split(".")[0] == probe.permission.split(".")[0] for r in roles)
        if probe.feature is not None and licence is not None and held and (why := licence.lacks(probe.feature)):
            return Cell(NOT_LICENSED, clean(why))
        return Cell(MISSING, detail)
    return Cell(ERROR, detail)


# A doctor check sends at most one request per permission: far lighter than a tenant's collection,
# so more tenants are checked at once than collect.tenant_concurrency lets a night collect.
DOCTOR_TENANT_CONCURRENCY = 32


def tenant_concurrency(config: Config) -> int:
    return max(config.collect.tenant_concurrency, DOCTOR_TENANT_CONCURRENCY)


def targets(config: Config) -> list[TenantReport]:
    out = [TenantReport(c.name, c.tenant_id.lower(), False) for c in config.customers]
    if config.mssp.partner_tenant_id:
        out.append(TenantReport(PARTNER_NAME, config.mssp.partner_tenant_id.lower(), True))
    return out


async def diagnose(config: Config, credential: Credential) -> list[TenantReport]:
    """Every tenant's report, in configuration order; tenants checked in parallel."""
    from audit.collect.run import http_client, tls_context
    reports = targets(config)
    sides = {False: probes(config, partner=False), True: probes(config, partner=True)}
    gate = asyncio.Semaphore(tenant_concurrency(config))
    context = tls_context(config)

    async def one(report: TenantReport) -> None:
        async with gate, http_client(config, context) as http:
            try:
                await _check(config, credential, report, sides[report.partner], http)
            except Exception as exc:   # one tenant's surprise must not hide the others' state
                report.cells = {p.permission: Cell(ERROR, clean(type(exc).__name__))
                                for p in sides[report.partner]}

    await asyncio.gather(*(one(r) for r in reports))
    return reports


def columns(config: Config) -> list[str]:
    customer = [p.permission for p in probes(config, partner=False)]
    partner = [p.permission for p in probes(config, partner=True)] if config.mssp.partner_tenant_id else []
    return customer + [p for p in partner if p not in customer]


def render_table(config: Config, reports: Sequence[TenantReport], checks: Sequence[FileCheck] = ()) -> str:
    perms = columns(config)
    lines = ["Permissions (columns):"]
    lines += [f"  {i}  {p}" for i, p in enumerate(perms, 1)]
    width = max([len("Tenant")] + [len(clean(r.name, 40)) for r in reports])
    head = f"{'Tenant':<{width}}  {'Ready':<5}  {'P1':<3}  {'P2':<3}  " + "  ".join(f"{i:<12}" for i in
                                                                                   range(1, len(perms) + 1))
    lines += ["", head.rstrip()]
    for r in reports:
        cells = [r.cells.get(p, Cell("n/a")).state for p in perms]
        lines.append(f"{clean(r.name, 40):<{width}}  {'yes' if r.ready else 'NO':<5}  {_yes(r, 'p1'):<3}  "
                     f"{_yes(r, 'p2'):<3}  " + "  ".join(f"{c:<12}" for c in cells).rstrip())
    lines.append("")
    for r in reports:
        if r.ready and all(c.state == GRANTED for c in r.cells.values()):
            continue
        lines.append(f"{clean(r.name, 80)} ({r.tenant_id}):")
        if not r.token_ok:
            lines.append(f"  token: {r.token_code or 'no code'}: {r.token_meaning}")
            lines.append(f"    Entra said: {r.token_message}")
        for permission, cell in r.cells.items():
            if cell.state not in (GRANTED, NOT_CHECKED):
                lines.append(f"  {permission}: {cell.state} ({cell.detail})")
        if r.consent_url:
            lines.append(f"  admin consent: {r.consent_url}")
    for check in checks:
        lines.append(f"{check.name}: {'ok' if check.ok else 'FAILED'}: {clean(check.detail, 500)}")
    ready = sum(r.ready for r in reports)
    lines.append(f"{ready} of {len(reports)} tenant(s) ready.")
    return "\n".join(lines)


def _yes(report: TenantReport, level: str) -> str:
    if report.partner:
        return "-"
    value = getattr(report.licence, level) if report.licence is not None else None
    return "?" if value is None else "yes" if value else "no"


def render_json(config: Config, reports: Sequence[TenantReport], checks: Sequence[FileCheck] = ()) -> dict[str, Any]:
    return {"schema": "mssp-audit/doctor/1", "ready": all(r.ready for r in reports) and all(c.ok for c in checks),
            "permissions": columns(config), "tenants": [r.to_json() for r in reports],
            "files": [c.to_json() for c in checks]}


__all__ = ["AADSTS", "FileCheck", "Probe", "TenantReport", "diagnose", "file_checks", "probes", "render_json",
           "render_table"]
