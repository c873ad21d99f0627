"""cli/metrics.py and report/logs.py: the textfile, counters that survive cron runs, the Pushgateway, JSON log lines."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from reconciler.cli import metrics
from reconciler.cli.main import main
from reconciler.options import Mode
from reconciler.plan.changes import Action
from reconciler.redaction import register
from reconciler.report import logs
from reconciler.report.model import Check, Entry, RunReport

from .apiserver import ApiServer
from .helpers import install

SAMPLE = metrics.Sample("demo", "success", 1.25, {"created": 3, "unchanged": 2}, {"ls-remote": 1}, 1700000000.0)


def test_the_exposition_has_every_metric_with_help_and_type() -> None:
    text = metrics.exposition(SAMPLE, metrics.add(metrics.Totals(), SAMPLE))
    for name, kind in [
        ("nim_reconciler_reconcile_duration_seconds", "gauge"),
        ("nim_reconciler_reconcile_total", "counter"),
        ("nim_reconciler_objects", "gauge"),
        ("nim_reconciler_last_success_timestamp_seconds", "gauge"),
        ("nim_reconciler_git_requests_total", "counter"),
    ]:
        assert f"# TYPE {name} {kind}\n" in text and f"# HELP {name} " in text
    assert 'nim_reconciler_reconcile_duration_seconds{cluster="demo"} 1.250' in text
    assert 'nim_reconciler_reconcile_total{cluster="demo",result="success"} 1' in text
    assert 'nim_reconciler_objects{cluster="demo",action="created"} 3' in text
    assert 'nim_reconciler_last_success_timestamp_seconds{cluster="demo"} 1700000000.000' in text
    assert 'nim_reconciler_git_requests_total{cluster="demo",request_type="ls-remote"} 1' in text


def test_counters_carry_over_from_the_previous_file_and_a_failure_keeps_the_last_success() -> None:
    first = metrics.add(metrics.Totals(), SAMPLE)
    text = metrics.exposition(SAMPLE, first)
    again = metrics.read_totals(text, "demo")
    failed = metrics.Sample("demo", "failure", 0.5, {}, {"ls-remote": 1, "fetch": 1}, 1700000300.0)
    later = metrics.exposition(failed, metrics.add(again, failed))
    assert 'result="success"} 1' in later and 'result="failure"} 1' in later
    assert 'request_type="ls-remote"} 2' in later and 'request_type="fetch"} 1' in later
    assert 'nim_reconciler_last_success_timestamp_seconds{cluster="demo"} 1700000000.000' in later
    assert metrics.read_totals(later, "other-cluster") == metrics.Totals()


def test_label_values_are_escaped() -> None:
    odd = metrics.Sample('a"b\\c', "success", 0, {}, {}, 0)
    assert 'cluster="a\\"b\\\\c"' in metrics.exposition(odd, metrics.Totals())


def test_label_values_pass_the_redaction_step() -> None:
    register("planted-metrics-tok3n")
    leaky = metrics.Sample("team-planted-metrics-tok3n", "success", 0, {"created": 1}, {"fetch": 1}, 0)
    text = metrics.exposition(leaky, metrics.add(metrics.Totals(), leaky))
    assert "planted-metrics-tok3n" not in text and 'cluster="team-***"' in text


class _Gateway(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    _Gateway.received.clear()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_run_writes_the_textfile_and_pushes_to_the_gateway(tmp_path: Path, repo: Path, gateway: str) -> None:
    with ApiServer(tmp_path, namespaces=("nim-service", "nemoguard", "nim-init-demo")) as api:
        install(api)
        args = ["--repo", str(repo), "--kubeconfig", str(api.kubeconfig), "--metrics-file", str(tmp_path / "m.prom")]
        first = CliRunner().invoke(main, [*args, "--pushgateway", gateway])
        assert first.exit_code == 0, first.output
        CliRunner().invoke(main, args)
    text = (tmp_path / "m.prom").read_text()
    assert 'nim_reconciler_reconcile_total{cluster="demo",result="success"} 2' in text
    assert 'nim_reconciler_objects{cluster="demo",action="unchanged"}' in text
    path, content_type, body = _Gateway.received[0]
    assert path == "/metrics/job/nim-reconciler/cluster/demo" and content_type.startswith("text/plain")
    created = re.search(r"Applied to cluster demo: (\d+) created", first.output)
    assert created is not None
    assert f'nim_reconciler_objects{{cluster="demo",action="created"}} {created.group(1)}\n' in body.decode()
    assert not list(tmp_path.glob(".m.prom.*"))  # written through a temporary file, then renamed


def test_an_unreachable_gateway_warns_but_does_not_fail_the_run(tmp_path: Path, repo: Path) -> None:
    result = CliRunner().invoke(
        main, ["--repo", str(repo), "--dry-run", "--offline", "--pushgateway", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1 and "warning: metrics not written: --pushgateway" in result.output


def test_json_log_lines_name_revision_cluster_object_and_action() -> None:
    run = RunReport(
        "demo",
        Check(1, 1, 1, []),
        Mode.APPLY,
        [
            Entry(Action.CREATED, "Deployment/ns/a"),
            Entry(Action.UNCHANGED, "Service/ns/a"),
            Entry(Action.CONFIGURED, "Job/ns/j", error="boom"),
        ],
        revision="abc123",
    )
    lines = [json.loads(line) for line in logs.run_lines(run, 1.5)]
    created = lines[0]
    assert created["object"] == "Deployment/ns/a" and created["action"] == "created"
    assert created["cluster"] == "demo" and created["revision"] == "abc123" and created["level"] == "info"
    assert lines[1]["level"] == "error" and lines[1]["error"] == "boom"
    assert all(line["object"] != "Service/ns/a" for line in lines[:-1])  # unchanged objects are not logged
    assert lines[-1]["msg"] == "reconcile finished" and lines[-1]["result"] == "failed"


def test_log_format_json_from_the_command_line(repo: Path) -> None:
    result = CliRunner().invoke(main, ["--repo", str(repo), "--dry-run", "--offline", "--log-format", "json"])
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exit_code == 1 and lines and lines[-1]["msg"] == "reconcile finished"
    assert any(line.get("action") == "created" for line in lines)
