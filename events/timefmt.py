"""Every way a time is written: pure functions of an integer time (ns since the epoch) and a time zone.

- `display_time`: StarRocks' display form `yyyy-MM-dd HH:mm:ss` (TimeUtils.longToTimeString), the daemon's
  local time zone by default: SHOW columns, a repository's `__repo_info` create_time. `parse_display_time`
  reads it back.
- `snapshot_timestamp`: a backup's name for its run (BackupJob.TIMESTAMP_FORMAT
  `yyyy-MM-dd-HH-mm-ss-SSS`), UTC unless a zone is given: the `__info_<ts>` file, `backup_timestamp`.
- `iso_utc`: the audit's ISO 8601 form with microseconds, `yyyy-MM-ddTHH:mm:ss.ffffffZ`.
"""

from __future__ import annotations

import datetime as dt

DISPLAY_FORMAT = "%Y-%m-%d %H:%M:%S"


def display_time(time_ns: int, tz: dt.tzinfo | None = None) -> str:
    """`yyyy-MM-dd HH:mm:ss` in `tz` (None: the local time zone)."""
    return dt.datetime.fromtimestamp(time_ns / 1e9, tz).strftime(DISPLAY_FORMAT)


def parse_display_time(text: str) -> int | None:
    """A local `yyyy-MM-dd HH:mm:ss` as ns since the epoch (whole seconds); None if it is not one."""
    try:
        t = dt.datetime.strptime(text.strip(), DISPLAY_FORMAT)
    except (ValueError, AttributeError):
        return None
    return int(t.astimezone().timestamp()) * 1_000_000_000


def snapshot_timestamp(time_ns: int, tz: dt.tzinfo = dt.UTC) -> str:
    """`yyyy-MM-dd-HH-mm-ss-SSS` (milliseconds, truncated) in `tz`."""
    ms = time_ns // 1_000_000
    t = dt.datetime.fromtimestamp(ms // 1000, tz)
    return t.strftime("%Y-%m-%d-%H-%M-%S") + f"-{ms % 1000:03d}"


def iso_utc(time_ns: int) -> str:
    """`yyyy-MM-ddTHH:mm:ss.ffffffZ`; a time no calendar can show is written `<time_ns N>`."""
    secs, rem = divmod(time_ns, 1_000_000_000)
    try:
        stamp = dt.datetime.fromtimestamp(secs, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"<time_ns {time_ns}>"
    return f"{stamp}.{rem // 1000:06d}Z"
