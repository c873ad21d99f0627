"""documents.py: YAML loading with lines, and its safety limits."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import yaml

from reconciler.documents import MAX_FILE_BYTES, load_paths, load_text
from reconciler.jail import walk

from .helpers import load_one


def rules_of(text: str) -> list[tuple[str, int, str]]:
    _, problems = load_text(text, "f.yaml")
    return [(p.rule, p.where.line, p.field) for p in problems]


def test_every_key_and_item_keeps_its_line() -> None:
    doc = load_one("a: 1\nb:\n  c:\n    - x\n    - y: 2\n")
    assert doc.where.line == 1
    assert doc.lines[("b",)] == 2
    assert doc.lines[("b", "c", 1)] == 5
    assert doc.lines[("b", "c", 1, "y")] == 5
    assert doc.line_of(("b", "c", 0, "missing")) == 4


def test_multi_document_stream_keeps_document_lines_and_skips_empty_ones() -> None:
    docs, problems = load_text("---\na: 1\n---\n# only a comment\n---\n---\nb: 2\n", "f.yaml")
    assert problems == []
    assert [d.where.line for d in docs] == [2, 7]
    assert docs[1].lines[("b",)] == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: 2\na: 3\n", ("yaml-duplicate-key", 3, "a")),
        ("x:\n  y: 1\n  y: 1\n", ("yaml-duplicate-key", 3, "x.y")),
        ("- a\n- b\n", ("document-not-mapping", 1, "")),
        ("just text\n", ("document-not-mapping", 1, "")),
        ("a: [1, 2\n", ("yaml-syntax", 2, "")),
        ("a: !custom x\n", ("yaml-tag", 1, "a")),
        ("yes: 1\n", ("yaml-key-type", 1, "")),
        ("a:\n  1: x\n", ("yaml-key-type", 2, "a")),
        ("a: &x [*x]\n", ("yaml-alias", 1, "")),
    ],
)
def test_bad_yaml_is_a_problem_at_its_line(text: str, expected: tuple[str, int, str]) -> None:
    assert expected in rules_of(text)


def test_duplicate_key_message_names_both_lines() -> None:
    _, problems = load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert "first at line 1" in problems[0].message


def test_alias_bomb_is_rejected_without_being_expanded() -> None:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghij":
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    load_text("warm: up\n", "warm.yaml")  # anything loaded lazily is loaded before memory is traced
    tracemalloc.start()
    try:
        docs, problems = load_text(text, "bomb.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # expanded, the last anchor stands for 9^10 (3.5 billion) strings; refused from the node graph, ~22 KiB
    assert peak < 1024 * 1024, peak
    assert docs == []
    assert [p.rule for p in problems] == ["yaml-alias"]


def test_modest_aliases_and_merge_keys_are_fine() -> None:
    doc = load_one("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nagain: *b\n")
    assert doc.body["use"] == {"x": 1, "y": 3}
    assert doc.body["again"] == {"x": 1, "y": 2}


def test_null_values_are_absent_like_the_api_server_prunes_them() -> None:
    assert load_one("a:\nb: ~\nc: 1\n").body == {"c": 1}


def test_scalars_keep_yaml_types_and_timestamps_stay_text() -> None:
    body = load_one('a: 1\nb: "1"\nc: true\nd: 1.5\ne: 2024-03-03T10:15:30Z\n').body
    assert body == {"a": 1, "b": "1", "c": True, "d": 1.5, "e": "2024-03-03T10:15:30Z"}


def test_raw_text_of_non_string_scalars_is_kept_for_messages() -> None:
    doc = load_one("a: yes\nb: 1.50\n")
    assert doc.raw[("a",)] == "yes"
    assert doc.raw[("b",)] == "1.50"


def test_deep_nesting_is_refused_without_crashing() -> None:
    text = "a: " + "[" * 200 + "]" * 200 + "\n"
    _, problems = load_text(text, "deep.yaml")
    assert problems and problems[0].rule == "yaml-depth"


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (MAX_FILE_BYTES + 1) + b"\n")
    loaded = load_paths([big])
    assert [p.rule for p in loaded.problems] == ["file-too-large"]
    assert loaded.documents == []


def test_non_utf8_file_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"a: 1\nb: caf\xe9\n")
    loaded = load_paths([bad])
    assert [(p.rule, p.where.line) for p in loaded.problems] == [("file-encoding", 2)]


def test_directories_are_searched_recursively_for_yaml_only(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.yaml").write_text("x: 1\n")
    (tmp_path / "two.yml").write_text("x: 2\n---\nx: 3\n")
    (tmp_path / "notes.txt").write_text("x: 4\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hidden.yaml").write_text("x: 5\n")
    loaded = load_paths([tmp_path])
    assert loaded.files == 2
    assert [d.body["x"] for d in loaded.documents] == [1, 2, 3]
    assert loaded.documents[0].where.path == str(tmp_path / "a" / "one.yaml")


def test_an_entry_that_cannot_be_looked_at_is_a_problem_and_the_walk_goes_on() -> None:
    # A kernel thread's /proc/<pid>/exe is a link the kernel will not read (readlink: ENOENT), as an entry gone
    # between the listing and the look is: the walk names it and goes on, instead of failing with a traceback.
    kthreadd = Path("/proc/2")
    if (kthreadd / "comm").read_text().strip() != "kthreadd":
        pytest.fail("this test needs Linux's kthreadd at pid 2 (any VM or CI runner has it)")
    files, problems = walk(kthreadd, kthreadd, limit=10_000)
    unreadable = [p for p in problems if p.rule == "path-unreadable"]
    assert any(p.where.path == "/proc/2/exe" for p in unreadable), [str(p) for p in problems][:5]
    assert all("cannot be read (" in p.message for p in unreadable) and kthreadd / "comm" in files


@pytest.mark.parametrize(("limit", "refused"), [(None, False), (6, False), (5, True)])
def test_a_walk_past_its_limit_stops_with_a_problem(tmp_path: Path, limit: int | None, refused: bool) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "one.yaml").write_text("a: 1\n")
        (tmp_path / name / "two.yaml").write_text("a: 2\n")
    files, problems = walk(tmp_path, tmp_path, limit=limit)  # six entries: two folders, four files
    if refused:
        assert [p.rule for p in problems] == ["path-too-many"] and "more than 5 entries" in problems[0].message
    else:
        assert problems == [] and len(files) == 4


def test_a_missing_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    loaded = load_paths([tmp_path / "nope"])
    assert [p.rule for p in loaded.problems] == ["path-not-found"]


@pytest.mark.parametrize(
    "scalar",
    ["yes", "No", "on", "~", "null", "0755", "0x1f", "1_000", "1:30", "1e3", "1.0e3", ".inf", "-.NaN",
     "2024-01-01", "2024-01-01T10:00:00Z", "<<", "=", "8000", "-1", "+1", "llama", "'quoted'", '"yes"'],
)
def test_the_loader_tags_every_scalar_as_pyyaml_does_also_when_it_has_seen_it_before(scalar: str) -> None:
    from reconciler.yaml_nodes import Loader

    text = f"a: {scalar}\nb: [{scalar}]\n"
    expected = yaml.compose(text, Loader=yaml.CSafeLoader)
    for _ in range(2):  # the second time from the memo
        loader = Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        assert [(k.tag, v.tag) for k, v in node.value][:1] == [(k.tag, v.tag) for k, v in expected.value][:1]
        assert node.value[1][1].value[0].tag == expected.value[1][1].value[0].tag
