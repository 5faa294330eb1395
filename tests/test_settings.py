"""Settings from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_service.settings import Settings, SettingsError
from tests.support.processes import alp_cds, free_port

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_run_on_loopback() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.dev_mode is False
    assert settings.kb_dir == ROOT / "cards"


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "ALP_CDS_PORT": "9000",
            "ALP_CDS_PUBLIC_BASE_URL": "https://cds.example.org/alp/",
            "ALP_CDS_CORS_ORIGINS": "https://a.example, https://b.example",
            "ALP_CDS_DEV_MODE": "yes",
            "ALP_CDS_FHIR_DEADLINE": "4.5",
        }
    )
    assert settings.port == 9000
    assert settings.base_url == "https://cds.example.org/alp"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.dev_mode is True
    assert settings.fhir_deadline == 4.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALP_CDS_PORT", "eighty"),
        ("ALP_CDS_PORT", "70000"),
        ("ALP_CDS_THREADS", "0"),
        ("ALP_CDS_DEV_MODE", "maybe"),
        ("ALP_CDS_PUBLIC_BASE_URL", "cds.example.org"),
        ("ALP_CDS_PUBLIC_BASE_URL", "https://x.example/?a=1"),
        ("ALP_CDS_CORS_ORIGINS", "https://a.example/path"),
        ("ALP_CDS_RESULT_SIGN_HOOK", "has space"),
        ("ALP_CDS_LOG_LEVEL", "LOUD"),
        ("ALP_CDS_KB_DIR", "/no/such/folder"),
        ("ALP_CDS_FHIR_DEADLINE", "0.1"),
        ("ALP_CDS_MAX_BODY_BYTES", "-5"),
        ("ALP_CDS_TYPO", "1"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}"):
        Settings.from_env({name: value})


def test_every_setting_is_documented_with_its_default() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    documented = dict(re.findall(r"^\| `(ALP_CDS_[A-Z_]+)` \| `([^`]*)` \|", doc, re.MULTILINE))
    declared = {name: default for name, default, _ in Settings.documented()}
    assert declared == documented


def test_local_order_codes_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "ALP_CDS_LOCAL_ORDER_CODES": "ggt=http://h.example/orders|LAB1|GGT serum; bone-alp=http://h.example/orders|LAB2"
        }
    )
    assert settings.local_order_codes == (
        ("ggt", "http://h.example/orders", "LAB1", "GGT serum"),
        ("bone-alp", "http://h.example/orders", "LAB2", None),
    )


@pytest.mark.parametrize("value", ["ggt", "ggt=onlysystem", "=a|b", "ggt=a|"])
def test_malformed_local_order_codes_name_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^ALP_CDS_LOCAL_ORDER_CODES"):
        Settings.from_env({"ALP_CDS_LOCAL_ORDER_CODES": value})


def test_trust_with_several_workers_needs_a_shared_replay_cache(tmp_path: Path) -> None:
    trust = tmp_path / "trust.yaml"
    trust.write_text("issuers: []\n", "utf-8")
    env = {"ALP_CDS_TRUST_FILE": str(trust), "ALP_CDS_WORKERS": "2"}
    with pytest.raises(SettingsError, match=r"^ALP_CDS_REDIS_URL"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "ALP_CDS_REDIS_URL": "redis://127.0.0.1:6379/0"}).workers == 2
    assert Settings.from_env({**env, "ALP_CDS_WORKERS": "1"}).workers == 1


@pytest.mark.parametrize("trust", ["ALP_CDS_TRUST_FILE", "ALP_CDS_TRUST_PRESETS"])
def test_development_mode_with_trust_and_several_workers_also_needs_redis(
    tmp_path: Path, trust: str
) -> None:
    # A token replayed to a sibling worker would pass its own in-memory jti cache.
    path = tmp_path / "trust.yaml"
    path.write_text("issuers: []\n", "utf-8")
    value = str(path) if trust == "ALP_CDS_TRUST_FILE" else "cds-hooks-sandbox"
    env = {trust: value, "ALP_CDS_WORKERS": "2", "ALP_CDS_DEV_MODE": "true"}
    with pytest.raises(SettingsError, match=r"^ALP_CDS_REDIS_URL: required when"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "ALP_CDS_REDIS_URL": "redis://127.0.0.1:6379/0"}).dev_mode
    assert Settings.from_env({**env, "ALP_CDS_WORKERS": "1"}).workers == 1
    # Without trust there are no tokens to replay: several workers need nothing shared.
    assert Settings.from_env({"ALP_CDS_WORKERS": "2", "ALP_CDS_DEV_MODE": "true"}).workers == 2


@pytest.mark.slow
def test_serve_in_development_mode_refuses_trust_with_two_workers_without_redis() -> None:
    process = alp_cds(
        "serve",
        env={
            "ALP_CDS_DEV_MODE": "true",
            "ALP_CDS_TRUST_PRESETS": "cds-hooks-sandbox",
            "ALP_CDS_WORKERS": "2",
            "ALP_CDS_PORT": str(free_port()),
        },
    )
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "ALP_CDS_REDIS_URL: required when" in err
    assert "Traceback" not in err
