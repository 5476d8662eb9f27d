"""Error bodies in the two shapes clients meet: Graph's ``{"error": {...}}`` and Entra's OAuth one."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any


class GraphError(Exception):
    """A Graph failure: becomes ``{"error": {"code", "message", "innerError"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def graph_error_body(code: str, message: str, *, request_id: str, client_request_id: str | None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": _now().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def unsupported_query(message: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def not_found(resource: str) -> GraphError:
    return GraphError(
        404, "Request_ResourceNotFound",
        f"Resource '{resource}' does not exist or one of its queried reference-property objects are not present.",
    )


def unknown_segment(segment: str) -> GraphError:
    # What Graph answers for a path it does not know: 400, not 404.
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def expired_page_token() -> GraphError:
    # Directory's answer to a skip token it no longer honours (also used for the broken-chain fault).
    return GraphError(400, "Directory_ExpiredPageToken",
                      "The specified page token value has expired and can no longer be included in your request.")


def forbidden(permission: str) -> GraphError:
    return GraphError(
        403, "Authorization_RequestDenied",
        f"Insufficient privileges to complete the operation. Requires {permission}.",
    )


def method_not_allowed() -> GraphError:
    return GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")


# Known AADSTS codes: (HTTP status, OAuth error, description template).
AADSTS: dict[int, tuple[int, str, str]] = {
    50027: (400, "invalid_request", "JWT token is invalid or malformed."),
    1002012: (400, "invalid_scope", "The provided value for scope {detail_scope} is not valid. Client credential "
                                    "flows must have a scope value with /.default suffixed to the resource identifier "
                                    "(application ID URI)."),
    70003: (400, "unsupported_grant_type", "The app requested an unsupported grant type."),
    90002: (400, "invalid_tenant", "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                                   "and are signing into the correct cloud."),
    700016: (400, "unauthorized_client", "Application with identifier '{client_id}' was not found in the directory "
                                         "'{tenant}'. This can happen if the application has not been installed by the "
                                         "administrator of the tenant or consented to by any user in the tenant."),
    700024: (400, "invalid_client", "Client assertion is not within its valid time range."),
    700027: (401, "invalid_client", "The certificate with identifier used to sign the client assertion is not "
                                    "registered on application, or the signature is invalid."),
    7000215: (401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request "
                                     "is the client secret value, not the client secret ID, for a secret added to "
                                     "app '{client_id}'."),
    7000218: (401, "invalid_client", "The request body must contain the following parameter: 'client_assertion' "
                                     "or 'client_secret'."),
    7000229: (400, "invalid_client", "The client application {client_id} is missing service principal in the "
                                     "tenant {tenant}."),
    65001: (400, "invalid_grant", "The user or administrator has not consented to use the application with ID "
                                  "'{client_id}'."),
}


def aadsts_code(text: str) -> int:
    """``"AADSTS7000229"`` (or ``"7000229"``) -> 7000229."""
    digits = text.upper().removeprefix("AADSTS")
    if not digits.isdigit():
        raise ValueError(f"not an AADSTS code: {text!r}")
    return int(digits)


def entra_error(
    code: int, *, tenant: str, client_id: str, detail: str = "", scope: str = "",
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of an Entra token-endpoint failure, as MSAL receives it."""
    status, error, template = AADSTS.get(code, (400, "invalid_request", "Emulated failure."))
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = _now()
    text = template.format(tenant=tenant, client_id=client_id, detail_scope=scope)
    description = f"AADSTS{code}: {text}"
    if detail:
        description += f" {detail}"
    description += f" Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}"
    return status, {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
