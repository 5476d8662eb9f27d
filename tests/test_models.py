"""audit.models: the one meaning of a collection error and of a "tenant with errors"."""

from __future__ import annotations

import pytest

from audit.models import ResourceStatus, is_collection_error, tenant_errors


@pytest.mark.parametrize(("status", "absent_ok", "error"), [
    (ResourceStatus.OK, False, False),
    (ResourceStatus.FORBIDDEN, False, True),
    (ResourceStatus.FAILED, False, True),
    (ResourceStatus.NOT_FOUND, False, True),        # the object should exist (e.g. authorizationPolicy)
    (ResourceStatus.NOT_FOUND, True, False),        # Graph's answer "no sync policy": evidence of absence
    (ResourceStatus.NOT_LICENSED, False, False),    # a fact about the tenant: its checks are NOT_APPLICABLE
    (ResourceStatus.SKIPPED, False, False),         # opt-in, or under a parent that is itself the error
    ("forbidden", False, True),                     # as a view-model or run.json states it
])
def test_a_collection_error_is_evidence_that_should_have_been_read(status: ResourceStatus | str, absent_ok: bool,
                                                                    error: bool) -> None:
    assert is_collection_error(status, absent_ok=absent_ok) is error


def test_a_tenant_with_errors_says_why() -> None:
    assert tenant_errors(reachable=True) == ()
    assert tenant_errors(reachable=False, reason="AADSTS7000229: no service principal") == (
        "not reached: AADSTS7000229: no service principal",)
    assert tenant_errors(reachable=True, error_results=1, unread=("guest_sign_ins",)) == (
        "1 result(s) ERROR", "not read: guest_sign_ins")
    assert tenant_errors(reachable=True, failure="PDF rendering failed: OSError: disk full") == (
        "PDF rendering failed: OSError: disk full",)
