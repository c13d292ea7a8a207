"""The stored form of root's password and the scramble check against it, without a daemon."""

from __future__ import annotations

import asyncio

import pytest
from mysql_mimic.auth import AuthInfo, Forbidden, Success
from pymysql._auth import scramble_native_password

from events.fold import fold, restore_snapshot, snapshot
from events.password import is_native_password_hash, native_password_hash
from sqlfront.auth import NativePasswordHashPlugin, RootIdentity


def test_hash_is_mysql_native_password_form() -> None:
    # MySQL: SELECT PASSWORD('password') / mysql.user.authentication_string for mysql_native_password.
    assert native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
    assert native_password_hash("") == ""
    assert is_native_password_hash(native_password_hash("x")) and is_native_password_hash("")
    assert not is_native_password_hash("password")


def test_a_v1_event_with_a_clear_password_folds_to_its_hash() -> None:
    state = fold([("cluster.initialized", {"backends": [], "root_password": "old-clear"}, 1)])
    assert state.root_password_hash == native_password_hash("old-clear")
    assert "old-clear" not in repr(snapshot(state))
    v2 = fold([("cluster.initialized", {"backends": [], "root_password_hash": native_password_hash("n")}, 1),
               ("root_password.set", {"root_password_hash": native_password_hash("m")}, 2)])
    assert v2.root_password_hash == native_password_hash("m")


def test_a_snapshot_with_a_clear_password_restores_to_its_hash() -> None:
    plain = snapshot(fold([("cluster.initialized", {"backends": []}, 1)]))
    plain.pop("root_password_hash")
    plain["root_password"] = "snap-clear"
    assert restore_snapshot(plain).root_password_hash == native_password_hash("snap-clear")


def _authenticate(identity: RootIdentity, user: str, password: str) -> object:
    async def run() -> object:
        plugin = identity.get_default_plugin()
        assert isinstance(plugin, NativePasswordHashPlugin)
        nonce_packet, state = await plugin.start()
        assert isinstance(nonce_packet, bytes)
        nonce = nonce_packet.rstrip(b"\x00")
        found = await identity.get_user(user)
        assert found is not None
        reply = scramble_native_password(password.encode(), nonce) if password else b""
        info = AuthInfo(username=user, data=reply, user=found, connect_attrs={}, client_plugin_name=plugin.name,
                        handshake_auth_data=nonce_packet, handshake_plugin_name=plugin.name)
        return await state.asend(info)

    return asyncio.run(run())


def test_scramble_is_checked_against_the_stored_hash() -> None:
    identity = RootIdentity(native_password_hash("s3cret"))
    assert isinstance(_authenticate(identity, "root", "s3cret"), Success)
    for user, pw in (("root", "S3cret"), ("root", ""), ("bob", "s3cret"), ("bob", "")):
        decision = _authenticate(identity, user, pw)
        assert isinstance(decision, Forbidden)
        assert decision.msg == (f"Access denied for user '{user}'@'127.0.0.1' "
                                f"(using password: {'YES' if pw else 'NO'})")
    open_root = RootIdentity("")
    assert isinstance(_authenticate(open_root, "root", ""), Success)
    assert isinstance(_authenticate(open_root, "root", "x"), Forbidden)
    assert isinstance(_authenticate(open_root, "bob", ""), Forbidden)


def test_identity_refuses_a_clear_password() -> None:
    with pytest.raises(ValueError):
        RootIdentity("s3cret")
