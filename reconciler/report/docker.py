"""`reconcile run-locally`: the `docker run` command that starts a NIMService's NIM as its Deployment would
(pure: a rendered Deployment in, a shell command out).

Image, command, args, env, the model cache mount, shared memory, GPUs, CPU and memory limits, user and port come
from the rendered pod. Secrets are never read: an env var that comes from a Secret (or any ``valueFrom``) is passed
through from the caller's environment (``-e NAME``), never with a value.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from reconciler import quantity

CACHE = "$LOCAL_NIM_CACHE"  # the local directory that stands for the model cache PVC


def docker_run(deployment: Mapping[str, Any]) -> str:
    """The command, one option per line (backslash-continued), as the seed's example writes it."""
    pod = deployment["spec"]["template"]["spec"]
    main = pod["containers"][0]
    limits = (main.get("resources") or {}).get("limits") or {}
    options = ["-it", "--rm", f"--name={deployment['metadata']['name']}", "--runtime=nvidia"]
    options += _gpus(limits.get("nvidia.com/gpu"))
    options += _limits(limits)
    options += _shm(pod)
    options += _env(main.get("env") or [])
    options += _mounts(pod, main)
    user = (pod.get("securityContext") or {}).get("runAsUser")
    if user is not None:
        options.append(f"-u {int(user)}")
    options += [f"-p {p['containerPort']}:{p['containerPort']}" for p in main.get("ports") or []]
    tail = [
        shlex.quote(main["image"]),
        *(shlex.quote(str(a)) for a in [*(main.get("command") or []), *(main.get("args") or [])]),
    ]
    return "docker run " + " \\\n    ".join([*options, " ".join(tail)]) + "\n"


def _gpus(count: Any) -> list[str]:
    value = quantity.try_parse(count)
    if value is None or value <= 0:
        return []
    devices = ",".join(str(i) for i in range(int(value)))
    return [f"--gpus='\"device={devices}\"'"]


def _limits(limits: Mapping[str, Any]) -> list[str]:
    out = []
    memory = quantity.try_parse(limits.get("memory"))
    if memory is not None:
        out.append(
            f"--memory={int(memory) // (1024 * 1024)}m" if memory % (1024**3) else f"--memory={int(memory) // 1024**3}g"
        )
    cpus = quantity.try_parse(limits.get("cpu"))
    if cpus is not None:
        out.append(f"--cpus={cpus.normalize():f}")
    return out


def _shm(pod: Mapping[str, Any]) -> list[str]:
    volume: Mapping[str, Any] = next((v for v in pod.get("volumes") or [] if v.get("name") == "dshm"), {})
    size = quantity.try_parse((volume.get("emptyDir") or {}).get("sizeLimit"))
    return [f"--shm-size={int(size) // (1024 * 1024)}m"] if size is not None else []


def _env(env: list[Mapping[str, Any]]) -> list[str]:
    # A value from a Secret or ConfigMap is the caller's to give: passed through by name, never written here.
    out = []
    for entry in env:
        name = str(entry["name"])
        pair = name if "valueFrom" in entry else f"{name}={entry.get('value', '')}"
        out.append(f"-e {shlex.quote(pair)}")
    return out


def _mounts(pod: Mapping[str, Any], main: Mapping[str, Any]) -> list[str]:
    claims = {v["name"] for v in pod.get("volumes") or [] if "persistentVolumeClaim" in v}
    out = []
    for mount in main.get("volumeMounts") or []:
        if mount["name"] in claims:
            source = f'"{CACHE}/{mount["subPath"]}"' if mount.get("subPath") else f'"{CACHE}"'
            out.append(f"-v {source}:{mount['mountPath']}")
    return out
