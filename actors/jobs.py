"""The frontend's job engine: runs the effects the pure job state machines ask for.

It is the imperative shell around events/backup_job.py and events/restore_job.py: it turns SendTask
effects into messages to backend workers (filling in repository access and the meta/info file bytes),
Advance effects into state events, and backend reports into milestone events. Which tasks are in flight
is the only thing it remembers, in memory: after a restart nothing is in flight, and `resume` re-sends
whatever the folded job state says is unfinished.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from actors.messages import AdvanceJob, Report, RetryJob, Task
from events import backup_job, restore_job
from events.backup_job import Advance
from events.event import Event
from events.job_common import SendTask, is_running
from events.layout import snapshot_dir
from events.plain import to_plain

if TYPE_CHECKING:
    from actors.frontend import Frontend

log = logging.getLogger("starbackup.jobs")

GC_EVERY_TICKS = 5
RETRY_DELAY_S = 0.5


class JobEngine:
    def __init__(self, fe: Frontend) -> None:
        self.fe = fe
        self.inflight: dict[int, set[str]] = {}
        self.ticks = 0
        self.gc_pending: dict[int, set[int]] = {}  # backend -> tablet ids being collected

    @property
    def state(self) -> Any:
        return self.fe.state

    def _module(self, job: dict[str, Any]) -> Any:
        return backup_job if job["type"] == "BACKUP" else restore_job

    # ------------------------------------------------------------ life cycle

    def resume(self) -> None:
        """After start-up: drive every job that still has work (including clean-up of ended jobs)."""
        for job_id in sorted(self.state.jobs):
            self.drive(job_id)

    def react(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type in ("backup.state", "restore.state"):
            self.drive(data["job_id"])

    def drive(self, job_id: int) -> None:
        job = self.state.jobs.get(job_id)
        if job is None:
            return
        effects = self._module(job).react(self.state, job)
        for effect in effects:
            self._execute(job, effect)

    def _execute(self, job: dict[str, Any], effect: Any) -> None:
        if isinstance(effect, SendTask):
            keys = self.inflight.setdefault(job["id"], set())
            if effect.key in keys:
                return
            keys.add(effect.key)
            task = Task(kind=effect.kind, job_id=effect.job_id, key=effect.key, args=self._task_args(job, effect),
                        reply_to=self.fe.name)
            self.fe.runtime.tell(f"be{effect.backend_id}", task)
        elif isinstance(effect, Advance):
            # Not committed here: that would nest a commit inside the one that entered this state (and leave
            # the state within one delivery, so no crash could happen inside it). A message to ourselves.
            self.fe.runtime.tell(self.fe.name, AdvanceJob(job["id"], effect.kind, job["state"], effect.state))

    def on_advance(self, message: AdvanceJob) -> None:
        job = self.state.jobs.get(message.job_id)
        if job is None or job["state"] != message.from_state:
            return  # already moved on (a duplicate, or the job was cancelled meanwhile)
        now = self.fe.runtime.clock.now_ns()
        if message.kind == "restore" and message.to_state == "COMMITTING":
            self.fe.commit(restore_job.commit_events(self.state, job, now))
            return
        data: dict[str, Any] = {"job_id": job["id"], "state": message.to_state}
        if message.kind == "restore" and message.to_state == "DOWNLOAD":
            data["snapshot_finished_ns"] = now  # the new tablets' (empty) snapshot step is done
        self.fe.commit([Event(f"{message.kind}.state", data, stream=backup_job.stream(job["id"]))])

    def _task_args(self, job: dict[str, Any], effect: SendTask) -> dict[str, Any]:
        args = dict(effect.args)
        args["config"] = dict(self.state.config)
        if effect.kind in ("upload", "meta", "info", "download"):
            repo = self.state.repositories.get(job["repo"])
            if repo is None:
                return args
            args["repo"] = to_plain(repo)
            args["root"] = repo.root
            args["label"] = job["label"]
        if effect.kind == "meta":
            from storage.secrets import SecretBox
            from storage.snapshot_files import build_meta

            box = SecretBox(str(self.fe.data_dir))
            args.update(name="__meta", remote_dir=snapshot_dir(args["root"], job["label"]),
                        content=build_meta(job, box.open))
        elif effect.kind == "info":
            from storage.snapshot_files import build_info

            assert self.fe.log is not None
            head = self.fe.log.head()[1].hex()
            args.update(name=f"__info_{job['timestamp']}", remote_dir=snapshot_dir(args["root"], job["label"]),
                        content=build_info(job, head), head_hash=head)
        return args

    # ------------------------------------------------------------ messages from backends and timers

    def on_report(self, report: Report) -> None:
        keys = self.inflight.get(report.job_id)
        if keys is not None:
            keys.difference_update(report.finished_keys)
        if report.kind == "gc":
            self._gc_reported(report)
            return
        job = self.state.jobs.get(report.job_id)
        if job is None:
            return
        now = self.fe.runtime.clock.now_ns()
        events = self._module(job).on_report(job, report.kind, list(report.done), report.error, report.error_item, now)
        if events:
            self.fe.commit(events)
        if report.error is not None and is_running(job):
            log.warning("job %s: %s", job["id"], report.error)
            self.fe.runtime.schedule(RETRY_DELAY_S, self.fe.name, RetryJob(job["id"]))

    def on_retry(self, message: RetryJob) -> None:
        self.drive(message.job_id)

    def on_tick(self) -> None:
        now = self.fe.runtime.clock.now_ns()
        expired = [backup_job.timeout_event(j, now) for j in self.state.jobs.values() if backup_job.timed_out(j, now)]
        if expired:
            self.fe.commit(expired)
        self.ticks += 1
        if self.ticks % GC_EVERY_TICKS == 0:
            self._collect_garbage()

    # ------------------------------------------------------------ garbage collection of retired tablets

    def _collect_garbage(self) -> None:
        """Delete files of tablets retired by drop, truncate or restore, then record that in the log."""
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
        for be in sorted(self.state.backends):
            self.gc_pending[be] = set(ids)
            self.fe.runtime.tell(f"be{be}", Task(kind="gc", job_id=0, key=f"gc/{be}", args={"tablet_ids": ids},
                                                 reply_to=self.fe.name))

    def _gc_reported(self, report: Report) -> None:
        if report.error is not None:
            self.gc_pending.clear()
            return
        for item in report.done:
            self.gc_pending.pop(item["backend"], None)
            collected = item["tablet_ids"]
            if not self.gc_pending:
                self.fe.commit([Event("tablets.garbage_collected", {"tablet_ids": collected})])
