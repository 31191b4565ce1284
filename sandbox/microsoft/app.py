"""The Flask application: identity platform, Graph (``/v1.0/...``), control API, admin page.
Both listeners (HTTP and HTTPS) serve this one app."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, Response, request

from sandbox.microsoft import admin, batch, control, graph, identity
from sandbox.microsoft.errors import GraphError, bad_request
from sandbox.microsoft.exchange import GraphRequest, GraphResponse
from sandbox.microsoft.runtime import MicrosoftRuntime, current_runtime, install_runtime

GRAPH_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def create_app(*, runtime: MicrosoftRuntime) -> Flask:
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_runtime(app=app, runtime=runtime)
    app.add_url_rule("/v1.0/<path:rest>", "graph", graph_endpoint, methods=GRAPH_METHODS)
    app.register_blueprint(control.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(identity.blueprint)
    return app


def as_flask(*, response: GraphResponse) -> Response:
    if response.body is None:
        answer = Response(status=response.status)
    else:
        answer = Response(
            json.dumps(response.body, ensure_ascii=False), status=response.status,
            mimetype="application/json",
        )  # fmt: skip
    for name, value in response.headers.items():
        answer.headers[name] = value
    return answer


def read_request(*, rest: str) -> GraphRequest:
    body = None
    if request.get_data():
        try:
            body = json.loads(request.get_data())
        except ValueError as error:
            raise bad_request(message="The request body is not valid JSON.") from error
    return GraphRequest(
        method=request.method,
        path="/" + rest,
        query=request.args.to_dict(),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
        base_url=request.host_url.rstrip("/") + "/v1.0",
    )


def graph_endpoint(rest: str) -> Response:
    runtime = current_runtime()
    try:
        graph_request = read_request(rest=rest)
    except GraphError as error:
        return as_flask(response=graph.error_response(error=error))
    target = request.full_path.removeprefix("/v1.0").rstrip("?")
    lost_inside = False
    if rest == "$batch" and request.method == "POST":
        rule = runtime.faults.take(kind="status", method="POST", target=target)
        if rule is not None:
            fault = GraphError(
                status=rule.status, code=rule.code or graph.default_code(status=rule.status),
                message="Injected fault.",
                headers={} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)},
            )  # fmt: skip
            return as_flask(response=graph.error_response(error=fault))
        try:
            response, lost_inside = batch.run(runtime=runtime, outer=graph_request)
        except GraphError as error:
            response = graph.error_response(error=error)
    else:
        response = graph.execute(runtime=runtime, request=graph_request)
    lose = None
    if not response.injected:
        lose = runtime.faults.take(kind="lose_response", method=request.method, target=target)
    if lose is not None or lost_inside:
        lost = GraphError(
            status=504, code="GatewayTimeout", message="The answer was lost on the way."
        )
        return as_flask(response=graph.error_response(error=lost))
    return as_flask(response=response)
