"""Passwords are kept only as MySQL's `mysql_native_password` keeps them: `*` + upper-case hex of
SHA1(SHA1(password)), the empty string for no password. That is all a server needs to check the
client's scramble, and it does not give the password back."""

from __future__ import annotations

import hashlib
import re

_HASH = re.compile(r"^\*[0-9A-F]{40}$")


def native_password_hash(password: str) -> str:
    """The stored form of a password (`*` + 40 upper-case hex digits); '' when there is no password."""
    if not password:
        return ""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest().upper()


def is_native_password_hash(value: str) -> bool:
    return value == "" or bool(_HASH.match(value))
