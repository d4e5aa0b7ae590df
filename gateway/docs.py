"""``/docs``: the OpenAPI document in Swagger UI, served from this package (no CDN).

FastAPI's own ``/docs`` loads Swagger UI from a CDN, which a gateway on a closed network
(or a strict Content-Security-Policy) cannot reach. The files of ``swagger-ui-dist`` are
vendored in ``gateway/swagger_ui/`` (version and licence in its ``VERSION``) and served
here; the validator badge, which would call validator.swagger.io, is off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

#: the vendored release (see swagger_ui/VERSION)
SWAGGER_UI = "5.35.0"
ASSETS = Path(__file__).resolve().parent / "swagger_ui"
#: what /docs/assets/ serves, and as what
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="omium API",
        swagger_js_url=f"/docs/assets/swagger-ui-bundle.js?v={SWAGGER_UI}",
        swagger_css_url=f"/docs/assets/swagger-ui.css?v={SWAGGER_UI}",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/assets/{name}")
async def asset(name: str) -> FileResponse:
    """One file of the vendored Swagger UI (cached for a day: the URL names the version)."""
    media = FILES.get(name)
    if media is None:
        raise HTTPException(404, f"no asset {name!r}")
    return FileResponse(
        ASSETS / name, media_type=media, headers={"Cache-Control": "public, max-age=86400"}
    )
