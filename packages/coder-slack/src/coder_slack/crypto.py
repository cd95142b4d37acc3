"""Encryption at rest for linked Coder tokens (Fernet, with key rotation).

``CODER_SLACK_ENCRYPTION_KEY`` holds one Fernet key, or several separated by commas: the first encrypts,
all of them decrypt, so a key can be rotated without losing existing links.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class EncryptionKeyError(ValueError):
    """The configured key is not a Fernet key."""


class UndecryptableToken(Exception):
    """A stored token was encrypted with a key that is no longer configured."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


class TokenCipher:
    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise EncryptionKeyError("CODER_SLACK_ENCRYPTION_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(part.encode()) for part in parts])
        except ValueError:
            raise EncryptionKeyError(
                "CODER_SLACK_ENCRYPTION_KEY is not a Fernet key (URL-safe base64 of 32 bytes); "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise UndecryptableToken("stored token cannot be decrypted with the configured keys") from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the primary key."""
        return self._fernet.rotate(ciphertext.encode()).decode()
