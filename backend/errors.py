"""The mock's HTTP errors: every refusal is JSON `{"error", "message_vi",
"message_en"}` with a 4xx/5xx status, raised as `ApiError` by the routes or
turned into one from FastAPI's own errors by `add_error_handlers`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.domain import is_valid_code, normalise_code


class ApiError(Exception):
    def __init__(self, status: int, error: str, message_vi: str, message_en: str) -> None:
        self.status, self.error, self.message_vi, self.message_en = status, error, message_vi, message_en


def error_json(status: int, error: str, message_vi: str, message_en: str, **extra) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message_vi": message_vi, "message_en": message_en, **extra}, status_code=status
    )


def api_error_json(error: ApiError) -> JSONResponse:
    return error_json(error.status, error.error, error.message_vi, error.message_en)


NOT_FOUND = ApiError(
    404,
    "not_found",
    "Không tìm thấy hồ sơ với mã và thông tin xác minh này.",
    "No request matches this code and proof of ownership.",
)
NO_SUCH_REQUEST = ApiError(404, "not_found", "Không có hồ sơ này.", "No such request.")
UNKNOWN_PAYMENT = ApiError(404, "unknown_payment", "Không tìm thấy giao dịch.", "No such payment.")
INVALID_INPUT_VI = "Dữ liệu gửi lên không hợp lệ."


def parse_code(raw: str) -> str:
    """A request code from a URL, normalised, or a 400."""
    code = normalise_code(raw)
    if len(code) > 40 or not is_valid_code(code):
        raise ApiError(
            400,
            "malformed_code",
            "Mã hồ sơ không đúng dạng, ví dụ đúng: 000.00.79.H79-261115-0007.",
            "The request code is malformed; expected e.g. 000.00.79.H79-261115-0007.",
        )
    return code


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None:
        return api_error_json(exc)
    seconds = max(1, int(retry_after) + 1)
    response = error_json(exc.status, exc.error, exc.message_vi, exc.message_en, retry_after_seconds=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item["loc"] if p not in ("body",)) or "body"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{where}: {message}")
    return error_json(
        422, "invalid_input", INVALID_INPUT_VI, "Invalid input: " + "; ".join(problems)[:500], problems=problems[:20]
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    messages = {
        404: ("Không có trang này.", "No such page."),
        405: ("Phương thức không được hỗ trợ.", "Method not allowed."),
    }
    vi, en = messages.get(exc.status_code, ("Yêu cầu không hợp lệ.", str(exc.detail)))
    return error_json(exc.status_code, "http_error", vi, en)


def add_error_handlers(app: FastAPI) -> None:
    # Starlette types a handler as taking any Exception, though it calls each
    # one only with the class it is registered for: the ignores are for that.
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
