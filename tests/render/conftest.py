from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "libreoffice: opens a workbook in headless LibreOffice (~10 s; runs in CI)")
