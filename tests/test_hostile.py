"""Hostile input: a repo built by an attacker (symlinks, names with control characters, numbers that change
meaning), hostile server answers and planted secrets. Nothing from outside the repo is read, no output line is a
workflow command we did not write, bad input is one line and exit 2, and no secret is printed."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reconciler import redaction
from reconciler.cli.main import main
from reconciler.errors import printable
from reconciler.redaction import redact, register

from .helpers import REPO, HostileProxy, hostile_proxy, injected, write_kubeconfig
from .manifests import NIMCACHE, NIMSERVICE, dump, variant

SECRET = "TOPSECRET-4c1d9e"  # planted outside the repo: must never be printed
HOSTILE = ["\n::error title=pwn::owned", "\x1b[31mred", "%0A::add-mask::x", "\x00nul", "\u202eevil"]


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("a\nb", "a\\nb"),
        ("\r\t", "\\r\\t"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x00", "\\x00"),
        ("\x85", "\\x85"),
        ("\u2028", "\\u2028"),
        ("\u202e", "\\u202e"),
        ("ünïcode ok", "ünïcode ok"),
    ],
)
def test_printable_shows_every_control_character_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:tok3n@host/repo.git", "https://***@host/repo.git"),
        ("https://host/x?private_token=abc123&ref=main", "https://host/x?private_token=***&ref=***"),
        ("Authorization: Bearer eyJhbGci.x1", "Authorization: Bearer ***"),
        ("password: hunter2!", "password: ***"),
        ("Bearer authentication required", "Bearer authentication required"),
        ("no secret here", "no secret here"),
        ("ssh://git@github.com/org/x.git", "ssh://git@github.com/org/x.git"),
        ("ssh://git:pw123@h/x.git", "ssh://***@h/x.git"),
        ("git+ssh://tok3n-as-user@h/x", "git+ssh://tok3n-as-user@h/x"),
        ("https://tok3n-as-user@h/x", "https://***@h/x"),
        ("PASSWORD: hunter2!", "PASSWORD: ***"),  # any case
        ("to\u212aen=abc123!", "to\u212aen=***"),  # a Kelvin sign is a k to IGNORECASE: masked all the same
        ("pa\u017fsword: hunter2!", "pa\u017fsword: ***"),  # and a long s an s
        ("ünïcode and token=abc123!", "ünïcode and token=***"),
    ],
)
def test_redact_removes_credentials_whatever_their_source(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_the_letters_ignorecase_takes_for_ascii_ones_are_all_known() -> None:
    # redact looks for the credential words in lowercase first: that is exact only if no other letter could match
    letter = re.compile("[a-z]", re.IGNORECASE)
    twins = {chr(c) for c in range(128, sys.maxunicode + 1) if letter.fullmatch(chr(c))}
    assert twins == set(redaction.ASCII_TWINS)  # the Kelvin and long-s rows above show what one of them does


def test_a_registered_secret_is_masked_anywhere() -> None:
    register("planted-s3cret-value")
    assert redact("the server said: planted-s3cret-value is wrong") == "the server said: *** is wrong"


@pytest.fixture
def attacker_repo(repo: Path, tmp_path: Path) -> Path:
    """The example repo plus what an attacker adds in a pull request."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "token.yaml").write_text(f"token: {SECRET}\nbroken: [\n")
    (outside / "ok.yaml").write_text(dump(variant(NIMCACHE, {"metadata.name": "from-outside"})))
    demo = repo / "clusters" / "demo"
    (demo / "leak.yaml").symlink_to(outside / "token.yaml")
    (demo / "elsewhere").symlink_to(outside)
    (demo / "loop").symlink_to(".")
    (demo / "root").symlink_to("/")
    (demo / "dangling.yaml").symlink_to(tmp_path / "nothing.yaml")
    return repo


def test_symlinks_out_of_the_repo_are_refused_by_name_and_never_read(attacker_repo: Path) -> None:
    for fmt in ("text", "json", "github"):
        code, out = cli("validate", str(attacker_repo / "clusters"), "-o", fmt)
        assert code == 2, out
        assert SECRET not in out and "from-outside" not in out and "/etc" not in out
        for link in ("leak.yaml", "elsewhere", "loop", "root", "dangling.yaml"):  # "loop" is refused, not walked
            assert link in out, (link, out)


def test_a_run_on_the_attacker_repo_applies_nothing_and_says_why(attacker_repo: Path) -> None:
    code, out = cli("--repo", str(attacker_repo), "--dry-run", "--offline")
    assert code == 2 and SECRET not in out
    assert "is a symbolic link out of demo/" in out and "Plan for" not in out


def test_a_named_file_whose_folder_is_a_link_out_is_refused(attacker_repo: Path) -> None:
    code, out = cli("validate", str(attacker_repo / "clusters" / "demo" / "elsewhere" / "ok.yaml"))
    assert code == 2 and "from-outside" not in out


def test_a_template_override_cannot_reach_outside_its_folder(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text(SECRET)
    overrides = tmp_path / "overrides" / "nimcache"
    overrides.mkdir(parents=True)
    (overrides / "job.yaml.j2").symlink_to(tmp_path / "secret.txt")
    code, out = cli("--repo", str(repo), "--dry-run", "--offline", "--templates", str(overrides.parent))
    assert code == 2 and SECRET not in out
    assert "job.yaml.j2 is a symbolic link out of overrides/" in out


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_hostile_names_and_keys_inject_nothing_in_any_format(repo: Path, hostile: str, fmt: str) -> None:
    named = hostile.replace("\x00", "")  # the one byte a file name cannot hold
    folder = repo / "clusters" / "demo" / f"team{named}"
    folder.mkdir()
    doc = variant(NIMSERVICE, {"metadata.namespace": "nim-service", "metadata.name": f"svc{hostile}"})
    doc["spec"][f"key{hostile}"] = "x"
    doc["spec"]["env"] = [{"name": "NOTE", "value": f"line{hostile}"}]
    (folder / f"svc{named}.yaml").write_text(yaml.safe_dump(doc))
    for args in (["validate", str(repo / "clusters")], ["--repo", str(repo), "--dry-run", "--offline"]):
        code, out = cli(*args, "-o", fmt)
        assert code == 2, out
        assert injected(out) == [], out


def test_a_hostile_value_in_a_diff_starts_no_line_of_its_own(repo: Path) -> None:
    doc = variant(NIMSERVICE, {"metadata.namespace": "nim-service", "metadata.name": "noted"})
    doc["spec"]["storage"]["nimCache"]["name"] = "meta-llama-3-2-1b-instruct"
    doc["spec"]["env"] = [{"name": "NOTE", "value": "a\n::add-mask::x\n  ::error::y\x1b[2J"}]
    (repo / "clusters" / "demo" / "noted.yaml").write_text(yaml.safe_dump(doc))
    for fmt in ("text", "github"):
        code, out = cli("--repo", str(repo), "--dry-run", "--offline", "-o", fmt)
        assert code == 1, out
        assert injected(out) == [], out
    rendered = CliRunner().invoke(main, ["render", str(repo)])
    assert rendered.exit_code == 0 and injected(rendered.output) == []
    envs = [  # still YAML that reads back to the value written
        e["value"]
        for d in yaml.safe_load_all(rendered.stdout)
        if d["kind"] == "Deployment"
        for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])
        if e["name"] == "NOTE"
    ]
    assert envs == ["a\n::add-mask::x\n  ::error::y\x1b[2J"]


