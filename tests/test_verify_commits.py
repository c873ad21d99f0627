"""Signed commits only: `--verify-commits` applies a commit an allowed key signed (SSH allowed-signers or a GnuPG
keyring, verified by git itself) and refuses anything else with exit 2 before the cluster is contacted. Real keys
are made in the test with ssh-keygen and gpg."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main

from .apiserver import ApiServer
from .gitrepos import IDENTITY, GitRepo, git
from .helpers import DEMO_NAMESPACES, install, live

KEYS_ENV = ("GIT_ALLOWED_SIGNERS", "GIT_GPG_KEYRING")


def ssh_key(root: Path, name: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(root / name)], check=True)
    return root / f"{name}.pub"


def allowed(root: Path, *keys: Path) -> Path:
    path = root / "allowed_signers"
    path.write_text("".join(f"test@example.com {' '.join(k.read_text().split()[:2])}\n" for k in keys))
    return path


def signed_push(remote: GitRepo, message: str, key: Path) -> str:
    git(remote.work, "add", "-A")
    git(remote.work, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "-S", "--allow-empty",
        "-m", message)  # fmt: skip
    git(remote.work, "push", "-q", "--force", str(remote.bare), "HEAD:main")
    return git(remote.work, "rev-parse", "HEAD")


def reconcile(api: ApiServer, url: str, env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", url, "--ref", "main", "--kubeconfig", str(api.kubeconfig),
                                       "--verify-commits", *args], env=env)  # fmt: skip
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """(the trusted key, another key), both SSH ed25519."""
    return ssh_key(tmp_path, "trusted"), ssh_key(tmp_path, "stranger")


def test_only_a_commit_an_allowed_ssh_key_signed_is_applied(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    trusted, stranger = keys
    remote = GitRepo(tmp_path / "git")
    env = {"GIT_ALLOWED_SIGNERS": str(allowed(tmp_path, trusted)), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with ApiServer(tmp_path, namespaces=DEMO_NAMESPACES) as api:
        install(api)
        seen = len(api.requests)
        code, out = reconcile(api, remote.url, env)  # the first commit is unsigned
        assert code == 2 and "is not signed (--verify-commits applies signed commits only)" in out, out
        assert len(api.requests) == seen, "refused before the cluster is contacted"

        sha = signed_push(remote, "signed by the trusted key", trusted)
        code, out = reconcile(api, remote.url, env)
        assert code == 0, out
        assert live(api, "NIMCache", "nemoguard"), "applied"
        assert live(api, "NIMCache", "nemoguard")["content-safety-cache"]["metadata"]["annotations"][
            "nim-reconciler/revision"] == sha  # fmt: skip

        signed_push(remote, "signed by a stranger", stranger)
        seen, writes = len(api.requests), len(api.writes(leases=True))
        code, out = reconcile(api, remote.url, env)
        assert code == 2 and "is signed by a key that is not allowed: No principal matched" in out, out
        assert len(api.requests) == seen and len(api.writes(leases=True)) == writes


def test_a_gpg_signed_commit_verifies_against_the_keyring_given(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg_env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Test <test@example.com>", "ed25519",
                    "sign", "never"], env=gpg_env, check=True, capture_output=True)  # fmt: skip
    listing = subprocess.run(["gpg", "--list-keys", "--with-colons"], env=gpg_env, capture_output=True, text=True)
    fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr"))
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(subprocess.run(["gpg", "--export", fingerprint], env=gpg_env, capture_output=True).stdout)

    remote = GitRepo(tmp_path / "git")
    (remote.work / "clusters" / "demo" / "note.txt").write_text("signed with gpg\n")
    git(remote.work, "add", "-A")
    subprocess.run(["git", "-c", f"user.signingkey={fingerprint}", "commit", "-q", "-S", "-m", "gpg"],
                   cwd=remote.work, env={**gpg_env, **IDENTITY}, check=True)  # fmt: skip
    git(remote.work, "push", "-q", str(remote.bare), "HEAD:main")
    env = {"GIT_GPG_KEYRING": str(keyring), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with ApiServer(tmp_path, namespaces=DEMO_NAMESPACES) as api:
        install(api)
        code, out = reconcile(api, remote.url, env)
        assert code == 0, out
        code, out = reconcile(api, remote.url, {**env, "GIT_GPG_KEYRING": str(tmp_path / "missing.gpg")})
        assert code == 2 and "missing.gpg: no such file" in out, out


def test_without_keys_or_on_a_dirty_tree_it_is_a_usage_error(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    remote = GitRepo(tmp_path / "git")
    with ApiServer(tmp_path) as api:
        code, out = reconcile(api, remote.url, {k: "" for k in KEYS_ENV})
        assert code == 2 and "--verify-commits needs GIT_ALLOWED_SIGNERS" in out
    # a pull-request check: the head of the local checkout must be signed, and clean
    signed_push(remote, "signed", keys[0])
    env = {"GIT_ALLOWED_SIGNERS": str(allowed(tmp_path, keys[0]))}
    review = ["--repo", str(remote.work), "--dry-run", "--base", "HEAD~1", "--verify-commits"]
    result = CliRunner().invoke(main, review, env=env)
    assert result.exit_code in (0, 1), result.output
    (remote.work / "clusters" / "demo" / "extra.txt").write_text("not committed\n")
    git(remote.work, "add", "-A")
    result = CliRunner().invoke(main, review, env=env)
    assert result.exit_code == 2 and "the work tree has changes no signature covers" in result.output
    git(remote.work, "commit", "-q", "-m", "unsigned head")
    result = CliRunner().invoke(main, review, env=env)
    assert result.exit_code == 2 and "is not signed" in result.output
