"""The evidence on disk (DESIGN.md, "The snapshot").

    <data_dir>/runs/<run_id>/run.json
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/manifest.json
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/raw/<resource>.jsonl
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/normalized/<table>.parquet
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/results.json
    <data_dir>/runs/<run_id>/reports/…

Every write is atomic (temp file in the same directory, fsync, rename), so a `kill -9` leaves
either the old file or the new one, never half of one. Raw files are never edited once committed.
A write that fails (disk full, quota, file size limit, the OS refusing) removes its temp file and
raises `StorageError` naming the file: what was committed before stays, and the run can resume.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from audit.models import ResourceRecord, TenantManifest

_TENANT_DIR = re.compile(r"^[0-9a-fA-F-]{36}$")
# What audit.config.new_run_id makes: a run id is a name, never a path.
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
# Out of space, out of quota, past RLIMIT_FSIZE: the disk's state, never the file's content.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class StorageError(Exception):
    """A file could not be written: `path` is the file meant (not its temp name), `reason` the OS's."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(str(path), reason)      # plain args: it crosses back from a render worker
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"

    @classmethod
    def of(cls, path: Path, error: OSError) -> StorageError:
        return cls(path, error.strerror or str(error))


# Private by default (DESIGN.md, "Sealed runs"): a run is 0700/0600, or 2750/0640 when the
# configuration names a service group ([output] group) that may read it.
_group_readable = False


def file_mode() -> int:
    return 0o640 if _group_readable else 0o600


@contextmanager
def private_files(group: str | None = None) -> Iterator[None]:
    """Create every file and directory of the block owner-only (group-readable with `group`):
    the umask narrows what reports and directories get, file_mode() what our temp files get."""
    global _group_readable
    previous_umask, previous = os.umask(0o027 if group else 0o077), _group_readable
    _group_readable = group is not None
    try:
        yield
    finally:
        os.umask(previous_umask)
        _group_readable = previous


def make_run_dir(root: Path, group: str | None = None) -> None:
    """The run directory, 0700; with `group`, owned by that group, 2750 (setgid: what is created in
    it belongs to the group too). Raises KeyError for a group that does not exist."""
    root.mkdir(parents=True, exist_ok=True)
    if group is None:
        os.chmod(root, 0o700)
        return
    import grp
    os.chown(root, -1, grp.getgrnam(group).gr_gid)
    os.chmod(root, 0o2750)


def remove_partial_writes(root: Path) -> list[Path]:
    """Delete the temp files (`.<name>.<random>.part`) an interrupted write left under `root`.
    Only ever called under the data directory's lock, when no write of ours is in progress."""
    removed = []
    for path in sorted(root.rglob(".*.part")) if root.is_dir() else ():
        if path.is_file() and not path.is_symlink():
            with suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def is_write_error(error: OSError, path: Path, tmp: str | os.PathLike[str] | None) -> bool:
    """Whether an OSError raised while `path` was being written is about writing it: out of space,
    or about the file, its temp file or a directory above it, or with no file named (a write on an
    open descriptor). Not, say, a font the PDF renderer could not read on the way."""
    if error.errno in NO_SPACE or error.filename is None:
        return True
    named = Path(os.fsdecode(error.filename))
    return named == path or named in path.parents or (tmp is not None and named == Path(tmp))


def discard(tmp: str | os.PathLike[str] | None) -> None:
    """Remove a temp file if there is one; failing to (its directory is gone) changes nothing."""
    if tmp is not None:
        with suppress(OSError):
            os.unlink(tmp)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temp file beside `path`; rename over it on success, delete it on failure."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        discard(tmp)
        if is_write_error(error, path, tmp):
            raise StorageError.of(path, error) from error
        raise
    except BaseException:
        discard(tmp)
        raise


def write_json(path: Path, data: Any) -> str:
    """Atomic, stable JSON; returns the sha256 of what was written."""
    blob = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_default).encode()
    with atomic_open(path, "wb") as handle:
        handle.write(blob)
    return hashlib.sha256(blob).hexdigest()


def write_json_once(path: Path, data: Any) -> str:
    """Like write_json, but a file already at `path` is never replaced: FileExistsError instead."""
    blob = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_default).encode()
    write_bytes_once(path, blob)
    return hashlib.sha256(blob).hexdigest()


