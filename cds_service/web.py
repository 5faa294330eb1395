"""Pages for people rather than EHRs: the rulebook, as HTML and JSON, and the OpenAPI document."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, current_app

from cds_service.hooks.blueprint import runtime
from cds_service.knowledge.model import KnowledgeBase
from cds_service.openapi import openapi_document
from cds_service.render.rulebook import rulebook, rulebook_html


def create_web_blueprint(kb: KnowledgeBase) -> Blueprint:
    bp = Blueprint("web", __name__)

    # The knowledge base is immutable for the life of the process, so render once.
    @cache
    def html() -> str:
        return rulebook_html(kb)

    @cache
    def document() -> bytes:
        return current_app.json.dumps(rulebook(kb)).encode()

    @cache
    def openapi() -> bytes:
        # Built from the live registry, once: the services do not change while the app runs.
        hooks = runtime()
        spec = openapi_document(
            hooks.registry,
            current_app.extensions["alp_cds"].settings.base_url,
            authenticated=hooks.authenticate is not None,
        )
        return current_app.json.dumps(spec).encode()

    @bp.get("/rulebook")
    def rulebook_page() -> Response:
        return Response(html(), mimetype="text/html")

    @bp.get("/rulebook.json")
    def rulebook_json() -> Response:
        return Response(document(), mimetype="application/json")

    @bp.get("/openapi.json")
    def openapi_json() -> Response:
        return Response(openapi(), mimetype="application/json")

    return bp
