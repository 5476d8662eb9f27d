"""A run's life as a record: started (run.json), resumed under the same collection settings,
sealed once when collection completes, and evaluated from its seal (DESIGN.md, "Sealed runs")."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.config import Config, Customer
from audit.snapshot.seal import Seal, SealedTenant, SealError, read_seal, write_seal
from audit.snapshot.signing import sign_record
from audit.snapshot.store import RunStore, is_run_id, read_json, sha256_file, write_json


class RunNotFound(Exception):
    """No such run, or an id that is not a run id, or a resume the run cannot take."""


def collection_settings(config: Config) -> dict[str, object]:
    """What decides which evidence a run collects: resuming under other settings would mix two."""
    return {"cloud": config.cloud.model_dump(mode="json"), "app": config.app.model_dump(mode="json"),
            "partner_tenant_id": (config.mssp.partner_tenant_id or "").lower() or None,
            "tenants": sorted(c.tenant_id.lower() for c in config.customers)}


def resumed_run(config: Config, run_id: str | None) -> tuple[RunStore, dict[str, object]]:
    if run_id is None:
        raise RunNotFound("--resume needs a run id")
    if not is_run_id(run_id):
        raise RunNotFound(f"no run {run_id}: not a run id (they look like 20261122T020000Z-1a2b3c)")
    store = RunStore(config.output.data_dir, run_id)
    if not store.run_manifest_path.exists():
        raise RunNotFound(f"no run {run_id} under {config.output.data_dir / 'runs'}")
    started = read_json(store.run_manifest_path)
    recorded = started.get("collection")
    if recorded is not None and read_seal(store) is None:
        current = collection_settings(config)
        differs = sorted(_differences(recorded, current))
        if differs:
            raise RunNotFound(f"--resume {run_id}: the configuration differs from the one the run started with "
                              f"in {', '.join(differs)}; start a new run for it")
    return store, started


def _differences(before: object, after: object, prefix: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        return [d for key in sorted(before.keys() | after.keys())
                for d in _differences(before.get(key), after.get(key), f"{prefix}{key}.")]
    return [prefix.rstrip(".")] if before != after else []


def seal_run(config: Config, store: RunStore, started: dict[str, object], tool_version: str) -> Seal:
    """Seal the collected run: written once, never rewritten (DESIGN.md, "Sealed runs")."""
    tenants = {c.tenant_id.lower(): (c.name, False) for c in config.customers}
    if config.mssp.partner_tenant_id:
        tenants[config.mssp.partner_tenant_id.lower()] = ("MSSP partner tenant", True)
    seal = Seal(run_id=store.run_id, collected_at=datetime.fromisoformat(str(started["collected_at"])),
                started_at=datetime.fromisoformat(str(started["started_at"])), sealed_at=datetime.now(UTC),
                tool_version=tool_version, config_sha256=str(started.get("config_sha256") or ""),
                config=config.model_dump(mode="json"),
                tenants={t: SealedTenant(name, sha256_file(store.manifest_path(t)), partner)
                         for t, (name, partner) in tenants.items() if store.manifest_path(t).is_file()})
    write_seal(store, seal)
    sign_record(config.output.signing_key, store.seal_path, seal.digest)
    write_json(store.run_manifest_path, {**started, "status": "sealed"})
    return seal


def sealed_run(store: RunStore) -> Seal:
    """The run's seal, or SealError saying why the run cannot be evaluated."""
    seal = read_seal(store)
    if seal is None:
        raise SealError(f"run {store.run_id} is not sealed: its collection did not finish; "
                        f"finish it with `mssp-audit run --resume {store.run_id}`")
    return seal


def run_customers(config: Config, seal: Seal, only: set[str] | None = None) -> tuple[Customer, ...]:
    """The customers the run collected, in the order it did: as the configuration describes them
    today, or as the sealed configuration did for one no longer configured."""
    current = {c.tenant_id.lower(): c for c in config.customers}
    chosen = [current.get(c.tenant_id.lower(), c) for c in sealed_config(seal).customers
              if c.tenant_id.lower() in seal.customers]
    return tuple(c for c in chosen if only is None or c.tenant_id.lower() in only)


def sealed_config(seal: Seal) -> Config:
    """The configuration the run was collected under, as sealed."""
    return Config.model_validate(seal.config)