def write_bytes_once(path: Path, blob: bytes) -> None:
    """Create `path` holding `blob`, never replacing a file already there (FileExistsError). The
    complete file appears under its name at once: a hard link of the finished temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as error:
        if is_write_error(error, path, tmp):
            raise StorageError.of(path, error) from error
        raise
    finally:
        discard(tmp)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class RawWriter:
    """Streams Graph pages into raw/<resource>.jsonl, one page a line, hashing as it goes.

    The file only appears under its real name when `commit()` is called: an aborted or crashed
    collection leaves nothing a later stage could mistake for complete evidence.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            os.fchmod(fd, file_mode())
        except OSError as error:
            raise StorageError.of(path, error) from error
        self._handle = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.lines = 0
        self.items = 0

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self._digest.update(line)
        try:
            self._handle.write(line)
        except OSError as error:
            self.abort()
            raise StorageError.of(self.path, error) from error
        self.lines += 1
        page = record.get("page")
        if isinstance(page, dict) and isinstance(page.get("value"), list):
            self.items += len(page["value"])

    def commit(self, path: Path | None = None) -> str:
        """Publish the file under its name (or `path`, e.g. the partial pages of a failed chain)."""
        target = path or self.path
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self._tmp, target)
        except OSError as error:
            self.abort()
            raise StorageError.of(target, error) from error
        return self._digest.hexdigest()

    def abort(self) -> None:
        if not self._handle.closed:
            # Closing flushes what is buffered, which fails again on a full disk; the descriptor
            # is closed all the same, and the temp file goes either way.
            with suppress(OSError):
                self._handle.close()
        discard(self._tmp)


def iter_raw(path: Path) -> Iterator[dict[str, Any]]:
    """The stored page records of a raw file, in order."""
    with path.open("rb") as handle:
        for line in handle:
            yield json.loads(line)


def is_run_id(run_id: str) -> bool:
    return bool(RUN_ID.fullmatch(run_id))


class RunStore:
    """Paths and manifests of one run.

    The evidence (manifests, raw files, the seal) is the run's own; what an evaluation writes
    (normalised tables, results, reports) goes under `out_root`: the run directory for the run's
    first evaluation, `evaluations/<id>/` for every later one, so nothing earlier is overwritten.
    """

    def __init__(self, data_dir: Path, run_id: str, out_root: Path | None = None) -> None:
        self.run_id = run_id
        self.data_dir = data_dir
        self.root = data_dir / "runs" / run_id
        self.out_root = out_root or self.root

    @classmethod
    def at(cls, root: Path) -> RunStore:
        """The run whose directory is `root`, wherever it is (e.g. an unpacked bundle)."""
        store = cls(root.parent, root.name)
        store.root = store.out_root = root
        return store

    def writing_to(self, out_root: Path) -> RunStore:
        return RunStore(self.data_dir, self.run_id, out_root)

    @property
    def run_manifest_path(self) -> Path:
        return self.root / "run.json"

    @property
    def seal_path(self) -> Path:
        return self.root / "seal.json"

    @property
    def evaluations_dir(self) -> Path:
        return self.root / "evaluations"

    @property
    def reports_dir(self) -> Path:
        return self.out_root / "reports"

    def output_dir(self, tenant_id: str) -> Path:
        """Where an evaluation writes this tenant's normalised tables and results.json."""
        return self.out_root / self.tenant_dir(tenant_id).relative_to(self.root)

    def results_path(self, tenant_id: str) -> Path:
        return self.output_dir(tenant_id) / "results.json"

    def tenant_dir(self, tenant_id: str) -> Path:
        if not _TENANT_DIR.match(tenant_id):  # tenant ids come from config, but stay paranoid
            raise ValueError(f"not a tenant id: {tenant_id!r}")
        return self.root / "tenants" / tenant_id.lower()

    def raw_path(self, tenant_id: str, resource: str) -> Path:
        return self.tenant_dir(tenant_id) / "raw" / f"{resource}.jsonl"

    def manifest_path(self, tenant_id: str) -> Path:
        return self.tenant_dir(tenant_id) / "manifest.json"

    def write_tenant_manifest(self, manifest: TenantManifest) -> str:
        return write_json(self.manifest_path(manifest.tenant_id), manifest_to_json(manifest))

    def read_tenant_manifest(self, tenant_id: str) -> TenantManifest | None:
        path = self.manifest_path(tenant_id)
        return manifest_from_json(read_json(path)) if path.exists() else None


def manifest_to_json(manifest: TenantManifest) -> dict[str, Any]:
    return {
        "schema": "mssp-audit/tenant-manifest/1",
        "tenant_id": manifest.tenant_id,
        "customer": manifest.customer,
        "collected_at": manifest.collected_at.isoformat(),
        "token_ok": manifest.token_ok,
        "token_reason": manifest.token_reason,
        "granted_roles": list(manifest.granted_roles),
        "resources": {name: record.to_json() for name, record in sorted(manifest.resources.items())},
    }


def manifest_from_json(data: dict[str, Any]) -> TenantManifest:
    return TenantManifest(
        tenant_id=data["tenant_id"],
        customer=data["customer"],
        collected_at=datetime.fromisoformat(data["collected_at"]),
        token_ok=bool(data["token_ok"]),
        token_reason=data.get("token_reason", ""),
        granted_roles=tuple(data.get("granted_roles", ())),
        resources={name: ResourceRecord.from_json(r) for name, r in data.get("resources", {}).items()},
    )
