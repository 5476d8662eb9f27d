"""Tenant-wide settings: authorization policy (§4), cross-tenant access (§5), directory
roles (§6) and licences (§7)."""

from __future__ import annotations

import base64
import uuid

from audit.emulator._gen_common import MSSP_DISPLAY, Ctx, GraphObject
from audit.emulator._gen_people import People
from audit.emulator._profiles import Plan, Plant

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"
GUEST_INVITER = "95e79109-95c0-4d8e-aee3-d01accf2d47b"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
ROLE_NAMES: dict[str, str] = {
    GLOBAL_ADMIN: "Global Administrator",
    SECURITY_ADMIN: "Security Administrator",
    SECURITY_READER: "Security Reader",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    GUEST_INVITER: "Guest Inviter",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    DIRECTORY_READERS: "Directory Readers",
}

# guestUserRoleId values (§4)
GUEST_ROLE_MEMBER = "a0b1b346-4d3e-4e8b-98f8-753987be4970"
GUEST_ROLE_RESTRICTED = "2af84b1e-32c8-42b7-82bc-daa82404023b"

# Service plans and SKUs (§7). P2 is detected by the AAD_PREMIUM_P2 *plan*, not the SKU name.
PLAN_P1 = ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM")
PLAN_P2 = ("eec0eb4f-6444-4f95-aba0-50c24d67f998", "AAD_PREMIUM_P2")
_EXCHANGE = ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE")
_TEAMS = ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1")
_SHAREPOINT = ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE")
_INTUNE = ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A")
_MDE = ("871d91ec-ec1a-452b-a83f-bd76c7d770ef", "WINDEFATP")
_CLOUD_APP = ("932ad362-64a8-4783-9106-97849a1a30b9", "ADALLOM_S_DISCOVERY")
SKUS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "SPE_E5": ("06ebc4ee-1bb5-47dd-8120-11324bc54e06",
               (PLAN_P1, PLAN_P2, _EXCHANGE, _TEAMS, _SHAREPOINT, _INTUNE, _MDE)),
    "SPE_E3": ("05e9a617-0261-4cee-bb44-138d3ef5d965", (PLAN_P1, _EXCHANGE, _TEAMS, _SHAREPOINT, _INTUNE)),
    "AAD_PREMIUM_P2": ("84a661c4-e949-4bd2-a560-ed7766fcaf2b", (PLAN_P1, PLAN_P2, _CLOUD_APP)),
    "ENTERPRISEPACK": ("6fd2c87f-b296-42f0-b197-1e91e994b900", (_EXCHANGE, _TEAMS, _SHAREPOINT)),
    "EMSPREMIUM": ("b05e124f-c7cc-45a0-a6aa-8cf78c946968", (PLAN_P1, PLAN_P2, _INTUNE, _CLOUD_APP)),
}
SUSPENDED_EMS_UNITS = 25


def authorization_policy(plan: Plan) -> GraphObject:
    return {
        "id": "authorizationPolicy",
        "displayName": "Authorization Policy",
        "description": "Used to manage authorization related settings across the company.",
        "allowInvitesFrom": "everyone" if plan.has(Plant.GUESTS_CAN_INVITE) else "adminsAndGuestInviters",
        "allowedToSignUpEmailBasedSubscriptions": plan.has(Plant.EMAIL_SIGNUP),
        "allowedToUseSSPR": True,
        "allowEmailVerifiedUsersToJoinOrganization": False,
        "allowUserConsentForRiskyApps": False,
        "blockMsolPowerShell": True,
        "defaultUserRolePermissions": {
            "allowedToCreateApps": False, "allowedToCreateSecurityGroups": False,
            "allowedToCreateTenants": False, "allowedToReadBitlockerKeysForOwnedDevice": True,
            "allowedToReadOtherUsers": True,
            "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-low"],
        },
        "guestUserRoleId": GUEST_ROLE_MEMBER if plan.has(Plant.GUEST_ROLE_MEMBER) else GUEST_ROLE_RESTRICTED,
    }


def _b2b(access: str, users: str = "AllUsers", apps: str = "AllApplications") -> GraphObject:
    return {
        "usersAndGroups": {"accessType": access, "targets": [{"target": users, "targetType": "user"}]},
        "applications": {"accessType": access, "targets": [{"target": apps, "targetType": "application"}]},
    }


