"""External-catalog credentials stay sealed in our event log across BACKUP and RESTORE."""

from __future__ import annotations

from pathlib import Path

from tests.support import br
from tests.support.daemon import DaemonProcess, query

SECRET = "hunter2-very-secret-value"


def test_restored_catalog_keeps_its_secret_sealed_and_masked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    with DaemonProcess(tmp_path / "data") as d:
        c = d.connect()
        query(c, f"""CREATE EXTERNAL CATALOG jdbc1 PROPERTIES ("type"="jdbc", "user"="app", "password"="{SECRET}",
                     "jdbc_uri"="jdbc:mysql://127.0.0.1:3306/db", "driver_class"="com.mysql.cj.jdbc.Driver")""")
        br.create_file_repo(c, "repo", repo)
        br.backup(c, "BACKUP EXTERNAL CATALOG (jdbc1) SNAPSHOT cat_snap TO repo", "cat_snap")
        ts = br.latest_timestamp(c, "repo", "cat_snap")
        query(c, "DROP CATALOG jdbc1")
        br.restore(c, f'RESTORE SNAPSHOT cat_snap FROM repo EXTERNAL CATALOG (jdbc1 AS jdbc2) '
                      f'PROPERTIES ("backup_timestamp" = "{ts}")', "cat_snap")
        names = [r[0] for r in query(c, "SHOW CATALOGS")]
        assert "jdbc2" in names and "jdbc1" not in names
        shown = query(c, "SHOW CREATE CATALOG jdbc2")[0][1]
        assert SECRET not in shown and "******" in shown
    for f in (tmp_path / "data").glob("eventlog.sqlite3*"):
        assert SECRET.encode() not in f.read_bytes(), f"the secret is in {f.name} in the clear"