def test_click_usage_errors_are_escaped_too(repo: Path) -> None:
    code, out = cli("--repo", str(repo), "--cluster", "x\n::error::pwn", "--dry-run", "--offline")
    assert code == 2 and injected(out) == [] and out.count("\n") == 1
    code, out = cli("--no-such-flag\n::error::pwn")
    assert code == 2 and injected(out) == [] and "see reconcile --help" in out


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"metadata.name": "bad\n"}, "metadata.name", "must be a DNS-1123 label"),
        ({"spec.replicas": 2.0}, "spec.replicas", "must be an integer, not 2.0"),
        ({"spec.userID": "OCTAL"}, "spec.userID", "0755 is read by YAML 1.1 as 493"),
        ({"spec.groupID": "SEXAGESIMAL"}, "spec.groupID", "1:30 is read by YAML 1.1 as 90"),
        ({"spec.env": [{"name": "X", "value": "a"}, {"name": "X", "value": "b"}]}, "spec.env", 'Duplicate value: "X"'),
        (
            {"spec.expose": {"service": {"port": 8000, "metricsPort": 8000}}},
            "spec.expose.service.metricsPort",
            "Duplicate value: 8000 is already spec.expose.service.port",
        ),
        ({"spec.labels": {"bad key!": "v"}}, "spec.labels.bad key!", "name part must consist"),
        ({"spec.annotations": {"ok": "v", "a/b/c": "v"}}, "spec.annotations", "a/b/c"),
    ],
)
def test_validation_cannot_be_bypassed(tmp_path: Path, change: dict[str, object], field: str, says: str) -> None:
    folder = tmp_path / "clusters" / "demo"
    folder.mkdir(parents=True)
    text = dump(NIMCACHE) + "---\n" + dump(variant(NIMSERVICE, change))
    text = text.replace("OCTAL", "0755").replace("SEXAGESIMAL", "1:30").replace("'0755'", "0755")
    text = text.replace("'1:30'", "1:30")
    (folder / "m.yaml").write_text(text)
    code, out = cli("validate", str(tmp_path / "clusters"))
    assert code == 2, out
    problem = next(line for line in out.splitlines() if says in line)
    assert re.match(r".*m\.yaml:\d+: ", problem) and field in problem, problem


