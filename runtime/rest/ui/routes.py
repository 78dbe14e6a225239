"""``/ui``: the status page, its login, the JSON it polls, and its two actions.

=====================================  ==============================================
``GET /ui``                            the page; without a session 401 and the login
                                       form (so every path but ``/health`` still
                                       answers 401 to a caller without credentials)
``POST /ui/login``                     form ``token``, or ``user`` and ``password``:
                                       303 to ``/ui`` with the session cookie, or 401
``POST /ui/logout``                    ends the session
``GET /ui/state``                      connectors, tasks, lag, throughput, DLQ counts,
                                       last errors (JSON)
``POST /ui/connectors/{name}/pause``   what ``PUT /connectors/{name}/pause`` does;
``POST /ui/connectors/{name}/resume``  session + ``X-CSRF-Token`` + same ``Origin``
=====================================  ==============================================

With the API open (loopback, no credentials configured) the page opens without a login,
but its actions still need the session's CSRF token.
"""

from __future__ import annotations

import html
import time
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from offramp.errors import ConnectorNotFoundError
from offramp.records import TopicPartition
from offramp.rest.auth import AuthPolicy, basic_header, bearer_header
from offramp.rest.deps import get_ready_worker
from offramp.rest.responses import JSONBody, error_response
from offramp.rest.ui.history import ConnectorHistory
from offramp.rest.ui.sessions import COOKIE, Session, SessionStore
from offramp.worker import ConnectorRuntime, Worker

__all__ = ["UI_PREFIX", "router"]

UI_PREFIX = "/ui"
MAX_FORM_BYTES = 8192

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


def _template(name: str) -> str:
    return resources.files("offramp.rest.ui").joinpath(name).read_text(encoding="utf-8")


def _policy(request: Request) -> AuthPolicy:
    policy: AuthPolicy = request.app.state.auth_policy
    return policy


def _sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.ui_sessions
    return store


def _history(request: Request) -> ConnectorHistory:
    history: ConnectorHistory = request.app.state.ui_history
    return history


def _session(request: Request) -> Session | None:
    return _sessions(request).get(request.cookies.get(COOKIE))


