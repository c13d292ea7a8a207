"""The frontend's job engine: runs the effects the pure job state machines ask for.

It is the imperative shell around events/backup_job.py and events/restore_job.py, which decide every
transition: it turns SendTask effects into task messages to backend workers (their arguments built by the
job module's `task_args`), Advance effects into AdvanceJob self-messages (at whose delivery the job
module's `advance` decides the events), and backend reports into the events the job module's `on_report`
decides. Which tasks are in flight is the only thing it remembers, in memory: after a restart nothing is
in flight, and `resume` re-sends whatever the folded job state says is unfinished.

It talks to its host (the frontend actor) through the narrow `JobHost` interface only.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any, Protocol

from actors.messages import AdvanceJob, ConfigChanged, Report, RetryJob, Task
from events import backup_job, restore_job
from events.event import Event
from events.job_common import (
    Advance,
    Effect,
    SendTask,
    is_running,
    stall_event,
    stalled,
    timed_out,
    timeout_event,
)
from events.job_record import Job
from events.state import ClusterState

log = logging.getLogger("starbackup.jobs")

GC_EVERY_TICKS = 5
# Ticks come every second; a gap longer than this means the process did not run (SIGSTOP, a suspended VM or
# laptop, heavy swapping): that time is nobody's lack of progress, so the job clocks skip it.
PAUSE_NS = 5_000_000_000
RETRY_BASE_S = 0.5  # a failed transfer item is retried after this long...
RETRY_MAX_S = 10.0  # ...doubling while it keeps failing, up to this, for as long as its job runs
# Job events that are not progress: a failure recorded, a repair decided.
NOT_PROGRESS = ("backup.task_error", "restore.task_error", "backup.repair")
# Job events after which the job's effects are derived again.
DRIVING = ("backup.state", "restore.state", "backup.replica_damaged")


class JobHost(Protocol):
    """What the job engine needs of the frontend: the folded state, the clock, the log and the mailboxes."""

    @property
    def name(self) -> str:
        """The host's actor name: reports and self-messages go there."""
        ...

    @property
    def state(self) -> ClusterState: ...

    def now_ns(self) -> int: ...

    def append(self, events: list[Event]) -> None:
        """Append events to the log durably, fold them and queue their reactions."""
        ...

    def tell(self, actor: str, message: object) -> None: ...

    def schedule(self, delay_s: float, actor: str, message: object) -> None: ...

    def log_head(self) -> str:
        """The hash of the event log's head, in hex."""
        ...


def _module(job: Job) -> ModuleType:
    return backup_job if job["type"] == "BACKUP" else restore_job


