"""serve's status page: laid out from values (escaped), and as a user sees it in a real headless Chromium."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reconciler.plan.changes import Action
from reconciler.report import page
from reconciler.report.model import Entry, Row

from .serving import deployed, serving, wait_for

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; .ci/run installs it
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


class Cells(HTMLParser):
    """The rows of every table by its id, as lists of cell texts; and every element's tag."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self._table = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[self._table].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def cells(document: str) -> Cells:
    parser = Cells()
    parser.feed(document)
    return parser


def test_everything_from_git_or_the_cluster_is_escaped() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    view = page.View(
        cluster="demo<b>",
        rows=[Row("NIMCache", "nim", "c", "Failed", {"MESSAGE": hostile, "AGE": "3m", "PVC": "p"})],
        history=[page.RunLine("abc123" + hostile, "t", "applied", 1.25, {"created": 2})],
        pending=[Entry(Action.BLOCKED, "Deployment/nim/s", reason=hostile)],
        leading=True,
        generated="2026-12-03T00:00:00Z",
    )
    text = page.page(view)
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    parsed = cells(text)
    assert set(parsed.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead",
                                "tbody", "tr", "th", "td", "code"}  # fmt: skip
    assert parsed.tables["resources"] == [["NIMCache", "nim", "c", "Failed", hostile, "3m", "p"]]
    assert parsed.tables["pending"] == [["Deployment/nim/s", "blocked", hostile]]
    assert parsed.tables["runs"][0][3:] == ["1.25s", "2 created"]


def test_an_empty_cluster_says_so_in_each_table() -> None:
    parsed = cells(page.page(page.View("demo", [], [], [], False, "now")))
    assert parsed.tables["resources"] == [["no NIMCache or NIMService yet"]]
    assert parsed.tables["runs"] == [["no run recorded yet"]]
    assert parsed.tables["pending"] == [["nothing pending"]]


@pytest.mark.long
def test_the_status_page_in_headless_chromium_shows_every_resources_state(tmp_path: Path) -> None:
    assert CHROMIUM.is_file(), "Chromium is part of the test tools (.ci/run installs Debian's package)"
    with serving(tmp_path, "--interval", "1h") as (api, served):
        deployed(api)
        wait_for(lambda: "Ready" in served.request("/")[1], 5, "the page to show the Ready cache")
        url = f"http://127.0.0.1:{served.port}/"
        profile = ["--user-data-dir=" + str(tmp_path / "chromium")]
        shot = tmp_path / "page.png"
        subprocess.run([str(CHROMIUM), *FLAGS, *profile, f"--screenshot={shot}", "--window-size=1280,800", url],
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        dom = subprocess.run([str(CHROMIUM), *FLAGS, *profile, "--dump-dom", url],
                             check=True, capture_output=True, text=True, timeout=60).stdout  # fmt: skip
        assert served.stop() == 0, served.output
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    parsed = cells(dom)
    states = {(row[0], row[2]): row[3] for row in parsed.tables["resources"]}
    assert states == {("NIMCache", "llama-3-2-1b"): "Ready", ("NIMService", "llama-3-2-1b"): "NotReady"}
    cache = next(r for r in parsed.tables["resources"] if r[0] == "NIMCache")
    assert cache[6] == "llama-3-2-1b-pvc"
    results = [row[2] for row in parsed.tables["runs"]]
    assert results and set(results) <= {"applied", "drift-healed"}
    assert "script" not in parsed.tags
