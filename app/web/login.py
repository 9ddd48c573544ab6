"""The login page of local users (`enclave users create`), and signing out.

GET /login shows the form with a login-CSRF token tied to a pre-session cookie; POST /login
checks the name and password (scrypt, off the event loop), starts a session and sends the
browser on to `next`, a path on this site only. A wrong name or password gets the form again
with one generic message. `ENCLAVE_LOGIN_MAX_FAILURES` failures for one name in 15 minutes
refuse further tries for it (429 with Retry-After). Both are audit events ("login",
"login_failed", "logout"). Both paths are public (the auth middleware skips them).
"""

import asyncio
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from app.security.audit import note
from app.security.auth import check_same_site
from app.security.routes import SIGN_IN
from app.security.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    Sessions,
    check_csrf,
    expired_cookie,
    is_https,
)
from app.services import Services
from app.state import running
from enclave.access.users import normal_name, verify_password

WRONG = "Wrong user name or password."
EXPIRED = "The sign-in form had expired. Please try again."
NONCE_MINUTES = 60


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    next: str = ""
    csrf_token: str = ""


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, "/" otherwise: never an open redirect
    (`//evil.example`, `/\\evil.example`, `https://…`, control characters)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return target


def _sessions(request: Request[Any, Any, Any]) -> Sessions:
    return running(request.app).sessions


def _auth_off(request: Request[Any, Any, Any]) -> bool:
    settings = running(request.app).settings  # this app's, as auth.py reads them
    return settings.auth == "off"


def _nonce_cookie(nonce: str, secure: bool) -> Cookie:
    return Cookie(
        key=LOGIN_COOKIE, value=nonce, max_age=NONCE_MINUTES * 60, path="/login",
        httponly=True, secure=secure, samesite="lax",
    )  # fmt: skip


def _form_page(
    request: Request[Any, Any, Any],
    *,
    next_path: str,
    username: str = "",
    error: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    """The form, with a fresh login-CSRF nonce (cookie) and its token (hidden field)."""
    nonce = secrets.token_urlsafe(24)
    return Template(
        "login.html",
        context={
            "next": next_path,
            "username": username,
            "error": error,
            "login_token": _sessions(request).login_token(nonce),
        },
        status_code=status_code,
        headers=headers,
        cookies=[_nonce_cookie(nonce, is_https(request))],
    )


class LoginPage(Controller):
    opt = SIGN_IN  # open to everyone; sign-ins are audited as such
    include_in_schema = False

    @get("/login")
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        next_path: Annotated[str, Parameter(query="next", max_length=2000)] = "/",
    ) -> Template | Redirect:
        if _auth_off(request):  # everyone is the local administrator: nothing to sign in to
            return Redirect(safe_next(next_path), status_code=303)
        return _form_page(request, next_path=safe_next(next_path))

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        target = safe_next(data.next)
        if _auth_off(request):
            return Redirect(target, status_code=303)
        check_same_site(
            request, opaque_origin_ok=True
        )  # a cross-site form posting someone's credentials: 403
        sessions = _sessions(request)
        name = normal_name(data.username)[:255]
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not sessions.matches(sessions.login_token(nonce), data.csrf_token):
            note(request, action="login_failed", username=name, reason="login csrf")
            return _form_page(
                request, next_path=target, username=name, error=EXPIRED, status_code=403
            )
        throttle = running(request.app).login_throttle
        wait = throttle.retry_after(name)
        if wait is not None:
            note(request, action="login_failed", username=name, reason="throttled")
            return _form_page(
                request, next_path=target, username=name, status_code=429,
                error=f"Too many failed sign-ins for this name. Try again in {_minutes(wait)}.",
                headers={"Retry-After": str(wait)},
            )  # fmt: skip
        signed_in = await asyncio.to_thread(verify_password, services.database, name, data.password)
        if signed_in is None:
            throttle.failed(name)
            note(request, action="login_failed", username=name, reason="wrong credentials")
            return _form_page(
                request, next_path=target, username=name, error=WRONG, status_code=401
            )
        throttle.succeeded(name)
        token = await asyncio.to_thread(sessions.start, signed_in.user_id)
        # The audit event names who signed in (the middleware skipped this public path).
        request.scope["user"] = signed_in.principal
        note(request, action="login", username=name)
        return Redirect(
            target,
            status_code=303,
            cookies=[
                sessions.cookie(token, is_https(request)),
                expired_cookie(LOGIN_COOKIE, "/login"),
            ],
        )

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """End the session on the server and forget the cookie. The CSRF token is required:
        a hostile page must not be able to sign people out."""
        check_same_site(request, opaque_origin_ok=True)
        sessions = _sessions(request)
        token = sessions.token_of(request.cookies.get(COOKIE))
        if token is not None:
            await check_csrf(request, sessions, token)  # 403 without it
            principal = await asyncio.to_thread(sessions.principal, token)
            await asyncio.to_thread(sessions.end, token)
            if principal is not None:
                request.scope["user"] = principal
        note(request, action="logout")
        return Redirect("/login", status_code=303, cookies=[expired_cookie(COOKIE)])


def _minutes(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
