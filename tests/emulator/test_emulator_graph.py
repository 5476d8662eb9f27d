"""Graph v1.0 semantics of the emulator, over HTTPS with httpx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audit.emulator import EmulatorServer, Estate

Graph = Callable[..., httpx.Response]
EM = "/identityGovernance/entitlementManagement"


def all_pages(graph: Graph, tenant_id: str, path: str, **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
    response = graph(tenant_id, path, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    items, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        body = graph(tenant_id, body["@odata.nextLink"]).json()
        items += body["value"]
        pages += 1
    return items, pages


def test_users_paging_follows_next_links(graph: Graph, estate: Estate, tenant_of: Callable[[str], str],
                                         server: EmulatorServer) -> None:
    tenant_id = tenant_of("Contoso Retail")
    first = graph(tenant_id, "/users", params={"$top": "150", "$select": "id,userType"}).json()
    assert first["@odata.context"] == f"{server.graph_base}/$metadata#users(id,userType)"
    link = first["@odata.nextLink"]
    assert link.startswith(f"{server.graph_base}/users?") and "$skiptoken=" in link and "$top=150" in link
    users, pages = all_pages(graph, tenant_id, "/users", params={"$top": "150", "$select": "id,userType"})
    assert pages == 3
    assert [u["id"] for u in users] == [u["id"] for u in estate.tenants[tenant_id].users]


def test_default_page_is_100(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    body = graph(tenant_of("Contoso Retail"), "/users").json()
    assert len(body["value"]) == 100


def test_users_without_select_return_the_default_set(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    user = graph(tenant_of("Northwind Traders"), "/users").json()["value"][0]
    assert set(user) == {"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
                         "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}


def test_select_and_filter_guests(graph: Graph, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    select = "userType,externalUserState,creationType,signInActivity,createdDateTime,accountEnabled,identities,mail"
    guests, _ = all_pages(graph, tenant_id, "/users",
                          params={"$filter": "userType eq 'Guest'", "$select": select, "$top": "500"})
    expected = [u for u in estate.tenants[tenant_id].users if u["userType"] == "Guest"]
    assert len(guests) == len(expected)
    assert all(set(g) == {"id", *select.split(",")} for g in guests)
    assert any(g["signInActivity"] is None for g in guests)          # absent -> null when selected
    assert any(g["signInActivity"] and g["signInActivity"]["lastSuccessfulSignInDateTime"].startswith("0001")
               for g in guests)


def test_filter_forms(graph: Graph, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Litware Energy")
    tenant = estate.tenants[tenant_id]
    pending = graph(tenant_id, "/users", params={
        "$filter": "userType eq 'Guest' and (externalUserState in ('PendingAcceptance') or accountEnabled eq false)",
        "$select": "id"}).json()["value"]
    expected = [u["id"] for u in tenant.users if u["userType"] == "Guest"
                and (u["externalUserState"] == "PendingAcceptance" or u["accountEnabled"] is False)]
    assert [u["id"] for u in pending] == expected and expected
    analysts = graph(tenant_id, "/users", params={"$filter": "startswith(mail,'a-')"}).json()["value"]
    assert analysts and all(u["mail"].startswith("a-") for u in analysts)
    group = graph(tenant_id, "/groups", params={"$filter": "displayName eq 'MSSP Analyst Approvers'"}).json()["value"]
    assert [g["displayName"] for g in group] == ["MSSP Analyst Approvers"]
    delivered = graph(tenant_id, f"{EM}/assignments", params={"$filter": "state eq 'delivered'"}).json()["value"]
    assert delivered and all(a["state"] == "delivered" for a in delivered)


@pytest.mark.parametrize("bad", ["userType gt 'Guest'", "contains(mail,'x')", "userType eq Guest",
                                 "createdDateTime eq 2024-01-01T00:00:00Z", "not(accountEnabled eq true)"])
def test_unsupported_filters_are_refused(graph: Graph, tenant_of: Callable[[str], str], bad: str) -> None:
    response = graph(tenant_of("Contoso Retail"), "/users", params={"$filter": bad})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_ne_needs_advanced_query(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    assert graph(tenant_id, "/users", params={"$filter": "userType ne 'Guest'"}).status_code == 400
    body = graph(tenant_id, "/users", params={"$filter": "userType ne 'Guest'", "$count": "true", "$top": "5"},
                 headers={"ConsistencyLevel": "eventual"}).json()
    assert body["@odata.count"] > 300 and len(body["value"]) == 5


def test_top_over_the_maximum(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    too_many = graph(tenant_id, "/users", params={"$top": "1000"})
    assert too_many.status_code == 400
    assert "Invalid page size specified" in too_many.json()["error"]["message"]
    assert graph(tenant_id, "/users", params={"$top": "999"}).status_code == 200
    sign_in = graph(tenant_id, "/users", params={"$top": "600", "$select": "signInActivity"})
    assert sign_in.status_code == 400
    reviews = graph(tenant_id, "/identityGovernance/accessReviews/definitions", params={"$top": "101"})
    assert reviews.status_code == 400


def test_entitlement_management_is_server_paged(graph: Graph, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    estate_small = estate.tenants[tenant_of("Contoso Retail")]
    body = graph(tenant_of("Contoso Retail"), f"{EM}/assignments", params={"$top": "5"}).json()
    assert len(body["value"]) == min(100, len(estate_small.assignments))   # $top ignored


def test_expand_navigation_properties(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Woodgrove Bank")
    plain = graph(tenant_id, f"{EM}/assignments").json()["value"][0]
    assert not {"target", "accessPackage", "assignmentPolicy"} & set(plain)
    expanded = graph(tenant_id, f"{EM}/assignments",
                     params={"$expand": "target($expand=connectedOrganization),accessPackage,assignmentPolicy"}
                     ).json()["value"]
    first = expanded[0]
    assert first["target"]["objectId"] and first["accessPackage"]["displayName"]
    assert "catalog" not in first["accessPackage"]
    assert "identitySources" in first["target"]["connectedOrganization"]
    packages = graph(tenant_id, f"{EM}/accessPackages", params={"$expand": "assignmentPolicies"}).json()["value"]
    tier1 = next(p for p in packages if p["displayName"] == "Tier 1 Analyst")
    assert [p["allowedTargetScope"] for p in tier1["assignmentPolicies"]] == ["allExternalUsers"]
    requests_ = graph(tenant_id, f"{EM}/assignmentRequests", params={"$expand": "requestor,accessPackage"}).json()
    assert all("requestor" in r and "accessPackage" in r for r in requests_["value"])
    roles = graph(tenant_id, "/roleManagement/directory/roleAssignments",
                  params={"$filter": "roleDefinitionId eq '62e90394-69f5-4237-9190-012177145e10'",
                          "$expand": "principal"}).json()["value"]
    assert any(r["principal"]["userPrincipalName"].startswith("mssp-setup-admin@") for r in roles)
    assert all(r["principal"]["@odata.type"] == "#microsoft.graph.user" for r in roles)
    bad = graph(tenant_id, "/users", params={"$expand": "manager2"})
    assert bad.status_code == 400


def test_group_members(graph: Graph, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Litware Energy")
    group = graph(tenant_id, "/groups", params={"$filter": "displayName eq 'Tier 2 Analyst'"}).json()["value"][0]
    members = graph(tenant_id, f"/groups/{group['id']}/transitiveMembers",
                    params={"$select": "id,userType,mail"}).json()["value"]
    assert members and all(m["@odata.type"] == "#microsoft.graph.user" for m in members)
    assert {m["id"] for m in members} == set(estate.tenants[tenant_id].group_members[group["id"]])
    assert graph(tenant_id, "/groups/00000000-0000-0000-0000-000000000000/members").status_code == 404


def test_singletons_and_partner_config(graph: Graph, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    fabrikam = tenant_of("Fabrikam Health")
    policy = graph(fabrikam, "/policies/authorizationPolicy").json()
    assert policy["allowInvitesFrom"] == "everyone" and policy["id"] == "authorizationPolicy"
    assert graph(fabrikam, "/policies/crossTenantAccessPolicy/default").json()["isServiceDefault"] is False
    partner = graph(fabrikam, f"/policies/crossTenantAccessPolicy/partners/{estate.mssp_tenant_id}").json()
    assert partner["inboundTrust"]["isMfaAccepted"] is True
    sync_path = f"/policies/crossTenantAccessPolicy/partners/{estate.mssp_tenant_id}/identitySynchronization"
    sync = graph(fabrikam, sync_path)
    assert sync.json()["userSyncInbound"]["isSyncAllowed"] is True
    northwind = tenant_of("Northwind Traders")
    none = graph(northwind, sync_path)
    assert none.status_code == 404
    settings = graph(tenant_of("Adatum Logistics"), f"{EM}/settings").json()
    assert settings["externalUserLifecycleAction"] == "blockSignInAndDelete"


def test_access_review_chain(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    definitions = graph(tenant_id, "/identityGovernance/accessReviews/definitions").json()["value"]
    instances = graph(tenant_id, f"/identityGovernance/accessReviews/definitions/{definitions[0]['id']}/instances"
                      ).json()["value"]
    assert [i["status"] for i in instances] == ["Completed", "Completed", "InProgress"]
    decisions = graph(tenant_id, f"/identityGovernance/accessReviews/definitions/{definitions[0]['id']}"
                                 f"/instances/{instances[0]['id']}/decisions", params={"$top": "2"}).json()
    assert len(decisions["value"]) <= 2 and decisions["value"][0]["principal"]["userPrincipalName"]


def test_gdap_in_partner_tenant(graph: Graph, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    relationships, _ = all_pages(graph, estate.partner_tenant_id, "/tenantRelationships/delegatedAdminRelationships")
    assert {r["customer"]["tenantId"] for r in relationships} == {
        c.tenant_id for c in estate.customers if c.name != "Tailspin Toys"}
    relationship = relationships[0]
    access = graph(estate.partner_tenant_id,
                   f"/tenantRelationships/delegatedAdminRelationships/{relationship['id']}/accessAssignments").json()
    assert "value" in access
    # Customer tenants do not hold DelegatedAdminRelationship.Read.All.
    denied = graph(tenant_of("Contoso Retail"), "/tenantRelationships/delegatedAdminRelationships")
    assert denied.status_code == 403
    assert graph(estate.partner_tenant_id, "/tenantRelationships/delegatedAdminRelationships",
                 params={"$top": "301"}).status_code == 400


def test_missing_permission_is_403(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    adatum = tenant_of("Adatum Logistics")
    response = graph(adatum, "/users", params={"$select": "id,signInActivity"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "Authorization_RequestDenied"
    assert {"date", "request-id", "client-request-id"} <= error["innerError"].keys()
    assert graph(adatum, "/users", params={"$select": "id,userType"}).status_code == 200


def test_not_licensed_tenant(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    tailspin = tenant_of("Tailspin Toys")
    for path in (f"{EM}/accessPackages", f"{EM}/assignments", "/identityGovernance/accessReviews/definitions"):
        response = graph(tailspin, path)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "AadPremiumLicenseRequired")
    sign_in = graph(tailspin, "/users", params={"$select": "signInActivity"})
    assert sign_in.json()["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert graph(tailspin, "/subscribedSkus").status_code == 200


def test_unknown_paths(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    unknown = graph(tenant_id, "/nothingHere")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "BadRequest")
    missing = graph(tenant_id, f"{EM}/accessPackages/00000000-0000-0000-0000-000000000000")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "Request_ResourceNotFound")


def test_non_get_is_405_and_logged(graph: Graph, server: EmulatorServer, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    for method in ("POST", "PATCH", "DELETE", "PUT"):
        response = graph(tenant_id, "/users", method=method, json={})
        assert response.status_code == 405
    logged = [r for r in server.request_log if r.path == "/v1.0/users" and r.method != "GET"]
    assert {(r.method, r.status) for r in logged} >= {("POST", 405), ("PATCH", 405), ("DELETE", 405), ("PUT", 405)}


def test_batch_of_twenty(graph: Graph, server: EmulatorServer, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    server.request_log.clear()
    requests_ = [{"id": str(n), "method": "GET", "url": "/users?$top=5&$select=id" if n % 2 else "subscribedSkus"}
                 for n in range(19)]
    requests_.append({"id": "19", "method": "DELETE", "url": "/users"})
    response = graph(tenant_id, "/$batch", method="POST", json={"requests": requests_})
    assert response.status_code == 200
    answers = {r["id"]: r for r in response.json()["responses"]}
    assert len(answers) == 20 and answers["19"]["status"] == 405
    assert answers["1"]["status"] == 200 and answers["1"]["body"]["@odata.nextLink"].startswith(server.graph_base)
    inner = [r for r in server.request_log if r.in_batch]
    assert len(inner) == 20 and {r.tenant_id for r in inner} == {tenant_id}
    assert ("DELETE", "/v1.0/users") in {(r.method, r.path) for r in inner}
    assert [r for r in server.request_log if not r.in_batch][-1].path == "/v1.0/$batch"


def test_batch_of_twenty_one_is_refused(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    requests_ = [{"id": str(n), "method": "GET", "url": "/users"} for n in range(21)]
    response = graph(tenant_of("Contoso Retail"), "/$batch", method="POST", json={"requests": requests_})
    assert response.status_code == 400


def test_beta_defender_is_served_but_needs_its_permission(graph: Graph, server: EmulatorServer,
                                                          tenant_of: Callable[[str], str]) -> None:
    url = f"{server.authority_host}/beta/roleManagement/defender/roleAssignments"
    assert graph(tenant_of("Contoso Retail"), url).status_code == 403


def test_member_type_b2b_users_need_the_advanced_query(graph: Graph, tenant_of: Callable[[str], str]) -> None:
    """The catalogue's query for member-type B2B users (audit/resources.py) as Graph answers it:
    `ne` without ConsistencyLevel: eventual, or without $count=true, is a 400 (aad-advanced-queries)."""
    from urllib.parse import parse_qsl, urlsplit

    from audit.resources import resource
    path = resource("external_members").reduced.path      # type: ignore[union-attr]
    params = dict(parse_qsl(urlsplit(path).query))
    tenant_id = tenant_of("Fabrikam Health")
    no_header = graph(tenant_id, "/users", params=params)
    assert no_header.status_code == 400 and no_header.json()["error"]["code"] == "Request_UnsupportedQuery"
    no_count = graph(tenant_id, "/users", params={k: v for k, v in params.items() if k != "$count"},
                     headers={"ConsistencyLevel": "eventual"})
    assert no_count.status_code == 400 and "endsWith" in no_count.json()["error"]["message"]
    ignored = graph(tenant_id, "/users", params={"$count": "true", "$top": "1"})    # no header: $count ignored
    assert ignored.status_code == 200 and "@odata.count" not in ignored.json()
    body = graph(tenant_id, "/users", params=params, headers={"ConsistencyLevel": "eventual"}).json()
    (synced,) = body["value"]
    assert body["@odata.count"] == 1
    assert synced["userType"] == "Member" and synced["creationType"] == "Invitation" and "#EXT#" in \
        synced["userPrincipalName"] and synced["externalUserStateChangeDateTime"] == synced["createdDateTime"]


def test_a_role_holding_groups_transitive_members(graph: Graph, estate: Estate,
                                                  tenant_of: Callable[[str], str]) -> None:
    from audit.resources import GLOBAL_ADMIN, resource
    tenant_id = tenant_of("Adatum Logistics")
    assignments, _ = all_pages(graph, tenant_id, "/roleManagement/directory/roleAssignments",
                               params={"$expand": "principal"})
    fanout = resource("role_group_members")
    (held,) = [a for a in assignments if fanout.fans_out_over(a, frozenset())
               and a["roleDefinitionId"] == GLOBAL_ADMIN]
    assert held["principal"]["isAssignableToRole"] is True
    members, _ = all_pages(graph, tenant_id, "/" + fanout.child_path(held, None))
    assert sorted(m["userType"] for m in members) == ["Guest", "Member"]
    assert all(m["@odata.type"] == "#microsoft.graph.user" and "accountEnabled" in m for m in members)
