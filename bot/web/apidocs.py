"""OpenAPI docs at /docs that work offline and under the strict CSP: Swagger UI served from the
`swagger-ui-bundle` package, started by a script file rather than an inline one."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

ASSETS = "/docs-static"
PAGE = """<!doctype html>
<html lang="es">
<head>
  <meta charset="utf-8">
  <title>Exporta · API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""


def install_offline_docs(app: FastAPI) -> None:
    """Mount Swagger UI's files, the /docs page and the script that starts it (no CDN)."""
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-static")
    options = {
        "url": app.openapi_url or "/openapi.json",
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        **(app.swagger_ui_parameters or {}),
    }
    script = (
        f"const options = {json.dumps(options)};\n"
        "options.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];\n"
        "options.layout = 'BaseLayout';\n"
        "window.ui = SwaggerUIBundle(options);\n"
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(PAGE.format(assets=ASSETS))

    @app.get("/docs/init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(script, media_type="text/javascript")
