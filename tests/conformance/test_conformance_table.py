"""docs/graph-conformance.md is generated from the declarations and cannot drift from them."""

from __future__ import annotations

import os
from pathlib import Path

from audit.checks import CATALOGUE
from audit.checks.conformance_docs import conformance_markdown
from audit.normalize.vocabulary import VOCABULARIES
from audit.resources import RESOURCES_BY_NAME

DOC = Path(__file__).resolve().parents[2] / "docs" / "graph-conformance.md"


def test_the_table_is_generated_from_the_code() -> None:
    if os.environ.get("UPDATE_CONFORMANCE"):
        DOC.write_text(conformance_markdown(), encoding="utf-8")
    # Regenerate with: UPDATE_CONFORMANCE=1 pytest tests/conformance/test_conformance_table.py
    assert DOC.read_text(encoding="utf-8") == conformance_markdown()


def test_every_vocabulary_names_real_resources_and_checks() -> None:
    ids = {c.spec.id for c in CATALOGUE}
    for v in VOCABULARIES:
        assert v.resource in RESOURCES_BY_NAME, v
        assert v.read_by and set(v.read_by) <= ids, v
        # the check that acts on the value declares that it reads the resource
        for check in (c for c in CATALOGUE if c.spec.id in v.read_by):
            assert v.resource in check.spec.resources, (v.property, check.spec.id)
