"""Reading request bodies strictly: size, content type, JSON without duplicate keys or depth."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final

from fastapi import Request
from pydantic import BaseModel, ValidationError

from bankgate.api.errors import ApiRefusal

__all__ = ["MAX_BODY_BYTES", "idempotency_key", "optional_idempotency_key", "read_json",
           "request_hash", "validate"]

MAX_BODY_BYTES: Final = 1024 * 1024
MAX_DEPTH: Final = 8
_KEY: Final = re.compile(r"[\x21-\x7e]{1,255}")


async def read_json(request: Request) -> Any:
    """The JSON body: 415 unless JSON, 413 over 1 MB, 400 for bad JSON or duplicate keys."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiRefusal(415, "unsupported_media_type",
                         f"send application/json, not {kind or 'nothing'!r}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiRefusal(413, "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiRefusal(413, "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(bytes(body), object_pairs_hook=_no_duplicates,
                              parse_constant=_no_constant)
    except RecursionError as exc:
        raise ApiRefusal(400, "invalid_json", "the JSON is nested too deeply") from exc
    except ValueError as exc:
        raise ApiRefusal(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    if _depth(document) > MAX_DEPTH:
        raise ApiRefusal(400, "invalid_json", f"the JSON is nested deeper than {MAX_DEPTH}")
    return document


def validate(model: type[BaseModel], document: Any, prefix: str = "") -> BaseModel:
    """Validate with the strict model; 422 with the JSON pointer of the first problem."""
    try:
        return model.model_validate(document, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        pointer = prefix + "".join(f"/{p}" for p in first["loc"])
        raise ApiRefusal(422, "invalid_input", f"{pointer or 'the body'}: {first['msg']}",
                         pointer) from exc


def idempotency_key(request: Request) -> str:
    """The Idempotency-Key header: required, 1-255 visible ASCII characters."""
    key = optional_idempotency_key(request)
    if key is None:
        raise ApiRefusal(400, "idempotency_key_required",
                         "the Idempotency-Key header is required on this request")
    return key


def optional_idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header where it may be left out; checked when present."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise ApiRefusal(400, "invalid_idempotency_key",
                         "Idempotency-Key must be 1-255 visible ASCII characters")
    return key


def request_hash(document: Any) -> str:
    """SHA-256 of the canonical JSON of the parsed body."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _depth(value: Any, level: int = 1) -> int:
    if isinstance(value, dict):
        return max([level, *(_depth(v, level + 1) for v in value.values())])
    if isinstance(value, list):
        return max([level, *(_depth(v, level + 1) for v in value)])
    return level
