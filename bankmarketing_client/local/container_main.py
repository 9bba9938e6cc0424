"""Run the real ``azmlinfsrv`` command line, bound to one interface instead of 0.0.0.0.

``azmlinfsrv`` hard-codes ``0.0.0.0``; the scoring container does no authentication, so locally it must only be
reachable on loopback behind the front. Everything else is the unmodified server: its argument parsing,
environment set-up, gunicorn sync workers and Flask app.
"""

from __future__ import annotations

import os
import sys

HOST_ENV = "BANKMARKETING_CONTAINER_HOST"


def main() -> None:
    from azureml_inference_server_http import amlserver

    amlserver.DEFAULT_HOST = os.environ.get(HOST_ENV, "127.0.0.1")
    sys.argv[0] = "azmlinfsrv"
    amlserver.run()


if __name__ == "__main__":
    main()
