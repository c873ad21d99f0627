"""source.py over real ssh: an OpenSSH server (sshd, installed by .ci/run) serving a bare repo. Host keys are
checked strictly against GIT_KNOWN_HOSTS, and every failure names its cause: the host key changed, the host is
unknown, the key was refused, the key file is missing or readable by others."""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import source
from reconciler.source import Credentials, RemoteSpec, SourceError

from .gitrepos import GitRepo

SSHD = Path("/usr/sbin/sshd")


@dataclass
class Ssh:
    url: str
    key: Path  # the key the server authorises
    other: Path  # a key it does not
    known: str  # the server's known_hosts line
    other_host_key: str  # the same host with another key, as after a man in the middle


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("sshd did not start listening")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ssh]:
    assert SSHD.exists(), "openssh-server is not installed: .ci/run installs it"
    root = tmp_path_factory.mktemp("ssh")
    remote = GitRepo(root / "git")
    host, other_host = _keygen(root / "host_key"), _keygen(root / "other_host_key")
    key, other = _keygen(root / "id_user"), _keygen(root / "id_other")
    (root / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    port = _free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {root / 'authorized_keys'}\n"
        f"PidFile {root / 'sshd.pid'}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nPermitRootLogin prohibit-password\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(root / "sshd_config")], stderr=subprocess.PIPE)
    _wait_for(port, process)

    def line(public: Path) -> str:
        kind, blob = public.read_text().split()[:2]
        return f"[127.0.0.1]:{port} {kind} {blob}"

    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{remote.bare}"
    yield Ssh(url, key, other, line(host.with_suffix(".pub")), line(other_host.with_suffix(".pub")))
    process.terminate()
    process.wait(timeout=10)


def _fetch(ssh: Ssh, cache: Path, key: Path | str, known: str) -> source.Checkout:
    return source.remote(RemoteSpec(ssh.url, "main", 30), cache, Credentials(ssh_key_file=str(key), known_hosts=known))


def test_the_right_key_and_host_key_clone_the_repo(sshd: Ssh, tmp_path: Path) -> None:
    checkout = _fetch(sshd, tmp_path / "cache", sshd.key, sshd.known)
    assert checkout.revision and (checkout.root / "clusters" / "demo").is_dir()


def test_a_known_hosts_file_works_as_well_as_its_lines(sshd: Ssh, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known + "\n")
    assert _fetch(sshd, tmp_path / "cache", sshd.key, str(known)).revision


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("host key changed", "the ssh host key changed: it is not the one in GIT_KNOWN_HOSTS"),
        ("unknown host", "unknown ssh host: its key is not in GIT_KNOWN_HOSTS"),
        ("wrong key", "the ssh key was refused"),
        ("key file missing", "the ssh key file (GIT_SSH_KEY_FILE) is missing"),
        ("key file mode 0644", "the ssh key file can be read by others: chmod 600 it"),
    ],
)
def test_each_ssh_failure_names_its_cause(sshd: Ssh, tmp_path: Path, case: str, says: str) -> None:
    key: Path | str = sshd.key
    known = sshd.known
    if case == "host key changed":
        known = sshd.other_host_key
    elif case == "unknown host":
        known = sshd.known.replace("[127.0.0.1]", "[192.0.2.1]")  # a line for another host only
    elif case == "wrong key":
        key = sshd.other
    elif case == "key file missing":
        key = tmp_path / "no_such_key"
    else:
        key = tmp_path / "id_open"
        key.write_bytes(sshd.key.read_bytes())
        key.chmod(0o644)
    with pytest.raises(SourceError) as caught:
        _fetch(sshd, tmp_path / "cache", key, known)
    message = str(caught.value)
    assert "git ls-remote failed: " + says in message, message
    assert "PRIVATE KEY-----" not in message
    assert f"ssh://{getpass.getuser()}@127.0.0.1" in message  # the account tried is shown: it is no secret
