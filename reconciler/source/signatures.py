"""Signed commits only (I/O: git's own verification): the revision to apply must be a commit signed by an allowed
key, checked with ``git verify-commit`` before anything reaches the cluster.

Contract: ``verify(root, revision, policy)`` returns who signed (git's "Good signature" line) or raises
``SourceError`` naming why not: unsigned, signed by a key the policy does not allow, a signature that does not
verify, or a work tree with changes no signature covers. ``policy.allowed_signers`` is an SSH allowed-signers
file (``gpg.ssh.allowedSignersFile``); ``policy.keyring`` a file of public GnuPG keys, imported into a
``GNUPGHOME`` of our own (the user's keyring and trust settings are never used). Either may be given, or both.
A shallow clone verifies as a full one: the signature is in the commit object, which the fetch brings.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import UsageError


@dataclass(frozen=True)
class Policy:
    allowed_signers: Path | None = None
    keyring: Path | None = None


class SignatureError(UsageError):
    """The revision is not a commit an allowed key signed (exit 2, before the cluster is contacted)."""


def verify(root: Path, revision: str | None, policy: Policy, timeout: float = 30.0) -> str:
    """Who signed ``revision`` of the repo at ``root`` (see the module's contract)."""
    if not revision:
        raise SignatureError(f"{root}: --verify-commits needs a git checkout (this directory is not one)")
    if revision.endswith("-dirty"):
        raise SignatureError(f"{root}: the work tree has changes no signature covers (commit them, signed)")
    for path in (policy.allowed_signers, policy.keyring):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file (GIT_ALLOWED_SIGNERS / GIT_GPG_KEYRING)")
    with tempfile.TemporaryDirectory(prefix="nim-reconciler-gpg-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_CONFIG", "GNUPG"))}
        env |= {"GNUPGHOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
        os.chmod(home, 0o700)
        if policy.keyring is not None:
            imported = _run(["gpg", "--batch", "--quiet", "--import", str(policy.keyring)], env, timeout)
            if imported.returncode != 0:
                why = _line(imported.stderr, ("",))
                raise UsageError(f"{policy.keyring}: not a GnuPG public keyring: {why}")
        config = ["-c", f"gpg.ssh.allowedSignersFile={policy.allowed_signers or os.devnull}"]
        done = _run(["git", "-C", str(root), *config, "verify-commit", revision], env, timeout)
    said = done.stderr.strip()
    short = revision[:12]
    if done.returncode == 0:
        return _line(said, ("Good",)) or f"commit {short} is signed"
    if not said:  # git says nothing of a commit without a signature
        raise SignatureError(f"commit {short} is not signed (--verify-commits applies signed commits only)")
    refused = _line(said, ("No principal matched", "No public key", "allowedSignersFile"))
    if refused:
        raise SignatureError(f"commit {short} is signed by a key that is not allowed: {refused}")
    raise SignatureError(
        f"commit {short}: its signature does not verify: {_line(said, ('BAD', 'error')) or _line(said, ('',))}"
    )


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise UsageError(f"--verify-commits needs {args[0]}, which is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise SignatureError(f"{args[0]} took over {timeout:g} s to verify") from exc


def _line(text: str, marks: tuple[str, ...]) -> str:
    """The first line of git's (or gpg's) words that holds one of ``marks``, without gpg's prefix."""
    for line in text.splitlines():
        if any(mark in line for mark in marks):
            return line.strip().removeprefix("gpg:").strip()[:300]
    return ""
