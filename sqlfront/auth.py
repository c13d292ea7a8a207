"""Who may connect: only `root`, checked against the stored mysql_native_password hash.

The server never holds root's password, only `*` + hex SHA1(SHA1(password)) (events.password). That is
enough for the mysql_native_password exchange: the client answers the server's 20-byte nonce with
SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))); the server XORs the reply with SHA1(nonce + stored hash) to get
SHA1(pw) back and accepts when SHA1 of that equals the stored hash (mysql-mimic's verify_scramble).

An unknown user is refused exactly as a wrong password is, with 1045 `Access denied for user 'x'@'host'
(using password: YES|NO)` after the same exchange against a hash nobody knows, so that a caller cannot
tell which user names exist (mysql-mimic itself answers 3162 `User x does not exist`).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Sequence

from mysql_mimic import utils
from mysql_mimic.auth import (
    AuthInfo,
    AuthPlugin,
    AuthState,
    Forbidden,
    IdentityProvider,
    NativePasswordAuthPlugin,
    NoLoginAuthPlugin,
    Success,
    User,
)

from events.password import is_native_password_hash

log = logging.getLogger("starbackup.auth")

ROOT = "root"
# The peer address of the connection being authenticated (set per connection task by the server).
peer_host: contextvars.ContextVar[str] = contextvars.ContextVar("peer_host", default="127.0.0.1")


def access_denied_message(username: str, used_password: bool) -> str:
    """MySQL's and StarRocks' ER_ACCESS_DENIED_ERROR text. The name is the client's: it is cut and made
    printable so that it cannot put control characters into the client's terminal or our log."""
    name = "".join(c if c.isprintable() else "?" for c in username[:64])
    return f"Access denied for user '{name}'@'{peer_host.get()}' (using password: {'YES' if used_password else 'NO'})"


class NativePasswordHashPlugin(NativePasswordAuthPlugin):
    """mysql_native_password with MySQL's refusal message (mysql-mimic's says only `Access denied for user
    root`). Same exchange as mysql-mimic's plugin: the handshake's nonce is reused when the client answered
    it with this plugin, otherwise a fresh one is sent."""

    async def auth(self, auth_info: AuthInfo | None = None) -> AuthState:
        if auth_info and auth_info.handshake_plugin_name == self.name and auth_info.handshake_auth_data:
            nonce = auth_info.handshake_auth_data.rstrip(b"\x00")
        else:
            nonce = utils.nonce(20)
            auth_info = yield nonce + b"\x00"
        if self.password_matches(user=auth_info.user, scramble=auth_info.data, nonce=nonce):
            yield Success(auth_info.user.name)
        else:
            message = access_denied_message(auth_info.username, bool(auth_info.data))
            log.info("login refused: %s", message)
            yield Forbidden(message)


class RootIdentity(IdentityProvider):
    """Only `root`, whose password is given as its mysql_native_password hash ('' for no password)."""

    def __init__(self, root_password_hash: str) -> None:
        if not is_native_password_hash(root_password_hash):
            raise ValueError("root_password_hash must be '' or '*' followed by 40 upper-case hex digits")
        # mysql-mimic's auth string is the bare hex of SHA1(SHA1(pw)); None means no password.
        self.auth_string = root_password_hash[1:] if root_password_hash else None
        # Unknown users are checked against 20 random bytes as a hash: no known password matches it.
        self._nobody = os.urandom(20).hex()
        self._plugins: list[AuthPlugin] = [NativePasswordHashPlugin(), NoLoginAuthPlugin()]

    def get_plugins(self) -> Sequence[AuthPlugin]:
        return self._plugins

    async def get_user(self, username: str) -> User | None:
        if username == ROOT:
            return User(name=ROOT, auth_string=self.auth_string, auth_plugin=NativePasswordHashPlugin.name)
        return User(name=username, auth_string=self._nobody, auth_plugin=NativePasswordHashPlugin.name)
