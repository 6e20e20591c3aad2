"""The ``astro-jobs`` command: parse, call the API, print one JSON object.

Every outcome, usage errors included, is one JSON object on stdout and an
exit code (0 ok, 1 internal, 2 bad input, 3 no such job, 4 not ready,
5 failed or cancelled, 130 interrupted); hints go to stderr, tracebacks
nowhere. ``--pretty`` indents that JSON; ``--format table`` (list, stats,
doctor) prints text for a person instead.
"""
import gc
import json
import os
import sys

import click

from . import __version__, api
from .errors import AstroJobsError, BadInput, InvalidParameter, JobFailed, JobNotFound, NotReady
from .intake.units import SCALE_UNITS

# Exit codes of the contract; any other error (storage, internal) is 1.
EXIT_CODES = ((BadInput, 2), (JobNotFound, 3), (NotReady, 4), (JobFailed, 5))
# 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130
# How this run prints JSON: one line (the default, what scripts read) or
# indented (--pretty). Reset by main() for every command.
STYLE = {"indent": None}


class Interrupted(Exception):
    """Ctrl-C: the command stops; the job it looked at is left as it was."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message, self.details = message, details


def emit(obj):
    """The one way JSON leaves this program (ASCII-safe under any locale)."""
    click.echo(json.dumps(obj, indent=STYLE["indent"]))


def _set_pretty(ctx, param, value):
    if value:
        STYLE["indent"] = 2


def pretty_option():
    return click.Option(["--pretty"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_set_pretty,
                        help="Indented JSON, for a person (scripts read the default line).")


def format_option(*formats):
    return click.option("--format", "format_", type=click.Choice(["json", *formats]),
                        default="json", show_default=True,
                        help="table: columns for a person; json stays the default.")


def ok(**fields):
    """The success envelope around what the API returned."""
    emit({"ok": True, **fields})


def flag(name):
    """A Python parameter's name as this command line spells it."""
    return "--" + name.replace("_", "-")


def exit_code_of(exc):
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def fail_with(exc):
    """Print an API error as the failure envelope; its exit code."""
    message = exc.spelled(flag) if isinstance(exc, InvalidParameter) else exc.message
    emit({"ok": False, "error": message, "code": exc.code, **exc.details})
    return exit_code_of(exc)


def fail(message, code, exit_code, hint=None):
    emit({"ok": False, "error": message, "code": code})
    if hint:
        click.echo(hint, err=True)
    return exit_code


job_id_option = click.option("--job-id", required=True, metavar="ID",
                             help="The job id submit printed (32 lowercase hex digits).")


def _print_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"astro-jobs, version {__version__}")
        ctx.exit()


# Not click.version_option: it looks up translations on disk at import, a
# cost every command would pay for a flag that is rarely given.
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version and exit.")
def cli():
    """Queue and inspect sky-image analysis jobs. Every command prints JSON.

    \b
    Example:
      astro-jobs submit --image m42.jpg
      astro-jobs wait --job-id 3f2a... --timeout 120
    """


@cli.command()
@click.option("--image", type=click.Path(dir_okay=True, allow_dash=False),
              help="The image to analyse (JPEG, PNG, TIFF or FITS); it is copied.")
@click.option("--sources", type=click.Path(dir_okay=True, allow_dash=False),
              help="Instead of an image, its stars: CSV of x,y[,flux] or an .xyls table.")
@click.option("--width", metavar="PIXELS", help="With --sources: the image's width in pixels.")
@click.option("--height", metavar="PIXELS",
              help="With --sources: the image's height in pixels.")
@click.option("--scale-low", metavar="NUMBER", help="Lower bound of the image scale.")
@click.option("--scale-high", metavar="NUMBER", help="Upper bound of the image scale.")
@click.option("--scale-units", type=click.Choice(SCALE_UNITS),
              help="Unit of the bounds (degwidth).")
