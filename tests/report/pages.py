"""Checks shared by the report tests: sections present, nothing failed, nothing fetched, figures are PNGs."""
from __future__ import annotations

import base64
import io
import re

SECTIONS = ["summary", "leaderboard", "anytime", "families", "warm-start", "importance", "diagnostics"]
KB_SECTIONS = ["contents", "map", "wins"]


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def assert_valid_page(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in page
    assert "section-error" not in page.replace(".section-error", "")
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained: nothing fetched
    from PIL import Image
    for png in images(page):
        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG" and im.size[0] > 300


def assert_valid_kb_page(page: str) -> None:
    for anchor in KB_SECTIONS:
        assert f'<section id="{anchor}">' in page
    assert "section-error" not in page.replace(".section-error", "")
    assert not re.search(r'(src|href)="(https?:)?//', page)
