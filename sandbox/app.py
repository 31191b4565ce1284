"""The Flask application: SuperID login, tenant state, tenant API, control API, admin page."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from sandbox import admin, control, oidc, tenant_api, tenants
from sandbox.runtime import SandboxRuntime, install_runtime


def create_app(*, runtime: SandboxRuntime) -> Flask:
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_runtime(app=app, runtime=runtime)
    app.register_blueprint(oidc.blueprint)
    app.register_blueprint(tenants.blueprint)
    app.register_blueprint(control.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(tenant_api.blueprint)
    return app
