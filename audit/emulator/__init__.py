"""Microsoft Graph emulator and synthetic MSSP estate (DESIGN.md: "Without a real tenant…").

A loopback HTTPS server speaking Entra's token endpoint and the Graph v1.0 shapes of
reference/graph-api.md, serving a generated estate of customer tenants with planted problems.
Importing this package creates nothing; build an estate, then start an ``EmulatorServer``.
"""

from __future__ import annotations

from audit.emulator.certs import (
    AppCertificate,
    TlsFiles,
    make_app_certificate,
    make_tls_files,
)
from audit.emulator.estate import (
    ANALYST_DOMAIN,
    CORPORATE_DOMAIN,
    NORMAL_ROLES,
    PARTNER_EXTRA_ROLES,
    AppRegistration,
    CustomerInfo,
    Estate,
    Faults,
    Plant,
    TenantData,
    generate_estate,
)
from audit.emulator.server import EmulatorServer, LoggedRequest, RequestLog

__all__ = [
    "ANALYST_DOMAIN",
    "CORPORATE_DOMAIN",
    "NORMAL_ROLES",
    "PARTNER_EXTRA_ROLES",
    "AppCertificate",
    "AppRegistration",
    "CustomerInfo",
    "EmulatorServer",
    "Estate",
    "Faults",
    "LoggedRequest",
    "Plant",
    "RequestLog",
    "TenantData",
    "TlsFiles",
    "generate_estate",
    "make_app_certificate",
    "make_tls_files",
]
