"""The REST listener's authentication rules, and refusing an unsafe one at start-up."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from offramp.cli import main
from offramp.config import load_worker_config
from offramp.errors import ConfigError
from offramp.rest.auth import AuthPolicy, check_listener, is_loopback


def _policy(**config: object) -> AuthPolicy:
    return AuthPolicy.from_config(load_worker_config(dict(config), environ={}))


def test_loopback_detection() -> None:
    """Loopback addresses and 'localhost' are local; anything else (names too) is not."""
    assert all(map(is_loopback, ["127.0.0.1", "127.8.0.1", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.5", "worker.example"]))


def test_open_only_on_loopback_unless_none_is_explicit() -> None:
    """No credentials: open on loopback, refused elsewhere naming the fix; rest.auth none
    opens it on purpose."""
    assert not _policy().enabled
    with pytest.raises(ConfigError, match=r"rest\.auth: rest\.host '0\.0\.0\.0' is not a loopback"):
        _policy(**{"rest.host": "0.0.0.0"})
    assert not _policy(**{"rest.host": "0.0.0.0", "rest.auth": "none"}).enabled
    assert _policy(**{"rest.host": "0.0.0.0", "rest.auth.tokens": "t1"}).enabled


def test_contradictory_or_incomplete_auth_configs_are_refused() -> None:
    """A mode without its credentials, or 'none' with credentials, is a config error."""
    for config, key in (
        ({"rest.auth": "bearer"}, "rest.auth.tokens"),
        ({"rest.auth": "basic"}, "rest.auth.users"),
        ({"rest.auth": "any"}, "rest.auth"),
        ({"rest.auth": "none", "rest.auth.tokens": "x"}, "rest.auth"),
    ):
        with pytest.raises(ConfigError) as err:
            _policy(**config)
        assert err.value.errors[0][0] == key


def test_credentials_are_checked_per_scheme() -> None:
    """Bearer tokens and basic users each work only where the mode allows them."""
    basic = "Basic " + base64.b64encode(b"ops:pw").decode()
    both = _policy(**{"rest.auth.tokens": "a,b", "rest.auth.users": {"ops": "pw"}})
    assert both.schemes == ("Bearer", "Basic")
    assert both.allows("Bearer b") and both.allows(basic)
    assert not both.allows("Bearer c") and not both.allows(None) and not both.allows("Basic ??")
    bearer_only = _policy(
        **{"rest.auth": "bearer", "rest.auth.tokens": "a", "rest.auth.users": {"ops": "pw"}}
    )
    assert bearer_only.allows("Bearer a") and not bearer_only.allows(basic)


def test_tls_needs_both_files() -> None:
    """A certificate without its key (or the reverse) is refused before binding."""
    with pytest.raises(ConfigError, match="go together"):
        check_listener(load_worker_config({"rest.tls.cert.file": "/x.crt"}, environ={}))


def test_standalone_refuses_a_public_listener_without_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`offramp standalone` on 0.0.0.0 without credentials exits 1 before starting."""
    worker = tmp_path / "w.json"
    worker.write_text(json.dumps({"bootstrap.servers": "127.0.0.1:1", "rest.host": "0.0.0.0"}))
    assert main(["standalone", str(worker)]) == 1
    assert "needs authentication" in capsys.readouterr().err


def test_credentials_come_from_json_or_env_strings_with_references_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tokens and users may be lists/maps (JSON) or "a,b" / "user:pw,…" strings (env),
    and ${env:…} inside either is resolved."""
    monkeypatch.setenv("REST_AUTH_TEST_PW", "from-env")
    config = load_worker_config(
        {"rest.auth.tokens": ["${env:REST_AUTH_TEST_PW}", "t2"]},
        environ={"OFFRAMP_WORKER_REST_AUTH_USERS": "ops:${env:REST_AUTH_TEST_PW},ci:plain"},
    )
    assert [t.get_secret_value() for t in config.rest_auth_tokens] == ["from-env", "t2"]
    users = {u: p.get_secret_value() for u, p in config.rest_auth_users.items()}
    assert users == {"ops": "from-env", "ci": "plain"}
    mapped = load_worker_config({"rest.auth.users": {"a": "${env:REST_AUTH_TEST_PW}"}}, environ={})
    assert mapped.rest_auth_users["a"].get_secret_value() == "from-env"
    with pytest.raises(ConfigError, match="user:password"):
        load_worker_config({"rest.auth.users": "nocolon"}, environ={})
