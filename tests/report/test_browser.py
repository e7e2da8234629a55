"""Both reports rendered by a real headless Chromium: a non-blank screenshot, no broken image, no script error.

A probe script is injected into a copy of each page (the reports themselves carry no script): it records
``window.onerror`` messages and, on load, writes the number of images and of broken images
(``naturalWidth == 0``) into the DOM, which ``--dump-dom`` prints. CI installs Debian's ``chromium``
(``.ci/run``); the test is skipped, saying so, only when no Chromium binary can be found.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from automl.report import write_fit_report

SCREENSHOT_DIR = os.environ.get("AUTOML_REPORT_SCREENSHOTS")  # keep the PNGs somewhere to look at them

PROBE = """<script>
window.__probeErrors = [];
window.addEventListener("error", function (e) {
  window.__probeErrors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || "error"));
}, true);
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length;
  var out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = "PROBE" + JSON.stringify({images: imgs.length, broken: broken,
                                            errors: window.__probeErrors}) + "PROBE";
  document.body.appendChild(out);
});
</script>"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not found: install Debian's `chromium` (.ci/run does: command -v chromium "
                             "|| (apt-get update && apt-get install -y --no-install-recommends chromium))")


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def render(page: Path, tmp: Path, name: str) -> tuple[dict, Path]:
    """(probe result, screenshot path) for ``page``: one Chromium run loads a probed copy of it, dumps its DOM
    and takes the screenshot (the probe adds one line of text at the foot of the page)."""
    html = page.read_text(encoding="utf-8")
    probed = tmp / f"{name}-probed.html"
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    shot = Path(SCREENSHOT_DIR or tmp) / f"{name}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    result = chromium(tmp, "--virtual-time-budget=10000", "--dump-dom", f"--screenshot={shot}",
                      "--window-size=1280,4000", probed.as_uri())
    found = re.search(r"PROBE(\{.*?\})PROBE", result.stdout, re.S)
    assert found, f"no probe result in the dumped DOM (exit {result.returncode}): {result.stderr[-2000:]}"
    assert shot.exists(), f"no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(found.group(1)), shot


def assert_not_blank(shot: Path) -> None:
    from PIL import Image, ImageStat
    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        grey = im.convert("L")
        assert ImageStat.Stat(grey).stddev[0] > 10  # a blank page is one flat colour
        assert len(grey.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50


def test_fit_report_in_chromium(binary_model, tmp_path):
    page = write_fit_report(binary_model["dir"], tmp_path / "fit.html", X=binary_model["X"], y=binary_model["y"],
                            n_repeats=1)
    probe, shot = render(page, tmp_path, "fit-report")
    assert probe["errors"] == []
    assert probe["images"] == 4 and probe["broken"] == 0
    assert_not_blank(shot)


def test_kb_report_in_chromium(kb_report_page, tmp_path):
    probe, shot = render(kb_report_page, tmp_path, "kb-report")
    assert probe["errors"] == []
    assert probe["images"] == 3 and probe["broken"] == 0
    assert_not_blank(shot)


def test_probe_detects_a_broken_image_and_a_script_error(tmp_path):
    """The check itself works: a page with a broken image and a throwing script fails it."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head></head><body><img src="data:image/png;base64,AAAA">'
                   '<img src="missing.png"><script>undefinedFunction();</script></body></html>')
    probe, _ = render(bad, tmp_path, "bad")
    assert probe["broken"] == 2
    assert any("undefinedFunction" in e for e in probe["errors"])
