"""``python -m sandbox --host 127.0.0.1 --port 8001 --data-dir DIR [--persons N] [--reset]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from werkzeug.serving import make_server

from sandbox.app import create_app
from sandbox.config import (
    DEFAULT_PERSONS,
    DEFAULT_PORT,
    DEFAULT_SEED,
    SandboxConfig,
    clients_from_environment,
)
from sandbox.runtime import SandboxRuntime


def parse_arguments(*, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="A local stand-in for SuperOffice Online."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT))
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".sandbox-data"))
    parser.add_argument("--persons", type=int, default=DEFAULT_PERSONS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reset", action="store_true", help="start from freshly seeded data")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser.parse_args(argv)


def main(*, argv: list[str]) -> int:
    arguments = parse_arguments(argv=argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if arguments.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.perf_counter()
    config = SandboxConfig(
        data_dir=arguments.data_dir.resolve(),
        persons=arguments.persons,
        seed=arguments.seed,
        clients=clients_from_environment(),
    )
    runtime = SandboxRuntime(config=config, reset=arguments.reset)
    app = create_app(runtime=runtime)
    server = make_server(arguments.host, arguments.port, app, threaded=True)
    address = f"http://{arguments.host}:{server.server_port}"
    print(
        f"SuperOffice sandbox ready at {address} ({runtime.persons} persons, "
        f"{time.perf_counter() - started:.2f}s); admin page {address}/_sandbox/admin/",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:]))