def test_two_manifests_that_render_one_object_are_both_refused(tmp_path: Path) -> None:
    # A NIMCache's PVC is <name>-pvc; a NIMService naming its own PVC so would take over the model cache.
    folder = tmp_path / "clusters" / "demo"
    folder.mkdir(parents=True)
    own_pvc = {"name": "llama-3-2-1b-pvc", "create": True, "size": "1Gi", "volumeAccessMode": "ReadWriteOnce"}
    service = variant(NIMSERVICE, {"metadata.name": "other", "spec.storage": {"pvc": own_pvc}})
    (folder / "cache.yaml").write_text(dump(NIMCACHE))
    (folder / "service.yaml").write_text(dump(service))
    code, out = cli("validate", str(tmp_path / "clusters"))
    assert code == 2
    lines = [line for line in out.splitlines() if "PersistentVolumeClaim/nim/llama-3-2-1b-pvc is rendered" in line]
    assert {line.split(":")[0].rsplit("/", 1)[-1] for line in lines} == {"cache.yaml", "service.yaml"}
    assert "Invalid: 2" in out


ANSWERS = {
    "html": (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "login": (200, "text/html", b"<html><form>Sign in</form></html>"),
    "list": (200, "application/json", b"[1, 2, 3]"),
    "cut": (200, "application/json", b'{"kind": "Status", "mess'),
    "echo": (401, "application/json", b'{"kind":"Status","message":"token {TOKEN} refused"}'),
}


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(HostileProxy, "answer", ANSWERS["html"])
    with hostile_proxy() as port:
        yield port


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_a_hostile_api_proxy_gets_one_line_and_exit_2(
    repo: Path, tmp_path: Path, proxy: int, answer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HostileProxy, "answer", ANSWERS[answer])
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{proxy}")
    text = kubeconfig.read_text().replace("token: t", f"token: {SECRET}")
    kubeconfig.write_text(text)
    code, out = cli("--repo", str(repo), "--kubeconfig", str(kubeconfig), "--retries", "1", "--request-timeout", "2s")
    assert code == 2, out
    assert "Traceback" not in out and "internal error" not in out and SECRET not in out
    assert [line for line in out.splitlines() if line.startswith("error: ")], out


def test_loop_mode_outlives_a_hostile_proxy(repo: Path, tmp_path: Path, proxy: int) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{proxy}")
    command = [sys.executable, "-m", "reconciler", "--repo", str(repo), "--kubeconfig", str(kubeconfig)]
    command += ["--retries", "0", "--interval", "1s"]
    env = {**os.environ, "HOME": str(tmp_path)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    seen, deadline = [], time.monotonic() + 20
    # the first runs fail on the proxy's 502 page; the loop backs off and tries again: wait for the second failure
    while sum(line.startswith("error: ") for line in seen) < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
    alive = process.poll() is None
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    out = "".join(seen) + rest
    assert alive, out
    assert out.count("error: ") >= 2 and "Traceback" not in out, out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--pushgateway", "notaurl"], "--pushgateway notaurl: not an http:// or https:// URL"),
        (["--kubeconfig", "KUBECONFIG"], "cannot load the cluster configuration"),
        (["--repo", "https://exa mple.com:99999/x"], "git ls-remote failed"),
        (["--repo", "https://user:" + SECRET + "@127.0.0.1:9/x"], "git ls-remote failed"),
        (["--repo", "https://127.0.0.1:9/x?private_token=" + SECRET], "git ls-remote failed"),
    ],
)
def test_bad_flags_and_local_files_are_one_line_exit_2(repo: Path, tmp_path: Path, args: list[str], says: str) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nclusters: [\n")
    args = [a.replace("KUBECONFIG", str(bad)) for a in args]
    full = ["--dry-run", "--offline", "--cache-dir", str(tmp_path / "cache"), *args]
    if "--repo" not in args:
        full = ["--repo", str(repo), *full]
    if "--kubeconfig" in args:
        full.remove("--offline")
    code, out = cli(*full)
    assert code == 2, out
    assert says in out and SECRET not in out and "Traceback" not in out and "internal error" not in out
    assert len([line for line in out.splitlines() if line.startswith("error: ")]) == 1, out


def test_the_shipped_examples_still_pass(tmp_path: Path) -> None:
    # The guards refuse the attacker's repo, not ours.
    target = tmp_path / "r"
    shutil.copytree(REPO / "clusters", target / "clusters")
    code, out = cli("validate", str(target / "clusters"))
    assert code == 0, out


def _write_flow_lists(path: Path, documents: int, items: int) -> None:
    path.write_text("".join("---\na: [" + "0," * (items - 1) + "0]\n" for _ in range(documents)))


@pytest.mark.parametrize(
    ("documents", "items", "says"),
    [
        (1, 2_600_000, "a document of more than 50000 YAML nodes"),  # 5 MiB of "0,": was 29 s and 1.5 GB
        (12, 45_000, "a file of more than 500000 YAML nodes"),
        (60_000, 1, "a file of more than 10000 YAML documents"),  # 240,000 nodes, but 60,000 documents to hold
    ],
)
def test_a_file_of_millions_of_nodes_fails_alone_fast_and_small(
    tmp_path: Path, documents: int, items: int, says: str
) -> None:
    folder = tmp_path / "repo" / "clusters" / "demo"
    shutil.copytree(REPO / "clusters" / "demo", folder)
    for name in ("huge-a.yaml", "huge-b.yaml"):
        _write_flow_lists(folder / name, documents, items)
    command = [sys.executable, "-m", "reconciler", "validate", str(folder.parent)]
    timed = ["/usr/bin/time", "-f", "%M", *command]
    done = subprocess.run(timed, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout.count(says) == 2 and "Valid: 10, Invalid: 0" in done.stdout  # the rest is still judged
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    assert peak_kib < 300 * 1024, peak_kib  # the run's own peak, both files included


@pytest.mark.parametrize("fmt", ["text", "github", "json"])
def test_a_file_of_many_broken_documents_prints_a_bounded_number_of_lines(tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "clusters" / "demo"
    folder.mkdir(parents=True)
    (folder / "many.yaml").write_text("".join(f"---\nkind: Nope{i}\n" for i in range(150)))
    code, out = cli("validate", str(tmp_path / "clusters"), "-o", fmt)
    assert code == 2
    naming = [line for line in out.splitlines() if "many.yaml" in line]
    if fmt == "json":
        assert len(json.loads(out)["problems"]) == 150  # machine-readable output keeps them all
        return
    assert len(naming) == 101, len(naming)  # 100 problems, then how many more
    assert "50 more problems not shown" in naming[-1] and "Errors: 150" in out
    assert injected(out) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"spec.env": [{"name": "X", "value": "a"}, {"name": "Y", "value": "b"}, {"name": "X", "value": "c"}]},
            "spec.env[2].name",
        ),
        ({"spec.image.pullSecrets": ["ngc-secret", "other", "ngc-secret"]}, "spec.image.pullSecrets[2]"),
    ],
)
def test_a_duplicate_is_reported_at_its_second_entry(tmp_path: Path, change: dict[str, object], field: str) -> None:
    folder = tmp_path / "clusters" / "demo"
    folder.mkdir(parents=True)
    text = dump(NIMCACHE) + "---\n" + dump(variant(NIMSERVICE, change))
    (folder / "m.yaml").write_text(text)
    code, out = cli("validate", str(tmp_path / "clusters"))
    problem = next(line for line in out.splitlines() if "Duplicate value" in line)
    line = int(problem.split("m.yaml:")[1].split(":")[0])
    assert code == 2 and f": {field}: " in problem, problem
    entries = [i + 1 for i, t in enumerate(text.splitlines()) if t.strip() in ("- name: X", "- ngc-secret")]
    assert line == entries[-1] and len(entries) >= 2, (problem, line, entries)  # the second, not the first