def cross_tenant(
    ctx: Ctx, plan: Plan, mssp_tenant_id: str,
) -> tuple[GraphObject, list[GraphObject], dict[str, GraphObject]]:
    """(default, partners, identity sync by partner tenant id)."""
    default = {
        "isServiceDefault": False,
        "inboundTrust": {"isMfaAccepted": False, "isCompliantDeviceAccepted": False,
                         "isHybridAzureADJoinedDeviceAccepted": False},
        "b2bCollaborationInbound": _b2b("allowed"),
        "b2bCollaborationOutbound": _b2b("allowed"),
        "b2bDirectConnectInbound": _b2b("blocked"),
        "b2bDirectConnectOutbound": _b2b("blocked"),
        # Read-only and always false in the default configuration (§5).
        "automaticUserConsentSettings": {"inboundAllowed": False, "outboundAllowed": False},
        "invitationRedemptionIdentityProviderConfiguration": {
            "primaryIdentityProviderPrecedenceOrder": ["azureActiveDirectory", "externalFederation",
                                                       "socialIdentityProviders"],
            "fallbackIdentityProvider": "defaultConfiguredIdp",
        },
        "tenantRestrictions": None,
    }
    sync_allowed = plan.has(Plant.IDENTITY_SYNC)
    mssp = {
        "tenantId": mssp_tenant_id,
        "isServiceProvider": True,
        "isInMultiTenantOrganization": False,
        "inboundTrust": {"isMfaAccepted": not plan.has(Plant.MFA_NOT_TRUSTED), "isCompliantDeviceAccepted": False,
                         "isHybridAzureADJoinedDeviceAccepted": False},
        # null = inherit from the default configuration (§5)
        "b2bCollaborationInbound": None, "b2bCollaborationOutbound": None,
        "b2bDirectConnectInbound": None, "b2bDirectConnectOutbound": None,
        "automaticUserConsentSettings": {"inboundAllowed": sync_allowed, "outboundAllowed": False},
        "tenantRestrictions": None,
    }
    partners = [mssp]
    if plan.members >= 100:
        partners.append({
            "tenantId": ctx.uuid(), "isServiceProvider": False, "isInMultiTenantOrganization": False,
            "inboundTrust": None, "b2bCollaborationInbound": _b2b("allowed"), "b2bCollaborationOutbound": None,
            "b2bDirectConnectInbound": None, "b2bDirectConnectOutbound": None,
            "automaticUserConsentSettings": {"inboundAllowed": False, "outboundAllowed": False},
            "tenantRestrictions": None,
        })
    sync: dict[str, GraphObject] = {}
    if sync_allowed:
        sync[mssp_tenant_id] = {"tenantId": mssp_tenant_id, "displayName": MSSP_DISPLAY,
                                "userSyncInbound": {"isSyncAllowed": True}}
    return default, partners, sync


def _sku(ctx: Ctx, tenant_id: str, part: str, enabled: int, consumed: int, *, status: str = "Enabled",
         disabled: tuple[str, ...] = ()) -> GraphObject:
    """One SKU; `status` moves every prepaid unit to that state (licenseUnitsDetail), `disabled` names plans
    whose provisioningStatus is Disabled."""
    sku_id, plans = SKUS[part]
    field = {"Enabled": "enabled", "Warning": "warning", "Suspended": "suspended", "LockedOut": "lockedOut"}[status]
    units = {"enabled": 0, "suspended": 0, "warning": 0, "lockedOut": 0} | {field: enabled}
    return {
        "id": f"{tenant_id}_{sku_id}",
        "accountId": tenant_id,
        "accountName": tenant_id[:8],
        "appliesTo": "User",
        "capabilityStatus": status,
        "consumedUnits": consumed,
        "prepaidUnits": units,
        "servicePlans": [{"servicePlanId": pid, "servicePlanName": name,
                          "provisioningStatus": "Disabled" if name in disabled else "Success",
                          "appliesTo": "User"} for pid, name in plans],
        "skuId": sku_id,
        "skuPartNumber": part,
        "subscriptionIds": [ctx.uuid()],
    }


