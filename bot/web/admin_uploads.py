"""Reading a staff upload from a multipart form: files plus optional catalog fields."""

from __future__ import annotations

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from bot.admin.uploads import Upload
from bot.web.admin_auth import REJECTED, audit
from bot.web.bodylimit import upload_limit, upload_too_large
from bot.web.context import web
from bot.web.errors import ApiError
from prompts import message

MAX_FILES = 20
MAX_FIELDS = 20
CATALOG_TEXT_FIELDS = ("title", "kind", "region")
MAX_FIELD_CHARS = 300


async def read_uploads(
    request: Request, action: str, *, many: bool, target: str = ""
) -> list[Upload]:
    """The uploaded files (one, or with `many` one or more) with the form's catalog fields.

    Called after the token check, so every refusal here is audited. A declared length over the
    limit is refused before reading; a body that grows past it is stopped by BodySizeLimit.
    """
    upload_mb = web(request).settings.max_upload_mb
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    if declared > upload_limit(upload_mb):
        raise await _refuse(request, action, target, upload_too_large(upload_mb))
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS)
    except ApiError as exc:  # the body passed the limit while it was being read
        raise await _refuse(request, action, target, exc) from None
    except HTTPException as exc:  # not multipart, or malformed
        if _header_too_long(exc):
            error = ApiError(400, "bad_name", message("staff.long_header"))
        else:
            error = ApiError(400, "bad_form", message("staff.bad_form"))
        raise await _refuse(request, action, target, error) from None
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            error = ApiError(400, "no_files", message("staff.no_files"))
            raise await _refuse(request, action, target, error)
        if not many and len(files) != 1:
            error = ApiError(400, "one_file", message("staff.one_file"))
            raise await _refuse(request, action, target, error)
        catalog = await _catalog(request, action, target, form)
        return [
            Upload(filename=file.filename or "", data=await file.read(), **catalog)
            for file in files
        ]
    finally:
        await form.close()


def _header_too_long(error: BaseException) -> bool:
    """Whether the form failed on a part's header over python-multipart's limit (4 KB): a very
    long file name, which is then the reason to give, not "not a form"."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, MultipartParseError) and "header size" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


async def _catalog(request: Request, action: str, target: str, form: FormData) -> dict:
    """title, kind, year and region from the form; blank fields are left out."""
    catalog: dict[str, object] = {}
    for name in CATALOG_TEXT_FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            catalog[name] = " ".join(value.split())[:MAX_FIELD_CHARS]
    year = form.get("year")
    if isinstance(year, str) and year.strip():
        try:
            catalog["year"] = int(year.strip())
        except ValueError:
            details = message("web.field_not_integer", field="year")
            error = ApiError(
                422, "invalid_request", message("web.invalid_request", details=details)
            )
            raise await _refuse(request, action, target, error) from None
    return catalog


async def _refuse(request: Request, action: str, target: str, error: ApiError) -> ApiError:
    """Audit a refused upload and hand back the error to raise."""
    await audit(request, action, target, REJECTED, f"{error.code}: {error.detail}")
    return error