def _same_origin(request: Request) -> bool:
    """A browser names the page a request comes from in ``Origin``; it must be ours.
    Without one (curl, an old browser's same-origin GET) the CSRF token decides."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _start_session(request: Request, response: Response) -> Session:
    session_id, session = _sessions(request).create()
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(_sessions(request).ttl),
        path=UI_PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return session


def _login_page(request: Request, status: int, problem: str = "") -> HTMLResponse:
    policy = _policy(request)
    fields = []
    if "Bearer" in policy.schemes:
        fields.append(
            '<label>Token <input name="token" type="password" autocomplete="current-password"'
            " autofocus></label>"
        )
    if "Basic" in policy.schemes:
        if fields:
            fields.append('<p class="or">or</p>')
        fields.append(
            '<label>User <input name="user" autocomplete="username"></label>'
            '<label>Password <input name="password" type="password"'
            ' autocomplete="current-password"></label>'
        )
    page = (
        _template("login.html")
        .replace("{{fields}}", "".join(fields))
        .replace("{{problem}}", html.escape(problem))
        .replace("{{worker}}", html.escape(_worker(request).worker_id))
    )
    return HTMLResponse(page, status_code=status, headers=_PAGE_HEADERS)


# The page loads nothing from elsewhere and may not be framed (clickjacking of the buttons).
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


def _worker(request: Request) -> Worker:
    worker: Worker = request.app.state.worker
    return worker


@router.get("")
def page(request: Request) -> Response:
    session = _session(request)
    response = HTMLResponse("", headers=_PAGE_HEADERS)
    if session is None:
        if _policy(request).enabled:
            return _login_page(request, 401)
        session = _start_session(request, response)
    response.body = response.render(
        _template("page.html")
        .replace("{{csrf}}", html.escape(session.csrf))
        .replace("{{worker}}", html.escape(_worker(request).worker_id))
        .replace("{{logout}}", "" if not _policy(request).enabled else _LOGOUT)
    )
    response.headers["content-length"] = str(len(response.body))
    return response


_LOGOUT = '<form method="post" action="/ui/logout"><button type="submit">Log out</button></form>'


@router.post("/login")
async def login(request: Request) -> Response:
    if not _same_origin(request):
        return _login_page(request, 403, "The login form was sent from another site.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _login_page(request, 401, "The login form was too large.")
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    policy = _policy(request)
    if not policy.enabled:
        return RedirectResponse(UI_PREFIX, status_code=303)
    candidates = []
    if form.get("token"):
        candidates.append(bearer_header(form["token"].strip()))
    if form.get("user"):
        candidates.append(basic_header(form["user"], form.get("password", "")))
    if not any(policy.allows(candidate) for candidate in candidates):
        problem = "Wrong credentials." if candidates else "Enter your credentials."
        return _login_page(request, 401, problem)
    response = RedirectResponse(UI_PREFIX, status_code=303)
    _start_session(request, response)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    _sessions(request).end(request.cookies.get(COOKIE))
    response = RedirectResponse(UI_PREFIX, status_code=303)
    response.delete_cookie(COOKIE, path=UI_PREFIX)
    return response


@router.get("/state")
def state(request: Request) -> Response:
    if _session(request) is None:
        return error_response(401, "Log in at /ui first")
    worker = _worker(request)
    history = _history(request)
    connectors = []
    for name in sorted(worker.names()):
        try:
            runtime = worker.get(name)
        except ConnectorNotFoundError:
            continue  # deleted just now
        connectors.append(_connector_state(runtime, history))
    return JSONBody(
        {
            "worker_id": worker.worker_id,
            "ready": worker.ready,
            "worker_error": worker.last_error,
            "time": time.time(),
            "window_seconds": history.window_seconds,
            "connectors": connectors,
        },
        headers={"Cache-Control": "no-store"},
    )


def _connector_state(runtime: ConnectorRuntime, history: ConnectorHistory) -> dict[str, Any]:
    tasks = list(runtime.tasks)
    lag: dict[TopicPartition, int] = {}
    written = dead_lettered = retries = 0
    for task in tasks:
        metrics = task.metrics
        written += metrics.records_written
        dead_lettered += metrics.records_dead_lettered
        retries += metrics.retries
        lag.update(dict(metrics.consumer_lag))
    rates = history.rates(runtime.name)
    last_error = history.last_error(runtime.name)
    return {
        "name": runtime.name,
        "state": runtime.state.value,
        "class": str(runtime.config.raw.get("connector.class", "")),
        "tasks": [
            {
                "id": task.task_id,
                "state": task.status.state.value,
                "worker_id": task.status.worker_id,
                "message": task.status.message,
            }
            for task in tasks
        ],
        "lag": sum(lag.values()) if lag else None,
        "lag_by_partition": [
            {"topic": topic, "partition": partition, "lag": value}
            for (topic, partition), value in sorted(lag.items())
        ],
        "records_written": written,
        "records_dead_lettered": dead_lettered,
        "retries": retries,
        "dlq_topic": runtime.config.settings.errors_deadletterqueue_topic_name or None,
        "rate_now": rates[-1][1] if rates else None,
        "rates": [[round(t, 1), round(r, 2)] for t, r in rates],
        "last_error": {"at": last_error.at, "text": last_error.text} if last_error else None,
    }


async def _action(request: Request, name: str, verb: str) -> Response:
    session = _session(request)
    if session is None:
        return error_response(401, "Log in at /ui first")
    if not _same_origin(request):
        return error_response(403, "Cross-site request refused")
    if not SessionStore.csrf_matches(session, request.headers.get("x-csrf-token")):
        return error_response(403, "Missing or wrong X-CSRF-Token")
    worker = await get_ready_worker(request)
    # The worker's calls take its locks: off the event loop, as the API's own routes are.
    await run_in_threadpool(worker.pause if verb == "pause" else worker.resume, name)
    return JSONBody({"name": name, "requested": verb}, 202)


@router.post("/connectors/{name}/pause")
async def pause(request: Request, name: str) -> Response:
    return await _action(request, name, "pause")


@router.post("/connectors/{name}/resume")
async def resume(request: Request, name: str) -> Response:
    return await _action(request, name, "resume")
