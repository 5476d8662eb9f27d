"""The synthetic MSSP estate the emulator serves: ``generate_estate`` and its data classes.

The classes live in ``_model`` (the generator's modules need them too) and are re-exported
here, which is where callers import them from.
"""

from __future__ import annotations

import gc
import random
from datetime import datetime, timezone

from audit.emulator import _gen_tenant
from audit.emulator._gen_common import ANALYST_DOMAIN, CORPORATE_DOMAIN, Ctx, new_uuid
from audit.emulator._model import (
    NORMAL_ROLES,
    PARTNER_EXTRA_ROLES,
    AppRegistration,
    CustomerInfo,
    Estate,
    Faults,
    TenantData,
)
from audit.emulator._profiles import Plan, Plant, plan_customer

__all__ = [
    "ANALYST_DOMAIN",
    "CORPORATE_DOMAIN",
    "NORMAL_ROLES",
    "PARTNER_EXTRA_ROLES",
    "AppRegistration",
    "CustomerInfo",
    "Estate",
    "Faults",
    "Plant",
    "TenantData",
    "generate_estate",
]


def _aware(now: datetime) -> datetime:
    # Graph timestamps are UTC; a naive "now" is taken to be UTC rather than local time.
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


def generate_estate(
    *,
    now: datetime,
    app: AppRegistration,
    seed: int = 7,
    customers: int = 8,
    guests_per_tenant: int | None = None,
    assignments_per_tenant: int | None = None,
    reviews_per_tenant: int | None = None,
    include_broken_tenant: bool = True,
) -> Estate:
    """Build a deterministic estate: same arguments (``now`` included) give the same JSON.

    The first eight customers are the hand-designed profiles of ``_profiles.PROFILES``; further
    ones cycle through them with varied sizes. The size arguments, when given, override every
    tenant's guest, assignment and review counts (benchmarks). ``include_broken_tenant`` makes
    the eighth customer refuse tokens (AADSTS7000229, consent revoked).
    """
    if customers < 0:
        raise ValueError("customers must be >= 0")
    moment = _aware(now).replace(microsecond=0)
    master = random.Random(seed)
    mssp_tenant_id = new_uuid(master)
    partner_tenant_id = new_uuid(master)
    corporate_tenant_ids = [new_uuid(master)]
    analyst_pool = _gen_tenant.analyst_pool(master, size=max(60, guests_per_tenant or 0))
    tenant_ids = [new_uuid(master) for _ in range(customers)]
    plans = [
        plan_customer(index, seed=seed, guests=guests_per_tenant, assignments=assignments_per_tenant,
                      reviews=reviews_per_tenant, include_broken_tenant=include_broken_tenant)
        for index in range(customers)
    ]

    # The estate is millions of small acyclic dicts: the cyclic collector finds nothing in
    # them and, left on, costs a third of the generation time of a 1,000-tenant estate.
    collecting = gc.isenabled()
    gc.disable()
    try:
        tenants, infos = _build_all(plans, tenant_ids, moment, seed=seed, mssp_tenant_id=mssp_tenant_id,
                                    corporate_tenant_id=corporate_tenant_ids[0], analyst_pool=analyst_pool)
        tenants[partner_tenant_id] = _gen_tenant.build_partner(
            Ctx(random.Random(f"{seed}:partner"), moment),
            tenant_id=partner_tenant_id,
            customers=list(zip(infos, plans)),
        )
    finally:
        if collecting:
            gc.enable()
    return Estate(
        mssp_tenant_id=mssp_tenant_id,
        partner_tenant_id=partner_tenant_id,
        corporate_tenant_ids=corporate_tenant_ids,
        app=app,
        tenants=tenants,
        customers=infos,
        generated_at=moment,
    )


def _build_all(
    plans: list[Plan], tenant_ids: list[str], moment: datetime, *, seed: int, mssp_tenant_id: str,
    corporate_tenant_id: str, analyst_pool: list[tuple[str, str]],
) -> tuple[dict[str, TenantData], list[CustomerInfo]]:
    tenants: dict[str, TenantData] = {}
    infos: list[CustomerInfo] = []
    for plan, tenant_id in zip(plans, tenant_ids):
        # A private RNG per tenant: tenant N's data does not depend on how many came before,
        # and a 1,000-tenant benchmark estate starts with the same 8 demo tenants.
        ctx = Ctx(random.Random(f"{seed}:{plan.index}"), moment)
        tenants[tenant_id] = _gen_tenant.build_customer(
            ctx, plan, tenant_id=tenant_id, mssp_tenant_id=mssp_tenant_id,
            corporate_tenant_id=corporate_tenant_id, analyst_pool=analyst_pool,
        )
        infos.append(CustomerInfo(name=plan.name, tenant_id=tenant_id, current_analysts=plan.analysts,
                                  projected_growth=plan.growth, planted=plan.planted_descriptions()))
    return tenants, infos
