"""``python -m sandbox.microsoft --host 127.0.0.1 --port P --tls-port T --data-dir D``.

One app on two listeners: plain HTTP (Graph, browser pages, control API) and HTTPS with
the self-signed certificate in ``D/tls/cert.pem`` (the token endpoint MSAL needs).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from sandbox.microsoft.app import create_app
from sandbox.microsoft.config import (
    DEFAULT_BUDGET,
    DEFAULT_CONCURRENCY,
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
    DEFAULT_WINDOW_SECONDS,
    MicrosoftConfig,
    client_from_environment,
    environment_int,
)
from sandbox.microsoft.runtime import Addresses, MicrosoftRuntime


def parse_arguments(*, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.microsoft",
        description="A local stand-in for Microsoft 365 (identity platform and Graph contacts).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=environment_int(
        name="MICROSOFT_SANDBOX_PORT", default=DEFAULT_PORT))  # fmt: skip
    parser.add_argument("--tls-port", type=int, default=environment_int(
        name="MICROSOFT_SANDBOX_TLS_PORT", default=DEFAULT_TLS_PORT))  # fmt: skip
    parser.add_argument("--data-dir", type=Path, default=Path(".sandbox-data/microsoft"))
    parser.add_argument("--concurrency", type=int, default=environment_int(
        name="MICROSOFT_SANDBOX_CONCURRENCY", default=DEFAULT_CONCURRENCY))  # fmt: skip
    parser.add_argument("--budget", type=int, default=environment_int(
        name="MICROSOFT_SANDBOX_BUDGET", default=DEFAULT_BUDGET))  # fmt: skip
    parser.add_argument("--window-seconds", type=int, default=environment_int(
        name="MICROSOFT_SANDBOX_WINDOW_SECONDS", default=DEFAULT_WINDOW_SECONDS))  # fmt: skip
    parser.add_argument("--reset", action="store_true", help="start with no data")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser.parse_args(argv)


def main(*, argv: list[str]) -> int:
    arguments = parse_arguments(argv=argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if arguments.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.perf_counter()
    client_id, client_secret = client_from_environment()
    config = MicrosoftConfig(
        data_dir=arguments.data_dir.resolve(), host=arguments.host, client_id=client_id,
        client_secret=client_secret, concurrency=arguments.concurrency,
        budget=arguments.budget, window_seconds=arguments.window_seconds,
    )  # fmt: skip
    runtime = MicrosoftRuntime(config=config, reset=arguments.reset)
    app = create_app(runtime=runtime)
    plain = make_server(arguments.host, arguments.port, app, threaded=True)
    secure = make_server(
        arguments.host, arguments.tls_port, app, threaded=True,
        ssl_context=(str(runtime.cert_path), str(runtime.key_path)),
    )  # fmt: skip
    runtime.addresses = Addresses(
        host=arguments.host, port=plain.server_port, tls_port=secure.server_port
    )
    threading.Thread(target=secure.serve_forever, name="https", daemon=True).start()
    http = runtime.addresses.http()
    print(
        f"Microsoft 365 stand-in ready at {http} (Graph, pages) and "
        f"{runtime.addresses.https()} (token endpoint, CA {runtime.cert_path}) "
        f"({time.perf_counter() - started:.2f}s); admin page {http}/_sandbox/admin/",
        flush=True,
    )
    try:
        plain.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        secure.shutdown()
        plain.server_close()
        secure.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:]))
