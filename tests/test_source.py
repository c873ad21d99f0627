"""source.py: clones and shallow fetches from local bare repositories over file://, refs, the cache, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler import source
from reconciler.errors import UsageError
from reconciler.source import Credentials, RemoteSpec, SourceError

from .gitrepos import GitRepo, git

DEMO = Path("clusters/demo/nemoguard/content-safety.yaml")


@pytest.fixture
def remote(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "git")


def fetch(repo: GitRepo, cache: Path, ref: str = "main") -> source.Checkout:
    return source.remote(RemoteSpec(repo.url, ref), cache, Credentials())


def test_first_run_clones_the_branch_shallow(remote: GitRepo, tmp_path: Path) -> None:
    got = fetch(remote, tmp_path / "cache")
    assert got.revision == git(remote.work, "rev-parse", "HEAD")
    assert (got.root / DEMO).read_text() == (remote.work / DEMO).read_text()
    assert got.fetched and got.requests == {"ls-remote": 1, "fetch": 1}
    assert git(got.root, "rev-parse", "--is-shallow-repository") == "true"


def test_an_unchanged_remote_costs_one_ls_remote_and_no_fetch(remote: GitRepo, tmp_path: Path) -> None:
    first = fetch(remote, tmp_path / "cache")
    again = fetch(remote, tmp_path / "cache")
    assert again.revision == first.revision and again.root == first.root
    assert not again.fetched and again.requests == {"ls-remote": 1}


def test_a_new_commit_is_fetched_and_deleted_files_disappear(remote: GitRepo, tmp_path: Path) -> None:
    fetch(remote, tmp_path / "cache")
    (remote.work / DEMO).unlink()
    sha = remote.push("remove content-safety")
    got = fetch(remote, tmp_path / "cache")
    assert got.revision == sha and got.fetched and got.requests == {"ls-remote": 1, "fetch": 1}
    assert not (got.root / DEMO).exists()


def test_tag_and_commit_refs(remote: GitRepo, tmp_path: Path) -> None:
    first = git(remote.work, "rev-parse", "HEAD")
    remote.tag("v1")  # annotated: ls-remote lists the tag object and the commit it points to
    (remote.work / DEMO).write_text("# moved on\n")
    remote.push("second")
    tagged = fetch(remote, tmp_path / "cache", "v1")
    assert tagged.revision == first and (tagged.root / DEMO).read_text() != "# moved on\n"
    pinned = fetch(remote, tmp_path / "cache2", first)
    assert pinned.revision == first and pinned.requests == {"fetch": 1}  # a full SHA needs no ls-remote
    again = fetch(remote, tmp_path / "cache2", first)
    assert again.requests == {} and not again.fetched  # the commit is checked out: not even ls-remote


def test_an_unknown_ref_is_a_clear_error(remote: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no branch or tag 'nope'"):
        fetch(remote, tmp_path / "cache", "nope")


@pytest.mark.parametrize(
    "damage",
    [
        lambda root: (root / ".git" / source.MARKER).unlink(),  # a clone that died before it finished
        lambda root: shutil.rmtree(root / ".git" / "objects"),  # objects gone
        lambda root: (root / DEMO).write_text("edited in the cache\n"),  # a file changed by hand
        lambda root: (root / ".git" / "HEAD").write_text("garbage\n"),  # a broken HEAD
    ],
    ids=["half-written", "objects-missing", "file-edited", "head-broken"],
)
def test_a_corrupt_cache_is_cloned_again(remote: GitRepo, tmp_path: Path, damage: object) -> None:
    first = fetch(remote, tmp_path / "cache")
    damage(first.root)  # type: ignore[operator]
    got = fetch(remote, tmp_path / "cache")
    assert got.fetched and got.revision == first.revision
    assert (got.root / DEMO).read_text() == (remote.work / DEMO).read_text()


def test_an_unreachable_remote_fails_with_the_url_redacted(tmp_path: Path) -> None:
    spec = RemoteSpec("https://deploy:s3cr3t-token@127.0.0.1:9/repo.git", "main", timeout=10)
    with pytest.raises(SourceError) as caught:
        source.remote(spec, tmp_path / "cache", Credentials(token="another-secret"))
    message = str(caught.value)
    assert "https://***@127.0.0.1:9/repo.git" in message
    assert "s3cr3t" not in message and "another-secret" not in message
    assert caught.value.requests == {"ls-remote": 1}


def test_no_token_for_plain_http_or_file_urls(tmp_path: Path) -> None:
    for url in ("http://example.com/x.git", "file:///srv/x.git"):
        assert "NIM_RECONCILER_GIT_TOKEN" not in source.git_env(url, Credentials(token="t"), tmp_path)


def test_ssh_needs_known_hosts_and_checks_host_keys_strictly(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="GIT_KNOWN_HOSTS"):
        source.git_env("git@github.com:org/repo.git", Credentials(ssh_key_file="/keys/id"), tmp_path)
    env = source.git_env(
        "ssh://git@github.com/org/repo.git",
        Credentials(ssh_key_file="/keys/id", known_hosts="github.com ssh-ed25519 AAAAC3Nza"),
        tmp_path,
    )
    command = env["GIT_SSH_COMMAND"]
    assert "StrictHostKeyChecking=yes" in command and "-i /keys/id" in command
    assert (tmp_path / "known_hosts").read_text() == "github.com ssh-ed25519 AAAAC3Nza\n"


def test_a_known_hosts_path_must_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "known_hosts")
    with pytest.raises(UsageError, match=r"GIT_KNOWN_HOSTS .*known_hosts: no such file"):
        source.git_env("ssh://git@h/x.git", Credentials(known_hosts=missing), tmp_path)


def test_urls_and_local_paths_are_told_apart() -> None:
    assert all(
        source.is_url(u) for u in ("https://h/x.git", "ssh://git@h/x", "git@github.com:org/x.git", "file:///srv/x.git")
    )
    assert not any(source.is_url(p) for p in (".", "gitops", "/srv/checkout", "C:/repo"))


def test_a_local_checkout_is_used_as_it_is(remote: GitRepo, tmp_path: Path) -> None:
    got = source.local(remote.work)
    assert got.root == remote.work and got.revision == git(remote.work, "rev-parse", "HEAD")
    (remote.work / DEMO).write_text("# edited\n")
    assert source.local(remote.work).revision == got.revision + "-dirty"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert source.local(plain).revision is None


def test_snapshot_writes_a_revision_without_touching_the_work_tree(remote: GitRepo, tmp_path: Path) -> None:
    before = (remote.work / DEMO).read_text()
    first = git(remote.work, "rev-parse", "HEAD")
    (remote.work / DEMO).write_text("# changed\n")
    remote.commit("change")
    sha = source.snapshot(remote.work, first, "clusters/demo", tmp_path / "base")
    assert sha == first
    assert (tmp_path / "base" / DEMO).read_text() == before
    assert (remote.work / DEMO).read_text() == "# changed\n"
    with pytest.raises(SourceError):
        source.snapshot(remote.work, "no-such-ref", "clusters", tmp_path / "x")


def test_an_untracked_manifest_makes_the_revision_dirty(remote: GitRepo) -> None:
    # Regression: the run applies an untracked manifest, so the clean HEAD SHA would name a commit without it.
    head = git(remote.work, "rev-parse", "HEAD")
    (remote.work / "notes.txt").write_text("not a manifest, not under clusters/\n")
    assert source.local(remote.work).revision == head
    cluster = (remote.work / DEMO).parent
    (cluster / "new.yaml").write_text("kind: NIMCache\n")
    assert source.local(remote.work).revision == head + "-dirty"
    assert source.local(cluster).revision == head + "-dirty"  # --repo naming the cluster directory itself
