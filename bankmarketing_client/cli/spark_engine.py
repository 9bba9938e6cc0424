"""``score --engine spark``: the ``score`` command run through :func:`~bankmarketing_client.spark.score_spark`.

The single-process scorer keeps one endpoint busy from one asyncio process; this engine hands the same work (the
same codec, client core and retry policy, per partition) to Spark, for tables that live in a lake and endpoints
with many instances. It reads Parquet (a file or a folder of them) and writes a Parquet folder through Spark's own
committer, so the output holds each input row once even when tasks are re-run. Spark is local (``local[*]``)
unless ``--master`` names a cluster.

Same exit codes (:mod:`.exits`) and the same summary (:class:`~bankmarketing_client.batch.summary.BatchSummary`)
as the single-process scorer. The differences, each refused with one line (exit 2) rather than half-supported:
no CSV input, no ``--fail-fast``, and an output that already exists is refused (Spark does not append to or
replace it). ``--resume`` only finishes a run stopped after its output was committed (below).

A run goes through :data:`PHASES`. SIGTERM (or Ctrl-C) in any of them ends the run with exit 130 and one line
saying what to do next. Before the output is committed (``starting``, ``reading``, ``writing``), Spark's jobs are
cancelled and whatever it left at a local output is removed: the same command runs again from a clean state.
Once committed (``finishing``: counting the output, writing the errors folder), the output is kept (every row was
scored) with the run's record beside it (:func:`record_path`), and the same command with ``--resume`` counts it,
writes the errors folder and prints the summary without scoring again. Rows of a distributed table have
no global number, so the output and the errors folder name a row by its id column; an input without one keeps
every column. Retries happen inside the executors and are not added up here.

Spark's console output (log4j lines, the stage progress bar) would bury the summary, so the driver runs with a
log4j2 configuration that lets only errors through and with the progress bar off.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bankmarketing_client.batch.lock import output_lock
from bankmarketing_client.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER_ERROR
from bankmarketing_client.errors import AuthenticationError, ConfigurationError, DatasetError
from bankmarketing_client.files import read_small_file

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from bankmarketing_client.batch.summary import BatchSummary, RowCounts
    from bankmarketing_client.cli.endpoint_options import EndpointOptions
    from bankmarketing_client.limits import EndpointLimits
    from bankmarketing_client.spark.budget import BudgetPlan

ENGINES: Final = ("local", "spark")
DEFAULT_MASTER: Final = "local[*]"
#: Spark's console log. The Python gateway's logger at the root's level also silences the "Setting default log
#: level" notice Spark prints for Python drivers (it compares the entry class's logger with the root's).
LOG4J2_CONFIG: Final = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = {level}
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{{1}}: %m%n
"""
#: Spark's log level by ``-v`` count: by default nothing (a failed job is reported in one line by the CLI; Spark
#: would log each failed task with a page of Java stack), ``-v`` its errors and warnings, ``-vv`` its info lines.
SPARK_LOG_LEVELS: Final = ("off", "warn", "info")
INSTALL_PYSPARK: Final = "pip install 'bankmarketing-client[spark]'"
INSTALL_JAVA: Final = "Debian/Ubuntu: apt-get install default-jre-headless; or set JAVA_HOME"
#: A URI scheme (abfss://, hdfs://, s3a://, file:): such paths are Spark's to resolve, not checked here.
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: A Python exception's last traceback line, as Spark's message quotes a task's error: ``pkg.SomeError: why``.
_RAISED: Final = re.compile(r"^\s*[\w.]+(Error|Exception): ")
#: A run's phases, in order: the JVM's start, reading the input and planning, the scoring job writing the output
#: (committed by Spark at its end), and counting the committed output and writing the errors folder.
PHASES: Final = ("starting", "reading", "writing", "finishing")
#: Test seam, for the SIGTERM tests only: ``PHASE=FILE`` creates FILE when the run reaches PHASE ("writing": once
#: the job's tasks run) and, in the phases that are over in an instant ("reading", "finishing"), waits there for a
#: signal. Unset in every real run.
PAUSE_ENV: Final = "BANKMARKETING_SPARK_TEST_PAUSE"
#: Spark's marker of a committed output (or errors) folder.
SUCCESS_MARKER: Final = "_SUCCESS"


