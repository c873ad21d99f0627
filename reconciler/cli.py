"""The ``reconcile`` command line: parse flags, call the pipeline, map the result to an exit code.

Exit codes follow ``kubectl diff``: 0 nothing to do / valid, 1 changes pending (dry run), 2 invalid input or
error, 3 blocked by a safety guard. Heavy modules are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import NoReturn

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError

EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_BLOCKED = 0, 1, 2, 3
FORMATS = ("text", "json", "github")


def _fail(exc: ReconcilerError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nim-reconciler")
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The GitOps repo (a checkout holding clusters/<cluster>/).",
)
@click.option("--cluster", help="Which clusters/<cluster> to reconcile (optional when there is only one).")
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=False,
    flag_value="client",
    default=None,
    type=click.Choice(["client", "server"]),
    help="Show what would change and apply nothing (exit 1 when changes are pending).",
)
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory of template overrides (same relative paths as the shipped templates/).",
)
@click.option("-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.pass_context
def main(
    ctx: click.Context, repo: Path, cluster: str | None, dry_run: str | None, templates: Path | None, fmt: str
) -> None:
    """GitOps for NVIDIA NIM: validate, render and reconcile NIMCache / NIMService manifests.

    Without a subcommand: reconcile one cluster of the repo. `reconcile --dry-run` validates, renders and
    prints the plan without touching a cluster.
    """
    # A one-shot batch builds hundreds of thousands of acyclic objects: collecting cycles that rarely
    # exist cost ~15 % of a large dry run, so collect far less often.
    gc.set_threshold(100_000, 50, 100)
    if ctx.invoked_subcommand is not None:
        return
    if dry_run != "client":
        click.echo(
            "error: applying to a cluster (and --dry-run=server) needs the apply engine, which this "
            "version does not have yet; use --dry-run",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    from reconciler import pipeline
    from reconciler.report import Format, render_dry_run

    try:
        result = pipeline.dry_run(pipeline.Options(repo=repo, cluster=cluster, templates=templates))
    except ReconcilerError as exc:
        _fail(exc)
    click.echo(render_dry_run(result, Format(fmt)), nl=False)
    if not result.check.ok:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if result.pending else EXIT_OK)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format."
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
def validate(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Validate NIMCache / NIMService manifests (files or directories; default: clusters/).

    Prints every problem as path:line: field: message and a summary. Exit 0 when valid, 2 when not.
    """
    from reconciler import pipeline
    from reconciler.report import Format, render_check

    try:
        check, _ = pipeline.check_paths(list(paths) or [Path("clusters")], strict=strict)
    except ReconcilerError as exc:
        _fail(exc)
    click.echo(render_check(check, Format(fmt)), nl=False)
    sys.exit(EXIT_OK if check.ok else EXIT_ERROR)


@main.command()
@click.argument("repo", required=False, type=click.Path(path_type=Path), default=Path("."))
@click.option("--cluster", help="Which clusters/<cluster> to render (optional when there is only one).")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory of template overrides (same relative paths as the shipped templates/).",
)
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render(repo: Path, cluster: str | None, templates: Path | None, fmt: str) -> None:
    """Print every Kubernetes object the repo renders to (like `helm template` / `flux build`).

    REPO is the GitOps repo (default: .) or one of its clusters/<cluster> directories. Invalid input prints
    the same problems as `validate` and exits 2.
    """
    from reconciler import pipeline
    from reconciler.report import check_text, objects_json, objects_yaml, problem_line

    try:
        result = pipeline.render(pipeline.Options(repo=repo, cluster=cluster, templates=templates))
    except ReconcilerError as exc:
        _fail(exc)
    if not result.check.ok:
        click.echo(check_text(result.check), nl=False)
        sys.exit(EXIT_ERROR)
    for problem in result.check.problems:  # warnings only: keep stdout a clean stream of objects
        click.echo(problem_line(problem), err=True)
    bodies = [o.body for o in result.objects]
    click.echo(objects_json(bodies) if fmt == "json" else objects_yaml(bodies), nl=False)
