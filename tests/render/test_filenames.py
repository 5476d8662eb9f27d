from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from audit.render.filenames import MAX_STEM_CHARS, atomic_output, report_filename, safe_filename
from audit.snapshot.store import StorageError
from tests._disks import file_size_limit

SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.[a-z]+")
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def _assert_portable(name: str) -> None:
    assert SAFE.fullmatch(name), name
    assert name.split(".", 1)[0].upper() not in RESERVED
    assert len(name) <= MAX_STEM_CHARS + 20


def test_plain_names_are_kept() -> None:
    assert safe_filename("Contoso", suffix=".pdf") == "Contoso.pdf"
    assert safe_filename("fabrikam-2.eu_west", suffix="xlsx") == "fabrikam-2.eu_west.xlsx"


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\windows\\system32", "/etc/passwd", "a/../../b", ".."])
def test_traversal_cannot_leave_the_folder(name: str, tmp_path: Path) -> None:
    result = safe_filename(name, suffix=".pdf")
    _assert_portable(result)
    assert "/" not in result and "\\" not in result and not result.startswith(".")
    assert (tmp_path / result).resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("name", ["CON", "con", "Nul", "COM1", "lpt9", "con.txt", "AUX.tar.gz", "ＣＯＮ", "COM¹"])
def test_windows_reserved_names_are_avoided(name: str) -> None:
    _assert_portable(safe_filename(name, suffix=".pdf"))


@pytest.mark.parametrize("name", ["", "   ", "...", "\u202e\u202c", "\x07\x00", "日本語", "--"])
def test_empty_results_get_a_fallback(name: str) -> None:
    result = safe_filename(name, suffix=".pdf")
    _assert_portable(result)
    assert result.startswith("customer-")


def test_unicode_is_folded_and_bidi_controls_dropped() -> None:
    assert safe_filename("Müller GmbH", suffix=".pdf").startswith("Muller-GmbH-")
    spoof = safe_filename("invoice\u202efdp.exe", suffix=".pdf")
    _assert_portable(spoof)
    assert "\u202e" not in spoof and spoof.startswith("invoicefdp.exe-")
    _assert_portable(safe_filename("<script>alert(1)</script>", suffix=".pdf"))
    _assert_portable(safe_filename('=HYPERLINK("http://x","y")', suffix=".xlsx"))


def test_long_names_are_cut_and_stay_unique() -> None:
    a = safe_filename("A" * 10_000, suffix=".pdf")
    b = safe_filename("A" * 10_001, suffix=".pdf")
    _assert_portable(a)
    assert a != b
    assert len(a) <= MAX_STEM_CHARS + 1 + 10 + len(".pdf")


def test_names_that_clean_up_alike_do_not_collide() -> None:
    names = ["Contoso Ltd", "Contoso/Ltd", "Contoso\\Ltd", "Contoso:Ltd", "Contoso\u202eLtd", "Contoso-Ltd",
             "Contoso  Ltd", "contoso ltd"]
    results = [safe_filename(n, suffix=".pdf") for n in names]
    assert len(set(results)) == len(names)
    assert len({r.lower() for r in results}) == len(names)


def test_the_same_name_always_gives_the_same_file() -> None:
    assert safe_filename("Contoso Ltd", suffix=".pdf") == safe_filename("Contoso Ltd", suffix=".pdf")


def test_a_bad_suffix_is_refused() -> None:
    with pytest.raises(ValueError):
        safe_filename("x", suffix="./../pdf")


def test_atomic_output_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("layout failed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.pdf"]

    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["report.pdf"]


TENANT_A = "0a1b2c3d-0000-4000-8000-00000000000a"
TENANT_B = "0a1b2c3d-0000-4000-8000-00000000000b"


def test_report_names_carry_the_tenant_id_after_the_last_double_dash() -> None:
    assert report_filename("Contoso Ltd", TENANT_A, suffix=".pdf") == f"Contoso-Ltd--{TENANT_A}.pdf"
    assert report_filename("Contoso", TENANT_A.upper(), suffix="xlsx") == f"Contoso--{TENANT_A}.xlsx"
    for hostile in ("a--b", "--", "x - - y", "../..--", "CON", "日本語", "A" * 10_000, "\u202e--\u202c"):
        name = report_filename(hostile, TENANT_A, suffix=".pdf")
        assert SAFE.fullmatch(name) and len(name) <= MAX_STEM_CHARS + len(f"--{TENANT_A}.pdf"), name
        stem, _, tenant = name.removesuffix(".pdf").rpartition("--")
        assert tenant == TENANT_A and "--" not in stem and stem


def test_two_tenants_with_one_display_name_get_two_files() -> None:
    assert report_filename("Contoso", TENANT_A, suffix=".pdf") != report_filename("Contoso", TENANT_B, suffix=".pdf")


@pytest.mark.parametrize("tenant_id", ["", "../etc", "0a1b2c3d-0000-4000-8000-00000000000a/..", "not-a-guid"])
def test_a_tenant_id_that_is_not_a_guid_is_refused(tenant_id: str) -> None:
    with pytest.raises(ValueError):
        report_filename("Contoso", tenant_id, suffix=".pdf")


def test_atomic_output_past_the_disk_limit_names_the_report(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_text("old")
    with file_size_limit(16 * 1024), pytest.raises(StorageError) as raised, atomic_output(target) as tmp:
        tmp.write_bytes(b"%PDF" * 10_000)
    assert str(raised.value) == f"cannot write {target}: File too large"
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.pdf"]


def test_atomic_output_leaves_an_error_about_another_file_alone(tmp_path: Path) -> None:
    # A font or image the renderer could not read is not a storage problem of the report.
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "report.pdf"):
        raise FileNotFoundError(2, "No such file or directory", "/usr/share/fonts/missing.ttf")
    assert os.listdir(tmp_path) == []