def add_spark_options(parser: argparse.ArgumentParser) -> None:
    """The engine choice and Spark's master URL, on the ``score`` command."""
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process, CSV or Parquet, resumable (default); spark: Apache Spark, Parquet file or "
        "folder in, Parquet folder out (needs the spark extra and Java 17+)",
    )
    parser.add_argument(
        "--master",
        metavar="URL",
        help=f"with --engine spark: Spark's master (default {DEFAULT_MASTER}; e.g. spark://host:7077)",
    )


@dataclass(frozen=True)
class SparkPaths:
    """Where a Spark run reads and writes: checked up front (for local paths) so a mistake costs no JVM start."""

    input: str
    output: str
    errors: str

    @classmethod
    def checked(cls, args: argparse.Namespace, *, resume: bool = False) -> SparkPaths:
        """The paths, refused in one line if wrong; with ``resume`` the output and errors folder may exist (the
        run being resumed left them: :func:`run_spark_score` checks it is that run)."""
        source, output = str(args.input), str(args.output)
        errors = str(args.errors) if args.errors is not None else _default_errors(output)
        if not _is_uri(source):
            path = Path(source)
            if not path.exists():
                raise DatasetError(f"{path}: no such file or folder")
            if path.is_file():
                from bankmarketing_client.batch.readers import detect_format

                if detect_format(path) != "parquet":
                    raise ConfigurationError(
                        f"{path}: --engine spark reads Parquet (a file or a folder of them); "
                        "convert the CSV first, or score it without --engine spark"
                    )
        if output.rstrip("/").lower().endswith(".csv"):
            raise ConfigurationError(
                f"{output}: --engine spark writes a folder of Parquet files; give -o a name such as scored.parquet"
            )
        for what, target in (("output", output), ("errors folder", errors)):
            if not resume and not _is_uri(target) and Path(target).exists():
                hint = f" (a run stopped after writing it leaves {record_path(output).name} beside it: add --resume)"
                raise ConfigurationError(
                    f"the {what} {target} exists; Spark writes a new folder: remove it or give another name"
                    + (hint if record_path(output).exists() else "")
                )
        if len({source, output, errors}) < 3:
            raise ConfigurationError("the input, output and errors folder must be three different paths")
        return cls(source, output, errors)


def _is_uri(path: str) -> bool:
    return bool(_SCHEME.match(path)) and not Path(path).exists()


def _default_errors(output: str) -> str:
    """``scored.parquet`` -> ``scored.errors.csv`` beside it, as the single-process scorer names its errors file."""
    head, _, name = output.rstrip("/").rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{head}/{stem}.errors.csv" if head else f"{stem}.errors.csv"


def check_spark_options(args: argparse.Namespace) -> None:
    """Refuse, with one line each, the ``score`` options the Spark engine does not have."""
    if args.engine != "spark":
        if args.master is not None:
            raise ConfigurationError("--master is for --engine spark; add --engine spark or drop --master")
        return
    unsupported = {
        "--fail-fast": args.fail_fast and "invalid rows are listed in the errors folder instead",
        "--delimiter": args.delimiter is not None and "it reads Parquet only",
    }
    for option, why in unsupported.items():
        if why:
            raise ConfigurationError(f"{option} does not work with --engine spark: {why}")
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigurationError(f"--engine spark needs pyspark: {INSTALL_PYSPARK}")
    if _java() is None:
        raise ConfigurationError(f"--engine spark needs a Java 17+ runtime and none was found ({INSTALL_JAVA})")


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


