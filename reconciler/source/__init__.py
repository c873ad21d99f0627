"""The git seam: the GitOps repo at one revision, from a local path or a remote URL (I/O; the only module that
touches git).

Contract:
- ``local(path)`` uses the directory as it is; its revision is HEAD's SHA when it is a git work tree (with a
  ``-dirty`` suffix when tracked files were changed), else None.
- ``remote(spec, cache_dir, credentials)`` resolves the ref with one ``git ls-remote`` (none at all for a full
  SHA that is already checked out), fetches only when the SHA differs from the cached checkout (shallow, depth 1),
  and returns the checkout in the cache. A missing, half-written or corrupt cache is cloned afresh.
- ``snapshot(root, rev, prefix, dest)`` writes the files under ``prefix`` at ``rev`` into ``dest`` (the base of a
  pull-request check) with ``ls-tree`` and one ``cat-file --batch``, without touching the work tree.
- Credentials arrive as values and reach git through its environment only (never its command line): the token
  through a credential helper bound to the repo's https origin, so a redirect to another host or to http:// gets
  nothing; the user's ``GIT_CONFIG_*`` entries are kept. Every message leaving this module is redacted, and
  keeps git's own account of the failure. Errors are ``SourceError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.errors import ReconcilerError, UsageError
from reconciler.git_messages import scrub
from reconciler.redaction import redact as redact_text

SHA = re.compile(r"[0-9a-f]{40}")
MARKER = "nim-reconciler.json"  # inside .git/: written last, so its absence means a half-written cache


class SourceError(ReconcilerError):
    """git failed: the remote is unreachable, a ref does not exist, a revision cannot be read."""

    def __init__(self, message: str, requests: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.requests = requests or {}


@dataclass(frozen=True)
class Credentials:
    """From the environment (the CLI reads it): a token for https, or an ssh key with its known_hosts."""

    token: str | None = None
    username: str = "x-access-token"  # what GitHub expects beside a token; GitLab takes any name
    ssh_key_file: str | None = None
    known_hosts: str | None = None  # a file, or the known_hosts lines themselves


@dataclass(frozen=True)
class RemoteSpec:
    url: str
    ref: str = "HEAD"
    timeout: float = 60.0  # Flux's git timeout


@dataclass(frozen=True)
class Checkout:
    """A directory holding the repo at ``revision``; ``requests`` counts the remote git operations by type."""

    root: Path
    revision: str | None
    url: str = ""  # redacted
    ref: str = ""
    fetched: bool = False
    requests: dict[str, int] = field(default_factory=dict)


def is_url(text: str) -> bool:
    """``https://…``, ``ssh://…``, ``file://…``, ``git@host:path``; anything else is a local path."""
    return bool(re.match(r"^(https?|ssh|git|file)://", text) or re.match(r"^[\w.-]+@[\w.-]+:(?!//)", text))


def redact(url: str) -> str:
    """The URL without secrets: user-info (``https://user:token@host/x`` → ``https://***@host/x``) and the
    values of its query string."""
    return redact_text(url)


# --- local checkouts ---------------------------------------------------------------------------------------------


def local(path: Path) -> Checkout:
    """A local checkout used as it is: its revision is HEAD, ``<sha>-dirty`` when the work tree differs from it."""
    if not path.exists():
        raise UsageError(f"--repo {path}: no such directory")
    found = _run(["git", "-C", str(path), "rev-parse", "--show-prefix", "HEAD"], check=False)
    lines = found.stdout.splitlines()
    if found.returncode != 0 or len(lines) != 2:
        return Checkout(path, None)  # not a git work tree, or one without a commit yet
    prefix, head = lines
    status = ["git", "-C", str(path), "status", "--porcelain", "-z", "--untracked-files=all", "--", "."]
    entries = _run(status, check=False).stdout.split("\0")
    return Checkout(path, head + ("-dirty" if any(_dirty(e, prefix) for e in entries) else ""), ref="HEAD")


def _dirty(entry: str, prefix: str) -> bool:
    """A status entry that makes the revision a lie: any change to a tracked file, or a file git does not track
    under ``clusters/`` (the run applies it, but the commit does not hold it). ``prefix``: the path's place in
    the work tree, as git names it."""
    if not entry:
        return False
    if not entry.startswith("?? "):
        return True
    inside = entry[3:].removeprefix(prefix)
    return inside.startswith("clusters/") or "clusters/" in f"/{prefix}"


# --- remote checkouts --------------------------------------------------------------------------------------------


def remote(spec: RemoteSpec, cache_dir: Path, credentials: Credentials) -> Checkout:
    requests: dict[str, int] = {}
    try:
        return _remote(spec, cache_dir, credentials, requests)
    except SourceError as exc:
        raise SourceError(str(exc), requests) from exc


