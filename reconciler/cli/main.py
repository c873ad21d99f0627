"""The ``reconcile`` command line: parse flags, build the options, run once or in a loop, exit.

Exit codes follow ``kubectl diff``: 0 nothing to do / valid, 1 changes pending (dry run), 2 invalid input or
error, 3 blocked by a safety guard. Heavy modules are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from pathlib import Path

import click

from reconciler import __version__
from reconciler.cli import build, commands, governance, local, profiles_command, serve_command
from reconciler.cli.flags import (
    EXIT_ERROR,
    FORMATS,
    Guarded,
    context_option,
    duration,
    kubeconfig_option,
    say,
)
from reconciler.cli.run import Runner
from reconciler.errors import ReconcilerError, printable
from reconciler.options import Mode, Options


@click.group(cls=Guarded, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nim-reconciler")
@click.option(
    "--repo",
    default=".",
    show_default=True,
    help="The GitOps repo: a local checkout (used as it is) or a git URL (https://, ssh://, git@host:path, "
    "file://). Credentials come from GIT_TOKEN, or GIT_SSH_KEY_FILE with GIT_KNOWN_HOSTS.",
)
@click.option("--ref", help="With a git URL: the branch, tag or full commit SHA to apply (default: the remote HEAD).")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where a git URL is cloned once and then fetched (default: $XDG_CACHE_HOME/nim-reconciler).",
)
@click.option("--git-timeout", default="60s", show_default=True, help="Timeout of one git operation.")
@click.option(
    "--verify-commits",
    is_flag=True,
    help="Apply only a commit signed by an allowed key (GIT_ALLOWED_SIGNERS: an SSH allowed-signers file; "
    "GIT_GPG_KEYRING: public GnuPG keys), verified with git; else exit 2 before the cluster is contacted. With "
    "--base: the checked-out head must be signed.",
)
@click.option("--cluster", help="Which clusters/<cluster> to reconcile (optional when there is only one).")
@kubeconfig_option
@context_option
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=False,
    flag_value="client",
    default=None,
    type=click.Choice(["client", "server"]),
    help="Show what would change and change nothing (exit 1 when changes are pending); =server also "
    "sends every write with dryRun=All. Without a cluster configured: an offline plan.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="With --dry-run: plan against nothing, even when a cluster is configured (pull-request checks).",
)
@click.option(
    "--base",
    help="With --dry-run: compare the working tree with this git revision instead of a cluster (pull-request "
    "checks; offline). Immutable-field changes are errors at their file:line.",
)
@click.option(
    "--prune/--no-prune", default=True, show_default=True, help="Delete our objects that left git (with safety guards)."
)
@click.option(
    "--max-prune",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Refuse to prune more objects than this in one run (over the namespaces within their own limit).",
)
@click.option(
    "--max-prune-per-namespace",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Refuse to prune more objects than this in one namespace; the other namespaces are pruned.",
)
@click.option("--allow-empty", is_flag=True, help="Allow pruning everything when the repo renders nothing.")
@click.option("--retry-failed", is_flag=True, help="Run the caching Job of a Failed NIMCache again.")
@click.option(
    "--adopt",
    is_flag=True,
    help="Take over objects of the names we render that someone else made (else they block their resource, exit "
    '3; per resource: the annotation nim-reconciler/adopt: "true").',
)
@click.option("--wait", "wait", is_flag=True, help="Stay until every cache is Ready and every service rolled out.")
@click.option("--timeout", default="30m", show_default=True, help="How long --wait waits.")
@click.option("--poll-interval", default="5s", show_default=True, hidden=True)
@click.option(
    "--interval",
    help="Loop mode: run again every INTERVAL (e.g. 5m, plus up to 10%% jitter) until SIGTERM; back off after "
    "repeated failures.",
)
@click.option("--request-timeout", default="30s", show_default=True, help="Timeout of one API request.")
@click.option(
    "--qps",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Client-side rate limit: API requests per second, 0 for none (Flux uses 50 with --burst 300); the API "
    "server's 429 answers are honoured either way.",
)
@click.option(
    "--burst",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Requests that may go at once above --qps before it limits them.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Retries of a request on 429, 5xx, timeouts and dropped connections (exponential backoff).",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    help="Confine the run to this namespace (repeatable): for teams with a namespaced Role (deploy/namespaced/). "
    "Reads per namespace, asks API discovery instead of reading CRDs, refuses manifests elsewhere.",
)
@click.option("--lock-name", help="The run lock's Lease (default: nim-reconciler-<cluster>).")
@click.option(
    "--lock-namespace",
    help="The namespace of the run lock (Lease) and the revision record (ConfigMap) (default: the pod's "
    "namespace in a cluster, else default).",
)
@click.option("--lock-wait", default="0", show_default=True, help="How long to wait for a lock held by another run.")
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="A directory of template overrides (same relative paths as the shipped templates/).",
)
@click.option("-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line (revision, cluster, object, action), for log pipelines.",
)
@click.option(
    "--metrics-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write Prometheus metrics here after each run (node-exporter's textfile collector).",
)
@click.option("--pushgateway", metavar="URL", help="Push Prometheus metrics to this Pushgateway after each run.")
@click.option(
    "--notify",
    "notify",
    multiple=True,
    metavar="URL",
    help="POST a JSON event here when a run fails, is blocked by a guard, or recovers (repeatable).",
)
@click.option("--notify-link", metavar="TEMPLATE", help="A link in each event; {cluster} and {revision} are filled in.")
@click.option(
    "--notify-format",
    type=click.Choice(["json", "slack"]),
    default="json",
    show_default=True,
    help="slack: a text message, as Slack-compatible incoming webhooks take.",
)
@click.option("--notify-timeout", default="5s", show_default=True, help="Timeout of one notification (one retry).")
@click.pass_context
def main(ctx: click.Context, /, **flags: object) -> None:
    """GitOps for NVIDIA NIM: validate, render and reconcile NIMCache / NIMService manifests.

    Without a subcommand: reconcile one cluster of the repo (server-side apply, then prune what left git).
    Exit codes like kubectl diff: 0 nothing to do / applied, 1 changes pending (dry run), 2 invalid input or
    error, 3 blocked by a safety guard.
    """
    # A one-shot batch builds hundreds of thousands of acyclic objects: collecting cycles that rarely
    # exist cost ~15 % of a large dry run, so collect far less often.
    gc.set_threshold(100_000, 50, 100)
    if ctx.invoked_subcommand is not None:
        return
    if flags["base"]:
        sys.exit(_review(flags))
    stop = threading.Event()
    options = build.options(flags, stop)
    outputs = build.outputs(flags)
    runner = Runner(build.source_spec(flags), options, outputs)
    if flags["interval"] and options.mode is not Mode.APPLY:
        build.usage("--interval goes with applying runs, not --dry-run")
    signals, restore = build.on_signals(stop)
    if not flags["interval"]:
        try:
            code = runner.once()
        finally:
            restore()
        # Interrupted (a CronJob's deadline, a node drain): the shell's convention, 128 + the signal.
        sys.exit(128 + signals[0] if signals else code)
    from reconciler.cli import loop

    log = build.logger(outputs)
    sys.exit(loop.run(runner.once, loop.LoopOptions(duration(str(flags["interval"]))), stop, log))


def _review(flags: dict[str, object]) -> int:
    """--dry-run --base REF: the pull-request check (offline); a Markdown summary when GITHUB_STEP_SUMMARY is set."""
    from reconciler import pr_check, source
    from reconciler.cli.run import exit_code
    from reconciler.report.markdown import markdown
    from reconciler.report.model import Format
    from reconciler.report.output import render_run

    if not flags["dry_run"]:
        build.usage("--base goes with --dry-run (a pull-request check changes nothing)")
    if flags["ref"] or source.is_url(str(flags["repo"])):
        build.usage("--base compares a local checkout (--repo PATH) with one of its revisions")
    base = str(flags["base"])
    if flags["verify_commits"]:  # the head under review must be a commit an allowed key signed
        from reconciler.source import signatures

        try:
            signatures.verify(Path(str(flags["repo"])), source.local(Path(str(flags["repo"]))).revision,
                              build.signature_policy())  # fmt: skip
        except ReconcilerError as exc:
            say(f"error: {printable(str(exc))}", err=True)
            return EXIT_ERROR
    options = Options(
        repo=Path(str(flags["repo"])),
        cluster=build.text(flags, "cluster"),
        templates=build.path(flags, "templates"),
        prune=build.prune(flags),
    )
    try:
        run = pr_check.review(options, base)
    except ReconcilerError as exc:
        say(f"error: {printable(str(exc))}", err=True)
        return EXIT_ERROR
    say(render_run(run, Format(str(flags["fmt"]))), nl=False)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown(run, base))
    return exit_code(run)


for _command in (
    local.run_locally,
    commands.status_command,
    commands.doctor_command,
    commands.install_crds,
    commands.validate,
    commands.render,
    profiles_command.profiles_command,
    governance.suspend,
    governance.resume,
):
    main.add_command(_command)
# serve takes the run's own flags (--repo, --cluster, the prune guards …) beside its own
serve_command.serve.params[:0] = [p for p in main.params if p.name not in serve_command.NOT_FOR_SERVE]
main.add_command(serve_command.serve)


def program() -> None:
    """The ``reconcile`` executable: ``main``, then the process ends. Everything it allocated dies with it, so the
    collector is told to leave it alone: its last pass at shutdown would walk all of a large run's objects (~35 ms
    after a 2,000-manifest dry run, measured) to find nothing worth finalizing."""
    try:
        main()
    finally:
        gc.freeze()
