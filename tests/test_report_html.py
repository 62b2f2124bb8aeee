"""report.html: one self-contained page with the same content as report.md, and it renders in headless Chromium
with every table present and every embedded figure decoded."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dfkd_bench.report.build import write_report
from dfkd_bench.summary import SUMMARY_COLUMNS

R34, BN = "resnet34-resnet18", "lenet5_bn-lenet5_half_bn"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Run inside a copy of the page once it has loaded: what the browser made of it, written into the DOM for --dump-dom.
PROBE = """<script>
const errors = [];
window.addEventListener("error", (e) => errors.push(String(e.message || e.target.tagName)), true);
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.setAttribute("data-probe", JSON.stringify({
    tables: document.querySelectorAll("table").length,
    images: images.length,
    decoded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    height: document.body.scrollHeight,
    errors,
  }));
});
</script>"""


def _rows() -> list[dict]:
    rows = []
    for dataset, pair, method, scale, best, total in (
        ("cifar10", R34, "ssdkd", 5000, 93.0, 3600.0),
        ("cifar10", R34, "fast2", None, 92.5, 14000.0),
        ("mnist", BN, "ssdkd", 6000, 97.5, 200.0),
        ("mnist", BN, "fast2", None, 98.2, 700.0),
    ):
        for seed in range(3):
            rows.append(
                {
                    "dataset": dataset,
                    "pair": pair,
                    "method": method,
                    "data_scale_setting": scale,
                    "seed": seed,
                    "status": "done",
                    "metric": "top1",
                    "best_top1": best + seed / 2,
                    "last_top1": best,
                    "data_scale": scale or 56320,
                    "teacher_top1": 95.0,
                    "synthesis_s": total / 2,
                    "sample_s": 0.0,
                    "kd_s": total * 0.4,
                    "eval_s": total * 0.1,
                    "total_s": total + seed,
                    "epochs_done": 2,
                    "device": "cpu",
                    "config_hash": "x",
                    "run_dir": "/nonexistent/run",
                }  # fmt: skip
            )
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A report folder written with both default formats, and the paths write_report returned."""
    root = tmp_path_factory.mktemp("html")
    runs = root / "runs"
    runs.mkdir()
    pd.DataFrame(_rows(), columns=SUMMARY_COLUMNS).to_csv(runs / "summary.csv", index=False)
    written = write_report(runs, root / "report")
    return root / "report", written


class _Page(HTMLParser):
    """Tags, attributes and heading texts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "h2":
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def test_html_is_one_self_contained_page_with_the_markdown_content(report: tuple[Path, list[Path]]):
    folder, written = report
    assert (folder / "report.html") in written and (folder / "report.md") in written  # md,html is the default
    page = _parse(folder / "report.html")
    markdown = (folder / "report.md").read_text()
    tables = [t for t, _ in page.tags if t == "table"]
    assert len(tables) == markdown.count("\n|---")
    assert page.headings == [re.sub(r" <a id=.*$", "", h) for h in re.findall(r"^## (.*)$", markdown, re.M)]
    pngs = sorted(p for p in written if p.suffix == ".png")
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == len(pngs) == 4
    embedded = sorted(base64.b64decode(a["src"].removeprefix("data:image/png;base64,")) for a in images)
    assert embedded == sorted(p.read_bytes() for p in pngs)  # the very PNGs written beside it
    assert not {t for t, _ in page.tags} & {"script", "link", "iframe", "object", "embed"}
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            if attrs.get(key) is not None:
                assert attrs[key].startswith(("data:image/png;base64,", "#")), (tag, attrs[key][:80])
    ids = {a["id"] for _, a in page.tags if a.get("id")}
    links = {a["href"][1:] for t, a in page.tags if t == "a" and a.get("href")}
    assert links and links <= ids  # every internal link lands
    assert "<strong>Verdicts:</strong>" in (folder / "report.html").read_text()


def _render(page: Path, profile: Path) -> tuple[dict, str]:
    """Load `page` (a copy with PROBE injected) in headless Chromium; the probe's findings and Chromium's stderr."""
    probed = page.with_name(f"probed-{page.name}")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
        "--dump-dom", probed.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert done.returncode == 0 and found, done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1))), done.stderr


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium; scripts/bootstrap.sh installs it where apt "
    "is available)",
)
def test_html_renders_in_headless_chromium(report: tuple[Path, list[Path]], tmp_path: Path):
    folder, _ = report
    page = tmp_path / "report.html"
    shutil.copy(folder / "report.html", page)
    probe, stderr = _render(page, tmp_path / "profile")
    expected_tables = (folder / "report.md").read_text().count("\n|---")
    assert probe["tables"] == expected_tables and probe["images"] == 4
    assert probe["decoded"] == 4 and probe["errors"] == [] and probe["height"] > 2000
    assert not [line for line in stderr.splitlines() if ":CONSOLE" in line and "probed-report" in line]
    # the probe does catch a figure that does not decode
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1))
    assert _render(broken, tmp_path / "profile-broken")[0]["decoded"] == 3