def _remote(spec: RemoteSpec, cache_dir: Path, credentials: Credentials, requests: dict[str, int]) -> Checkout:
    env = git_env(spec.url, credentials, cache_dir)
    secrets = [s for s in (credentials.token,) if s]
    where = cache_dir / _key(spec.url)
    current = _healthy(where)
    if SHA.fullmatch(spec.ref) and current == spec.ref:
        return Checkout(where, current, redact(spec.url), spec.ref, requests=requests)
    wanted, refspec = resolve(spec, env, secrets, requests)
    if current == wanted:
        return Checkout(where, current, redact(spec.url), spec.ref, requests=requests)
    if current is None and where.exists():
        shutil.rmtree(where)  # half-written or corrupt: start again
    try:
        revision = _fetch(where, spec, refspec, env, secrets, requests)
    except SourceError:
        if current is None:
            raise
        shutil.rmtree(where, ignore_errors=True)  # a broken shallow history: one fresh clone before giving up
        revision = _fetch(where, spec, refspec, env, secrets, requests)
    return Checkout(where, revision, redact(spec.url), spec.ref, fetched=True, requests=requests)


def resolve(spec: RemoteSpec, env: dict[str, str], secrets: list[str], requests: dict[str, int]) -> tuple[str, str]:
    """(SHA, what to fetch) of the ref: a full SHA stands for itself; else one ``git ls-remote``.

    A short name is looked up as a branch, then a tag (peeled to its commit), like ``git checkout`` does.
    """
    if SHA.fullmatch(spec.ref):
        return spec.ref, spec.ref
    requests["ls-remote"] = requests.get("ls-remote", 0) + 1
    out = _git(["ls-remote", "--", spec.url, spec.ref, f"{spec.ref}^{{}}"], env, secrets, spec.timeout, spec.url)
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    ref = spec.ref
    candidates = [ref] if ref == "HEAD" or ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    for name in candidates:
        if name in refs:
            return refs.get(f"{name}^{{}}") or refs[name], name
    raise SourceError(f"{redact(spec.url)}: no branch or tag {ref!r} (a commit must be given as its full SHA)")


def _fetch(
    where: Path, spec: RemoteSpec, refspec: str, env: dict[str, str], secrets: list[str], requests: dict[str, int]
) -> str:
    import git  # GitPython: ~0.16 s to import, so only runs that fetch pay for it

    fresh = not (where / ".git").exists()
    if fresh:
        where.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(where) if fresh else git.Repo(where)
    requests["fetch"] = requests.get("fetch", 0) + 1
    try:
        repo.git.fetch("--depth=1", "--no-tags", "--", spec.url, refspec, kill_after_timeout=spec.timeout, env=env)
        revision = repo.git.rev_parse("FETCH_HEAD^{commit}")
        repo.git.checkout("--force", "--detach", revision)
        repo.git.clean("-ffdxq")
    except git.GitCommandError as exc:
        raise SourceError(f"{redact(spec.url)}: fetch of {spec.ref} failed: {scrub(exc.stderr, secrets)}") from exc
    finally:
        repo.close()
    marker = where / ".git" / MARKER
    marker.with_suffix(".tmp").write_text(json.dumps({"url": redact(spec.url), "revision": revision}))
    marker.with_suffix(".tmp").replace(marker)
    return str(revision)