@click.option("--downsample", metavar="INTEGER", help="solve-field's downsample factor (1-64).")
@click.option("--timeout", metavar="SECONDS", help="Wall-clock limit of the job (600).")
@click.option("--priority", metavar="INTEGER", help="Higher runs first, -1000 to 1000 (0).")
@click.option("--ra", metavar="DEGREES", help="Where the field centre is thought to be: RA.")
@click.option("--dec", metavar="DEGREES", help="... and Dec (with --ra).")
@click.option("--radius", metavar="DEGREES",
              help="How far off --ra/--dec the centre may be (2); tried first, then blind.")
@click.option("--sequence", metavar="NAME",
              help="Frames of one session: each first tries where the last solved one pointed.")
@click.option("--notify", metavar="URL",
              help="POST the final status here when the job ends (http or https; "
                   "default ASTRO_JOBS_NOTIFY_URL).")
def submit(image, sources, width, height, **params):
    """Queue an image, or a list of its stars; print the job id.

    \b
    Example:
      astro-jobs submit --image uploads/m42.jpg --scale-low 1 --scale-high 3
      {"ok": true, "job_id": "9b1c..."}
      astro-jobs submit --image m42.jpg --notify https://backend.example/hooks/astro
      astro-jobs submit --sources stars.csv --width 3000 --height 2000
      astro-jobs submit --image m42.jpg --ra 83.8 --dec -5.4 --radius 1
      astro-jobs submit --image frame-0042.fits --sequence m42-2026-12-02
    """
    if (image is None) == (sources is None):
        raise click.UsageError("give --image or --sources (one of them)")
    if sources is None:
        if width is not None or height is not None:
            raise click.UsageError("--width and --height go with --sources")
        ok(job_id=api.submit(image, **params))
    else:
        ok(job_id=api.submit_sources(sources, width, height, **params))


@cli.command()
@job_id_option
def status(job_id):
    """Print the job's status.json.

    \b
    Example:
      astro-jobs status --job-id 9b1c...
      {"ok": true, "job_id": "9b1c...", "state": "processing", ...}
    """
    ok(**api.status(job_id))


@cli.command()
@job_id_option
def result(job_id):
    """Print the result JSON of a done job, verbatim.

    Exit 4 while the job is queued or processing, 5 if it failed or was
    cancelled.

    \b
    Example:
      astro-jobs result --job-id 9b1c...
    """
    data = api.result_bytes(job_id)
    if STYLE["indent"]:
        try:
            data = (json.dumps(json.loads(data), indent=STYLE["indent"]) + "\n").encode()
        except ValueError:
            pass  # not JSON after all: verbatim, as without --pretty
    stdout = click.get_binary_stream("stdout")
    stdout.write(data if data.endswith(b"\n") else data + b"\n")
    stdout.flush()


@cli.command()
@job_id_option
@click.option("--timeout", metavar="SECONDS", help="Give up after this long (exit 4).")
def wait(job_id, timeout):
    """Wait until the job is done, failed or cancelled; print its status.

    On a terminal, stderr shows one updating line (state, stage, elapsed
    time, attempt); stdout gets the JSON only. Ctrl-C stops the waiting, not
    the job (exit 130, code "interrupted").

    \b
    Example:
      astro-jobs wait --job-id 9b1c... --timeout 300
    """
    try:
        _wait(job_id, timeout)
    except KeyboardInterrupt:
        raise _wait_interrupted(job_id) from None


def _wait_interrupted(job_id):
    """Ctrl-C in ``wait`` stops the waiting, not the job: say so, and how to go on."""
    try:
        state = api.status(job_id)["state"]
    except AstroJobsError:
        state = None
    where = f"is {state}" if state in ("done", "error", "cancelled") else \
        "goes on" + (f" ({state})" if state else "")
    return Interrupted(f"interrupted: stopped waiting; job {job_id} {where}. "
                       f"`astro-jobs wait --job-id {job_id}` waits again, "
                       f"`astro-jobs cancel --job-id {job_id}` stops it.",
                       job_id=job_id, state=state)


