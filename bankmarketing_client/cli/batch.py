"""``bankmarketing-client score INPUT -o OUTPUT``: score a CSV or Parquet file, every row exactly once.

Exit codes (:mod:`.exits` has the table): 0 every row scored; 1 some rows were rejected (see the errors file) or
failed at the endpoint, ``--fail-fast`` stopped at a bad row, or the endpoint failed and the run stopped (progress
saved: run again with ``--resume``); 2 a user error (bad file, missing setting, refused key; one line, no
traceback); 3 no space left on the disk (progress saved: free space and run again with ``--resume``); 130
interrupted by Ctrl-C or SIGTERM (progress saved: run again with ``--resume``).

The endpoint comes from ``--scoring-uri`` or ``$BANKMARKETING_SCORING_URI``; the key from ``$BANKMARKETING_API_KEY``
or ``--key-file`` (a key, or an ``aml_token`` answer as JSON), never from the command line. ``--deployment`` sends
every chunk to one deployment (a name the endpoint does not know exits 2); ``--deployment-column`` adds a column
naming the deployment that served each row. ``--endpoint-settings FILE`` (``discover --endpoint --settings-file``)
gives the scoring URI and deployment unless the options do, and the pending limit the concurrency starts at.

Guards (see ``score --help``): one run per output at a time (an OS lock, released even by ``kill -9``); an output
or errors file that is a directory or cannot be written is refused before any row is sent; a CSV line (so also a
field) over 128 KiB is never read whole: a longer header is refused, a longer row is rejected in the errors file.
A refused run leaves no file behind.

``--engine spark`` runs the same scoring on Apache Spark instead (Parquet in, a Parquet folder out; see
:mod:`.spark_engine` for what it does differently).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bankmarketing_client.cli import positive_int
from bankmarketing_client.cli.endpoint_options import EndpointOptions, add_endpoint_options, endpoint_options
from bankmarketing_client.cli.exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    unknown_deployment_is_a_user_error,
)
from bankmarketing_client.cli.spark_engine import add_spark_options, check_spark_options, run_spark_score
from bankmarketing_client.errors import ConfigurationError

if TYPE_CHECKING:
    from bankmarketing_client.settings_file import EndpointSettingsFile


def register(subparsers: Any) -> None:
    # "128 KiB" is data.MAX_LINE_BYTES, written out: importing data here would load httpx for every --help.
    score = subparsers.add_parser(
        "score",
        help="score a CSV or Parquet file (batched, tuned, resumable)",
        description="Score every row of INPUT into OUTPUT (CSV or Parquet, by suffix), in input order. "
        "Invalid rows are not sent; they are listed with row, field and reason in the errors file. "
        "A CSV line (header or row, so also any field) may be at most 128 KiB: a longer "
        "header is refused, a longer row is rejected and the run goes on. Only one run may write an output at a "
        "time (a lock file beside it, freed when the run ends in any way); a second one is refused.",
    )
    score.add_argument("input", type=Path, metavar="INPUT", help="CSV (comma or semicolon) or Parquet file")
    score.add_argument("-o", "--output", type=Path, required=True, help="output file (.csv or .parquet)")
    score.add_argument("--errors", type=Path, help="errors file (default: <output stem>.errors.csv, if any)")
    score.add_argument("--fail-fast", action="store_true", help="stop at the first invalid row; write no output")
    score.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoint (--engine spark: finish a run stopped after its "
        "output was committed)",
    )
    score.add_argument("--batch-size", type=positive_int, help="records per request (default: tuned)")
    score.add_argument("--concurrency", type=positive_int, help="requests in flight (default: tuned)")
    score.add_argument("--id-column", help="column carried to the output (default: a column named id, if any)")
    score.add_argument("--delimiter", choices=(",", ";"), help="CSV delimiter (default: detected)")
    score.add_argument("--proba", dest="proba", action="store_true", default=None, help="require probabilities")
    score.add_argument("--no-proba", dest="proba", action="store_false", help="labels only")
    score.add_argument("--allow-unknown-categories", action="store_true", help="send categories never seen in training")
    score.add_argument(
        "--max-answer-bytes",
        type=positive_int,
        metavar="N",
        help="the most of one answer read, in bytes (default: 1 MiB + 512 bytes per record of the request); a "
        "larger answer stops the run (progress saved); memory holds at most this times --concurrency",
    )
    add_endpoint_options(score)
    score.add_argument(
        "--endpoint-settings",
        type=Path,
        metavar="FILE",
        help="settings written by `discover --endpoint --settings-file`: the scoring URI and deployment (unless "
        "given) and the pending limit, where concurrency starts and which it never exceeds",
    )
    score.add_argument(
        "--deployment-column",
        nargs="?",
        const="deployment",
        metavar="NAME",
        help="add a column (default name: deployment) naming the deployment that served each row",
    )
    add_spark_options(score)
    bar = score.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always draw the bar")
    bar.add_argument("--quiet", dest="progress", action="store_false", help="no bar (default when not a terminal)")
    score.set_defaults(handler=run_score)


def _with_settings_file(
    endpoint: EndpointOptions, path: Path | None
) -> tuple[EndpointOptions, EndpointSettingsFile | None]:
    """The options completed from ``--endpoint-settings``: its URI and deployment unless given on the command line,
    and the limits of the deployment the run uses."""
    if path is None:
        return endpoint, None
    from bankmarketing_client.settings_file import read_settings_file

    saved = read_settings_file(path).for_deployment(endpoint.deployment)
    completed = replace(endpoint, scoring_uri=endpoint.scoring_uri or saved.scoring_uri, deployment=saved.deployment)
    return completed, saved


def run_score(args: argparse.Namespace) -> int:
    from bankmarketing_client.answers import AnswerLimits
    from bankmarketing_client.batch.filerun import score_file_async
    from bankmarketing_client.batch.progress import Progress
    from bankmarketing_client.client import ENV_DEPLOYMENT

    if args.engine == "spark" and args.deployment_column is not None:
        raise ConfigurationError("--deployment-column does not work with --engine spark yet; drop it")
    if args.engine == "spark" and args.max_answer_bytes is not None:
        raise ConfigurationError("--max-answer-bytes does not work with --engine spark yet; drop it")
    check_spark_options(args)
    endpoint, limits = _with_settings_file(endpoint_options(args), args.endpoint_settings)
    if args.engine == "spark":
        return run_spark_score(args, endpoint, limits)
    progress = Progress(enabled=args.progress)
    coroutine = score_file_async(
        args.input,
        args.output,
        errors=args.errors,
        scoring_uri=endpoint.scoring_uri,
        api_key=endpoint.api_key,
        token_provider=endpoint.token_provider,
        deployment=endpoint.deployment,
        contract=endpoint.contract,
        proba=args.proba,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        fail_fast=args.fail_fast,
        resume=args.resume,
        id_column=args.id_column,
        delimiter=args.delimiter,
        allow_unknown_categories=args.allow_unknown_categories,
        progress=progress,
        deployment_column=args.deployment_column,
        limits=limits,
        allow_insecure_http=endpoint.allow_insecure_http,
        answer_limits=None if args.max_answer_bytes is None else AnswerLimits.fixed(args.max_answer_bytes),
    )

    async def main() -> Any:
        task = asyncio.ensure_future(coroutine)
        loop = asyncio.get_running_loop()
        # SIGTERM stops like Ctrl-C: at an await, after the last complete chunk, with the checkpoint saved.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await task

    try:
        with unknown_deployment_is_a_user_error(endpoint.deployment or os.environ.get(ENV_DEPLOYMENT)):
            summary = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(
            f"bankmarketing-client: interrupted; progress saved, continue with: score ... -o {args.output} --resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(summary)
    return EXIT_OK if summary.ok else EXIT_FAILED