@contextmanager
def spark_session(master: str, verbosity: int = 0) -> Iterator[SparkSession]:
    """A quiet Spark session (:data:`SPARK_LOG_LEVELS`), stopped at the end. A local master binds to loopback
    only and runs its Python workers with this interpreter (Spark's default, ``python3`` on the PATH, may not
    have this package); a cluster's executors use the cluster's own Python."""
    from pyspark.sql import SparkSession

    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="bankmarketing-spark-") as folder:
        # pyspark warns at start and at mapInArrow that pandas 3 is newer than it was tested with; this engine's
        # Arrow path does not go through pandas, and the warning would sit above the summary.
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        # After a SIGTERM the JVM may already be gone when the session stops; pyspark then warns that it could not
        # shut it down cleanly, a second line beside the one that says what happened and what to do next.
        warnings.filterwarnings("ignore", message="Unable to cleanly shutdown Spark JVM", category=RuntimeWarning)
        config = Path(folder) / "log4j2.properties"
        level = SPARK_LOG_LEVELS[min(verbosity, len(SPARK_LOG_LEVELS) - 1)]
        config.write_text(LOG4J2_CONFIG.format(level=level), encoding="utf-8")
        builder = (
            SparkSession.builder.master(master)
            .appName("bankmarketing-client score")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={config.as_uri()}")
            .config("spark.ui.showConsoleProgress", "false")
        )
        if master.startswith("local"):
            builder = (
                builder.config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
            )
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # read by pyspark itself, not from the conf
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # else Spark looks up (and warns about) the host
        session = builder.getOrCreate()
        try:
            yield session
        finally:
            session.stop()


def count_rows(scored: DataFrame) -> RowCounts:
    """The run's counters from the written output: a null ``error`` is scored, an endpoint's refusal failed,
    any other error rejected by validation (the same split as the single-process scorer's)."""
    from pyspark.sql import functions as F

    from bankmarketing_client.batch.engine import ENDPOINT_FIELD
    from bankmarketing_client.batch.summary import RowCounts
    from bankmarketing_client.spark.partition import ERROR_COLUMN

    error = F.col(ERROR_COLUMN)
    failed = error.startswith(f"{ENDPOINT_FIELD}: ")
    row = scored.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(error.isNull(), 1)).alias("scored"),
        F.count(F.when(error.isNotNull() & ~failed, 1)).alias("rejected"),
        F.count(F.when(failed, 1)).alias("failed"),
    ).first()
    assert row is not None  # an aggregate without grouping always has its one row
    return RowCounts(int(row["rows"]), int(row["scored"]), int(row["rejected"]), int(row["failed"]))


def summary_lines(summary: BatchSummary, plan: BudgetPlan, batch_size: int | None, master: str) -> list[str]:
    """The single-process summary, with the lines whose figures live in the executors said as such."""
    lines = []
    for line in summary.lines():
        if line.startswith("retries:"):
            line = "retries:   inside the executors (each task backs off as the single-process scorer does)"
        elif line.startswith("tuning:"):
            size = f"{batch_size:,}" if batch_size else "tuned per task"
            line = (
                f"tuning:    batch size {size}, concurrency {plan.peak} ({plan.per_task} per task x {plan.slots} slots)"
            )
        lines.append(line)
    lines.append(f"spark:     {master}")
    return lines


def job_failure(exc: Exception) -> tuple[str, int]:
    """One line and an exit code for a failed Spark job. Spark's message carries whole stack traces; the line is
    the last Python error a task raised (else the message's first line). A key the endpoint refused is a user
    error (2), as :func:`~bankmarketing_client.cli.exits.exit_code_for` has it; any other failure is 1."""
    text = str(exc).strip()
    raised = [line.strip() for line in text.splitlines() if _RAISED.match(line)]
    reason = (raised[-1] if raised else text.splitlines()[0] if text else type(exc).__name__)[:500]
    refused = bool(raised) and raised[-1].split(":", 1)[0].rsplit(".", 1)[-1] == AuthenticationError.__name__
    return reason, EXIT_USER_ERROR if refused else EXIT_FAILED


def record_path(output: str) -> Path:
    """The run's record beside a local output: ``.scored.parquet.spark-run.json`` for ``scored.parquet``."""
    path = Path(output.rstrip("/"))
    return path.with_name(f".{path.name}.spark-run.json")


