"""`reconcile run-locally`: print the `docker run` command of a NIMService, to try its NIM on a workstation."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.flags import EXIT_ERROR, fail, say
from reconciler.errors import ReconcilerError


@click.command("run-locally")
@click.argument("target", type=click.Path(path_type=Path), default=Path("."))
@click.option("--service", "name", help="The NIMService (needed when TARGET holds more than one).")
@click.option("--cluster", help="Which clusters/<cluster> (optional when there is only one).")
def run_locally(target: Path, name: str | None, cluster: str | None) -> None:
    """Print the `docker run` command that starts a NIMService's NIM as its Deployment would.

    Same image, command, env, model cache mount ($LOCAL_NIM_CACHE), shared memory, GPUs, CPU and memory limits,
    user and port. Env vars from Secrets are passed through by name (-e NAME): export them first; no value is
    ever read or printed. TARGET: a manifest, a folder, a cluster directory or the repo.
    """
    from reconciler import layout, pipeline
    from reconciler.report.docker import docker_run

    try:
        repo, found = layout.enclosing(target, cluster)
        result = pipeline.render(pipeline.Options(repo=repo, cluster=found))
    except ReconcilerError as exc:
        fail(exc)
    if not result.check.ok:
        say("error: the manifests do not validate: run `reconcile validate` for the problems", err=True)
        sys.exit(EXIT_ERROR)
    deployments = [
        o.body
        for o in result.objects
        if o.ref.kind == "Deployment"
        and (name is None or o.ref.name == name)
        and (repo == target or layout.within(o.source.path, [target]))
    ]
    if len(deployments) != 1:
        names = ", ".join(sorted(d["metadata"]["name"] for d in deployments)) or "none"
        say(f"error: choose one NIMService with --service (found: {names})", err=True)
        sys.exit(EXIT_ERROR)
    say(docker_run(deployments[0]), nl=False)
