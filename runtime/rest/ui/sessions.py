"""Browser sessions for the status page.

A browser cannot attach ``Authorization: Bearer`` to a page it loads, so the page has a
login form: the same credentials the API takes (a token, or a user and password) are
checked once, and the browser gets a random session id in a cookie that is
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it)
and scoped to ``/ui`` (the API never accepts it, so the cookie cannot be used to call
the API from anywhere). Sessions live in memory: a restarted worker asks again.

Actions (pause, resume) also need the session's CSRF token in an ``X-CSRF-Token``
header, which only a script of the page itself can send (another site's form can't set
headers, and the worker answers no CORS preflight), and an ``Origin``, when the browser
sends one, equal to the worker's own.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["COOKIE", "Session", "SessionStore"]

COOKIE = "offramp_session"


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: float


class SessionStore:
    """Session ids to sessions, oldest first; bounded, so a flood of logins can't grow
    the worker's memory."""

    def __init__(
        self,
        ttl_seconds: float = 8 * 3600,
        max_sessions: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), self.clock() + self.ttl)
        with self._lock:
            self._sessions[session_id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires < self.clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    @staticmethod
    def csrf_matches(session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(session.csrf, given)
