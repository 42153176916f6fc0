"""Pure pieces of auth and identity: no AWS, no app."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.auth.sessions import RefreshToken
from services.auth.settings import AuthSettings
from services.auth.throttle import ThrottlePolicy
from services.auth.users import check_password_policy, normalise_email
from services.common.errors import TradestackError, Unauthorized
from services.common.identity import SecretBox, SecretDecryptionError, sign_request
from services.common.identity.settings import DEV_ENCRYPTION_KEY, IdentitySettings
from services.common.identity.signatures import RecentSignatures, signature_payload

KEY = base64.b64encode(bytes(range(32))).decode()


def test_secret_box_round_trip_and_binding_to_its_item() -> None:
    box = SecretBox.from_base64(KEY)
    stored = box.encrypt(b"s3cret", context="api-key:tsk_a")
    assert b"s3cret" not in stored.encode() and stored.startswith("v1.")
    assert box.decrypt(stored, context="api-key:tsk_a") == b"s3cret"
    with pytest.raises(SecretDecryptionError):
        box.decrypt(stored, context="api-key:tsk_b")  # copied onto another key
    with pytest.raises(SecretDecryptionError):
        SecretBox.from_base64(DEV_ENCRYPTION_KEY).decrypt(stored, context="api-key:tsk_a")


def test_encryption_key_must_be_32_bytes_of_base64() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        IdentitySettings(auth_encryption_key=base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        IdentitySettings(auth_encryption_key="not base64!")


def test_production_refuses_the_dev_encryption_key_and_test_argon2_parameters() -> None:
    with pytest.raises(ValueError, match="TRADESTACK_AUTH_ENCRYPTION_KEY"):
        IdentitySettings(environment="production")
    with pytest.raises(ValueError, match="argon2"):
        AuthSettings(environment="production", auth_encryption_key=KEY, auth_argon2_memory_kib=64)
    assert (
        AuthSettings(environment="production", auth_encryption_key=KEY).environment == "production"
    )


def test_signature_covers_timestamp_method_path_query_and_body() -> None:
    payload = signature_payload(1700000000000, "post", "/api/orders", "symbol=BTC-USD", b'{"a":1}')
    assert payload == b'1700000000000POST/api/orders?symbol=BTC-USD{"a":1}'
    assert signature_payload(1, "GET", "/api/auth/me", "", b"") == b"1GET/api/auth/me"
    expected = hmac.new(b"k", payload, hashlib.sha256).hexdigest()
    assert (
        sign_request("k", 1700000000000, "POST", "/api/orders", "symbol=BTC-USD", b'{"a":1}')
        == expected
    )


def test_recent_signatures_refuse_a_repeat_until_it_expires() -> None:
    recent = RecentSignatures()
    assert recent.first_time("sig", forget_after_ms=1_000, now_ms=0)
    assert not recent.first_time("sig", forget_after_ms=1_000, now_ms=500)
    assert recent.first_time("sig", forget_after_ms=3_000, now_ms=2_000)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (" Alice@Example.COM ", "alice@example.com"),
        ("\uff42\uff4f\uff42@example.com", "bob@example.com"),  # full-width letters (NFKC)
    ],
)
def test_email_normalisation(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize("raw", ["", "alice", "alice@", "@example.com", "a b@example.com", "a@b"])
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(TradestackError) as caught:
        normalise_email(raw)
    assert caught.value.code == "invalid_email"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 10 characters"),
        ("x" * 300, "at most 256"),
        ("password123", "common"),
        ("abababababab", "common or repetitive"),
        ("alice-in-wonderland", "different from your e-mail"),
    ],
)
def test_password_policy_explains_itself(password: str, reason: str) -> None:
    with pytest.raises(TradestackError) as caught:
        check_password_policy(password, "alice@example.com", 10)
    assert caught.value.code == "weak_password" and reason in caught.value.message


def test_throttle_delay_doubles_after_the_limit_and_is_capped() -> None:
    policy = ThrottlePolicy(base_delay_s=1, max_delay_s=10)
    assert [policy.delay(n, limit=3) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 10, 10]


@pytest.mark.parametrize("raw", ["", "a.b.c", "a.b.x.d", "a..1.d", "a.b.1.c.e", "a.b.9999999999.c"])
def test_malformed_refresh_tokens_are_invalid(raw: str) -> None:
    with pytest.raises(Unauthorized):
        RefreshToken.parse(raw)
    assert str(RefreshToken.parse("u.f.3.s")) == "u.f.3.s"