def _healthy(where: Path) -> str | None:
    """The SHA checked out in a cache directory that is complete and clean; None for anything else."""
    marker = where / ".git" / MARKER
    try:
        recorded = json.loads(marker.read_text())["revision"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    head = _run(["git", "-C", str(where), "rev-parse", "--verify", "-q", "HEAD^{commit}"], check=False)
    if head.returncode != 0 or head.stdout.strip() != recorded:
        return None
    status = _run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=all"], check=False)
    if status.returncode != 0 or status.stdout.strip():
        return None  # unreadable objects, or files changed by hand: the cache is not what git says
    return str(recorded)


# git asks a credential helper only after a 401, for the protocol, host and port of the request: bound to the
# repo's https origin, the token is never given to another host, port or to http:// after a redirect. The
# values travel in the environment (not the command line); the helper answers "get" only.
_HELPER = (
    '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
    '"$NIM_RECONCILER_GIT_USERNAME" "$NIM_RECONCILER_GIT_TOKEN"; }; f'
)


def git_env(url: str, credentials: Credentials, cache_dir: Path) -> dict[str, str]:
    """git's environment: never prompt; the token through a credential helper bound to the repo's https origin
    (scheme, host and port); the user's own ``GIT_CONFIG_*`` entries kept, ours after them; ssh with strict
    host keys."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    scheme = urlsplit(url).scheme if "://" in url else "ssh"
    if scheme == "https" and credentials.token:
        origin = _origin(url)
        # "" first: git resets the helper list for this origin, so no helper of the user's stores our token
        _config(env, [(f"credential.{origin}.helper", ""), (f"credential.{origin}.helper", _HELPER)])
        env |= {"NIM_RECONCILER_GIT_USERNAME": credentials.username, "NIM_RECONCILER_GIT_TOKEN": credentials.token}
    if scheme in ("ssh", "git"):
        env["GIT_SSH_COMMAND"] = _ssh_command(credentials, cache_dir)
    return env


def _origin(url: str) -> str:
    """``https://host[:port]`` of a URL, without user-info."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}"


def _config(env: dict[str, str], entries: list[tuple[str, str]]) -> None:
    """Append ``entries`` to the ``GIT_CONFIG_COUNT`` / ``GIT_CONFIG_KEY_n`` list already in ``env``."""
    given = env.get("GIT_CONFIG_COUNT", "0")
    count = int(given) if given.isdigit() else 0
    for key, value in entries:
        env[f"GIT_CONFIG_KEY_{count}"], env[f"GIT_CONFIG_VALUE_{count}"] = key, value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)


def _ssh_command(credentials: Credentials, cache_dir: Path) -> str:
    if not credentials.known_hosts:
        raise UsageError(
            "an ssh repo needs GIT_KNOWN_HOSTS (a known_hosts file or its lines): host keys are never accepted "
            "unchecked"
        )
    known = Path(credentials.known_hosts)
    lines = "\n" in credentials.known_hosts or " " in credentials.known_hosts
    if not lines and not known.is_file():  # a path (no key in it): it must exist, or nothing would be checked
        message = f"GIT_KNOWN_HOSTS {credentials.known_hosts}: no such file (give a file or the known_hosts lines)"
        raise UsageError(message)
    if lines:
        cache_dir.mkdir(parents=True, exist_ok=True)
        known = cache_dir / "known_hosts"
        known.write_text(credentials.known_hosts.strip() + "\n")
    parts = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}"]
    if credentials.ssh_key_file:
        parts += ["-i", credentials.ssh_key_file, "-o", "IdentitiesOnly=yes"]
    return shlex.join(parts)


def _key(url: str) -> str:
    """The cache directory of a URL: its hash without credentials (a rotated token keeps the cache)."""
    parts = urlsplit(url) if "://" in url else None
    plain = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])) if parts else url
    return hashlib.sha256(plain.encode()).hexdigest()[:16]


# --- reading a revision ------------------------------------------------------------------------------------------


def snapshot(root: Path, rev: str, prefix: str, dest: Path) -> str:
    """Write every file under ``prefix`` at ``rev`` of the repo at ``root`` into ``dest``; return the SHA.

    One ``ls-tree`` and one ``cat-file --batch`` (the git CLI: GitPython's tree walk is 5 times slower).
    """
    sha = _git(["-C", str(root), "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], {}, [], 30, str(root)).strip()
    listing = _git(["-C", str(root), "ls-tree", "-r", "-z", sha, "--", prefix], {}, [], 30, str(root))
    blobs = []
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, blob = meta.split()
        if kind == "blob" and not mode.startswith("12"):  # no symlinks: they could point out of the tree
            blobs.append((path, blob))
    if not blobs:
        return sha
    batch = subprocess.run(
        ["git", "-C", str(root), "cat-file", "--batch"],
        input="".join(f"{b}\n" for _, b in blobs).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    offset = 0
    for path, _ in blobs:
        header_end = batch.index(b"\n", offset)
        size = int(batch[offset:header_end].split()[2])
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(batch[header_end + 1 : header_end + 1 + size])
        offset = header_end + 1 + size + 1
    return sha


def repo_root(path: Path) -> Path | None:
    out = _run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], check=False)
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def _git(args: list[str], env: dict[str, str], secrets: list[str], timeout: float, url: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], env=env or None, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SourceError(f"{redact(url)}: git {_verb(args)} timed out after {timeout:g} s") from exc
    if done.returncode != 0:
        raise SourceError(f"{redact(url)}: git {_verb(args)} failed: {scrub(done.stderr, secrets)}")
    return done.stdout


def _verb(args: list[str]) -> str:
    """The git command of ``args`` (``ls-tree`` of ``-C root ls-tree …``), for messages."""
    return args[2] if args[:1] == ["-C"] else args[0]


def _run(args: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=60)
