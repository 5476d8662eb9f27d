"""deploy/kubernetes/: every manifest validates against the Kubernetes schemas, offline (the schemas
ship inside kubernetes-validate; the network is closed for the test), and says what the night needs:
an Indexed Job whose completions are the shard count the pods are told, non-root, a read-only root
file system, the certificate from a Secret, the data on a ReadWriteMany volume, then the merge."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import kubernetes_validate      # the test extra, pinned in pyproject.toml
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
VERSION = "1.33.0"    # backoffLimitPerIndex is GA from 1.33; every field used here is stable there


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = [(p.name, d) for p in sorted(DEPLOY.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    assert {d["kind"] for _, d in docs} >= {"CronJob", "PersistentVolumeClaim", "ConfigMap"}
    return docs


def test_every_manifest_validates_offline_against_the_kubernetes_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("the schema validation must not use the network")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    for name, doc in _documents():
        kubernetes_validate.validate(doc, VERSION, strict=True)     # raises ValidationError naming the field
    bad = {**dict(_documents())["nightly-shards.yaml"]}
    bad["spec"] = {**bad["spec"], "jobTemplate": {"spec": {**bad["spec"]["jobTemplate"]["spec"], "completionMode": 3}}}
    with pytest.raises(kubernetes_validate.ValidationError):       # the validator can fail
        kubernetes_validate.validate(bad, VERSION, strict=True)


def _pod(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_shards_are_an_indexed_job_told_their_count_and_the_merge_follows() -> None:
    docs = dict(_documents())
    shards, merge = docs["nightly-shards.yaml"], docs["nightly-merge.yaml"]
    job = shards["spec"]["jobTemplate"]["spec"]
    [container] = _pod(shards)["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert job["completionMode"] == "Indexed" and int(env["MSSP_AUDIT_SHARDS"]) == job["completions"]
    assert container["args"][:1] == ["run"] and container["args"][-3:-1] == ["--shard", "auto"]
    [merger] = _pod(merge)["containers"]
    assert merger["args"][0] == "merge"
    # The merge starts after every shard has ended, however it ended.
    shard_hour, merge_hour = (int(cj["spec"]["schedule"].split()[1]) for cj in (shards, merge))
    assert shard_hour * 3600 + job["activeDeadlineSeconds"] <= merge_hour * 3600
    pvc = next(d for d in docs.values() if d["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    for cronjob in (shards, merge):
        pod = _pod(cronjob)
        [c] = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
        assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"]["allowPrivilegeEscalation"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert volumes["certificate"]["secret"]["secretName"] and mounts["certificate"]["readOnly"]
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    # A shard starts one worker per CPU of its quota (audit.workers.worker_count): without a CPU limit
    # it would start one per core of the node and outgrow its memory limit.
    [shard] = _pod(shards)["containers"]
    assert shard["resources"]["limits"]["cpu"] == shard["resources"]["requests"]["cpu"]
