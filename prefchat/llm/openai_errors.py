"""One-line errors for the OpenAI-compatible backend (llm/openai_compat.py): every failure of the
openai client or its HTTP layer becomes a BackendError subclass that names the URL and the fix. The API
key itself never appears; only where it came from."""

from __future__ import annotations

import time
from typing import Optional

import httpx2 as httpx  # the HTTP client the openai package is built on (3.x uses httpx2)
import openai

from prefchat.llm.base import (
    AuthenticationFailed,
    BackendConnectionError,
    BackendError,
    BackendTimeout,
    ModelNotFound,
    RateLimited,
    ServerError,
    StreamInterrupted,
)
from prefchat.textsafe import one_line


def is_refused(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def map_error(exc: BaseException, *, url: str, model: str, timeout: float, max_retries: int,
              t_request: Optional[float], key_source: Optional[str], has_key: bool) -> BackendError:
    """exc as the BackendError to show. t_request: perf_counter() when the request started (the
    time waited is reported, retries included), None if unknown."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, openai.APITimeoutError) or isinstance(exc, httpx.TimeoutException):
        # The real time waited: the client retries, so it can be a multiple of the timeout.
        waited = (time.perf_counter() - t_request if t_request is not None
                  else timeout)
        tries = f" over {1 + max_retries} tries" if max_retries else ""
        return BackendTimeout(f"no answer from {url} within {waited:.0f} s{tries} (timeout "
                              f"{timeout:g} s); is the model still loading, or is the "
                              f"timeout too short?")
    if isinstance(exc, openai.APIConnectionError):
        if is_refused(exc):
            return BackendConnectionError(f"could not connect to {url}: connection refused "
                                          f"(is the server running?)")
        return BackendConnectionError(f"could not connect to {url}: "
                                      f"{type(exc.__cause__ or exc).__name__}")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code in (401, 403):
            sent = f"the API key from {key_source}" if has_key else "no API key"
            return AuthenticationFailed(
                f"{url} rejected the request (HTTP {code}; sent {sent}); set PREFCHAT_API_KEY "
                f"or api_key in the config to a valid key for this server")
        if code == 404:
            return ModelNotFound(f"{url} has no model '{model}' or no chat endpoint "
                                 f"(HTTP 404); check the model name and that the URL ends "
                                 f"in /v1")
        if code == 429:
            return RateLimited(f"{url} is rate limiting requests (HTTP 429); wait and retry, "
                               f"or lower N")
        if code >= 500:
            return ServerError(f"{url} failed with HTTP {code}; see the server's log")
        return ServerError(f"{url} refused the request (HTTP {code}): "
                           f"{one_line(getattr(exc, 'message', exc))}")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.NetworkError)):
        return StreamInterrupted(f"the connection to {url} dropped in the middle of a reply")
    if isinstance(exc, openai.APIError):
        return ServerError(f"{url} reported an error: {one_line(exc)}")
    return BackendError(f"request to {url} failed: {type(exc).__name__}: {one_line(exc)}")
