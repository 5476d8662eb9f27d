"""What a check's references cite, so an auditor can follow each one.

Two kinds only: a source document, cited by publisher, title and date (and the section a check
enforces), or a public documentation page, cited by its title and https address. Never an internal
file or a section of our own notes. `tests/checks/test_references.py` holds every spec to this.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A document the MSSP model comes from."""

    title: str
    publisher: str
    date: str                        # as published; "n.d." where no date could be verified
    url: str

    @property
    def citation(self) -> str:
        return f'{self.publisher}, "{self.title}", {self.date}, {self.url}'

    def section(self, name: str, quote: str = "") -> str:
        """The document at the section a check enforces, with the sentence it enforces if given."""
        cited = f"{self.citation} — § {name}"
        return f"{cited}: '{quote}'" if quote else cited


@dataclass(frozen=True)
class Page:
    """A public documentation page."""

    title: str
    url: str

    def at(self, detail: str = "") -> str:
        """'Title — detail, https://…': the page, pointing at the property a check reads."""
        title = f"{self.title} — {detail}" if detail else self.title
        return f"{title}, {self.url}"


# The two source documents. Verified against stored copies of the pages: the Tech Community post
# shows "Published Jul 20 2020" and "Last update: Aug 10 2020" (its author is not stated in the
# text); the cloudpartner.fi post names "Author: Harri Jaakkonen" but carries no date.
MSSP_ACCESS = Document(
    title="Multi-tenant access for Managed Security Service Providers",
    publisher="Microsoft Tech Community, Microsoft Defender for Endpoint Blog",
    date="20 Jul 2020 (updated 10 Aug 2020)",
    url="https://techcommunity.microsoft.com/t5/microsoft-defender-for-endpoint/"
        "multi-tenant-access-for-managed-security-service-providers/ba-p/1533440",
)
XDR_MULTI_TENANT = Document(
    title="Multi-tenant management in Microsoft Defender",
    publisher="Harri Jaakkonen, cloudpartner.fi (blog)",
    date="n.d.",
    url="https://cloudpartner.fi/?p=17393",
)
SOURCE_DOCUMENTS = (MSSP_ACCESS, XDR_MULTI_TENANT)

# Sections of MSSP_ACCESS, by the headings the post uses.
MSSP_RBAC = "Enabling Role Based Access controls in Microsoft Defender ATP"
MSSP_PACKAGES = "Configure Governance Access Packages"
MSSP_TIER1 = f"{MSSP_PACKAGES} — Create access packages for MSSP resources (Tier 1 Analyst configuration)"
MSSP_GUEST_POWERS = "Recommended Best Practices — Guest powers"
MSSP_DEDICATED_TENANT = "Recommended Best Practices — Dedicated MSSP AD tenant"
MSSP_P2 = "Things to consider prior to implementing — Entitlement Management requires AAD P2"

_GRAPH = "https://learn.microsoft.com/graph/api/resources/"


def _graph(resource: str, slug: str, beta: bool = False) -> Page:
    version, query = ("beta", "?view=graph-rest-beta") if beta else ("v1.0", "")
    return Page(f"Microsoft Graph {version}: {resource} resource type", f"{_GRAPH}{slug}{query}")


# Microsoft Graph pages, by the resource a check reads. Each address was found in the
# documentation index except USER (only its beta view was found; the v1.0 path is the same page).
ACCESS_PACKAGE_ASSIGNMENT = _graph("accessPackageAssignment", "accesspackageassignment")
ASSIGNMENT_POLICY = _graph("accessPackageAssignmentPolicy", "accesspackageassignmentpolicy")
AUTHORIZATION_POLICY = _graph("authorizationPolicy", "authorizationpolicy")
CONNECTED_ORGANIZATION = _graph("connectedOrganization", "connectedorganization")
CROSS_TENANT_INBOUND_TRUST = _graph("crossTenantAccessPolicyInboundTrust", "crosstenantaccesspolicyinboundtrust")
CROSS_TENANT_SYNC = _graph("crossTenantIdentitySyncPolicyPartner", "crosstenantidentitysyncpolicypartner")
DEFENDER_RBAC = _graph("unifiedRbacApplicationMultiple", "unifiedrbacapplicationmultiple", beta=True)
EM_SETTINGS = _graph("entitlementManagementSettings", "entitlementmanagementsettings")
EXPIRATION_PATTERN = _graph("expirationPattern", "expirationpattern")
GDAP_ACCESS_ASSIGNMENT = _graph("delegatedAdminAccessAssignment", "delegatedadminaccessassignment")
GDAP_RELATIONSHIP = _graph("delegatedAdminRelationship", "delegatedadminrelationship")
REVIEW_DECISION = _graph("accessReviewInstanceDecisionItem", "accessreviewinstancedecisionitem")
REVIEW_DEFINITION = _graph("accessReviewScheduleDefinition", "accessreviewscheduledefinition")
REVIEW_INSTANCE = _graph("accessReviewInstance", "accessreviewinstance")
ROLE_ASSIGNMENT = _graph("unifiedRoleAssignment", "unifiedroleassignment")
SIGN_IN_ACTIVITY = _graph("signInActivity", "signinactivity")
SUBSCRIBED_SKU = _graph("subscribedSku", "subscribedsku")
LICENSE_UNITS = _graph("licenseUnitsDetail", "licenseunitsdetail")
SERVICE_PLAN = _graph("servicePlanInfo", "serviceplaninfo")
USER = _graph("user", "user")
UX_SETTING = _graph("uxSetting", "uxsetting", beta=True)
GDAP_OVERVIEW = Page("Microsoft Graph v1.0: Granular delegated admin privileges (GDAP) API overview",
                     f"{_GRAPH}delegatedadminrelationships-api-overview")
GROUPS = Page("Microsoft Graph v1.0: Working with groups in Microsoft Graph", f"{_GRAPH}groups-overview")
TRANSITIVE_MEMBERS = Page("Microsoft Graph v1.0: List group transitive members",
                          "https://learn.microsoft.com/graph/api/group-list-transitivemembers")
PERMISSIONS = Page("Microsoft Graph permissions reference", "https://learn.microsoft.com/graph/permissions-reference")

# Microsoft Entra documentation. Neither page was found in the documentation index: the first is
# cited by this title and address in other tools' documentation, the second is unverified.
_ENTRA = "https://learn.microsoft.com/entra/identity/"
INACTIVE_USERS = Page("Microsoft Entra: Manage inactive user accounts in Microsoft Entra ID",
                      f"{_ENTRA}monitoring-health/howto-manage-inactive-user-accounts")
B2B_USER_PROPERTIES = Page("Microsoft Entra External ID: Properties of a Microsoft Entra B2B collaboration user",
                           "https://learn.microsoft.com/entra/external-id/user-properties")
LICENSING_PLANS = Page("Microsoft Entra: Product names and service plan identifiers for licensing",
                       f"{_ENTRA}users/licensing-service-plan-reference")