def _run_record(args: argparse.Namespace, endpoint: EndpointOptions, paths: SparkPaths) -> dict[str, object]:
    """What a ``--resume`` must find unchanged: the paths, the options that shape the output, and each local
    input file's size and modification time."""
    files: list[list[object]] = []
    if not _is_uri(paths.input):
        source = Path(paths.input)
        for file in sorted([source] if source.is_file() else (f for f in source.rglob("*") if f.is_file())):
            info = file.stat()
            files.append(
                [str(file.relative_to(source)) if file != source else file.name, info.st_size, info.st_mtime_ns]
            )
    return {
        "input": paths.input,
        "input_files": files,
        "errors": paths.errors,
        "scoring_uri": endpoint.scoring_uri,
        "deployment": endpoint.deployment,
        "contract": endpoint.contract,
        "id_column": args.id_column,
        "proba": args.proba is not False,
        "allow_unknown_categories": bool(args.allow_unknown_categories),
    }


def _check_resumable(paths: SparkPaths, record: dict[str, object]) -> None:
    """Refuse, in one line, a ``--resume`` with nothing to finish or a record that does not match this command."""
    output = Path(paths.output)
    if _is_uri(paths.output):
        raise ConfigurationError("--resume with --engine spark works on a local output only")
    if not output.exists():
        raise ConfigurationError(f"there is nothing to resume at {output}: run the command without --resume")
    if not (output / SUCCESS_MARKER).exists():
        raise ConfigurationError(
            f"{output} holds no committed Spark output (a run killed while writing): remove it and run again "
            "without --resume"
        )
    saved_path = record_path(paths.output)
    try:
        saved = json.loads(read_small_file(saved_path, what="Spark run record"))
    except ConfigurationError:
        raise ConfigurationError(
            f"{output} is finished (no record of an interrupted run beside it): there is nothing to resume"
        ) from None
    except ValueError:
        raise ConfigurationError(
            f"the Spark run record {saved_path} is not valid JSON: remove {output} and run again without --resume"
        ) from None
    changed = [name for name, value in record.items() if not isinstance(saved, dict) or saved.get(name) != value]
    if changed:
        raise ConfigurationError(
            f"{output} was written by another command ({', '.join(changed[:3])} differ): resume with the command "
            f"that wrote it, or remove {output} and run again without --resume"
        )


def _write_record(path: Path, record: dict[str, object]) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(path)


def run_spark_score(args: argparse.Namespace, endpoint: EndpointOptions, limits: EndpointLimits | None = None) -> int:
    """``score --engine spark`` (options already passed :func:`check_spark_options`): score ``args.input`` into a
    Parquet folder, print the summary, return the exit code. The budget is ``--concurrency``, else ``limits``'
    pending limit (``--endpoint-settings``). The elapsed time starts once Spark is up; the session's start-up is
    shown on its own line. ``--resume`` finishes a run stopped after its output was committed."""
    with _sigterm_interrupts(), ExitStack() as held:
        paths = SparkPaths.checked(args, resume=args.resume)  # the cheap refusals first
        for target in (paths.output, paths.errors):
            if not _is_uri(target):
                held.enter_context(output_lock(Path(target)))
        # Again under the locks: a run that ended meanwhile left its folder. Without them two runs on one output
        # both passed the check, and the one Spark refused removed the other's unfinished folder.
        paths = SparkPaths.checked(args, resume=args.resume)
        record = _run_record(args, endpoint, paths)
        if args.resume:
            _check_resumable(paths, record)
        progress = _Progress()
        try:
            if not args.resume and not _is_uri(paths.output):
                _write_record(record_path(paths.output), record)
            return _score_locked(args, endpoint, limits, paths, progress)
        except KeyboardInterrupt:
            return _interrupted(paths, progress.phase)
        finally:
            # The record serves a committed output only: a run that ended before the commit, in any way (a
            # refusal, a failed job), leaves none behind.
            if not _is_uri(paths.output) and not (Path(paths.output) / SUCCESS_MARKER).exists():
                record_path(paths.output).unlink(missing_ok=True)


