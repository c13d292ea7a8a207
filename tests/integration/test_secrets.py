"""Root's password over the real daemon: given by file or environment it is not in `ps`; only its
mysql_native_password hash is stored (event log, snapshots, daemon.log); a wrong password and an unknown
user get the same 1045; --root-password on the command line warns; a later start may change it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from events.password import native_password_hash
from storage.eventlog import EventLog
from tests.support.daemon import ROOT, DaemonProcess, free_port, query

PASSWORD = "Ho7-secret-pw"  # distinctive, so that a grep of the data directory cannot match by chance


class PasswordFileDaemon(DaemonProcess):
    """The daemon started with --root-password-file."""

    def __init__(self, data_dir: Path, password_file: Path, **kw: object) -> None:
        super().__init__(data_dir, **kw)  # type: ignore[arg-type]
        self.password_file = password_file

    def command(self) -> list[str]:
        return [*super().command(), "--root-password-file", str(self.password_file)]


def password_file(tmp: Path, password: str, name: str = "root.pw") -> Path:
    path = tmp / name
    path.write_text(password + "\n")
    path.chmod(0o600)
    return path


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def stored_events(data_dir: Path) -> list[tuple[str, int, dict[str, object]]]:
    with EventLog(data_dir / "eventlog.sqlite3") as log:
        return [(e.type, e.version, e.data) for e in log.read()]


def assert_password_nowhere(data_dir: Path, password: str) -> None:
    """Not in any file of the data directory (log, WAL, snapshots, daemon.log), nor in decoded events."""
    needle = password.encode()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"the clear password is in {path}"
    with EventLog(data_dir / "eventlog.sqlite3") as log:
        assert password not in repr([e.data for e in log.read()])
        snap = log.latest_snapshot()
        assert snap is not None, "a clean stop saves a snapshot"
        assert password not in repr(snap[1])
        assert snap[1]["root_password_hash"] == native_password_hash(password)


def denied(d: DaemonProcess, user: str, password: str) -> tuple[int, str]:
    with pytest.raises(pymysql.err.OperationalError) as e:
        d.connect(user=user, password=password)
    return int(e.value.args[0]), str(e.value.args[1])


def test_password_file_is_not_in_ps_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    pw_file = password_file(tmp_path, PASSWORD)
    data = tmp_path / "data"
    with PasswordFileDaemon(data, pw_file, backends=1, password=None) as d:
        assert d.proc is not None
        assert PASSWORD not in cmdline(d.proc.pid)
        assert str(pw_file) in cmdline(d.proc.pid)
        conn = d.connect(password=PASSWORD)  # the line ending of the file is not part of the password
        query(conn, "CREATE DATABASE s")
        conn.close()
        assert denied(d, "root", PASSWORD + "\n")[0] == 1045
        assert d.stop() == 0
    assert "--root-password on the command line" not in d.output()
    events = stored_events(data)
    init = next(e for e in events if e[0] == "cluster.initialized")
    assert init[1] == 2
    assert init[2]["root_password_hash"] == native_password_hash(PASSWORD)
    assert native_password_hash(PASSWORD).startswith("*") and len(native_password_hash(PASSWORD)) == 41
    assert "root_password" not in init[2]
    assert_password_nowhere(data, PASSWORD)


def test_password_from_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DaemonProcess(data, backends=1, extra_env={"STARBACKUP_ROOT_PASSWORD": PASSWORD}) as d:
        assert d.proc is not None
        assert PASSWORD not in cmdline(d.proc.pid)
        assert denied(d, "root", "")[0] == 1045
        d.connect(password=PASSWORD).close()
        assert d.stop() == 0
    assert_password_nowhere(data, PASSWORD)


def test_root_password_on_the_command_line_warns_in_stderr_and_daemon_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DaemonProcess(data, backends=1, password=PASSWORD) as d:
        d.connect(password=PASSWORD).close()
        assert d.stop() == 0
    warning = "--root-password on the command line is visible to every local user"
    assert warning in d.output()  # stdout and stderr of the process
    assert warning in (data / "daemon.log").read_text()
    assert_password_nowhere(data, PASSWORD)


def test_wrong_password_and_unknown_user_get_the_same_1045(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path / "data", backends=1, extra_env={"STARBACKUP_ROOT_PASSWORD": PASSWORD}) as d:
        assert denied(d, "root", "wrong") == (1045, "Access denied for user 'root'@'127.0.0.1' (using password: YES)")
        assert denied(d, "nobody", "wrong") == (1045, "Access denied for user 'nobody'@'127.0.0.1' (using password: YES)")
        assert denied(d, "nobody", PASSWORD) == (1045, "Access denied for user 'nobody'@'127.0.0.1' (using password: YES)")
        assert denied(d, "root", "") == (1045, "Access denied for user 'root'@'127.0.0.1' (using password: NO)")
        assert denied(d, "nobody", "") == (1045, "Access denied for user 'nobody'@'127.0.0.1' (using password: NO)")
        assert denied(d, "x\x1b[31m", "") == (1045, "Access denied for user 'x?[31m'@'127.0.0.1' (using password: NO)")
        mysql = shutil.which("mysql")
        if mysql is not None:  # the mysql/mariadb client prints it as MySQL's clients do
            for user in ("root", "nobody"):
                r = subprocess.run([mysql, "-h127.0.0.1", f"-P{d.port}", f"-u{user}", "-pwrong", "-e", "SELECT 1"],
                                   capture_output=True, text=True, timeout=30)
                assert r.returncode == 1
                assert r.stderr.strip() == (f"ERROR 1045 (28000): Access denied for user '{user}'@'127.0.0.1' "
                                            "(using password: YES)")
        d.connect(password=PASSWORD).close()


def test_unknown_user_is_refused_without_a_root_password_too(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path / "data", backends=1) as d:
        d.connect(password="").close()
        assert denied(d, "nobody", "") == (1045, "Access denied for user 'nobody'@'127.0.0.1' (using password: NO)")
        assert denied(d, "root", "x") == (1045, "Access denied for user 'root'@'127.0.0.1' (using password: YES)")


def test_a_later_start_may_change_the_password(tmp_path: Path) -> None:
    """As before the hash: the password given at a start is the one in force (none given: no password);
    each change is a root_password.set event holding only the new hash."""
    data = tmp_path / "data"
    first = password_file(tmp_path, "first-pw", "first.pw")
    with PasswordFileDaemon(data, first, backends=1) as d:
        d.connect(password="first-pw").close()
        assert d.stop() == 0
    with DaemonProcess(data, backends=1, extra_env={"STARBACKUP_ROOT_PASSWORD": "second-pw"}) as d:
        assert denied(d, "root", "first-pw")[0] == 1045
        d.connect(password="second-pw").close()
        assert d.stop() == 0
    with DaemonProcess(data, backends=1) as d:
        d.connect(password="").close()
        assert d.stop() == 0
    changes = [e[2] for e in stored_events(data) if e[0] == "root_password.set"]
    assert changes == [{"root_password_hash": native_password_hash("second-pw")}, {"root_password_hash": ""}]
    for pw in ("first-pw", "second-pw"):
        assert pw.encode() not in (data / "eventlog.sqlite3").read_bytes()


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sqlfront.cli", "serve", "--port", str(free_port()), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_password_options_are_checked(tmp_path: Path) -> None:
    r = run_serve("--data-dir", str(tmp_path / "d1"), "--root-password-file", str(tmp_path / "missing.pw"))
    assert r.returncode == 2 and "missing.pw" in r.stderr, r.stderr
    pw = password_file(tmp_path, "x")
    r = run_serve("--data-dir", str(tmp_path / "d2"), "--root-password", "x", "--root-password-file", str(pw))
    assert r.returncode == 2 and "not allowed with argument" in r.stderr, r.stderr


def test_a_password_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    pw_file = password_file(tmp_path, PASSWORD)
    pw_file.chmod(0o644)
    with PasswordFileDaemon(tmp_path / "data", pw_file, backends=1) as d:
        d.connect(password=PASSWORD).close()
        assert d.stop() == 0
    assert "can be read by other users (chmod 600 it)" in d.output()


def test_a_config_file_holding_the_password_that_others_can_read_is_warned_about(tmp_path: Path) -> None:
    config = tmp_path / "starbackup.conf"
    config.write_text(f"root_password = {PASSWORD}\n")
    config.chmod(0o644)
    data = tmp_path / "data"
    with DaemonProcess(data, backends=1, config=config) as d:
        d.connect(password=PASSWORD).close()
        assert d.stop() == 0
    assert f"{config} holds root_password and can be read by other users (chmod 600 it)" in d.output()
    assert_password_nowhere(data, PASSWORD)
