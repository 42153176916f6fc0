"""Encryption at rest of API-key secrets and token-signing keys: AES-256-GCM.

Each ciphertext is bound to a `context` (the item it belongs to) as associated data, so a stored
secret copied onto another item does not decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.identity.settings import encryption_key_bytes

_VERSION = "v1"
_NONCE_BYTES = 12


class SecretDecryptionError(Exception):
    """A stored secret does not decrypt with the configured key (wrong key or tampered)."""


class SecretBox:
    """Encrypts and decrypts small secrets with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("SecretBox needs a 32-byte key")
        self._aead = AESGCM(key)

    @classmethod
    def from_base64(cls, value: str) -> SecretBox:
        return cls(encryption_key_bytes(value))

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        """`v1.<base64(nonce + ciphertext + tag)>`, safe to store as a string attribute."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}.{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, context: str) -> bytes:
        version, _, payload = stored.partition(".")
        if version != _VERSION:
            raise SecretDecryptionError(f"unknown ciphertext version {version!r}")
        try:
            raw = base64.b64decode(payload, validate=True)
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SecretDecryptionError("stored secret does not decrypt with this key") from exc