def _wait(job_id, timeout):
    if api.status(job_id)["state"] in ("queued", "processing") and not api.consumers_alive():
        click.echo(f"astro-jobs: {api.NO_CONSUMER}", err=True)
    if not sys.stderr.isatty():
        ok(**api.wait(job_id, timeout))
        return
    from .report.terminal import ProgressLine

    progress = ProgressLine(sys.stderr, prefix=f"{job_id[:8]}  ")
    try:
        final = api.wait(job_id, timeout, progress=progress)
    except BaseException:
        progress.close()
        raise
    progress.close(final, unsolved=api.unsolved_explanation(final))
    ok(**final)


@cli.command()
@job_id_option
def cancel(job_id):
    """Cancel a queued or running job (its extractor is killed).

    \b
    Example:
      astro-jobs cancel --job-id 9b1c...
      {"ok": true, "job_id": "9b1c...", "state": "cancelled"}
    """
    ok(job_id=job_id, state=api.cancel(job_id)["state"])


@cli.command(name="list")
@click.option("--state", metavar="STATE",
              help=f"Only jobs in this state: {', '.join(api.STATES)}.")
@click.option("--limit", default=api.DEFAULT_LIST_LIMIT, show_default=True,
              help="At most this many jobs.")
@format_option("table")
def list_(state, limit, format_):
    """List jobs, newest first.

    \b
    Example:
      astro-jobs list --state error --limit 20
      astro-jobs list --limit 10 --format table
    """
    jobs = api.list_jobs(state, limit)
    if format_ == "json":
        ok(jobs=jobs)
        return
    from .report.tables import jobs_table

    click.echo(jobs_table(jobs), nl=False)


@cli.command()
@job_id_option
@click.option("--tail", metavar="N", help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing as the log grows, until the job has ended.")
def logs(job_id, tail, follow):
    """Print the job's task.log (the extractor's output) as text.

    \b
    Example:
      astro-jobs logs --job-id 9b1c... --tail 20
      astro-jobs logs --job-id 9b1c... --follow
    """
    if not follow:
        click.echo(api.logs(job_id, tail), nl=False)
        return
    stdout = click.get_binary_stream("stdout")
    for chunk in api.follow_logs(job_id, tail):
        stdout.write(chunk)
        stdout.flush()


@cli.command()
@click.option("--older-than", required=True, metavar="DURATION",
              help="Age with a unit: s, m, h, d or w (30s, 12h, 7d).")
def prune(older_than):
    """Remove finished jobs (done, error, cancelled) older than a duration.

    \b
    Example:
      astro-jobs prune --older-than 7d
      {"ok": true, "removed": 12}
    """
    ok(removed=api.prune(older_than))


@cli.command()
@format_option("table")
def doctor(format_):
    """Check that this machine can run jobs; exit 1 if a check fails.

    Checks JOBS_DIR, the queue, the extractor (for the bundled one also
    solve-field, the index files and exiftool), free disk space and whether
    a consumer is alive. A failed check's detail says what to do.

    \b
    Example:
      astro-jobs doctor
      {"ok": true, "checks": [{"name": "jobs_dir", "ok": true, "detail": "..."}, ...]}
      astro-jobs doctor --format table
    """
    from dataclasses import asdict

    from .report.doctor import run_checks

    checks = [asdict(check) for check in run_checks()]
    failed = [check["name"] for check in checks if not check["ok"]]
    if format_ == "table":
        from .report.tables import doctor_table

        click.echo(doctor_table(checks), nl=False)
        return 1 if failed else 0
    report = {"ok": not failed, "checks": checks}
    if failed:
        report.update(error=f"failed: {', '.join(failed)}", code="doctor_failed")
    emit(report)
    return 1 if failed else 0


@cli.command()
@job_id_option
def retry(job_id):
    """Queue a job that ended in error, was cancelled or did not solve again
    (same input and parameters, a new attempt).

    \b
    Example:
      astro-jobs retry --job-id 9b1c...
      {"ok": true, "job_id": "9b1c...", "state": "queued", "attempts": 2}
    """
    status = api.retry(job_id)
    ok(job_id=job_id, state=status["state"], attempts=status["attempts"])


@cli.command()
@click.option("--format", "format_", type=click.Choice(["json", "prometheus", "table"]),
              default="json", show_default=True,
              help="prometheus: the text exposition format (node_exporter textfile); "
                   "table: for a person.")
def stats(format_):
    """The queue at a glance: jobs by state, oldest queued job, recent run times
    and error share, consumers.

    \b
    Example:
      astro-jobs stats
      astro-jobs stats --format table
      astro-jobs stats --format prometheus > /var/lib/node_exporter/astro_jobs.prom.$$
    """
    figures = api.stats()
    if format_ == "json":
        ok(**figures)
        return
    if format_ == "table":
        from .report.tables import stats_table

        click.echo(stats_table(figures), nl=False)
        return
    from .report.prometheus import render

    click.echo(render(figures), nl=False)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False),
              help="TLS certificate (PEM); with --key, serve HTTPS.")
