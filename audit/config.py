"""The TOML configuration, validated with pydantic.

A bad file never gets further than `load_config`: it raises `ConfigError` whose message is one
line naming the file and the key, and the CLI turns that into exit code 2.
Secrets never live in the TOML: the certificate is a file path, the client secret an env var name.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TenantId = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")]

# graph-api.md §11 "National clouds": the app must be registered in that cloud and ask for that
# cloud's Graph host in its .default scope.
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "dod": ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}


class ConfigError(Exception):
    """One line that names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MsspSettings(_Strict):
    analyst_tenant_id: TenantId
    partner_tenant_id: TenantId | None = None        # where GDAP relationships are read
    corporate_tenant_ids: tuple[TenantId, ...] = ()
    analyst_domains: tuple[str, ...] = ()             # mail domains of the analyst tenant's accounts
    corporate_domains: tuple[str, ...] = ()           # guests from these are a finding (seed: dedicated tenant)
    # Seed, "Dedicated MSSP AD tenant": a username like a-JoshX identifies without projecting PII.
    analyst_username_pattern: str = r"^a-[A-Za-z]+\d+$"
    catalog: str = "MSSP Accesses"
    tier1_package: str = "Tier 1 Analyst"
    tier2_package: str = "Tier 2 Analyst"
    approvers_package: str = "MSSP Analyst Approvers"
    tier1_group: str = "Tier 1 Analyst"
    tier2_group: str = "Tier 2 Analyst"
    approvers_group: str = "MSSP Analyst Approvers"

    @field_validator("analyst_username_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        return value


class AppSettings(_Strict):
    client_id: TenantId
    # The certificate as people hold it: one PEM with the private key and the certificate; a
    # certificate PEM plus private_key_path; or a PFX/PKCS#12 file. Its thumbprint is computed.
    certificate_path: Path | None = None
    private_key_path: Path | None = None             # a separate PEM private key for certificate_path
    certificate_password_env: str | None = None      # the *name* of the variable holding the PFX/key password
    certificate_thumbprint: str | None = None        # refused: the thumbprint is computed, never typed
    client_secret_env: str | None = None             # fallback: the *name* of an environment variable

    @model_validator(mode="after")
    def _one_credential(self) -> AppSettings:
        if self.certificate_thumbprint is not None:
            raise ValueError("app.certificate_thumbprint is not read: the thumbprint is computed from the "
                             "certificate; remove the key")
        if self.certificate_path is None and self.client_secret_env is None:
            raise ValueError("set certificate_path (preferred) or client_secret_env")
        if self.certificate_path is not None and self.client_secret_env is not None:
            # Which one would be used is not obvious from the file: say so instead of choosing silently.
            raise ValueError("app.certificate_path and app.client_secret_env are both set; keep one "
                             "(the certificate is preferred)")
        if self.certificate_path is None and (self.private_key_path or self.certificate_password_env):
            raise ValueError("app.private_key_path and app.certificate_password_env need app.certificate_path")
        return self


class CloudSettings(_Strict):
    name: Literal["global", "usgov", "dod", "china", "custom"] = "global"
    authority_host: str | None = None
    graph_host: str | None = None                    # e.g. https://graph.microsoft.com
    graph_base: str | None = None                    # defaults to graph_host + /v1.0
    ca_bundle: Path | None = None                    # corporate TLS inspection, or the emulator's CA

    @model_validator(mode="after")
    def _custom_needs_hosts(self) -> CloudSettings:
        if self.name == "custom" and not (self.authority_host and self.graph_host):
            raise ValueError("a custom cloud needs authority_host and graph_host")
        return self

    @property
    def authority(self) -> str:
        return (self.authority_host or CLOUDS[self.name][0]).rstrip("/")

    @property
    def graph(self) -> str:
        return (self.graph_host or CLOUDS[self.name][1]).rstrip("/")

    @property
    def base_url(self) -> str:
        return (self.graph_base or f"{self.graph}/v1.0").rstrip("/")

    @property
    def scope(self) -> str:
        # The .default scope always names the real Graph host of the cloud (graph-api.md §11).
        return f"{self.graph}/.default"


class Thresholds(_Strict):
    stale_guest_days: int = Field(90, ge=1)
    expiry_warning_days: int = Field(30, ge=1)
    max_assignment_days: int = Field(365, ge=1)
    pending_request_days: int = Field(14, ge=1)
    pending_invitation_days: int = Field(30, ge=1)
    review_max_age_days: int = Field(365, ge=1)
    global_admins_min: int = Field(2, ge=0)
    global_admins_max: int = Field(4, ge=1)
    gdap_warning_days: int = Field(30, ge=1)


class Expectations(_Strict):
    # Seed, "Guest Lifecycle": do not block sign-in when the last package expires, so analysts can
    # request again. An MSSP that prefers the stricter default says so here.
    external_user_lifecycle_action: Literal["none", "blockSignIn", "blockSignInAndDelete"] = "none"
    licence_model: Literal["legacy", "mau"] = "legacy"
    collect_defender_rbac: bool = False              # beta API; opt-in only
    # Seed, "Has annual access reviews": what an unanswered review does to the analyst's access.
    review_expiration_behavior: Literal["removeAccess", "acceptAccessRecommendation", "keepAccess"] = "removeAccess"


class Attestation(_Strict):
    check_id: str
    by: str
    on: date
    evidence: str


class AcceptedRisk(_Strict):
    check_id: str
    rationale: str
    owner: str
    expires: date


class Customer(_Strict):
    name: str = Field(min_length=1)
    tenant_id: TenantId
    contacts: tuple[str, ...] = ()
    auditors: tuple[str, ...] = ()                     # receive the customer's PDF when delivery is on
    current_analysts: int | None = Field(None, ge=0)   # default: MSSP guests counted in the tenant
    projected_growth: int = Field(0, ge=0)
    setup_admin: str | None = None                      # the temporary GA that must be gone
    attestations: tuple[Attestation, ...] = ()
    accepted_risks: tuple[AcceptedRisk, ...] = ()


class OutputSettings(_Strict):
    data_dir: Path = Path("mssp-audit-data")
    metrics_file: Path | None = None                 # Prometheus textfile collector, e.g. /var/lib/node_exporter/mssp_audit.prom
    # The PDF shows each finding's first rows and lists the evidence tables; the workbook has every row.
    pdf_evidence_rows: int = Field(10, ge=0, le=500)
    pdf_appendix_rows: int = Field(0, ge=0, le=1000)  # > 0 adds a landscape appendix: this many rows per table
    # Runs are private (0700/0600); a service group named here may read them (2750/0640).
    group: str | None = None
    # An Ed25519 private key (PEM, unencrypted PKCS#8): signs the seal and each evaluation record.
    signing_key: Path | None = None
    # Management responses per customer and check: owner, response, target date (audit/responses.py).
    responses: Path | None = None


class DeliverySettings(_Strict):
    """Mail each customer's PDF to its auditors (customers[].auditors). Off unless enabled."""

    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username_env: str | None = None                  # the NAMES of environment variables, never values
    password_env: str | None = None
    sender: str = "mssp-audit@localhost"
    ca_bundle: Path | None = None                    # trust for the SMTP server's certificate
    timeout_seconds: float = Field(60.0, gt=0)
    # MSSP-internal addresses told when a report is withheld or refused; they never get a customer's PDF.
    operators: tuple[str, ...] = ()
    # A report in which nothing could be evaluated (tenant not reached, every check ERROR) says nothing
    # about the customer's controls; it goes to the operators' notice, not to auditors, unless this is true.
    mail_unevaluated_reports: bool = False


class RetentionSettings(_Strict):
    keep_runs: int = Field(60, ge=1)                 # the newest N runs are kept…
    keep_days: int = Field(400, ge=1)                # …and none older than this (the newest always stays)
    ledger_days: int = Field(400, ge=1)              # nights of the results ledger (audit/ledger.py) kept


class CollectSettings(_Strict):
    tenant_concurrency: int = Field(8, ge=1, le=256)
    requests_per_tenant: int = Field(4, ge=1, le=32)
    max_retries: int = Field(6, ge=0, le=20)
    # Deadlines: nothing a tenant's hosts do can hold the night (DESIGN.md, "Nothing hangs").
    timeout_seconds: float = Field(60.0, gt=0)            # one Graph or token request, to its last byte
    connect_timeout_seconds: float = Field(10.0, gt=0)    # opening a connection to the authority or Graph
    tenant_deadline_seconds: float = Field(3600.0, gt=0)  # one tenant, token to last resource
    max_retry_wait_seconds: float = Field(900.0, ge=0)    # Retry-After and back-off sleeping, per tenant
    max_pages: int = Field(10_000, ge=1)                  # one page chain; more is a paging loop
    # Collector processes: 0 picks one per core for estates large enough to be worth it (parsing,
    # hashing and TLS are CPU-bound; one process is one core); 1 collects in the run's own process.
    processes: int = Field(0, ge=0, le=64)


class Config(_Strict):
    mssp: MsspSettings
    app: AppSettings
    cloud: CloudSettings = CloudSettings()
    thresholds: Thresholds = Thresholds()
    expectations: Expectations = Expectations()
    collect: CollectSettings = CollectSettings()
    output: OutputSettings = OutputSettings()
    retention: RetentionSettings = RetentionSettings()
    delivery: DeliverySettings = DeliverySettings()
    customers: tuple[Customer, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_tenants(self) -> Config:
        seen: set[str] = set()
        for index, customer in enumerate(self.customers):
            key = customer.tenant_id.lower()
            if key in seen:
                raise ValueError(f"customers[{index}].tenant_id {customer.tenant_id} is listed twice")
            seen.add(key)
        return self


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """A TOML file's table, or `error` with one line naming the file: unreadable, or not TOML."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None


def load_config(path: Path) -> Config:
    """Read and validate; relative paths in the file are taken relative to the file."""
    data = read_toml(path, "the configuration", ConfigError)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    return _resolve_paths(config, path.parent)


def config_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error["loc"]).replace(".[", "[")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"key '{key}' is missing"
    if error["type"] == "extra_forbidden":
        return f"key '{key}' is not a known setting"
    if error["type"] == "string_pattern_mismatch" and ("tenant" in key or key.endswith("client_id")):
        message = "must be a GUID like 00000000-0000-0000-0000-000000000000"
    return f"key '{key}': {message}" if key else message


def _resolve_paths(config: Config, base: Path) -> Config:
    def resolve(p: Path | None) -> Path | None:
        if p is None or p.is_absolute():
            return p
        return base / p

    app = config.app.model_copy(update={"certificate_path": resolve(config.app.certificate_path),
                                        "private_key_path": resolve(config.app.private_key_path)})
    cloud = config.cloud.model_copy(update={"ca_bundle": resolve(config.cloud.ca_bundle)})
    output = config.output.model_copy(update={"data_dir": resolve(config.output.data_dir),
                                               "metrics_file": resolve(config.output.metrics_file),
                                               "responses": resolve(config.output.responses)})
    delivery = config.delivery.model_copy(update={"ca_bundle": resolve(config.delivery.ca_bundle)})
    return config.model_copy(update={"app": app, "cloud": cloud, "output": output, "delivery": delivery})


def new_run_id(now_utc_iso: str) -> str:
    """Sortable and unique: 20261122T020000Z-1a2b3c."""
    stamp = re.sub(r"[-:]", "", now_utc_iso)[:15] + "Z"
    return f"{stamp}-{uuid.uuid4().hex[:6]}"