class JobEngine:
    def __init__(self, host: JobHost) -> None:
        self.host = host
        # job -> task key -> when it was issued. In memory only: after a restart nothing is in flight. A task
        # whose report never comes (a lost message, a dead thread) is issued again: see _reissue_stale.
        self.inflight: dict[int, dict[str, int]] = {}
        self.ticks = 0
        self.last_tick_ns: int | None = None
        self.gc_pending: dict[int, set[int]] = {}  # backend -> tablet ids being collected
        self.gc_sent_ns = 0
        self.last_progress: dict[int, int] = {}  # job -> when it last recorded progress (an event, a report)
        self.last_activity: dict[int, int] = {}  # job -> last report, progress or task issued
        self.backoff: dict[int, float] = {}  # job -> delay of its last retry (doubles while failures go on)
        self.retry_pending: set[int] = set()
        self.retrying: dict[int, str] = {}  # job -> the storage's last reason while its items are retried

    @property
    def state(self) -> ClusterState:
        return self.host.state

    def _now(self) -> int:
        return self.host.now_ns()

    # ------------------------------------------------------------ life cycle

    def resume(self) -> None:
        """After start-up: give every backend the settings, then drive every job that still has work
        (including clean-up of ended jobs)."""
        self.send_config()
        for job_id in sorted(self.state.jobs):
            self.drive(job_id)

    def send_config(self) -> None:
        """Backends keep their own copy of the settings (pool sizes): sent at start-up and on every change."""
        for be in sorted(self.state.backends):
            self.host.tell(f"be{be}", ConfigChanged(dict(self.state.config)))

    def react(self, event_type: str, data: dict[str, Any]) -> list[Event]:
        """The reaction to one appended event; returns the events it decides (the host's loop appends them)."""
        if event_type == "config.set":
            self.send_config()
            return []
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if event_type in ("backup.submitted", "restore.submitted"):
            job_id = data["job"]["id"]
        if job_id is not None and event_type.startswith(("backup.", "restore.")) and event_type not in NOT_PROGRESS:
            self._progressed(job_id)
        if event_type in DRIVING:
            self.drive(data["job_id"])
        return []

    def _progressed(self, job_id: int) -> None:
        now = self._now()
        self.last_progress[job_id] = now
        self.last_activity[job_id] = now
        self.backoff.pop(job_id, None)
        self.retrying.pop(job_id, None)

    def drive(self, job_id: int) -> None:
        job = self.state.jobs.get(job_id)
        if job is None:
            return
        effects: list[Effect] = _module(job).react(self.state, job)
        for effect in effects:
            self._execute(job, effect)

    def _execute(self, job: Job, effect: Effect) -> None:
        if isinstance(effect, SendTask):
            keys = self.inflight.setdefault(job["id"], {})
            if effect.key in keys:
                return
            now = self._now()
            keys[effect.key] = now
            self.last_activity[job["id"]] = max(self.last_activity.get(job["id"], 0), now)
            args = _module(job).task_args(self.state, job, effect, self.host.log_head)
            task = Task(kind=effect.kind, job_id=effect.job_id, key=effect.key, args=args, reply_to=self.host.name)
            self.host.tell(f"be{effect.backend_id}", task)
        elif isinstance(effect, Advance):
            # Not appended here: the state is left in a delivery of its own, so a crash can happen inside it.
            self.host.tell(self.host.name, AdvanceJob(job["id"], effect.kind, job["state"], effect.state))

    def on_advance(self, message: AdvanceJob) -> None:
        job = self.state.jobs.get(message.job_id)
        if job is None or job["state"] != message.from_state:
            return  # already moved on (a duplicate, or the job was cancelled meanwhile)
        self.host.append(_module(job).advance(self.state, job, message.to_state, self._now()))

    # ------------------------------------------------------------ messages from backends and timers

    def on_report(self, report: Report) -> None:
        keys = self.inflight.get(report.job_id)
        if keys is not None:
            for key in report.finished_keys:
                keys.pop(key, None)
        if report.kind == "gc":
            self._gc_reported(report)
            return
        job = self.state.jobs.get(report.job_id)
        if job is None:
            return
        now = self._now()
        self.last_activity[job["id"]] = now
        if report.error is None and report.done:
            self.last_progress[job["id"]] = now  # a backend finished something (the events may be no-ops)
        first_failure = report.error is not None and job["id"] not in self.retrying
        # The log head is read (one query) only for the report that fixes it: the meta file of SAVE_META.
        fixes_head = report.kind == "meta" and job["state"] == "SAVE_META" and bool(report.done)
        events: list[Event] = _module(job).on_report(job, report.kind, list(report.done), report.error,
                                                     report.error_item, now,
                                                     head_hash=self.host.log_head() if fixes_head else "")
        if report.error is not None:
            # Only the first failure of a run is logged as an event: an outage must not write one per retry.
            item = report.error_item or {}
            if not (first_failure or item.get("damaged") or item.get("fatal")):
                events = [e for e in events if not e.type.endswith(".task_error")]
        if events:
            self.host.append(events)
        if report.error is not None and is_running(job):
            log.warning("job %s: %s", job["id"], report.error)
            self.retrying[job["id"]] = report.error
            self._schedule_retry(job["id"])

    def _schedule_retry(self, job_id: int) -> None:
        """Retry a job's failed items after a delay that doubles with every round that fails again."""
        if job_id in self.retry_pending:
            return  # one retry per round, however many items of the round failed
        delay = self.backoff.get(job_id, RETRY_BASE_S / 2) * 2
        self.backoff[job_id] = min(RETRY_MAX_S, delay)
        delay = self.backoff[job_id]
        self.retry_pending.add(job_id)
        self.host.schedule(delay, self.host.name, RetryJob(job_id))

    def on_retry(self, message: RetryJob) -> None:
        self.retry_pending.discard(message.job_id)
        self.drive(message.job_id)

    def retry_reason(self, job_id: int) -> str | None:
        """The storage's last reason while a job's items are being retried (SHOW's TaskErrMsg shows it)."""
        reason = self.retrying.get(job_id)
        if reason is None:
            return None
        return f"retrying every {self.backoff.get(job_id, RETRY_BASE_S):g} s: {reason}"

    def on_tick(self) -> None:
        now = self._now()
        self._skip_pause(now)
        expired = [timeout_event(j, now) for j in self.state.jobs.values() if timed_out(j, now)]
        if expired:
            self.host.append(expired)
        self._cancel_stalled(now)
        self._reissue_stale(now)
        self.ticks += 1
        if self.ticks % GC_EVERY_TICKS == 0:
            self._collect_garbage()

    def _skip_pause(self, now: int) -> None:
        """Move the no-progress and re-issue clocks past a time the process was not running, so a job is not
        CANCELLED for `no progress` (nor its tasks issued again) because the daemon itself was stopped. The
        job timeout (`timeout`, backup_job_default_timeout_ms) is wall-clock time, as in StarRocks."""
        last, self.last_tick_ns = self.last_tick_ns, now
        if last is None or now - last <= PAUSE_NS:
            return
        paused = now - last - 1_000_000_000
        log.warning("no tick for %.1f s (the process did not run): job progress clocks skip that time",
                    (now - last) / 1e9)
        for clocks in (self.last_progress, self.last_activity):
            for job_id in clocks:
                clocks[job_id] += paused

    def _cancel_stalled(self, now: int) -> None:
        """A running job without progress for backup_job_no_progress_timeout_s ends, with the last reason."""
        limit_s = self.state.config_int("backup_job_no_progress_timeout_s")
        stalled_events = []
        for job in self.state.jobs.values():
            if not is_running(job):
                continue
            since = self.last_progress.setdefault(job["id"], now)  # (jobs found at start-up count from now)
            if stalled(since, now, limit_s):
                stalled_events.append(stall_event(job, limit_s, self.retrying.get(job["id"]), now))
        if stalled_events:
            self.host.append(stalled_events)

    def _reissue_stale(self, now: int) -> None:
        """Tasks of a job with no report, progress or new task for backup_task_reissue_s are issued again: a
        lost message or a dead thread must not hold a job. Backends tolerate the duplicates (idempotent items;
        an item already being worked on is skipped)."""
        after_ns = self.state.config_int("backup_task_reissue_s") * 1_000_000_000
        for job_id in sorted(self.state.jobs):
            job = self.state.jobs[job_id]
            if not _needs_work(job):
                continue
            last = self.last_activity.setdefault(job_id, now)
            if now - last < after_ns:
                continue
            stale = self.inflight.pop(job_id, {})
            if stale:
                log.warning("job %s: no report for %d task(s) in %d s, issuing them again", job_id, len(stale),
                            (now - last) // 1_000_000_000)
            self.last_activity[job_id] = now
            self.retry_pending.discard(job_id)  # (a retry timer pending this long was lost too)
            self.drive(job_id)

    # ------------------------------------------------------------ garbage collection of retired tablets

    def _collect_garbage(self) -> None:
        """Delete files of tablets retired by drop, truncate or restore, then record that in the log."""
        if self.gc_pending and self._now() - self.gc_sent_ns > self.state.config_int("backup_task_reissue_s") * 10**9:
            self.gc_pending.clear()  # a report that never came: collect again (deleting twice is harmless)
        if self.gc_pending or not self.state.garbage_tablets:
            return
        if any(is_running(j) for j in self.state.jobs.values()):
            return  # deleting thousands of tablet directories would compete with a job's disk I/O; GC can wait
        # A running backup that has not linked its snapshot yet still needs the files.
        needed = {int(tid) for j in self.state.jobs.values() if j["type"] == "BACKUP" and is_running(j)
                  for tid, t in j["tablets"].items() if not t["snap"]}
        ids = sorted(set(self.state.garbage_tablets) - needed)[:10_000]
        if not ids:
            return
        self.gc_sent_ns = self._now()
        for be in sorted(self.state.backends):
            self.gc_pending[be] = set(ids)
            self.host.tell(f"be{be}", Task(kind="gc", job_id=0, key=f"gc/{be}", args={"tablet_ids": ids},
                                                 reply_to=self.host.name))

    def _gc_reported(self, report: Report) -> None:
        if report.error is not None:
            self.gc_pending.clear()
            return
        for item in report.done:
            self.gc_pending.pop(item["backend"], None)
            collected = item["tablet_ids"]
            if not self.gc_pending:
                self.host.append([Event("tablets.garbage_collected", {"tablet_ids": collected})])


def _needs_work(job: Job) -> bool:
    """Running, or ended with clean-up left (a backup's snapshots, a cancelled restore's new tablets)."""
    if is_running(job):
        return True
    if job["type"] == "BACKUP":
        return not job.get("released")
    return job["state"] == "CANCELLED" and not job.get("cleaned")
