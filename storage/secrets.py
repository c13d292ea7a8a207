"""Repository credentials at rest: secret-looking property values are sealed with AES-GCM.

CREATE REPOSITORY properties end up in the event log; the log must not hold access keys or passwords in
clear text. The key lives beside the data in `<data_dir>/secret.key` (32 random bytes, mode 0600), so a
copied log alone does not reveal credentials. The key name is bound as associated data, so a sealed
value cannot be moved to another property unnoticed.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
from collections.abc import Mapping

from Crypto.Cipher import AES

from storage.fsutil import link_new_private_file

KEY_FILE = "secret.key"
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
MASK = "******"
SEALED_FIELD = "enc"

# The one rule for which property (or field) names hold secrets, used wherever a name decides: sealing
# repository and catalog properties, masking them for SHOW, redacting the audit's event dumps. It is the
# union of the rules those places had (each one's secrets stay secret): any name containing one of these.
_SECRET_NAME_RE = re.compile(r"secret|password|token|key|credential|private", re.IGNORECASE)
# In free text (a statement echoed in an error or the log) a bare KEY is SQL (DUPLICATE KEY, PRIMARY KEY),
# so text is searched for the rule's words with `key` narrowed to access keys.
_SECRET_IN_TEXT_RE = re.compile(r"secret|password|token|access[._]key", re.IGNORECASE)

SealedValue = str | dict[str, str]


class SecretError(Exception):
    """The key file is unusable or a sealed value does not open (wrong key or tampered)."""


def is_secret_key(name: str) -> bool:
    """Does a property or field named `name` hold a secret (its value is sealed, masked, redacted)?"""
    return _SECRET_NAME_RE.search(name) is not None


def mentions_secret(text: str) -> bool:
    """May free text (a whole statement) hold a secret? Then it is not echoed nor logged."""
    return _SECRET_IN_TEXT_RE.search(text) is not None


class SecretBox:
    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, KEY_FILE)
        self._key: bytes | None = None

    # -- key -------------------------------------------------------------------------------------
    def _load_key(self) -> bytes:
        if self._key is None:
            if not os.path.exists(self.path):
                self._create_key()
            self._key = self._read_key()
        return self._key

    def _create_key(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        # 0600 from the start, linked into place whole: of two processes racing here exactly one key wins.
        link_new_private_file(self.path, secrets.token_bytes(KEY_SIZE))

    def _read_key(self) -> bytes:
        st = os.stat(self.path)
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Someone loosened it (e.g. a copy without -p): others must not read credentials.
            os.chmod(self.path, 0o600)
        with open(self.path, "rb") as f:
            key = f.read()
        if len(key) != KEY_SIZE:
            raise SecretError(f"secret key file is corrupt (expected {KEY_SIZE} bytes): {self.path}")
        return key

    # -- values ----------------------------------------------------------------------------------
    def _encrypt(self, name: str, value: str) -> str:
        nonce = secrets.token_bytes(NONCE_SIZE)
        cipher = AES.new(self._load_key(), AES.MODE_GCM, nonce=nonce)
        cipher.update(name.encode())
        ciphertext, tag = cipher.encrypt_and_digest(value.encode())
        return base64.b64encode(nonce + ciphertext + tag).decode("ascii")

    def _decrypt(self, name: str, blob: str) -> str:
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError as exc:
            raise SecretError(f"sealed value of {name} is not base64") from exc
        if len(raw) < NONCE_SIZE + TAG_SIZE:
            raise SecretError(f"sealed value of {name} is too short")
        nonce, ciphertext, tag = raw[:NONCE_SIZE], raw[NONCE_SIZE:-TAG_SIZE], raw[-TAG_SIZE:]
        cipher = AES.new(self._load_key(), AES.MODE_GCM, nonce=nonce)
        cipher.update(name.encode())
        try:
            return cipher.decrypt_and_verify(ciphertext, tag).decode()
        except ValueError as exc:
            # Never include the value; the property name is enough to act on.
            raise SecretError(f"cannot open sealed value of {name} (wrong key file or tampered)") from exc

    def seal(self, props: Mapping[str, str]) -> dict[str, SealedValue]:
        """Replace secret-looking values by {"enc": base64(nonce|ciphertext|tag)}; others unchanged."""
        return {k: ({SEALED_FIELD: self._encrypt(k, v)} if is_secret_key(k) else v) for k, v in props.items()}

    def open(self, sealed: Mapping[str, SealedValue]) -> dict[str, str]:
        out = {}
        for k, v in sealed.items():
            if isinstance(v, dict):
                if set(v) != {SEALED_FIELD}:
                    raise SecretError(f"malformed sealed value of {k}")
                out[k] = self._decrypt(k, v[SEALED_FIELD])
            else:
                out[k] = v
        return out

    def mask(self, props: Mapping[str, SealedValue]) -> dict[str, str]:
        """Display form; needs no key (see mask_props)."""
        return mask_props(props)


def mask_props(props: Mapping[str, SealedValue]) -> dict[str, str]:
    """For display (SHOW REPOSITORIES, logs): secret-looking values, sealed or not, become '******'."""
    return {k: MASK if is_secret_key(k) or isinstance(v, dict) else v for k, v in props.items()}