def subscribed_skus(ctx: Ctx, plan: Plan, tenant_id: str) -> list[GraphObject]:
    members = plan.members
    need = plan.required_p2
    if plan.licence == "o365" or plan.has(Plant.NO_P2):
        return [_sku(ctx, tenant_id, "ENTERPRISEPACK", members + 2, members)]
    if plan.licence == "e5":
        # Expiring: the whole estate's P2 is in the grace period; disabled: the E5 carries P1 but not P2.
        status = "Warning" if plan.has(Plant.P2_EXPIRING) else "Enabled"
        disabled = (PLAN_P2[1],) if plan.has(Plant.E5_P2_DISABLED) else ()
        skus = [_sku(ctx, tenant_id, "SPE_E5", members + 10, members, status=status, disabled=disabled),
                _sku(ctx, tenant_id, "AAD_PREMIUM_P2", need + 2, 2, status=status)]
        if plan.has(Plant.P2_SUSPENDED_SKU):
            skus.append(_sku(ctx, tenant_id, "EMSPREMIUM", SUSPENDED_EMS_UNITS, 0, status="Suspended"))
        return skus
    p2 = max(1, need // 2) if plan.has(Plant.TOO_FEW_P2) else need
    return [_sku(ctx, tenant_id, "SPE_E3", members + 5, members),
            _sku(ctx, tenant_id, "AAD_PREMIUM_P2", p2, 1)]


def _assignment_id(role_id: str, principal_id: str) -> str:
    # Real ids are base64url of the two GUIDs plus a suffix, e.g. "lAPpYvVp…SGHI-1" (§6 examples).
    raw = uuid.UUID(role_id).bytes_le + uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") + "-1"


def _principal(obj: GraphObject, kind: str) -> GraphObject:
    principal = {"@odata.type": f"#microsoft.graph.{kind}", "id": obj["id"], "displayName": obj["displayName"]}
    if kind == "user":
        principal.update(userPrincipalName=obj["userPrincipalName"], userType=obj["userType"],
                         mail=obj["mail"], accountEnabled=obj["accountEnabled"], creationType=obj["creationType"],
                         externalUserState=obj["externalUserState"])
    elif kind == "group":
        principal.update(securityEnabled=True, isAssignableToRole=True, mail=None)
    else:
        principal.update(appId=obj["appId"], servicePrincipalType="Application")
    return principal


def role_assignments(
    ctx: Ctx, plan: Plan, people: People, tenant_id: str, *, admin_group: GraphObject,
    global_admin_group: GraphObject | None = None,
) -> list[GraphObject]:
    grants: list[tuple[str, GraphObject, str]] = [(GLOBAL_ADMIN, admin, "user") for admin in people.admins]
    if global_admin_group is not None:
        # Global Administrator on a role-assignable group (activated through PIM for Groups, §6).
        grants.append((GLOBAL_ADMIN, global_admin_group, "group"))
    if people.setup_admin is not None:
        grants.append((GLOBAL_ADMIN, people.setup_admin, "user"))
    if plan.has(Plant.GUEST_GLOBAL_ADMIN) and people.analysts:
        grants.append((GLOBAL_ADMIN, people.analysts[0], "user"))
    grants.append((SECURITY_ADMIN, admin_group, "group"))
    if len(people.members) > len(people.admins):
        grants.append((GUEST_INVITER, people.members[len(people.admins)], "user"))
    connector = {"id": ctx.uuid(), "displayName": "Backup Connector", "appId": ctx.uuid()}
    grants.append((DIRECTORY_READERS, connector, "servicePrincipal"))
    return [
        {
            "id": _assignment_id(role, principal["id"]),
            "principalId": principal["id"],
            "roleDefinitionId": role,
            "directoryScopeId": "/",
            "appScopeId": None,
            "condition": None,
            "principalOrganizationId": tenant_id,
            "principal": _principal(principal, kind),     # navigation property ($expand=principal)
        }
        for role, principal, kind in grants
    ]


def role_definition(template_id: str) -> GraphObject:
    """The built-in ``unifiedRoleDefinition`` for a template id (its id equals the template id)."""
    return {
        "id": template_id, "templateId": template_id, "displayName": ROLE_NAMES.get(template_id, "Custom role"),
        "description": ROLE_NAMES.get(template_id, "Custom role"), "isBuiltIn": template_id in ROLE_NAMES,
        "isEnabled": True, "resourceScopes": ["/"], "version": "1", "rolePermissions": [],
        "inheritsPermissionsFrom": [],
    }
