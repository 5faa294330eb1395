"""The baseline: a bare Flask endpoint that parses the same JSON body and returns a one-card
response, served by gunicorn with the same options as the service (bench/throughput.py)."""

from __future__ import annotations

import uuid

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/cds-services/alp-result-sign")
def sign() -> Response:
    body = request.get_json()
    patient = body["context"]["patientId"]
    return jsonify(
        cards=[
            {
                "uuid": str(uuid.uuid4()),
                "summary": f"ALP for {patient}: order GGT",
                "indicator": "info",
                "source": {"label": "bare baseline"},
            }
        ]
    )