@click.option("--key", type=click.Path(exists=True, dir_okay=False),
              help="The certificate's private key (PEM).")
def serve(host, port, cert, key):
    """Serve nova.astrometry.net's API and the operator page (extra [server]).

    Prints {"ok": true, "url": ...} once listening, then serves until
    interrupted.

    \b
    Example:
      astro-jobs serve --port 8080
      {"ok": true, "url": "http://127.0.0.1:8080/"}
    """
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    try:
        from .web import server
        server.check_installed()
    except ImportError as exc:
        return fail(f"the server extra is not installed ({exc.name}): "
                    "pip install 'astro-jobs[server]' (in a clone: pip install '.[server]')",
                    "server_missing", 1)
    try:
        sock = server.bind(host, port)
    except OSError as exc:
        return fail(f"cannot listen on {host}:{port}: {exc.strerror}", "cannot_listen", 1)
    ok(url=server.url_of(sock, cert is not None))
    sys.stdout.flush()
    server.run(sock, cert, key, host)


for _command in cli.commands.values():
    _command.params.append(pretty_option())
cli.params.append(pretty_option())


def main(argv=None):
    """Run one command; its exit code. Without ``argv``, this is the program."""
    if argv is not None:
        return _run(list(argv))
    code = _run(sys.argv[1:])
    # The program ends next. The interpreter's shutdown would run full garbage
    # collections over every object the imports made, costing a short command
    # about as much as its own work; the command has closed and synced what
    # it wrote, so its objects are frozen out of their reach (atexit handlers
    # and the flush of stdout still run).
    gc.freeze()
    return code


def _run(argv):
    STYLE["indent"] = None
    if not argv:
        # click 8.2 raises NoArgsIsHelpError here, earlier versions print the
        # help and exit 0: decided here, the outcome is the same everywhere.
        with click.Context(cli, info_name="astro-jobs") as ctx:
            return fail("no command given", "usage", 2, cli.get_help(ctx))
    try:
        code = cli.main(args=argv, prog_name="astro-jobs", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click.UsageError as exc:
        hint = exc.ctx.get_usage() if exc.ctx else None
        return fail(exc.format_message(), "usage", 2, hint)
    except Interrupted as exc:
        emit({"ok": False, "error": exc.message, "code": "interrupted", **exc.details})
        return EXIT_INTERRUPTED
    except click.Abort:  # Ctrl-C anywhere else (click turns it into Abort)
        return fail("interrupted", "interrupted", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        return fail(exc.format_message(), "usage", 2)
    except AstroJobsError as exc:
        return fail_with(exc)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001  the contract: never a traceback
        return fail(f"internal error: {exc.__class__.__name__}: {exc}", "internal_error", 1,
                    "set ASTRO_JOBS_DEBUG=1 to see the traceback" if not
                    os.environ.get("ASTRO_JOBS_DEBUG") else _traceback())


def _traceback():
    import traceback
    return traceback.format_exc()


if __name__ == "__main__":
    sys.exit(main())
