"""Encryption at rest for linked Coder tokens (Fernet, with key rotation).

``CODER_SLACK_ENCRYPTION_KEY`` holds one Fernet key, or several separated by commas: the first encrypts,
all of them decrypt, so a key can be rotated without losing existing links. ``coder-slack rotate-key``
re-encrypts the stored tokens with the first key, after which the older keys can be dropped.
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
        fernets: list[Fernet] = []
        for position, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode()))
            except ValueError:
                which = f"key {position} of {len(parts)} in " if len(parts) > 1 else ""
                raise EncryptionKeyError(
                    f"{which}CODER_SLACK_ENCRYPTION_KEY is not a Fernet key (URL-safe base64 of 32 bytes); "
                    "make one with: coder-slack generate-key"
                ) from None
        self._primary = fernets[0]
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise UndecryptableToken("stored token cannot be decrypted with the configured keys") from None

    def uses_primary_key(self, ciphertext: str) -> bool:
        """Whether the first (newest) key alone decrypts ``ciphertext``: then it needs no rotation."""
        try:
            self._primary.decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the primary key; :class:`UndecryptableToken` if no configured key decrypts it."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise UndecryptableToken("stored token cannot be decrypted with the configured keys") from None
