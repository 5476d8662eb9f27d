"""One Graph GET, from bearer token to JSON body; shared by plain requests and ``$batch`` items."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.emulator._errors import (
    GraphError,
    bad_request,
    expired_page_token,
    forbidden,
    graph_error_body,
    method_not_allowed,
)
from audit.emulator._faults import FaultEngine, matches_prefix
from audit.emulator._gen_directory import PLAN_P1, PLAN_P2, role_definition
from audit.emulator._query import (
    Query,
    SkipTokens,
    next_link,
    parse_query,
    shape,
    sort_items,
    validate_select,
)
from audit.emulator._routes import SATISFIED_BY, Resource, resolve
from audit.emulator._token import TokenRejected, read_access_token
from audit.emulator.estate import Estate, TenantData

JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
_EM_PAGE = 100           # entitlement management pages at 100 whatever $top says (§2)
_SIGNIN_MAX_TOP = 500    # users with signInActivity selected: $top ≤ 500 (§1)


@dataclass
class GraphReply:
    status: int
    body: Any = None                 # a JSON value, or a str holding deliberately broken JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False               # close the connection instead of answering (reset fault)
    tenant_id: str | None = None

    @property
    def malformed(self) -> bool:
        return isinstance(self.body, str)

    def encode(self) -> bytes:
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, separators=(",", ":")).encode()


def error_reply(error: GraphError, *, request_id: str, client_request_id: str | None,
                tenant_id: str | None = None) -> GraphReply:
    body = graph_error_body(error.code, error.message, request_id=request_id, client_request_id=client_request_id)
    headers = {"request-id": request_id, "client-request-id": client_request_id or request_id, **error.headers}
    return GraphReply(error.status, body, headers, tenant_id=tenant_id)


def licence_level(tenant: TenantData) -> tuple[bool, bool]:
    """(has P1, has P2), from service plans of enabled SKUs (§7: detect by plan, not SKU name)."""
    p1 = p2 = False
    for sku in tenant.subscribed_skus:
        if sku.get("capabilityStatus") not in ("Enabled", "Warning"):
            continue
        for plan in sku.get("servicePlans", []):
            if plan.get("provisioningStatus") != "Success":
                continue
            p2 = p2 or plan.get("servicePlanId") == PLAN_P2[0]
            p1 = p1 or plan.get("servicePlanId") in (PLAN_P1[0], PLAN_P2[0])
    return p1, p2


async def black_hole(stopping: Callable[[], bool]) -> None:
    """Never answer, until the server stops (then the caller drops the connection quietly)."""
    while not stopping():
        await asyncio.sleep(0.05)


class GraphService:
    def __init__(self, estate: Callable[[], Estate], *, root: str, token_secret: bytes, faults: FaultEngine,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self._stopping = stopping
        self._estate = estate
        self.root = root                       # https://127.0.0.1:PORT
        self._secret = token_secret
        self._tokens = SkipTokens(token_secret)
        self._faults = faults

    def authenticate(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims; GraphError 401 as Graph answers for a missing or bad token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.",
                             headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        try:
            claims = read_access_token(self._secret, authorization[7:].strip(), now=time.time())
        except TokenRejected as rejected:
            raise GraphError(401, "InvalidAuthenticationToken", str(rejected),
                             headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'}) from None
        tenant = self._estate().tenants.get(claims.get("tid"))
        if tenant is None:
            raise GraphError(401, "InvalidAuthenticationToken", "The tenant of the token is unknown.")
        valid_s = tenant.faults.token_valid_s
        if valid_s is not None and time.time() - float(claims.get("iat", 0)) > valid_s:
            # Revoked before its advertised expiry: the client's cache still thinks it good.
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.",
                             headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        return claims

    def drop_connection(self, tenant_id: str) -> bool:
        tenant = self._estate().tenants.get(tenant_id)
        return tenant is not None and self._faults.drop_connection(tenant_id, tenant.faults)

    async def handle(self, method: str, version: str, path: str, raw_query: str, headers: Mapping[str, str],
                     claims: dict[str, Any], *, in_batch: bool) -> GraphReply:
        """Answer one request; ``path`` is relative to ``/{version}`` and starts with '/'."""
        request_id = str(uuid.uuid4())
        client_request_id = headers.get("client-request-id")
        tenant_id = claims["tid"]
        tenant = self._estate().tenants.get(tenant_id)

        def failed(error: GraphError) -> GraphReply:
            return error_reply(error, request_id=request_id, client_request_id=client_request_id,
                               tenant_id=tenant_id)

        if tenant is None:
            return failed(GraphError(401, "InvalidAuthenticationToken", "The tenant of the token is unknown."))
        if method != "GET":
            return failed(method_not_allowed())
        faults = tenant.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if not in_batch and self._faults.drop_connection(tenant_id, faults):
            return GraphReply(0, drop=True, tenant_id=tenant_id)
        if matches_prefix(faults.graph_hang, path):
            await black_hole(self._stopping)         # a black-hole Graph host: accepted, never answered
            return GraphReply(0, drop=True, tenant_id=tenant_id)
        if matches_prefix(faults.unauthorized, path) or (
                matches_prefix(faults.unauthorized_next_pages, path) and "skiptoken" in raw_query.lower()):
            return failed(GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.",
                                     headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'}))
        injected = self._faults.before_graph(tenant_id, str(claims.get("appid", "")), faults, path, raw_query)
        if injected is not None:
            return failed(injected)
        try:
            body = self._serve(version, path, raw_query, headers, tenant, claims)
        except GraphError as error:
            return failed(error)
        reply = GraphReply(200, body, {"request-id": request_id, "client-request-id": client_request_id or request_id},
                           tenant_id=tenant_id)
        if matches_prefix(faults.malformed_json, path):
            text = json.dumps(body, separators=(",", ":"))
            reply.body = text[: max(1, len(text) // 2)] + '",,'   # cut mid-document: never valid JSON
        return reply

    # -- the data --------------------------------------------------------------------------------
    def _serve(self, version: str, path: str, raw_query: str, headers: Mapping[str, str], tenant: TenantData,
               claims: dict[str, Any]) -> dict[str, Any]:
        resource = resolve(version, path, tenant)
        roles = set(claims.get("roles", []))
        if not roles & SATISFIED_BY[resource.permission]:
            raise forbidden(resource.permission)
        if resource.needs_p2 and not licence_level(tenant)[1]:
            raise GraphError(403, "AadPremiumLicenseRequired",
                             "The tenant needs an Azure AD Premium P2 or Microsoft Entra ID Governance license.")
        query = parse_query(raw_query)
        sign_in = query.selects("signInActivity") or bool(
            query.filter and any(p[0].lower() == "signinactivity" for p in query.filter.paths))
        if sign_in:
            self._check_sign_in(tenant, roles, query)
        eventual = headers.get("consistencylevel", "").lower() == "eventual"
        self._check_advanced(resource, query, eventual)
        validate_select(resource.type_name, query.select)
        context = self._context(version, resource, query)
        resolver = self._resolver(tenant)
        if resource.entity is not None:
            return {"@odata.context": context,
                    **shape(resource.entity, resource.type_name, query.select, query.expand, resolver)}
        # Without the header Graph silently ignores ?$count=true on directory objects (aad-advanced-queries,
        # "Error handling"): no @odata.count, no error.
        counted = query.count and (eventual or not resource.directory)
        return self._page(version, path, resource, query, tenant, context, resolver, sign_in=sign_in,
                          counted=counted)

    def _check_sign_in(self, tenant: TenantData, roles: set[str], query: Query) -> None:
        # signInActivity needs AuditLog.Read.All on top of User.Read.All, and a P1/P2 tenant (§1).
        if not roles & SATISFIED_BY["AuditLog.Read.All"]:
            raise forbidden("AuditLog.Read.All")
        if not licence_level(tenant)[0]:
            raise GraphError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                             "Neither tenant is B2C or tenant doesn't have premium license")
        if query.filter and any(p[0].lower() == "signinactivity" for p in query.filter.paths) \
                and query.filter.comparisons > 1:
            # A signInActivity filter cannot be combined with any other property (§1).
            raise GraphError(400, "Request_UnsupportedQuery",
                             "Filter on signInActivity cannot be combined with other filter clauses.")

    @staticmethod
    def _check_advanced(resource: Resource, query: Query, eventual: bool) -> None:
        if query.search is not None:
            raise GraphError(400, "Request_UnsupportedQuery", "$search is not supported by this emulator.")
        if not resource.directory:
            return
        # Directory objects: ne/endswith and $count need ConsistencyLevel: eventual + $count=true (§1).
        advanced = bool(query.filter and query.filter.operators & {"ne", "endswith"})
        if advanced and not (eventual and query.count):
            raise GraphError(
                400, "Request_UnsupportedQuery",
                "Operator 'ne' or 'endsWith' is not supported because the required parameters might be missing. "
                "Try adding $count with a value of true and the request header ConsistencyLevel with a value of "
                "eventual.",
            )
        if query.orderby and query.filter and not eventual:
            raise GraphError(400, "Request_UnsupportedQuery",
                             "Sorting with a filter needs ConsistencyLevel: eventual and $count=true.")

    def _context(self, version: str, resource: Resource, query: Query) -> str:
        fragment = resource.context
        if query.select is not None:
            selected = ",".join(query.select)
            if fragment.endswith("/$entity"):
                fragment = f"{fragment[:-8]}({selected})/$entity"
            else:
                fragment = f"{fragment}({selected})"
        return f"{self.root}/{version}/$metadata#{fragment}"

    @staticmethod
    def _resolver(tenant: TenantData) -> Callable[[str, str, dict[str, Any]], Any]:
        def resolve_navigation(type_name: str, navigation: str, item: dict[str, Any]) -> Any:
            if type_name == "accessPackage" and navigation == "assignmentPolicies":
                # Computed from the live policy list, so edits to policies show through.
                return [p for p in tenant.assignment_policies if (p.get("accessPackage") or {}).get("id") == item["id"]]
            if type_name == "unifiedRoleAssignment" and navigation == "roleDefinition":
                return role_definition(item["roleDefinitionId"])
            value = item.get(navigation)
            if value is None and navigation in ("questions", "customExtensionStageSettings",
                                                "externalSponsors", "internalSponsors"):
                return []
            return value
        return resolve_navigation

    def _page(self, version: str, path: str, resource: Resource, query: Query, tenant: TenantData, context: str,
              resolver: Callable[[str, str, dict[str, Any]], Any], *, sign_in: bool,
              counted: bool) -> dict[str, Any]:
        items = resource.items or []
        if query.filter is not None:
            items = [item for item in items if query.filter.matches(item)]
        if query.orderby:
            items = sort_items(items, query.orderby)
        size = self._page_size(resource, query, len(items), sign_in=sign_in)
        if tenant.faults.page_size_cap is not None and resource.pageable:
            size = min(size, tenant.faults.page_size_cap)   # Graph may page below $top (§11 "Paging")
        offset, broken = (0, False) if query.skiptoken is None else self._tokens.read(query.skiptoken)
        if broken:
            raise expired_page_token()
        if query.skip is not None:
            if not resource.skip_supported:
                raise GraphError(400, "Request_UnsupportedQuery", "'$skip' is not supported by the service.")
            if query.skiptoken is None:
                offset = query.skip
        page = items[offset: offset + size]
        following = offset + size if offset + size < len(items) else None
        body: dict[str, Any] = {"@odata.context": context}
        if counted:
            body["@odata.count"] = len(items)
        token: str | None = None
        if matches_prefix(tenant.faults.loop_chain, path):
            # A broken server: the nextLink leads back to the page it came with, for ever.
            token = self._tokens.make(offset)
        elif matches_prefix(tenant.faults.truncate_chain, path) and (offset > 0 or following is None):
            # The chain breaks after (at most) two pages: this page links to a dead token.
            token = self._tokens.make(offset + size, broken=True)
        elif following is not None:
            token = self._tokens.make(following)
        if token is not None:
            body["@odata.nextLink"] = next_link(f"{self.root}/{version}", path, query.params, token)
        body["value"] = [self._item(item, resource, query, resolver) for item in page]
        return body

    @staticmethod
    def _page_size(resource: Resource, query: Query, total: int, *, sign_in: bool) -> int:
        if not resource.pageable:
            # subscribedSkus: only $select is supported (§7).
            if query.top is not None or query.filter is not None or query.orderby:
                raise GraphError(400, "Request_UnsupportedQuery", "Only $select is supported on this resource.")
            return max(total, 1)
        if resource.max_top is None:
            return _EM_PAGE
        limit = _SIGNIN_MAX_TOP if (sign_in and resource.type_name == "user") else resource.max_top
        if query.top is None:
            return resource.default_page
        if not 1 <= query.top <= limit:
            raise bad_request(f"Invalid page size specified: '{query.top}'. Must be between 1 and {limit} inclusive.",
                              code="Request_UnsupportedQuery")
        return query.top

    @staticmethod
    def _item(item: dict[str, Any], resource: Resource, query: Query,
              resolver: Callable[[str, str, dict[str, Any]], Any]) -> dict[str, Any]:
        shaped = shape(item, resource.type_name, query.select, query.expand, resolver)
        if resource.cast:
            return {"@odata.type": resource.cast, **shaped}
        return shaped