@dataclass
class _Progress:
    """The phase a run is in, for the line an interruption prints."""

    phase: str = PHASES[0]

    def reach(self, phase: str) -> None:
        self.phase = phase
        _test_seam(phase)


def _test_seam(phase: str) -> None:
    """:data:`PAUSE_ENV`'s pause (tests only): mark ``phase`` reached, and wait there for a signal."""
    wanted, _, marker = os.environ.get(PAUSE_ENV, "").partition("=")
    if wanted != phase or not marker:
        return
    if phase == "writing":
        return  # marked by _mark_when_tasks_run once the job is under way
    Path(marker).touch()
    if phase in ("reading", "finishing"):
        while True:
            time.sleep(0.1)


def _mark_when_tasks_run(session: SparkSession) -> None:
    """For :data:`PAUSE_ENV` ``writing=FILE``: FILE once the write job has tasks running (watched from a thread)."""
    wanted, _, marker = os.environ.get(PAUSE_ENV, "").partition("=")
    if wanted != "writing" or not marker:
        return
    tracker = session.sparkContext.statusTracker()

    def watch() -> None:
        while True:
            for stage in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage)
                if info is not None and info.numActiveTasks > 0:
                    Path(marker).touch()
                    return
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()


def _interrupted(paths: SparkPaths, phase: str) -> int:
    """After SIGTERM or Ctrl-C (the session already stopped, Spark's jobs cancelled): leave the state the line's
    next step starts from, print that line, exit 130."""
    output = Path(paths.output)
    committed = not _is_uri(paths.output) and (output / SUCCESS_MARKER).exists()
    if committed:
        _discard_unfinished(paths.errors)
        line = (
            f"interrupted while {phase}, after every row was scored: {output} is complete, the errors folder and "
            "the summary are not; run the same command with --resume to finish them without scoring again"
        )
    else:
        _discard_unfinished(paths.output)
        if not _is_uri(paths.output):
            record_path(paths.output).unlink(missing_ok=True)
        line = (
            f"interrupted while {phase}, before the output was committed: nothing was kept; run the same command again"
        )
        if _is_uri(paths.output):
            line += f" (after deleting what Spark left at {paths.output}, if anything)"
    print(f"bankmarketing-client: {line}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _score_locked(
    args: argparse.Namespace,
    endpoint: EndpointOptions,
    limits: EndpointLimits | None,
    paths: SparkPaths,
    progress: _Progress,
) -> int:
    """:func:`run_spark_score` while this run holds its output's and errors folder's locks."""
    from bankmarketing_client.batch.summary import BatchSummary

    master = args.master or DEFAULT_MASTER
    starting = time.monotonic()
    progress.reach("starting")
    with spark_session(master, args.verbose) as session:
        started = time.monotonic()
        progress.reach("reading")
        from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]  # pyspark's bridge, untyped
        from pyspark.errors import AnalysisException, PySparkException

        from bankmarketing_client.spark import plan_budget, score_spark
        from bankmarketing_client.spark.budget import resolve_budget

        try:
            frame = session.read.parquet(paths.input)
        except (AnalysisException, Py4JJavaError) as exc:  # a file that is not Parquet is Spark's raw error
            raise DatasetError(f"{paths.input}: cannot read it as Parquet ({job_failure(exc)[0]})") from None
        id_column = args.id_column
        keep_all = id_column is None and not _has_id_column(frame)
        budget = resolve_budget(args.concurrency, limits)  # resolved once here: it warns when it has to guess
        plan = plan_budget(budget, session.sparkContext.defaultParallelism)
        scored = score_spark(
            _spread(frame, plan),
            scoring_uri=endpoint.scoring_uri,
            api_key=endpoint.api_key,
            token_provider=endpoint.token_provider,
            deployment=endpoint.deployment,
            contract=endpoint.contract,
            proba=args.proba,
            id_column=id_column,
            keep_columns=keep_all,
            max_in_flight=budget,
            batch_size=args.batch_size,
            allow_unknown_categories=args.allow_unknown_categories,
            allow_insecure_http=endpoint.allow_insecure_http,
        )
        if not args.resume:
            progress.reach("writing")
            _mark_when_tasks_run(session)
            try:
                scored.write.parquet(paths.output, mode="errorifexists")
            except PySparkException as exc:  # Spark turns every failure of a job into one of these
                _discard_unfinished(paths.output)
                record_path(paths.output).unlink(missing_ok=True)
                reason, code = job_failure(exc)
                print(
                    f"bankmarketing-client: error: the Spark job failed, no output written: {reason}", file=sys.stderr
                )
                return code
        progress.reach("finishing")
        written = session.read.parquet(paths.output)
        counts = count_rows(written)
        summary = BatchSummary(counts=counts, elapsed=time.monotonic() - started, output=Path(paths.output))
        if counts.rejected or counts.failed or args.errors is not None:
            if not (Path(paths.errors) / SUCCESS_MARKER).exists():
                _discard_unfinished(paths.errors)
                _write_errors(written, paths.errors)
            summary.errors_path = Path(paths.errors)
    print("\n".join(summary_lines(summary, plan, args.batch_size, f"{master}, started in {started - starting:.1f} s")))
    if not _is_uri(paths.output):
        record_path(paths.output).unlink(missing_ok=True)  # finished: nothing left to resume
    return EXIT_OK if summary.ok else EXIT_FAILED


