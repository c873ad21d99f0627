"""The ``reconcile`` command line: parse flags, call the pipeline, map the result to an exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.report import Format, render_check

EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_BLOCKED = 0, 1, 2, 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nim-reconciler")
def main() -> None:
    """GitOps for NVIDIA NIM: validate, render and reconcile NIMCache / NIMService manifests."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
def validate(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Validate NIMCache / NIMService manifests (files or directories; default: clusters/).

    Prints every problem as path:line: field: message and a summary. Exit 0 when valid, 2 when not.
    """
    from reconciler import pipeline

    try:
        check, _ = pipeline.check_paths(list(paths) or [Path("clusters")], strict=strict)
    except ReconcilerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(render_check(check, Format(fmt)), nl=False)
    sys.exit(EXIT_OK if check.ok else EXIT_ERROR)
