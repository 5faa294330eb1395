"""Pages for people rather than EHRs: the rulebook, as HTML and JSON."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, current_app

from cds_service.knowledge.model import KnowledgeBase
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

    @bp.get("/rulebook")
    def rulebook_page() -> Response:
        return Response(html(), mimetype="text/html")

    @bp.get("/rulebook.json")
    def rulebook_json() -> Response:
        return Response(document(), mimetype="application/json")

    return bp
