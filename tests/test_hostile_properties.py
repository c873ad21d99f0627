"""Hostile input, property-based: hypothesis builds the attacker's repo (file trees with hostile names, symbolic
links out and in loops, manifests whose names, keys and values carry workflow commands, escape sequences and a
planted secret, broken and binary files, files of many nodes) and the hostile proxy's answers (any status, any
content type, HTML, JSON that is no object, bodies cut short, messages echoing the token). Whatever it builds:

- nothing from outside the repo and no registered secret is printed;
- no output line is a workflow command we did not write, and no raw control character reaches the output;
- bad input ends in one-line errors and exit 2, never a traceback;
- a file costs bounded memory and time, whatever its shape.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli.main import main
from reconciler.documents import load_file
from reconciler.redaction import register
from reconciler.validate.check import validate

from .helpers import REPO, HostileProxy, hostile_proxy, injected, write_kubeconfig
from .manifests import NIMCACHE, NIMSERVICE, variant

SECRET = "hyp-s3cret-7f2a91"  # this process's token: registered, planted in inputs, never printed
OUTSIDE = "OUTSIDE-CONTENT-8e1b"  # in files beside the repo: never read, so never printed
FRAGMENTS = [
    "\n::error title=x::pwn",
    "%0A::add-mask::y",
    "\r::stop-commands::z",
    "\x1b[2J",
    "\x1b]0;title\x07",
    "\u202egnp.exe",
    "\u2028",
    "\x00",
    "\x85",
    SECRET,
    f"https://u:{SECRET}@git.example.com/x",
    f"Bearer {SECRET}",
]
ALPHABET = st.sampled_from([*"abz09-_. :%/=", "\n", "\r", "\t", "\x1b", "\x07", "\x7f", "\u202e", "é"])
hostile = st.one_of(st.sampled_from(FRAGMENTS), st.text(ALPHABET, max_size=24), st.text(max_size=12))


def _file_name(text: str) -> str:
    """A name a file system holds: no slash or NUL, under 200 bytes, not . or .."""
    name = text.replace("/", "_").replace("\x00", "")[:40] or "f"
    return "f" + name if name in (".", "..") else name


names = st.one_of(st.sampled_from(FRAGMENTS), st.text(ALPHABET, min_size=1, max_size=16)).map(_file_name)
ENTRY_KINDS = ["manifest", "broken", "binary", "link-out", "link-dir-out", "link-loop", "link-dangling", "many-nodes"]
entries = st.tuples(
    st.sampled_from(ENTRY_KINDS), st.one_of(st.none(), names), names, hostile, hostile, st.integers(0, 3)
)


def _manifest(value: str, key: str, which: int) -> str:
    base = variant(NIMSERVICE if which % 2 else NIMCACHE, {"metadata.namespace": "nim-service"})
    body: dict[str, Any] = {**base, "spec": dict(base["spec"])}
    if which == 0:
        body["metadata"] = {**body["metadata"], "name": value}
    elif which == 1:
        body["spec"][key] = value
    elif which == 2:
        body["metadata"] = {**body["metadata"], "labels": {key: value}}
    else:
        body["spec"]["env"] = [{"name": "NOTE", "value": value}, {"name": key or "K", "value": SECRET}]
    return yaml.safe_dump(body, allow_unicode=True)


def _plant(demo: Path, outside: Path, entry: tuple[str, str | None, str, str, str, int]) -> None:
    kind, folder, name, value, key, which = entry
    where = demo / folder if folder else demo
    if os.path.lexists(where) and (where.is_symlink() or not where.is_dir()):
        return  # an earlier entry took this name for a file or a link: planting through it proves nothing
    where.mkdir(exist_ok=True)
    target = where / f"{name}.yaml"
    if os.path.lexists(target) or os.path.lexists(where / name):
        return
    if kind == "manifest":
        target.write_text(_manifest(value, key, which), encoding="utf-8", errors="surrogatepass")
    elif kind == "broken":
        target.write_text(f"note: {SECRET}\nname: {value!r}\nbroken: [\n", encoding="utf-8", errors="replace")
    elif kind == "binary":
        target.write_bytes(bytes(range(256)) * (which + 1) + SECRET.encode())
    elif kind == "link-out":
        target.symlink_to(outside / "token.yaml")
    elif kind == "link-dir-out":
        (where / name).symlink_to(outside)
    elif kind == "link-loop":
        (where / name).symlink_to("." if which % 2 else "..")
    elif kind == "link-dangling":
        target.symlink_to(outside / "nothing.yaml")
    else:  # a file of many nodes: over the per-document budget, under the byte limit
        target.write_text("a: [" + "0," * (60_000 + 10_000 * which) + "0]\n")


def _attacker_repo(root: Path, planted: list[tuple[str, str | None, str, str, str, int]]) -> Path:
    outside = root / "outside"
    outside.mkdir()
    (outside / "token.yaml").write_text(f"token: {OUTSIDE}\nbroken: [\n")
    (outside / "ok.yaml").write_text(yaml.safe_dump(variant(NIMCACHE, {"metadata.name": OUTSIDE.lower()})))
    demo = root / "repo" / "clusters" / "demo"
    shutil.copytree(REPO / "clusters" / "demo", demo)
    for entry in planted:
        _plant(demo, outside, entry)
    return root / "repo"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def _clean(code: int, out: str) -> None:
    """The invariants every run keeps, whatever it was fed."""
    assert OUTSIDE not in out and OUTSIDE.lower() not in out, out
    assert SECRET not in out, out
    assert injected(out) == [], out
    assert "Traceback" not in out and "internal error" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error: ") or ": error" in line]
    if code == 2:
        assert out.strip(), "exit 2 without a word"
    else:
        assert code in (0, 1) and not errors, out


@pytest.fixture(autouse=True, scope="module")
def _registered() -> None:
    register(SECRET)


@pytest.mark.long
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries, min_size=1, max_size=5), st.sampled_from(["text", "json", "github"]))
def test_an_attacker_repo_never_leaks_injects_or_crashes(
    planted: list[tuple[str, str | None, str, str, str, int]], fmt: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _attacker_repo(Path(tmp), planted)
        code, out = _invoke("validate", str(repo / "clusters"), "-o", fmt)
        _clean(code, out)
        code, out = _invoke("--repo", str(repo), "--dry-run", "--offline", "-o", fmt)
        _clean(code, out)


@settings(max_examples=30, deadline=None)
@given(hostile, st.sampled_from(["--cluster", "--templates", "--cache-dir", "--only", "--max-prune"]))
def test_hostile_flag_values_are_one_escaped_line(value: str, flag: str) -> None:
    code, out = _invoke("--repo", str(REPO), "--dry-run", "--offline", flag, value.replace("\x00", ""))
    _clean(code, out)


# the shapes of hostile YAML: (template, how many); each stays under the byte limit
SHAPES = [
    ("flow list", lambda n: "a: [" + "0," * n + "0]\n"),
    ("block list", lambda n: "a:\n" + "- 0\n" * n),
    ("wide map", lambda n: "".join(f"k{i}: {i}\n" for i in range(n))),
    ("aliases", lambda n: "a: &a [" + ",".join(["x"] * 50) + "]\n" + "".join(f"b{i}: *a\n" for i in range(n))),
    ("documents", lambda n: "---\nx: 1\n" * n),
    ("nesting", lambda n: "a: " + "[" * min(n, 5000) + "]" * min(n, 5000) + "\n"),
    ("long string", lambda n: "a: " + "x" * (n * 8) + "\n"),
]


def _peak_growth(path: Path) -> tuple[int, list[str]]:
    """Load and validate ``path`` in a forked child: (peak RSS over the child's start in KiB, problems).
    The kernel's high-water mark of the child starts at its RSS when forked, so the growth is this file's cost."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing but the work, then the numbers down the pipe
        os.close(read)
        with open("/proc/self/statm") as statm:
            start_kib = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        docs, problems = load_file(path)
        problems += validate(docs).problems
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_kib
        os.write(write, json.dumps([growth, [str(p) for p in problems[:50]]]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    growth, problems = json.loads(answer)
    return growth, problems


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SHAPES), st.integers(1_000, 400_000))
def test_a_file_of_any_shape_costs_bounded_memory(shape: tuple[str, Any], n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.yaml"
        path.write_text(shape[1](n)[: 5 * 1024 * 1024 - 1])
        growth_kib, problems = _peak_growth(path)
    # time is bounded by the reader's limits (nodes per file; FILE_SECONDS to count them), not asserted here
    assert growth_kib < 150 * 1024, (shape[0], n, growth_kib)
    for problem in problems:
        assert problem.startswith(str(path)) and "\n" not in problem, problem


@pytest.fixture(scope="module")
def proxy() -> Iterator[int]:
    with hostile_proxy() as port:
        yield port


BODIES = st.one_of(
    st.sampled_from(
        [
            b"<html><h1>502 Bad Gateway</h1></html>",
            b"[1, 2, 3]",
            b'"just a string"',
            b"null",
            b'{"kind": "Status", "mess',
            b'{"kind":"Status","message":"token {TOKEN} refused","reason":"Unauthorized","code":401}',
            b'{"kind":"Status","message":"\\n::error::pwn \\u001b[2J","code":500}',
            b'{"kind":"APIResourceList","resources":"nope"}',
            b'{"items": 7}',
            b"",
        ]
    ),
    st.binary(max_size=64),
    st.text(ALPHABET, max_size=40).map(lambda t: ('{"kind":"Status","message":"' + t + '"}').encode()),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([200, 201, 301, 401, 403, 404, 409, 410, 429, 500, 502, 503]),
    st.sampled_from(["application/json", "text/html", "text/plain", ""]),
    BODIES,
)
@pytest.mark.long
def test_a_hostile_proxy_gets_exit_2_and_no_leak(proxy: int, status: int, kind: str, body: bytes) -> None:
    HostileProxy.answer = (status, kind, body)
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", f"http://127.0.0.1:{proxy}")
        kubeconfig.write_text(kubeconfig.read_text().replace("token: t", f"token: {SECRET}"))
        args = ["--repo", str(REPO), "--kubeconfig", str(kubeconfig), "--retries", "0", "--request-timeout", "2s"]
        code, out = _invoke(*args, "--cache-dir", str(Path(tmp) / "cache"))
    _clean(code, out)
    assert code == 2, out  # no answer of this proxy is a cluster a run could succeed against
