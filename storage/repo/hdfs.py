"""`hdfs://host:port/path` repositories through pyarrow's HadoopFileSystem.

pyarrow reaches HDFS through libhdfs, which runs inside a Java VM: it needs a Java runtime
(JAVA_HOME with libjvm), libhdfs (ARROW_LIBHDFS_DIR or HADOOP_HOME/lib/native) and the Hadoop jars on
CLASSPATH. Where they are missing (the usual case on these machines), construction fails at once with
a StorageError naming what is missing, instead of a JVM crash or a hang at first use.

Properties: ``username`` (HDFS simple-auth user), ``password`` (accepted for StarRocks compatibility;
libhdfs simple auth has no password, so it is not used), ``kerberos_ticket_cache_path``, and any
``dfs.*`` / ``hadoop.*`` / ``fs.*`` key, passed to libhdfs as configuration (HA name services etc.).

The storage logic itself is `ArrowFsRepoStorage`, written against any `pyarrow.fs.FileSystem`, so the
contract suite runs it on pyarrow's LocalFileSystem where no HDFS exists.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from storage.repo.base import (
    CHUNK_SIZE,
    NotFound,
    ObjectInfo,
    RepoStorage,
    StorageError,
    TransientStorageError,
    check_key,
    check_prefix,
    dir_prefix,
)

PART_SUFFIX = ".part"
HDFS_PASSTHROUGH_PREFIXES = ("dfs.", "hadoop.", "fs.")
HDFS_KEYS = {"username", "password", "kerberos_ticket_cache_path"}


def _arrow_error(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"not found: {what}")
    if isinstance(exc, ConnectionError | TimeoutError):
        return TransientStorageError(f"{exc}: {what}")
    return StorageError(f"{exc}: {what}")


class ArrowFsRepoStorage(RepoStorage):
    """A repository on a pyarrow FileSystem rooted at `base_path`."""

    def __init__(self, location: str, fs: pafs.FileSystem, base_path: str) -> None:
        self.location = location.rstrip("/")
        self.fs = fs
        self.base = base_path.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.base}/{check_key(key)}"

    def _info(self, path: str) -> pafs.FileInfo:
        try:
            return self.fs.get_file_info(path)
        except (OSError, pa.ArrowException) as exc:
            raise _arrow_error(exc, path) from exc

    # -- writes --------------------------------------------------------------------------------
    def _write(self, key: str, fill: Callable[[Any], object]) -> None:
        path = self._path(key)
        tmp = path + PART_SUFFIX
        try:
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
            with self.fs.open_output_stream(tmp) as out:
                fill(out)
            # HDFS rename does not replace an existing target (StarRocks deletes it first too).
            if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
                self.fs.delete_file(path)
            self.fs.move(tmp, path)
        except (OSError, pa.ArrowException) as exc:
            try:
                self.fs.delete_file(tmp)
            except (OSError, pa.ArrowException):
                pass
            raise _arrow_error(exc, key) from exc

    def put_file(self, key: str, local_path: str, durable: bool = True) -> None:
        try:
            src = open(local_path, "rb")
        except OSError as exc:
            raise StorageError(f"{exc.strerror or exc}: {local_path}") from exc
        with src:
            self._write(key, lambda out: shutil.copyfileobj(src, out, CHUNK_SIZE))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda out: out.write(data))

    # -- reads ---------------------------------------------------------------------------------
    def open_read(self, key: str) -> Any:
        path = self._path(key)
        if self._info(path).type != pafs.FileType.File:
            raise NotFound(f"not found: {key}")
        try:
            return self.fs.open_input_stream(path)
        except (OSError, pa.ArrowException) as exc:
            raise _arrow_error(exc, key) from exc

    def get_file(self, key: str, local_path: str) -> None:
        src = self.open_read(key)
        try:
            with open(local_path, "wb") as out:
                while chunk := src.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (OSError, pa.ArrowException) as exc:
            raise _arrow_error(exc, key) from exc
        finally:
            src.close()

    # -- listing -------------------------------------------------------------------------------
    def _files_under(self, rel_dir: str) -> list[pafs.FileInfo]:
        start = f"{self.base}/{rel_dir}" if rel_dir else self.base
        try:
            infos: list[pafs.FileInfo] = self.fs.get_file_info(
                pafs.FileSelector(start, recursive=True, allow_not_found=True))
            return infos
        except NotADirectoryError:
            return []
        except (OSError, pa.ArrowException) as exc:
            raise _arrow_error(exc, rel_dir) from exc

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        prefix = check_prefix(prefix)
        rel_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        cut = len(self.base) + 1
        found = []
        for info in self._files_under(rel_dir):
            key = info.path[cut:]
            if info.type == pafs.FileType.File and not key.endswith(PART_SUFFIX) and key.startswith(prefix):
                found.append(ObjectInfo(key, int(info.size or 0)))
        return sorted(found, key=lambda o: o.key)

    def list_dirs(self, prefix: str) -> list[str]:
        d = dir_prefix(prefix)
        names = set()
        for info in self.list_objects(d):
            rest = info.key[len(d):]
            if "/" in rest:
                names.add(rest.split("/", 1)[0])
        return sorted(names)

    def stat(self, key: str) -> ObjectInfo | None:
        info = self._info(self._path(key))
        if info.type != pafs.FileType.File:
            return None
        return ObjectInfo(key, int(info.size or 0))

    # -- deletes -------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        path = self._path(key)
        if self._info(path).type != pafs.FileType.File:
            return
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            return
        except (OSError, pa.ArrowException) as exc:
            raise _arrow_error(exc, key) from exc

    def delete_prefix(self, prefix: str) -> None:
        prefix = check_prefix(prefix)
        if prefix.endswith("/"):
            path = f"{self.base}/{prefix.rstrip('/')}"
            try:
                self.fs.delete_dir(path)
            except FileNotFoundError:
                pass
            except (OSError, pa.ArrowException) as exc:
                raise _arrow_error(exc, prefix) from exc
            return
        for info in self.list_objects(prefix):
            self.delete(info.key)


def missing_hdfs_requirements(env: dict[str, str] | None = None) -> list[str]:
    """What libhdfs needs and cannot find; empty when HDFS can be tried."""
    env = dict(os.environ) if env is None else env
    missing = []
    java_home = env.get("JAVA_HOME", "")
    jvm_patterns = ("lib/server/libjvm.so", "jre/lib/*/server/libjvm.so", "lib/*/server/libjvm.so")
    if not java_home:
        missing.append("a Java runtime (JAVA_HOME is not set)")
    elif not any(glob.glob(os.path.join(java_home, p)) for p in jvm_patterns):
        missing.append(f"a Java runtime (no libjvm.so under JAVA_HOME={java_home})")
    lib_dirs = [env[k] for k in ("ARROW_LIBHDFS_DIR",) if env.get(k)]
    if env.get("HADOOP_HOME"):
        lib_dirs.append(os.path.join(env["HADOOP_HOME"], "lib", "native"))
    if not any(os.path.exists(os.path.join(d, "libhdfs.so")) for d in lib_dirs):
        searched = ", ".join(lib_dirs) if lib_dirs else "ARROW_LIBHDFS_DIR and HADOOP_HOME are not set"
        missing.append(f"libhdfs.so ({searched})")
    if not env.get("CLASSPATH") and not env.get("HADOOP_HOME"):
        missing.append("the Hadoop jars (CLASSPATH or HADOOP_HOME is not set)")
    return missing


def parse_hdfs_location(location: str) -> tuple[str, int, str]:
    parts = urlsplit(location)
    if parts.scheme != "hdfs" or not parts.hostname:
        raise StorageError(f"invalid HDFS location (expected hdfs://host:port/path): {location}")
    try:
        port = parts.port or 8020
    except ValueError as exc:
        raise StorageError(f"invalid HDFS port in location: {location}") from exc
    return parts.hostname, port, "/" + parts.path.strip("/")


class HdfsRepoStorage(ArrowFsRepoStorage):
    def __init__(self, location: str, properties: dict[str, str]) -> None:
        host, port, path = parse_hdfs_location(location)
        unknown = sorted(k for k in properties if k not in HDFS_KEYS and not k.startswith(HDFS_PASSTHROUGH_PREFIXES))
        if unknown:
            raise StorageError(f"unknown properties for HDFS repository: {', '.join(unknown)}")
        missing = missing_hdfs_requirements()
        if missing:
            raise StorageError(
                "HDFS support needs a Java runtime (JAVA_HOME) and libhdfs (ARROW_LIBHDFS_DIR); not found: "
                + "; ".join(missing)
            )
        extra = {k: v for k, v in properties.items() if k.startswith(HDFS_PASSTHROUGH_PREFIXES)}
        try:
            fs = pafs.HadoopFileSystem(
                host,
                port,
                user=properties.get("username") or None,
                kerb_ticket=properties.get("kerberos_ticket_cache_path") or None,
                extra_conf=extra or None,
            )
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"cannot connect to HDFS at {host}:{port}: {exc}") from exc
        super().__init__(location, fs, path)
