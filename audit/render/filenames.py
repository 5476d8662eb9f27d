"""Output file names derived from hostile customer names, and atomic writing of output files."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audit.snapshot.store import StorageError, discard, is_write_error

MAX_STEM_CHARS = 80
HASH_CHARS = 10
FALLBACK_STEM = "customer"

# Bidi embeddings, overrides, isolates and marks: they reorder what a person sees (U+202E turns
# "invoice‮fdp.exe" into "invoiceexe.pdf"), so they never survive into a file name.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
)

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_DASH_RUN = re.compile(r"-{2,}")
_DOT_RUN = re.compile(r"\.{2,}")
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
_TENANT_ID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
TENANT_SEPARATOR = "--"


def _visible(text: str) -> str:
    """Drop bidi controls, control characters and other invisible format characters."""
    return "".join(
        ch for ch in text if ch not in BIDI_CONTROLS and unicodedata.category(ch) not in {"Cc", "Cf", "Cs"}
    )


def _name_hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def _suffix(suffix: str) -> str:
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    if not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"not a file extension: {suffix!r}")
    return suffix


def _portable_stem(name: str) -> str:
    """`name` folded to portable characters: never empty, hidden, reserved, or longer than MAX_STEM_CHARS."""
    stem = _visible(unicodedata.normalize("NFKC", name))
    # "Müller" → "Muller": decompose and drop the combining marks rather than lose the letter.
    stem = "".join(ch for ch in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(ch))
    stem = _UNSAFE_RUN.sub("-", stem)
    stem = _DOT_RUN.sub(".", _DASH_RUN.sub("-", stem))
    # Leading dots hide the file (and "." / ".." walk the tree); Windows drops trailing dots.
    stem = stem.lstrip(".-_").rstrip(".-")
    if not stem:
        stem = FALLBACK_STEM
    if stem.split(".", 1)[0].upper() in WINDOWS_RESERVED:
        stem = f"_{stem}"   # Windows reserves "CON" and "CON.anything"
    if len(stem) > MAX_STEM_CHARS:
        stem = stem[:MAX_STEM_CHARS].rstrip(".-")
    return stem


def safe_filename(name: str, *, suffix: str) -> str:
    """A portable file name for `name`; when the name had to change, a hash of the original keeps it unique.

    `suffix` is the extension, with or without its dot (".pdf", "xlsx").
    """
    suffix = _suffix(suffix)
    stem = _portable_stem(name)
    if stem != name:
        stem = f"{stem.rstrip('-')}-{_name_hash(name)}"
    return f"{stem}{suffix}"


def report_filename(name: str, tenant_id: str, *, suffix: str) -> str:
    """`<portable name>--<tenant id><suffix>`, e.g. "Contoso-Ltd--0a1b…-….pdf", for one customer's report.

    Display names are not unique (two tenants may both be "Contoso"): the tenant id keeps their
    files apart, the name keeps the file readable. A portable stem never holds "--", so the tenant
    id is always what follows the last "--".
    """
    tenant = tenant_id.lower()
    if not _TENANT_ID.fullmatch(tenant):
        raise ValueError(f"not a tenant id: {tenant_id!r}")
    return f"{_portable_stem(name)}{TENANT_SEPARATOR}{tenant}{_suffix(suffix)}"


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path`, on failure it is deleted.

    A reader never sees a half-written report, and a crash leaves no partial file behind; a write
    that fails for want of space (or any OS error about this file) is a `StorageError` naming `path`.
    """
    tmp = path.parent / f".{path.stem[:40]}.{secrets.token_hex(6)}.part"
    created: Path | None = None          # only a temp file this call created is ever removed
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its 0600 would stick to the report; 0666 here is narrowed by the umask as usual.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        created = tmp
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        discard(created)
        if is_write_error(error, path, tmp):
            raise StorageError.of(path, error) from error
        raise
    except BaseException:
        discard(created)
        raise
