"""Routes of the informatics console, under /console.

Registered by app.py only when a users file or a trusted proxy header is configured; otherwise
every /console path is the service's ordinary JSON 404. Every page needs a signed-in user
(auth.py), and every view is written to the audit store's console access log before the page
leaves (a view that cannot be recorded is withheld: 503). Pages are rendered with autoescaping
on, and carry a Content-Security-Policy that allows nothing but the service's own origin.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, g, redirect, request
from jinja2 import Environment, PackageLoader
from sqlalchemy import Engine
from werkzeug.wrappers import Response as Reply

from cds_service.audit import reports
from cds_service.console import impact, views
from cds_service.console.access import UNFIT, record_access
from cds_service.console.auth import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Principal,
    Sessions,
    TrustedProxies,
    UsersFile,
    UsersFileError,
    header_user,
    same_token,
    security_log,
)
from cds_service.hooks.errors import Issue, operation_outcome
from cds_service.knowledge.loader import KnowledgeBaseError
from cds_service.knowledge.model import KnowledgeBase
from cds_service.settings import Settings, SettingsError

log = logging.getLogger(__name__)

PREFIX = "/console"
REALM = 'Basic realm="alp-cds console", charset="UTF-8"'
SECURITY_HEADERS = {
    # Nothing but this origin: no CDN, no outside fonts, scripts or images, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
PUBLIC_ENDPOINTS = {"console.login", "console.static"}
IMPACT_DAYS = (7, 30, 90)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    if isinstance(value, str) and "T" in value:
        try:
            return _when(datetime.fromisoformat(value))
        except ValueError:
            return value
    return "" if value is None else str(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cds_service.console", "templates"),
        autoescape=True,  # every template, whatever its name: record text is never markup
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["rule_url"] = views.rule_url
    env.filters["invocation_url"] = views.invocation_url
    env.filters["rate"] = lambda v: "–" if v is None else f"{v * 100:.0f}%"
    env.filters["ms"] = lambda v: "–" if v is None else f"{v:,.1f}"
    return env


def _safe_next(target: str | None) -> str:
    """Only a console path of this service: never an open redirect."""
    if not target:
        return PREFIX + "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
        return PREFIX + "/"
    if target.startswith("//") or "\\" in target:
        return PREFIX + "/"
    return target


def create_console_blueprint(settings: Settings, kb: KnowledgeBase, engine: Engine) -> Blueprint:
    try:
        users = UsersFile(settings.console_users_file) if settings.console_users_file else None
    except (UsersFileError, OSError) as exc:
        raise SettingsError(f"ALP_CDS_CONSOLE_USERS_FILE: {exc}") from None
    proxies = TrustedProxies(settings.console_trusted_proxies)
    trusted_header = settings.console_trusted_header
    # A random key still works across gunicorn workers: the app is built before they fork.
    sessions = Sessions(settings.console_secret_key or secrets.token_urlsafe(32))
    secure_cookies = not settings.dev_mode
    candidates = {str(path): path for path in settings.console_candidate_dirs}
    env = _environment()
    index = views.RuleIndex(kb)
    bp = Blueprint(
        "console",
        __name__,
        url_prefix=PREFIX,
        static_folder="static",
        static_url_path="/static",
    )

    # --- sign-in -----------------------------------------------------------------------------

    def audit(user: str | None, via: str, status: int) -> None:
        record_access(
            engine,
            user=user,
            auth=via,
            method=request.method,
            path=request.full_path.rstrip("?") if request.query_string else request.path,
            status=status,
            remote_addr=request.remote_addr,
        )

    def audit_refusal(user: str | None, via: str, status: int) -> None:
        try:
            audit(user, via, status)
        except Exception:  # the refusal stands whether or not it could be written down
            log.exception("console: a refused access could not be recorded")

    def wants_html() -> bool:
        # Browsers name text/html when they navigate; scripts (curl: */*) get a plain 401.
        named = any(kind == "text/html" and q > 0 for kind, q in request.accept_mimetypes)
        return request.method == "GET" and named

    def refuse(status: int, why: str, via: str, user: str | None = None) -> Reply:
        audit_refusal(user, via, status)
        if users and status == 401 and wants_html():
            target = request.full_path.rstrip("?") if request.query_string else request.path
            return redirect(f"{PREFIX}/login?next={quote(target, safe='/')}", 303)
        code = {401: "login", 403: "forbidden"}.get(status, "security")
        headers = {"WWW-Authenticate": REALM} if status == 401 and users else {}
        return Response(
            current_app.json.dumps(operation_outcome([Issue(code, why)])),
            status,
            headers=headers,
            mimetype="application/json",
        )

    def authenticate() -> Principal | Reply:
        if trusted_header and trusted_header in request.headers:
            if not proxies.allows(request.remote_addr):
                security_log.warning(
                    "security: console header %s from %s, not a trusted proxy: refused",
                    trusted_header,
                    request.remote_addr,
                )
                return refuse(403, "this address may not assert a user", "header")
            user = header_user(request.headers.get(trusted_header))
            if user is None:
                return refuse(401, "the proxy sent no usable user name", "header")
            return Principal(user, "header")
        auth = request.authorization
        if auth is not None and auth.type == "basic" and users:
            name, password = auth.username or "", auth.password or ""
            if users.verify(name, password):
                return Principal(name, "basic")
            return refuse(401, "wrong user name or password", "basic", name[:256] or None)
        if users:
            found = sessions.read(request.cookies.get(SESSION_COOKIE))
            if found and users.exists(found[0]):
                return Principal(found[0], "form", found[1])
        return refuse(401, "sign in to use the console", "none")

    @bp.before_request
    def require_user() -> Reply | None:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        principal = authenticate()
        if isinstance(principal, Reply):
            return principal
        g.console_principal = principal
        # A NUL in an address (`?rule=%00`, `/rules/a%00b`) reached the audit store's queries
        # and failed them on PostgreSQL (a 500, or a 503 when the view could not be recorded).
        if UNFIT.search(request.path) or any(
            UNFIT.search(key) or UNFIT.search(value)
            for key, value in request.args.items(multi=True)
        ):
            return page(
                "message.html",
                400,
                title="Not a valid address",
                message="The address holds a control character; no page has one.",
            )
        return None

    @bp.after_request
    def audit_and_protect(response: Reply) -> Reply:
        principal: Principal | None = g.get("console_principal")
        if principal is not None and request.endpoint not in PUBLIC_ENDPOINTS:
            try:
                audit(principal.user, principal.via, response.status_code)
            except Exception:
                log.exception("console: a view could not be recorded; withheld")
                response = Response(
                    "The console could not record this view in the audit store, so it is not "
                    "shown. Try again when the audit store is back.",
                    503,
                    mimetype="text/plain",
                )
        response.headers.update(SECURITY_HEADERS)
        if request.endpoint != "console.static":
            response.headers["Cache-Control"] = "no-store"
        return response

    def page(name: str, status: int = 200, **context: Any) -> Response:
        principal: Principal | None = g.get("console_principal")
        html = env.get_template(name).render(
            user=principal.user if principal else None,
            csrf=principal.csrf if principal else None,
            signed_in_by_form=bool(principal and principal.via == "form"),
            pseudonymised=bool(settings.audit_pseudonym_key),
            kb=kb,
            request_path=request.path,
            **context,
        )
        return Response(html, status, mimetype="text/html")

    def set_cookie(response: Reply, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            secure=secure_cookies,
            httponly=True,
            samesite="Strict",
        )

    def clear_cookie(response: Reply, name: str) -> None:
        response.delete_cookie(
            name, path=PREFIX, secure=secure_cookies, httponly=True, samesite="Strict"
        )

    def login_form(status: int, error: str | None, user: str = "") -> Reply:
        nonce, token = sessions.login_form()
        response = page(
            "login.html",
            status,
            token=token,
            next=_safe_next(request.values.get("next")),
            error=error,
            attempted=user,
        )
        set_cookie(response, LOGIN_COOKIE, nonce, LOGIN_FORM_SECONDS)
        return response

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Reply:
        if users is None:
            return page(
                "message.html",
                404,
                title="Sign-in is by your organisation",
                message="This console accepts users signed in by the organisation's proxy only.",
            )
        if request.method == "GET":
            return login_form(200, None)
        if not sessions.login_form_valid(
            request.cookies.get(LOGIN_COOKIE), request.form.get("csrf")
        ):
            audit_refusal(None, "form", 400)
            return login_form(
                400, "The form had expired or was not sent from this page; try again."
            )
        name = request.form.get("username", "")[:256]
        if not users.verify(name, request.form.get("password", "")):
            audit_refusal(name or None, "form", 401)
            return login_form(401, "Wrong user name or password.", name)
        cookie, _ = sessions.issue(name)
        response = redirect(_safe_next(request.form.get("next")), 303)
        set_cookie(response, SESSION_COOKIE, cookie, SESSION_SECONDS)
        clear_cookie(response, LOGIN_COOKIE)
        try:
            audit(name, "form", 303)
        except Exception:
            log.exception("console: a sign-in could not be recorded; refused")
            return Response("The sign-in could not be recorded; try again.", 503)
        return response

    @bp.post("/logout")
    def logout() -> Reply:
        principal: Principal = g.console_principal
        if principal.via == "form" and not same_token(principal.csrf, request.form.get("csrf")):
            return page("message.html", 400, title="Not signed out", message="The form was stale.")
        response = redirect(f"{PREFIX}/login", 303)
        clear_cookie(response, SESSION_COOKIE)
        return response

    # --- pages -----------------------------------------------------------------------------------

    def now() -> datetime:
        return datetime.now(UTC)

    @bp.get("/")
    def overview() -> Reply:
        span = views.period(request.args.get("days"), now())
        return page(
            "overview.html",
            span=span,
            periods=views.PERIODS,
            data=views.overview(engine, kb, span),
        )

    @bp.get("/rules/<rule_id>")
    def rule(rule_id: str) -> Reply:
        span = views.period(request.args.get("days"), now())
        data = views.rule_page(engine, kb, rule_id, span)
        if data["known"] is None and not data["totals"].fired and not data["totals"].shown:
            return page(
                "message.html",
                404,
                title="No such rule",
                message=f"No rule {rule_id!r} in the loaded knowledge base or the audit store.",
            )
        return page("rule.html", span=span, periods=views.PERIODS, data=data)

    @bp.get("/invocations")
    def search() -> Reply:
        hook_instance = request.args.get("hook_instance", "").strip()[:128] or None
        rule_id = request.args.get("rule", "").strip()[:100] or None
        raw_day = request.args.get("date", "").strip()
        problem = None
        day = None
        if raw_day:
            try:
                day = date.fromisoformat(raw_day)
            except ValueError:
                problem = f"{raw_day!r} is not a date such as 2026-11-21"
        try:
            page_no = max(1, min(10_000, int(request.args.get("page", "1"))))
        except ValueError:
            page_no = 1
        rows = (
            []
            if problem
            else views.search(
                engine, index, hook_instance=hook_instance, day=day, rule=rule_id, page=page_no
            )
        )
        if hook_instance and len(rows) == 1 and page_no == 1 and not (day or rule_id):
            return redirect(views.invocation_url(hook_instance) or PREFIX, 303)
        return page(
            "search.html",
            hook_instance=hook_instance or "",
            rule=rule_id or "",
            day=raw_day,
            problem=problem,
            rows=rows[:50],
            more=len(rows) > 50,
            page_no=page_no,
            rules=index.ordered(),
        )

    @bp.get("/invocations/<hook_instance>")
    def invocation(hook_instance: str) -> Reply:
        records = views.invocation_page(engine, hook_instance)
        if not records:
            return page(
                "message.html",
                404,
                title="No such invocation",
                message=f"No invocation with hookInstance {hook_instance!r} in the audit store.",
            )
        return page("invocation.html", hook_instance=hook_instance, records=records)

    @bp.get("/feedback.csv")
    def feedback_csv() -> Reply:
        since = None
        if request.args.get("days"):
            span = views.period(request.args.get("days"), now())
            since = span.since
        text = reports.feedback_csv(reports.feedback_export(engine, since))
        return Response(
            text,
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="alp-cds-feedback.csv"'},
        )

    @bp.get("/impact")
    def impact_preview() -> Reply:
        chosen = request.args.get("candidate")
        try:
            days = int(request.args.get("days", "30"))
        except ValueError:
            days = 30
        days = days if 1 <= days <= 3660 else 30
        context: dict[str, Any] = {
            "candidates": list(candidates),
            "chosen": chosen if chosen in candidates else None,
            "days": days,
            "day_choices": sorted({*IMPACT_DAYS, days}),
            "report": None,
            "error": None,
        }
        if chosen is not None and chosen not in candidates:
            context["error"] = "That folder is not one of the configured candidates."
            return page("impact.html", 400, **context)
        if chosen:
            if not impact.PREVIEW_LOCK.acquire(blocking=False):
                context["error"] = (
                    "Another impact preview is running in this worker (it shares the worker "
                    "with EHR calls); try again in a minute."
                )
                return page("impact.html", 429, **context)
            try:
                context["report"] = impact.impact(
                    kb,
                    impact.load_candidate(candidates[chosen], kb),
                    engine,
                    impact.parse_since(f"{days}d", now()),
                    candidate_name=chosen,
                    budget_seconds=impact.PREVIEW_BUDGET_SECONDS,
                )
            except KnowledgeBaseError as exc:
                context["error"] = f"The candidate does not load: {exc}"
                return page("impact.html", 422, **context)
            finally:
                impact.PREVIEW_LOCK.release()
        return page("impact.html", **context)

    @bp.get("/access")
    def access_log() -> Reply:
        return page("access.html", rows=reports.console_access_log(engine))

    return bp
