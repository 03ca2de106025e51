"""The worker: moves stored remediations through their state machine, one at a time per target.

    queued → grace → acting → verifying → succeeded | cancelled
                       acting | verifying → rolling_back → rolled_back | failed
    (and refused / dry_run, decided before anything changes; interrupted when a restart finds an action half done)

Every transition is a compare-and-set in the store with its audit record, so the database — not this process's
memory — is the truth: a resolved notification can cancel work concurrently, and a restart finds every
remediation where it was. The guardrails are checked by the single dispatcher thread right before a remediation
enters ``acting``, so two dispatch decisions never race each other; the actions themselves run in a small thread
pool and never block the HTTP handler.

Write-ahead, both ways: the plan (the before-state) is stored before an action changes anything, and the intent
to roll back (state ``rolling_back``, the reason and how many actions to undo) is stored before a rollback
changes anything. A restart therefore never mistakes a half-done rollback for a verification still running: it
finishes the rollback — backends' rollbacks restore absolute before-values, so repeating one is harmless — and
escalates.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka_obs.clock import Clock
from kafka_obs.webhook.actions import ActionBackend, Refused
from kafka_obs.webhook.config import Guardrails
from kafka_obs.webhook.escalation import Escalator, escalation_alert
from kafka_obs.webhook.metrics import WebhookMetrics
from kafka_obs.webhook.models import AlertStatus
from kafka_obs.webhook.playbooks import Playbook, render_query
from kafka_obs.webhook.store import ACTIVE, IN_FLIGHT, TERMINAL, EnqueueResult, Remediation, State, Store
from kafka_obs.webhook.verification import Verifier

log = logging.getLogger(__name__)

Job = Callable[[], None]
HOUR = 3600.0
PER_TARGET_PER_PASS = 16
"""Pending remediations of one target looked at per dispatch pass (they run one at a time anyway; the rest of a
burst is refused by the cooldown a few per pass, never ahead of other targets)."""
MIN_DISPATCH_GAP = 0.2
"""Seconds between dispatch passes at most; a grace period is far longer, so nothing starts noticeably later."""


def pause_file_reason(flag: Path) -> str | None:
    """None when ``flag`` is certainly absent; a reason to hold otherwise.

    A kill switch that cannot be checked (permission denied on the file or a parent directory, an I/O error) is
    treated as pulled: refusing to act is the safe failure, acting while an operator may be trying to stop us is not.
    """
    try:
        flag.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"paused: pause file {flag} cannot be checked ({exc.strerror or type(exc).__name__}); refusing to act"
    return f"paused (pause file {flag} exists)"


def record_enqueue(metrics: WebhookMetrics, result: EnqueueResult) -> None:
    """Count the end states a notification decided by itself (refusals at receipt, cancellations)."""
    for _, playbook, alertname, state in result.created:
        metrics.remediation_stored(playbook, alertname)
        if state is State.refused:
            metrics.remediations.labels(playbook, alertname, "refused").inc()
    for _, playbook, alertname in result.cancelled:
        metrics.remediations.labels(playbook, alertname, "cancelled").inc()


class Worker:
    def __init__(
        self,
        *,
        store: Store,
        playbooks: list[Playbook],
        backends: dict[str, ActionBackend],
        verifier: Verifier,
        escalator: Escalator,
        guardrails: Guardrails,
        metrics: WebhookMetrics,
        clock: Clock,
        stop: threading.Event | None = None,
        concurrency: int = 4,
        poll_interval: float = 1.0,
        source_url: str = "",
        body_retention: float | None = None,
        chain_max_age: float = 60.0,
    ):
        self.store = store
        self.playbooks = {p.name: p for p in playbooks}
        self.backends = backends
        self.verifier = verifier
        self.escalator = escalator
        self.guardrails = guardrails
        self.metrics = metrics
        self.clock = clock
        self.stop_event = stop or threading.Event()
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.source_url = source_url
        self.body_retention = body_retention
        self.chain_max_age = chain_max_age
        self._pruned_at: float | None = None
        self._lock = threading.Lock()
        self._api_paused = store.paused()
        self._running: set[int] = set()
        self._busy: set[str] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None

    # --- the kill switch ---------------------------------------------------------------------------------------

    def set_paused(self, paused: bool, who: str) -> bool:
        """The API kill switch: effective in memory at once, then persisted (True) — or not, if the store is broken.

        The switch must work exactly when things are going wrong, a failing disk included; an unpersisted pause
        still stops every action of this process (and an action cannot run without the store anyway).
        """
        self._api_paused = paused
        try:
            self.store.set_paused(paused, who)
        except Exception:
            log.exception("the pause state could not be stored; it holds in memory until the process stops")
            return False
        return True

    def pause_reason(self) -> str | None:
        """Why no new action may start now (the API switch, the pause file, or a switch that cannot be read)."""
        if self._api_paused:
            return "paused (kill switch)"
        try:
            stored = self.store.paused()
        except Exception as exc:
            return f"paused: the kill switch cannot be read from the store ({type(exc).__name__})"
        if stored:
            return "paused (kill switch)"
        flag = self.guardrails.pause_file
        return None if flag is None else pause_file_reason(flag)

    def paused(self) -> bool:
        return self.pause_reason() is not None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="remediation")
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching; running verifications stop at their next poll and stay ``verifying`` for a restart."""
        self.stop_event.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                for job in self.dispatch():
                    assert self._executor is not None
                    self._executor.submit(job)
            except Exception:
                log.exception("dispatch failed; retrying")
            # Batch wake-ups: during a burst of notifications one dispatch pass serves many of them, instead of
            # one pass per request competing with the HTTP handlers for the database lock.
            self.stop_event.wait(min(MIN_DISPATCH_GAP, self.poll_interval))
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def run_until_idle(self, rounds: int = 20) -> None:
        """Dispatch and run jobs inline until nothing is left to start (tests, with a ManualClock)."""
        for _ in range(rounds):
            jobs = self.dispatch()
            if not jobs:
                return
            for job in jobs:
                job()

    # --- restart -----------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Decide what a previous process left mid-flight; never repeat an action that may have happened."""
        for rem in self.store.remediations(states={State.acting}):
            if rem.before is None:
                # Nothing was applied: the plan (written before any change) was never stored. Safe to retry.
                self.store.transition(
                    rem.id,
                    {State.acting},
                    State.grace,
                    event="recovered",
                    reason="restarted before acting",
                    started_at=None,
                )
                continue
            reason = "the webhook stopped during the action; it is not repeated — check the target by hand"
            if self.store.transition(
                rem.id, {State.acting}, State.interrupted, reason=reason, finished_at=self.clock.now()
            ):
                self.metrics.remediations.labels(rem.playbook, rem.alertname, "interrupted").inc()
                self._escalate(rem, "interrupted", reason)
        for rem in self.store.remediations(states={State.verifying}):
            self.store.audit("verification_resumed", rem, data={"deadline": rem.deadline})
        for rem in self.store.remediations(states={State.rolling_back}):
            # The dispatcher finishes it (_resume_rollback); the record says why it happens twice.
            self.store.audit("rollback_resumed", rem, data={"reason": rem.reason})

    # --- dispatch ----------------------------------------------------------------------------------------------

    def _job(self, rem: Remediation, body: Callable[[Remediation], None]) -> Job:
        with self._lock:
            self._running.add(rem.id)
            if rem.target:
                self._busy.add(rem.target)

        def run() -> None:
            try:
                body(rem)
            except Exception:
                log.exception("remediation crashed", extra={"remediation": rem.id})
                self._finish(rem, IN_FLIGHT | {State.grace}, State.failed, "internal error")
            finally:
                with self._lock:
                    self._running.discard(rem.id)
                    if rem.target:
                        self._busy.discard(rem.target)
                self._wake.set()

        return run

    def _hold(self, rem: Remediation, reason: str) -> None:
        if rem.reason != reason:  # one audit record per reason, not one per poll
            self.store.transition(rem.id, {State.grace}, State.grace, event="held", reason=reason)

    def _refuse(self, rem: Remediation, reason: str) -> None:
        self._finish(rem, {State.grace}, State.refused, reason)

    def dispatch(self) -> list[Job]:
        """One pass over the active remediations: start what is due and allowed, hold or refuse the rest."""
        jobs: list[Job] = []
        if self.stop_event.is_set():
            return jobs
        now = self.clock.now()
        self._prune(now)
        paused = self.pause_reason()
        for rem in self.store.dispatchable(PER_TARGET_PER_PASS):
            with self._lock:
                if rem.id in self._running:
                    continue
                busy = rem.target in self._busy
            playbook = self.playbooks.get(rem.playbook)
            if playbook is None:
                self._finish(rem, ACTIVE, State.refused, "playbook no longer defined")
            elif rem.state is State.verifying:
                if not busy and not self._history_forbids(rem, acting=False):
                    jobs.append(self._job(rem, self._verify))
            elif rem.state is State.rolling_back:
                # only after a restart: in this process the rollback runs inside its own job
                if not busy and not self._history_forbids(rem, acting=False):
                    jobs.append(self._job(rem, self._resume_rollback))
            elif rem.state is not State.acting:  # acting belongs to a running job, or to recover() after a restart
                job = self._dispatch_pending(rem, playbook, now, paused=paused, busy=busy)
                if job is not None:
                    jobs.append(job)
        return jobs

    def _dispatch_pending(
        self, rem: Remediation, playbook: Playbook, now: float, *, paused: str | None, busy: bool
    ) -> Job | None:
        if rem.state is State.queued and self.store.transition(
            rem.id, {State.queued}, State.grace, event="grace", data={"until": rem.not_before}
        ):
            rem = replace(rem, state=State.grace)
        if self._blocked(rem, now, paused=paused, busy=busy):
            return None
        refusal = self._guardrail_refusal(rem, playbook, now)
        if refusal:
            self._refuse(rem, refusal)
            return None
        if not playbook.enabled:
            return self._job(rem, self._dry_run)
        if self._history_forbids(rem, acting=True):
            return None
        if self.store.transition(rem.id, {State.grace}, State.acting, event="acting", started_at=now):
            log.info("remediation acting", extra={"remediation": rem.id, "target": rem.target})
            return self._job(rem, self._act)
        return None

    def _blocked(self, rem: Remediation, now: float, *, paused: str | None, busy: bool) -> bool:
        """True when the remediation must not start now (and was cancelled or held as the reason requires)."""
        if rem.incident_status is AlertStatus.resolved:
            self._finish(rem, {State.queued, State.grace}, State.cancelled, "alert resolved")
            return True
        if rem.not_before is not None and now < rem.not_before:
            return True
        if paused is not None:
            self._hold(rem, paused)
            return True
        if busy or (rem.target and self.store.in_flight_on(rem.target)):
            self._hold(rem, "waiting: another remediation is in flight on the target")
            return True
        return False

    def _history_forbids(self, rem: Remediation, *, acting: bool) -> bool:
        """True when the keyed audit log, not the editable state column, says this must not run (and handles it).

        Right before anything changes a target: the whole chain must verify with the key (an audit log that cannot
        be trusted is a safety control that cannot be checked: hold), and the log must not already record an end
        state for this remediation — nor, before acting, an action — which only a database edit can contradict.
        The chain walk is the one the metric does (at most ``chain_max_age`` old: 100,000 records take seconds),
        the record lookup is fresh every time.
        """
        report = self.store.chain_status(self.chain_max_age)
        if not report.ok:
            reason = f"held: the audit log fails verification at seq {report.first_bad_seq} ({report.reason})"
            if rem.reason != reason:
                log.error("audit chain broken; no action starts", extra={"seq": report.first_bad_seq})
                self.store.transition(rem.id, {rem.state}, rem.state, event="held", reason=reason)
            return True
        found = self.store.first_audit_event(rem.id, {str(state) for state in TERMINAL})
        if found is None and acting:
            found = self.store.first_audit_event(rem.id, {"action_started"})
        if found is None:
            return False
        recorded = found["event"]
        restored = State(recorded) if recorded in TERMINAL else State.interrupted
        reason = (
            f"the audit log records {recorded} at seq {found['seq']}, the database said {rem.state}:"
            " the state was edited; not acting again"
        )
        log.error("remediation state contradicts the audit log", extra={"remediation": rem.id, "recorded": recorded})
        self.store.transition(rem.id, {rem.state}, restored, event="state_contradicts_audit", reason=reason)
        return True

    def _prune(self, now: float) -> None:
        """Blank raw notification bodies past their retention, at most once an hour."""
        if self.body_retention is None or (self._pruned_at is not None and now - self._pruned_at < HOUR):
            return
        self._pruned_at = now
        pruned = self.store.prune_notification_bodies(now - self.body_retention)
        if pruned:
            log.info("notification bodies pruned", extra={"count": pruned})

    def _guardrail_refusal(self, rem: Remediation, playbook: Playbook, now: float) -> str | None:
        guard = self.guardrails
        if rem.target:
            cooldown = playbook.cooldown or guard.cooldown
            last = self.store.last_action_on(rem.target)
            if last is not None and now - last < cooldown:
                return f"cooldown: {rem.target} was acted on {now - last:.0f}s ago (cooldown {cooldown:.0f}s)"
        if not playbook.enabled:
            return None  # caps count real actions; a dry run takes none
        cap = playbook.max_actions_per_hour
        cap = guard.max_actions_per_hour_per_playbook if cap is None else cap
        if self.store.actions_started_since(now - HOUR, playbook.name) >= cap:
            return f"cap: {playbook.name} already acted {cap} times in the last hour"
        if self.store.actions_started_since(now - HOUR) >= guard.max_actions_per_hour:
            return f"global brake: {guard.max_actions_per_hour} actions in the last hour"
        return None

    # --- running ------------------------------------------------------------------------------------------------

    def _finish(
        self, rem: Remediation, expected: frozenset[State] | set[State], state: State, reason: str, **columns: Any
    ) -> bool:
        columns.setdefault("finished_at", self.clock.now())
        if not self.store.transition(rem.id, expected, state, reason=reason, **columns):
            return False
        result = "refused" if state is State.refused else str(state)
        self.metrics.remediations.labels(rem.playbook, rem.alertname, result).inc()
        log.info("remediation finished", extra={"remediation": rem.id, "state": str(state), "reason": reason})
        return True

    def _plans(self, rem: Remediation, playbook: Playbook) -> list[dict[str, Any]]:
        return [
            self.backends[action.type].plan(rem.spec, action.parsed(), self.guardrails) for action in playbook.actions
        ]

    def _unmet_precondition(self, rem: Remediation, playbook: Playbook) -> str | None:
        """Check the playbook's ``require`` query now; record it with its evidence; the reason when it fails.

        A query error or an unreachable Prometheus fails the pre-condition: without the fact, do not act.
        """
        require = playbook.require
        if require is None:
            return None
        expr = render_query(require.query, rem.labels)
        outcome = self.verifier.check(expr, rem.labels)
        evidence_expr = render_query(require.evidence, rem.labels) if require.evidence else expr
        evidence = outcome if evidence_expr == expr else self.verifier.check(evidence_expr, rem.labels)
        self.store.audit(
            "precondition",
            rem,
            data={
                "query": expr,
                "holds": outcome.holds,
                "detail": outcome.detail,
                "evidence_query": evidence_expr,
                "evidence": list(evidence.series),
            },
        )
        if outcome.holds:
            return None
        shown = "; ".join(_series_text(series, rem.labels) for series in evidence.series[:5])
        return f"precondition not met: {expr} ({outcome.detail}); evidence: {shown or evidence.detail}"

    def _dry_run(self, rem: Remediation) -> None:
        playbook = self.playbooks[rem.playbook]
        unmet = self._unmet_precondition(rem, playbook)
        if unmet is not None:
            would = "escalate" if playbook.require and playbook.require.otherwise == "escalate" else "skip"
            self._finish(rem, {State.grace}, State.dry_run, f"dry run, would {would}: {unmet}", dry_run=1)
            return
        try:
            plans = self._plans(rem, playbook)
        except Refused as exc:
            self._finish(rem, {State.grace}, State.refused, f"dry run: {exc}", dry_run=1)
            return
        except Exception as exc:
            self._finish(rem, {State.grace}, State.dry_run, f"dry run could not plan: {exc}", dry_run=1)
            return
        summary = "; ".join(p.get("summary", "") for p in plans)
        self._finish(rem, {State.grace}, State.dry_run, f"dry run, would: {summary}", dry_run=1, after={"plans": plans})
        for action in playbook.actions:
            self.metrics.actions.labels(playbook.name, action.type, "dry_run").inc()

    def _act(self, rem: Remediation) -> None:
        playbook = self.playbooks[rem.playbook]
        unmet = self._unmet_precondition(rem, playbook)
        if unmet is None:
            self._apply(rem)
        elif (
            self._finish(rem, {State.acting}, State.refused, unmet, started_at=None)
            and playbook.require
            and playbook.require.otherwise == "escalate"
        ):
            self._escalate(rem, "refused", unmet)

    def _apply(self, rem: Remediation) -> None:
        playbook = self.playbooks[rem.playbook]
        try:
            plans = self._plans(rem, playbook)
        except Refused as exc:
            self._finish(rem, {State.acting}, State.refused, str(exc), started_at=None)
            return
        except Exception as exc:
            if self._finish(rem, {State.acting}, State.failed, f"could not plan: {exc}", started_at=None):
                self._escalate(rem, "failed", f"could not plan: {exc}")
            return
        # Write-ahead: the before-state is stored before anything changes, so a rollback is possible after a crash.
        if not self.store.transition(
            rem.id, {State.acting}, State.acting, event="planned", before=plans, data={"plans": plans}
        ):
            return
        if self.store.incident_status(rem.incident_id) is AlertStatus.resolved:
            self._finish(
                rem, {State.acting}, State.cancelled, "alert resolved before the action started", started_at=None
            )
            return
        paused = self.pause_reason()
        if paused is not None:
            self.store.transition(
                rem.id,
                {State.acting},
                State.grace,
                event="held",
                reason=paused,
                started_at=None,
                before=None,
            )
            return
        afters = []
        for index, (action, plan) in enumerate(zip(playbook.actions, plans, strict=True)):
            self.store.audit("action_started", rem, action=action.type, data={"plan": plan})
            try:
                after = self.backends[action.type].apply(rem.spec, plan)
            except Exception as exc:
                self.store.audit("action_failed", rem, action=action.type, data={"error": str(exc)})
                self.metrics.actions.labels(playbook.name, action.type, "failed").inc()
                self._rollback(rem, playbook, index + 1, State.acting, f"action {action.type} failed: {exc}")
                return
            afters.append(after)
            self.store.audit(
                "action_applied", rem, action=action.type, data={"before": plan.get("before"), "after": after}
            )
            self.metrics.actions.labels(playbook.name, action.type, "applied").inc()
        deadline = self.clock.now() + playbook.verify.deadline
        if self.store.transition(
            rem.id, {State.acting}, State.verifying, event="verifying", deadline=deadline, after=afters
        ):
            fresh = self.store.remediation(rem.id)
            assert fresh is not None
            self._verify(fresh, initial_delay=playbook.verify.initial_delay)
        else:
            # Cancelled while acting (a resolved notification): the change stays, the alert is over.
            log.info("remediation changed state while acting", extra={"remediation": rem.id})

    def _still_verifying(self, remediation_id: int) -> bool:
        """A resolved alert does not end a verification: the action's own effect is what usually resolves it (a
        lowered retention frees the disk), and Alertmanager sends the resolution at its group interval, out of step
        with the query's polls. Cancelling on it recorded remediations that worked as ``cancelled``; the query
        decides, and the resolution only spares a rollback when the query never held (:meth:`_verify`)."""
        rem = self.store.remediation(remediation_id)
        return rem is not None and rem.state is State.verifying

    def _verify(self, rem: Remediation, initial_delay: float = 0.0) -> None:
        playbook = self.playbooks[rem.playbook]
        expr = render_query(playbook.verify.query, rem.labels)
        source = self.verifier.source(rem.labels)
        self.store.audit(
            "verification_started", rem, data={"query": expr, "deadline": rem.deadline, "prometheus": source}
        )
        deadline = rem.deadline or self.clock.now()
        if self.clock.now() >= deadline:
            # Resumed after a restart that outlasted the deadline: whatever the query says now, the change did not
            # prove itself in time — a late pass must not turn into "succeeded". Fail, roll back, escalate.
            late = f"the verification deadline passed before it could run ({self.clock.now() - deadline:.0f}s ago)"
            self._not_verified(rem, playbook, {"query": expr, "polls": 0, "last": late}, late)
            return
        result = self.verifier.verify(
            expr,
            deadline=deadline,
            interval=playbook.verify.interval,
            initial_delay=initial_delay,
            still_wanted=lambda: self._still_verifying(rem.id),
            labels=rem.labels,
        )
        self.metrics.verification_duration.observe(result.seconds)
        detail = {"query": expr, "polls": result.polls, "seconds": round(result.seconds, 3), "last": result.last}
        if result.cancelled:
            return  # stopping: stays `verifying`, the next process resumes it (or it moved on meanwhile)
        if result.passed:
            self._finish(rem, {State.verifying}, State.succeeded, "verification passed", data=detail)
            return
        self._not_verified(rem, playbook, detail, f"{expr} did not hold by the deadline ({result.last})")

    def _not_verified(self, rem: Remediation, playbook: Playbook, detail: dict[str, Any], why: str) -> None:
        """The change did not prove itself (in time, or at all). If its alert resolved meanwhile, the change is kept
        (rolling back could bring the problem back) and nobody is paged, but it is not counted a success; otherwise
        it is rolled back and escalated. The same rule whether the verification ran or a restart outlasted it."""
        if self.store.incident_status(rem.incident_id) is AlertStatus.resolved:
            self._finish(
                rem, {State.verifying}, State.cancelled, f"alert resolved during verification; {why}", data=detail
            )
            return
        self.store.audit("verification_failed", rem, data=detail)
        self._rollback(rem, playbook, len(playbook.actions), State.verifying, f"verification failed: {why}")

    def _rollback(self, rem: Remediation, playbook: Playbook, actions: int, from_state: State, reason: str) -> None:
        """Undo the first ``actions`` actions (newest first), then end rolled_back or failed and escalate.

        The intent is committed first (``rolling_back``, with the reason and the count in its audit record), so a
        crash anywhere below is resumed by :meth:`_resume_rollback` instead of being forgotten.
        """
        if not playbook.rollback:
            if self._finish(rem, {from_state}, State.failed, reason) and playbook.escalate:
                self._escalate(rem, str(State.failed), reason)
            return
        if not self.store.transition(
            rem.id, {from_state}, State.rolling_back, reason=reason, data={"actions": actions, "from": str(from_state)}
        ):
            return  # moved on meanwhile (cancelled by a resolved alert): nothing to undo from here
        self._complete_rollback(rem, playbook, actions, reason)

    def _resume_rollback(self, rem: Remediation) -> None:
        """After a restart: repeat the recorded rollback (idempotent: it restores absolute before-values)."""
        playbook = self.playbooks[rem.playbook]
        intents = self.store.audit_records(remediation_id=rem.id, event=str(State.rolling_back))
        actions = int(json.loads(intents[-1]["data"]).get("actions", len(playbook.actions))) if intents else 0
        reason = f"{rem.reason or 'rollback'}; the rollback was finished after a restart"
        self._complete_rollback(rem, playbook, actions, reason)

    def _complete_rollback(self, rem: Remediation, playbook: Playbook, actions: int, reason: str) -> None:
        rem = self.store.remediation(rem.id) or rem  # the plans as stored (the caller's copy may predate them)
        plans: list[dict[str, Any]] = list(rem.before or [])[:actions]
        ok = len(plans) == actions
        if not ok:
            self.store.audit("rollback_failed", rem, data={"error": "the stored plan does not cover every action"})
        for action, plan in reversed(list(zip(playbook.actions, plans, strict=False))):
            self.store.audit("rollback_started", rem, action=action.type, data={"to": plan.get("before")})
            try:
                restored = self.backends[action.type].rollback(rem.spec, plan)
            except Exception as exc:
                ok = False
                self.store.audit("rollback_failed", rem, action=action.type, data={"error": str(exc)})
                self.metrics.actions.labels(playbook.name, action.type, "rollback_failed").inc()
                continue
            self.store.audit("rollback_applied", rem, action=action.type, data={"restored": restored})
            self.metrics.actions.labels(playbook.name, action.type, "rolled_back").inc()
        final = State.rolled_back if ok else State.failed
        # Escalate before the final state is stored: a crash in between repeats an escalation (Alertmanager
        # deduplicates the identical alert) rather than losing it.
        if playbook.escalate:
            self._escalate(rem, str(final), reason)
        self._finish(rem, {State.rolling_back}, final, reason)

    def _escalate(self, rem: Remediation, outcome: str, reason: str) -> None:
        alert = escalation_alert(
            rem.labels,
            playbook=rem.playbook,
            outcome=outcome,
            summary=f"Remediation {rem.playbook} of {rem.alertname} ended {outcome}.",
            detail=f"remediation {rem.id} on {rem.target}: {reason}. Before: {rem.before}",
            now=self.clock.now(),
            source_url=f"{self.source_url}/actions?remediation_id={rem.id}" if self.source_url else "",
        )
        result = self.escalator.escalate(alert)
        self.store.audit(
            "escalated" if result.delivered else "escalation_failed",
            rem,
            data={"delivered": result.delivered, "errors": result.errors, "labels": alert["labels"]},
        )
        if result.delivered:
            self.metrics.escalations.labels(rem.playbook).inc()


def _series_text(series: dict[str, str], alert_labels: dict[str, str]) -> str:
    """``name{labels the alert does not already say} value``: the part of a series that is news to a human."""
    labels = ",".join(
        f'{k}="{v}"' for k, v in sorted(series.items()) if k not in ("__name__", "value") and alert_labels.get(k) != v
    )
    return f"{series.get('__name__', '')}{{{labels}}} {series.get('value', '')}"
