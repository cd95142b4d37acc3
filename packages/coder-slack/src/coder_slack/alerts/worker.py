"""The delivery worker: drains the outbox into Slack, one destination at a time, in order.

A replica leases a destination (``coder_slack.alerts.leases``), then repeats: plan the next step in a
transaction (``repository.plan_step``: the planner's decision, its token and ``sending`` marks committed),
make the Slack call, record the outcome in a second transaction. A row left ``sending`` by a crash is in
doubt: before posting again the worker looks for a message whose metadata names the row
(``conversations.history`` / ``conversations.replies``), so a crash between Slack's answer and the commit
does not post twice. What Slack's errors mean is ``coder_slack.slack_errors``'s to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session

from coder_slack.alerts import messages
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.leases import LeaseLost, claim_destinations
from coder_slack.alerts.metrics import AlertMetrics
from coder_slack.alerts.planner import (
    Decision,
    Delivery,
    NotificationInCard,
    PostCard,
    PostDigest,
    PostInStatusCard,
    PostNotice,
    PostNotification,
    PostSummary,
    ReplyInCard,
    ResolveDM,
    UpdateDigest,
    Verify,
    Wait,
    as_card,
)
from coder_slack.alerts.repository import (
    forget_parent,
    outbox_depth,
    plan_step,
    record_permanent,
    record_resolved,
    record_retry,
    record_row_failure,
    record_sent,
    record_sent_then_plan,
)
from coder_slack.notifications.outbox import OUTBOX_KIND as NOTIFICATION
from coder_slack.notifications.outbox import message_of as notification_message
from coder_slack.slack_errors import PARENT_GONE, SlackErrorKind, classify, error_code, retry_after
from coder_slack.slack_tokens import NoInstallation, SlackTokens, TeamRoutedClient, set_token, token_of
from coder_slack.store import AlertDestination, ThreadTransactions, Transactions, utcnow
from coder_slack.views.message import Message

log = logging.getLogger(__name__)


# The longest a drain waits for the engine's recorder before it plans a step (``DeliveryWorker.recorded``),
# counted from its previous step.
RECORDED_FIRST_SECONDS = 0.5


class _Unplanned:
    """The next step is yet to be planned (in a transaction of its own)."""


UNPLANNED = _Unplanned()

# Replies and updates go into a message that may have been deleted; other posts have no parent.
_HAS_PARENT = (ReplyInCard, PostInStatusCard, UpdateDigest, NotificationInCard)


class DeliveryWorker:
    def __init__(
        self,
        db: Transactions | ThreadTransactions,
        slack: AsyncWebClient,
        config: AlertConfig,
        metrics: AlertMetrics,
        tokens: SlackTokens | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.metrics = metrics
        # Our own client without slack_sdk's retry handlers: a blind retry of chat.postMessage could post
        # twice. With ``tokens`` (OAuth mode), each destination's drain calls Slack with its team's token.
        self.tokens = tokens
        self.slack = TeamRoutedClient(
            token=slack.token, base_url=slack.base_url, timeout=int(config.slack_timeout), retry_handlers=[]
        )
        self.wake = asyncio.Event()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._depth_measured = 0.0
        self._again: set[str] = set()
        # Replicas sharing the delivery (``shares``): which destinations are this replica's to drain, and
        # who to tell about rows queued here for another replica's destinations. None: all are ours.
        self.owned: Callable[[str], bool] | None = None
        self.elsewhere: Callable[[set[str]], None] | None = None
        # Cleared while the engine's recorder is behind (None: no engine to wait for). In a burst a drain's
        # steps after its first are planned once the recorder has caught up, or ``recorded_first`` seconds
        # after its previous step at most: a digest update planned while hundreds of alerts wait to be
        # recorded is outdated at once and sent again, and planning it took the CPU the recorder needed (a
        # 9:00 burst of 2,000 on 3 replicas and 2 cores: 16–21 CPU-seconds in all before, 10–13 after). The
        # bound runs from the previous step, together with the digest's interval and the channel's token,
        # not after them: added after them, a channel's first update came 1–1.3 s after its first post, late
        # for the workspaces it carried (paired runs of that burst: median lateness 886 → 762 ms, for about
        # 0.3 CPU-s more). The first step (a channel's first post of the burst) is not an update: it goes at
        # once.
        self.recorded: asyncio.Event | None = None
        self.recorded_first = RECORDED_FIRST_SECONDS

    async def run(self) -> None:
        if self.slack.session is None:
            # One pool of keep-alive connections to Slack for every drain: without it slack_sdk opens (and
            # closes) a connection per call, on the event loop that also answers Coder's webhook.
            self.slack.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.slack_timeout),
                connector=aiohttp.TCPConnector(limit=0),
            )
        while not self._stopping:
            try:
                claimed = await self.db.run(
                    claim_destinations,
                    self.config.replica_id,
                    utcnow(),
                    self.config.lease_seconds,
                    self.owned,
                )
                for destination in claimed:
                    if destination not in self._active:
                        self._start(destination)
                now = asyncio.get_running_loop().time()
                if now - self._depth_measured > 2.0:
                    self._depth_measured = now
                    self.metrics.outbox_depth(await self.db.run(outbox_depth))
                    self.metrics.destinations_held(len(self._active))
            except Exception:
                log.exception("alert delivery: claiming work failed; retrying")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.config.poll_interval)

    def kick(self, destinations: set[str]) -> None:
        """Start draining these destinations now (they just got rows), without waiting for the next poll.
        Another replica's destinations are handed to ``elsewhere`` (its owner is woken) instead."""
        if self.owned is not None:
            theirs = {destination for destination in destinations if not self.owned(destination)}
            if theirs:
                destinations = destinations - theirs
                if self.elsewhere is not None:
                    self.elsewhere(theirs)
        for destination in destinations:
            if self._stopping:
                return
            if destination in self._active:
                # The running drain may just have found nothing; have it look once more before it ends.
                self._again.add(destination)
            else:
                self._start(destination)

    @property
    def draining(self) -> set[str]:
        """Destinations a drain task of this replica is working on now."""
        return set(self._active)

    def _start(self, destination: str) -> None:
        task = asyncio.create_task(self._drain(destination), name=f"alerts-drain-{destination}")
        self._active[destination] = task
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        for destination, running in list(self._active.items()):
            if running is task:
                del self._active[destination]

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, self.slack.session = self.slack.session, None
        if session is not None:
            await session.close()

    async def _use_team_token(self, destination: str) -> bool:
        """OAuth mode: have this drain (its own task) call Slack with the destination's team token, fresh
        (rotated) for each step. False when the team has no installation any more: its rows are failed and
        the destination disabled, as Slack refusing the destination would."""
        if self.tokens is None:
            return True
        team_id = await self.db.run(_team_of, destination)
        try:
            set_token(await token_of(self.tokens, team_id))
        except NoInstallation:
            log.warning(
                "alerts to %s disabled: the app is not installed in Slack team %s", destination, team_id
            )
            for failed in await self.db.run(record_permanent, destination, "app_uninstalled", utcnow()):
                self.metrics.failed(failed)
            return False
        return True

    async def _drain(self, destination: str) -> None:
        try:
            planned: Decision | _Unplanned | None = UNPLANNED
            loop = asyncio.get_running_loop()
            delivered_at: float | None = None
            while not self._stopping:
                if not await self._use_team_token(destination):
                    return
                step = planned
                if isinstance(step, _Unplanned):
                    if delivered_at is not None and self.recorded is not None and not self.recorded.is_set():
                        # Counted from the previous step: the wait for the recorder overlaps the digest's
                        # interval and the channel's token, rather than adding to them.
                        left = self.recorded_first - (loop.time() - delivered_at)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.recorded.wait(), max(0.0, left))
                    step = await self.db.run(
                        plan_step, destination, self.config.replica_id, utcnow(), self.config
                    )
                planned = UNPLANNED
                if step is None:  # plan_step released the lease
                    if destination in self._again:
                        self._again.discard(destination)
                        continue
                    # Leave the active set in this same step, so a kick from now on starts a new drain.
                    if self._active.get(destination) is asyncio.current_task():
                        del self._active[destination]
                    return
                if isinstance(step, Wait):
                    await asyncio.sleep(min(step.seconds, self.config.lease_seconds / 3))
                    continue
                planned = await self._execute(destination, step)
                delivered_at = loop.time()
        except LeaseLost:
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alert delivery to %s failed; another pass will retry", destination)

    async def _execute(self, destination: str, step: ResolveDM | Delivery) -> Decision | _Unplanned | None:
        """Make the step's Slack call and record its outcome; the next step when it was planned in the same
        transaction (a delivery), else ``UNPLANNED``."""
        try:
            if isinstance(step, ResolveDM):
                response = await self.slack.conversations_open(users=step.user)
                await self.db.run(record_resolved, destination, str(response["channel"]["id"]))
            elif isinstance(step, Verify):
                await self._verify(destination, step)
            else:
                return await self._deliver(destination, step)
        except SlackApiError as error:
            await self._handle_error(destination, step, error)
        except (TimeoutError, OSError) as error:
            # The request may or may not have reached Slack: leave the rows in doubt and verify before
            # retrying.
            log.warning("alert delivery to %s: %s; will verify and retry", destination, type(error).__name__)
            row_ids = () if isinstance(step, ResolveDM) else step.row_ids
            in_doubt = not isinstance(step, ResolveDM)
            await self.db.run(
                record_retry, row_ids, destination, utcnow(), 1.0, type(error).__name__, in_doubt
            )
        return UNPLANNED

    async def _handle_error(self, destination: str, step: ResolveDM | Delivery, error: SlackApiError) -> None:
        code = error_code(error)
        kind = classify(error)
        self.metrics.slack_error(code)
        row_ids = () if isinstance(step, ResolveDM) else step.row_ids
        if isinstance(step, Verify) and kind is not SlackErrorKind.PERMANENT:
            await self._verify_failed(destination, step, error, code)
            return
        if kind is SlackErrorKind.RATE_LIMITED:
            await self.db.run(
                record_retry, row_ids, destination, utcnow(), retry_after(error), "ratelimited", False
            )
            return
        if kind is SlackErrorKind.PERMANENT:
            log.warning("alerts to %s disabled: Slack answered %s", destination, code)
            for failed in await self.db.run(record_permanent, destination, code, utcnow()):
                self.metrics.failed(failed)
            self.wake.set()
            return
        if kind is SlackErrorKind.MESSAGE:
            log.error("alert rows %s refused by Slack (%s); dropping them", list(row_ids), code)
            await self.db.run(record_row_failure, row_ids, code)
            if not isinstance(step, ResolveDM):
                for failed in step.kinds:
                    self.metrics.failed(failed)
            return
        if kind is SlackErrorKind.PARENT_GONE and isinstance(step, _HAS_PARENT):
            await self.db.run(forget_parent, step)
            return
        in_doubt = error.response.status_code >= 500
        await self.db.run(record_retry, row_ids, destination, utcnow(), 2.0, code or "error", in_doubt)

    async def _verify_failed(self, destination: str, step: Verify, error: SlackApiError, code: str) -> None:
        """Slack would not say whether an interrupted post arrived. Posting again could post it twice, so
        the rows stay in doubt and the check is repeated later (after Retry-After on a 429) — unless this
        token may not read the conversation at all (an app installed from an older manifest): then waiting
        cannot help, and the alert is posted again, which may repeat it, with an error naming the scope."""
        kind = classify(error)
        if kind is SlackErrorKind.SCOPE:
            needed = str(error.response.get("needed", "") or "a history scope")
            log.error(
                "alert delivery to %s: cannot check whether an interrupted post arrived: Slack answered %s "
                "(needs %s). Add the scope to the Slack app (deploy/slack/manifest.yaml lists them) and "
                "reinstall it; until then an alert interrupted by a crash may be posted twice.",
                destination,
                code,
                needed,
            )
            await self.db.run(record_retry, step.row_ids, destination, utcnow(), 0.0, code, False)
            return
        wait = retry_after(error) if kind is SlackErrorKind.RATE_LIMITED else 2.0
        await self.db.run(record_retry, step.row_ids, destination, utcnow(), wait, code or "error", True)

    async def _post(self, message: Message, delivery: Delivery) -> tuple[str, Delivery]:
        """Post ``message`` for ``delivery``; its ts, and what the delivery turned out to be."""
        thread_ts = delivery.thread_ts
        response = await self.slack.chat_postMessage(
            channel=delivery.channel,
            text=message.text,
            blocks=message.blocks_json(),
            thread_ts=thread_ts,
            metadata=messages.metadata(list(delivery.row_ids), delivery.keys, delivery.workspace_id),
            unfurl_links=False,
        )
        if thread_ts is not None and not _in_thread(response.data):
            # The parent was deleted: Slack does not refuse the reply, it posts it at the top of the
            # channel. That message is the workspace's card now (a reply carries the card's content).
            log.info(
                "alert delivery to %s: the thread %s is gone; the post became the card",
                delivery.channel,
                thread_ts,
            )
            return str(response["ts"]), as_card(delivery)
        return str(response["ts"]), delivery

    async def _deliver(self, destination: str, step: Delivery) -> Decision | None:
        """Post the delivery, then record it and plan the destination's next step in one transaction."""
        started = utcnow()
        coder_url = self.config.coder_url
        payload = step.payloads[0] if step.payloads else {}
        delivered = step
        if isinstance(step, PostCard | PostInStatusCard):
            ts, delivered = await self._post(messages.alert_card(payload, coder_url), step)
        elif isinstance(step, ReplyInCard):
            card = messages.alert_card(payload, coder_url, recovered=step.recovered)
            await self.slack.chat_update(
                channel=step.channel, ts=step.card_ts, text=card.text, blocks=card.blocks_json()
            )
            reply = messages.thread_reply(payload, coder_url, recovered=step.recovered)
            ts, delivered = await self._post(reply, step)
        elif isinstance(step, PostNotification):
            ts, delivered = await self._post(notification_message(payload), step)
        elif isinstance(step, NotificationInCard):
            # The card above already has the workspace's buttons: the reply's variant leaves ours out.
            ts, delivered = await self._post(notification_message(payload.get("thread") or payload), step)
        elif isinstance(step, PostSummary):
            fresh = [p for p in step.payloads if not p.get("stale")]
            stale = [p for p in step.payloads if p.get("stale")]
            ts, delivered = await self._post(messages.while_away(fresh, stale, step.since), step)
        elif isinstance(step, PostNotice):
            notice = messages.subscription_disabled(payload["channel"], payload["reason"], payload["labels"])
            ts, delivered = await self._post(notice, step)
        elif isinstance(step, PostDigest):
            ts, delivered = await self._post(messages.digest_card(dict(step.members), step.expected), step)
        elif isinstance(step, UpdateDigest):
            digest = messages.digest_card(dict(step.members), step.expected)
            await self.slack.chat_update(
                channel=step.channel,
                ts=step.digest_ts,
                text=digest.text,
                blocks=digest.blocks_json(),
                metadata=messages.metadata(list(step.row_ids), step.keys, step.workspace_id),
            )
            ts = step.digest_ts
        else:
            raise TypeError(f"not a delivery the worker knows: {step!r}")
        planned = await self.db.run(
            record_sent_then_plan, destination, delivered, ts, self.config.replica_id, utcnow(), self.config
        )
        for kind in step.kinds:
            self.metrics.delivered(kind, (utcnow() - started).total_seconds())
            if kind == NOTIFICATION:
                self.metrics.prometheus.record_notification("delivered")
        return planned

    async def _find_in_history(self, step: Verify, wanted: set[int]) -> str | None:
        oldest = (step.since or utcnow()) - timedelta(seconds=60)
        response = await self.slack.conversations_history(
            channel=step.channel, oldest=f"{oldest.timestamp():.6f}", include_all_metadata=True, limit=200
        )
        return _find(response.get("messages") or [], wanted)

    async def _verify(self, destination: str, step: Verify) -> None:
        """Find out whether an interrupted attempt reached Slack; record it if so, else make the rows
        pending."""
        wanted = set(step.row_ids)
        found_ts: str | None = None
        thread_gone = False
        if step.attempted == UpdateDigest.attempt:
            found_ts = None  # chat.update is idempotent: simply do it again
        elif step.thread_ts:
            try:
                response = await self.slack.conversations_replies(
                    channel=step.channel, ts=step.thread_ts, include_all_metadata=True, limit=200
                )
                found_ts = _find(response.get("messages") or [], wanted)
            except SlackApiError as error:
                if error_code(error) not in PARENT_GONE:
                    raise
                # The card or status card was deleted. Slack posts a reply to a deleted parent at the top of
                # the channel, so the interrupted post is either there or nowhere.
                found_ts = await self._find_in_history(step, wanted)
                if found_ts is None:
                    log.info("alert delivery to %s: the thread %s is gone", destination, step.thread_ts)
                    await self.db.run(forget_parent, step)
                    return
                thread_gone = True
        else:
            found_ts = await self._find_in_history(step, wanted)
        if found_ts is None:
            await self.db.run(
                record_retry,
                step.row_ids,
                destination,
                utcnow(),
                0.0,
                "retrying after an interruption",
                False,
            )
            return
        await self.db.run(record_sent, step.found(thread_gone=thread_gone), found_ts, utcnow())


def _team_of(session: Session, destination: str) -> str:
    """The Slack team of a destination (recorded with it when its first row was queued)."""
    dest = session.get(AlertDestination, destination)
    return dest.team_id if dest is not None else ""


def _in_thread(response: Any) -> bool:
    """Whether chat.postMessage put the message into the thread it was asked to (its answer's message names
    the thread; a reply to a deleted parent comes back without one). An answer without a message is taken at
    its word."""
    message = response.get("message") if isinstance(response, dict) else None
    return not isinstance(message, dict) or bool(message.get("thread_ts"))


def _find(found: list[dict[str, Any]], wanted: set[int]) -> str | None:
    for message in found:
        if messages.outbox_ids_of(message.get("metadata")) & wanted:
            return str(message.get("ts"))
    return None