class _InterruptedCallFilter(logging.Filter):
    """Drops py4j's report of a call cut short by Ctrl-C or SIGTERM: it logs it through the root logger with a page
    of traceback (``KeyboardInterrupt while sending command.``), where the CLI says it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        interrupted = record.exc_info is not None and record.exc_info[0] is KeyboardInterrupt
        return not (interrupted and f"{os.sep}py4j{os.sep}" in record.pathname)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the run as Ctrl-C does, in every phase (exit 130, Spark's jobs cancelled as the session
    stops). Only the first one interrupts: a second, while the session stops and the output is tidied, would leave
    the state half-tidied, so it is ignored."""
    interrupted = False

    def interrupt(signum: int, frame: object) -> None:
        nonlocal interrupted
        if interrupted:
            return
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    quiet = _InterruptedCallFilter()
    logging.getLogger().addFilter(quiet)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(quiet)
        signal.signal(signal.SIGTERM, previous)


def _discard_unfinished(output: str) -> None:
    """Remove what a failed or stopped job left at a local output (Spark's temporary files, no ``_SUCCESS``), so
    that the same command can run again. The folder did not exist before the run (:class:`SparkPaths` checked)."""
    path = Path(output)
    if not _is_uri(output) and path.is_dir() and not (path / SUCCESS_MARKER).exists():
        shutil.rmtree(path, ignore_errors=True)


def _spread(frame: DataFrame, plan: BudgetPlan) -> DataFrame:
    """The input in at least as many partitions as there are task slots the budget can feed. Spark reads a small
    file (under 4 MB a slot) as one partition, which one task would score alone at its share of the budget while
    the other slots idle. Spark sorts before a round-robin repartition, so a re-run task gets the same rows."""
    wanted = plan.slots if plan.max_tasks is None else min(plan.slots, plan.max_tasks)
    return frame.repartition(wanted) if frame.rdd.getNumPartitions() < wanted else frame


def _has_id_column(frame: DataFrame) -> bool:
    from bankmarketing_client.batch.readers import ID_CANDIDATES

    return any(column.lower() in ID_CANDIDATES for column in frame.columns)


def _write_errors(written: DataFrame, errors: str) -> None:
    """The refused rows, as CSV part files in one folder: the row's id (or its columns) and the reason."""
    from bankmarketing_client.spark.partition import ERROR_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN

    refused = written.filter(written[ERROR_COLUMN].isNotNull())
    columns = [c for c in written.columns if c not in (PREDICTION_COLUMN, PROBABILITY_COLUMN)]
    refused.select(*columns).write.csv(errors, header=True, mode="errorifexists")


__all__ = ["add_spark_options", "check_spark_options", "job_failure", "run_spark_score"]
