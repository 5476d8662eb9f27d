"""What a run leaves for people and monitoring: a stable `latest` pointer, a summary file,
and (optionally) a Prometheus textfile-collector metrics file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audit.snapshot.store import StorageError, atomic_open, discard, write_json


def point_latest(data_dir: Path, run_root: Path) -> Path:
    """<data_dir>/latest → runs/<run_id>, replaced atomically (symlink then rename)."""
    link = data_dir / "latest"
    tmp = data_dir / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_root.relative_to(data_dir))    # a symlink takes a block too
        os.replace(tmp, link)
    except OSError as error:
        discard(tmp)
        raise StorageError.of(link, error) from error
    return link


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    write_json(path, {"schema": "mssp-audit/run-summary/1", **summary})


def write_metrics(path: Path, summary: Mapping[str, Any]) -> None:
    """Prometheus text format, for node_exporter's textfile collector (written atomically)."""
    lines = [
        "# HELP mssp_audit_last_run_timestamp_seconds When the last run finished.",
        "# TYPE mssp_audit_last_run_timestamp_seconds gauge",
        f"mssp_audit_last_run_timestamp_seconds {summary['finished_epoch']:.0f}",
        "# HELP mssp_audit_run_duration_seconds How long the last run took.",
        "# TYPE mssp_audit_run_duration_seconds gauge",
        f"mssp_audit_run_duration_seconds {summary['duration_seconds']:.3f}",
        "# HELP mssp_audit_tenants Tenants of the last run by outcome.",
        "# TYPE mssp_audit_tenants gauge",
        f'mssp_audit_tenants{{outcome="ok"}} {summary["tenants_ok"]}',
        f'mssp_audit_tenants{{outcome="error"}} {summary["tenants_error"]}',
        "# HELP mssp_audit_findings Non-passing results of the last run by status and severity.",
        "# TYPE mssp_audit_findings gauge",
    ]
    for row in summary["findings"]:
        lines.append(f'mssp_audit_findings{{status="{row["status"]}",severity="{row["severity"]}"}} {row["count"]}')
    lines.append(f"mssp_audit_exit_code {summary['exit_code']}")
    with atomic_open(path) as handle:
        handle.write("\n".join(lines) + "\n")
