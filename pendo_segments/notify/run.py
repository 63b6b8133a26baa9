"""``alerts notify``: today's alerts against what was posted, then post what is new.

One run:

1. **Alerts.** Score, tier and raise the alerts of ``alerts.yaml`` on the data
   (exactly what ``alerts`` prints), keeping those of ``[notify] severities``.
2. **Plan.** An alert with no open episode in the state is new: an episode and
   its message are recorded (``pending``). An open episode whose alert no longer
   fires is closed; if its message had been posted, the alert is a problem
   (severity other than ``info``), the account has no problem alert left and
   ``[notify] recovered`` is on, a "recovered" message is recorded. Alerts that
   could not run today (no ``--previous``) keep their episodes open; accounts
   gone from the data, alerts gone from the rules or from ``severities`` close
   theirs without a message.
3. **Post** (``--send``, holding the lock): every ``pending`` or ``failed``
   message, most severe first — claim (committed), post, record. See
   :mod:`pendo_segments.notify.webhook` for what each answer means.

A dry run plans on an in-memory copy of the state and posts nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pendo_segments.errors import NotifyError
from pendo_segments.notify.messages import (
    AlertFacts,
    alert_message,
    recovered_message,
    signal_lines,
)
from pendo_segments.notify.settings import SEVERITIES, WEBHOOK_ENV, NotifySettings, Webhook
from pendo_segments.notify.state import (
    KIND_ALERT,
    Message,
    NotifyLock,
    NotifyState,
    Planned,
    open_notify_state,
)
from pendo_segments.notify.webhook import NotPosted, SlackPoster, scrub

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.tiers.alerts import AlertInputs

NO_WEBHOOK = "none"
#: results of a message in this run that count as delivered (or, dry, as deliverable)
DONE = ("posted", "would_post")


@dataclass
class Account:
    name: str
    arr: float | None
    csm: str | None
    tier: str | None
    health_score: float | None
    link: tuple[str, bool] | None = None  # (URL, is the account's own page)


@dataclass
class Current:
    """Today's alerts and what messages say about their accounts."""

    as_of: dt.date
    rows: list[dict[str, Any]]
    ran: set[str]  # alerts evaluated today (the others could not run)
    skipped: list[str]
    specs: dict[str, Any]  # alert name -> AlertSpec
    accounts: dict[str, Account]
    translate: Callable[[str], str] | None = None  # one signal clause into Japanese

    def facts(
        self, account_id: str, alert: str, locale: str, row: dict[str, Any] | None = None
    ) -> AlertFacts:
        """What a message about ``alert`` of ``account_id`` says, in ``locale``."""
        spec = self.specs[alert]
        acc = self.accounts.get(account_id) or Account("", None, None, None, None)
        ja = locale == "ja"
        signals = signal_lines(str(row["signals"])) if row and row["signals"] else []
        action = str(row["action"]) if row else (spec.action or spec.title)
        if ja:
            if self.translate is not None:
                signals = [self.translate(s) for s in signals]
            action = spec.action_ja or action
        return AlertFacts(
            account_id=account_id,
            name=acc.name,
            tier=acc.tier,
            arr=acc.arr,
            health_score=acc.health_score,
            csm=acc.csm,
            alert=alert,
            title=(spec.title_ja or spec.title) if ja else spec.title,
            severity=spec.severity,
            signals=signals,
            action=action,
            as_of=self.as_of,
            link=acc.link[0] if acc.link else None,
            link_is_page=bool(acc.link and acc.link[1]),
            locale=locale if locale in ("en", "ja") else "en",
        )


def current_alerts(
    ds: Dataset,
    inputs: AlertInputs,
    *,
    as_of: dt.date | None = None,
    previous: str | Path | None = None,
    report_url: str | None = None,
    japanese: bool = False,
) -> Current:
    """Raise today's alerts (as ``alerts`` does) and gather each account's facts
    (``japanese``: some messages are in Japanese)."""
    from pendo_segments.health import compute_health
    from pendo_segments.tiers.alerts import check_alerts

    health = compute_health(ds, as_of=as_of, config=inputs.health_config)
    tiers = None
    if inputs.policy is not None:
        from pendo_segments.tiers.assign import assign_tiers

        tiers = assign_tiers(
            ds,
            inputs.policy,
            defs=inputs.definitions,
            health=health,
            overrides=inputs.overrides,
        ).tier
    result = check_alerts(ds, inputs, as_of=as_of, previous=previous, health=health, tiers=tiers)
    ids = [str(a) for a in health.account_ids]
    specs = {a.spec.name: a.spec for a in inputs.rules.alerts}
    skipped = {line.split(":", 1)[0] for line in result.skipped}
    accounts = _accounts(ds, ids, health, tiers)
    if report_url:
        _links(accounts, ids, tiers, inputs.policy, report_url)
    translate = _japanese_signals(inputs.definitions) if japanese else None
    return Current(
        as_of=result.as_of,
        rows=result.rows.to_dict("records"),
        ran=set(specs) - skipped,
        skipped=list(result.skipped),
        specs=specs,
        accounts=accounts,
        translate=translate,
    )


def _japanese_signals(definitions: Any) -> Callable[[str], str] | None:
    """The report's translator of signal clauses (segments by their ``title_ja``).

    None without it: signals then stay as the health layer wrote them (English),
    while titles and actions still use the alerts' ``title_ja`` / ``action_ja``.
    """
    try:
        from pendo_segments.report.i18n import Words
        from pendo_segments.report.signals_ja import SignalsJa
    except ImportError:  # pragma: no cover - the report's Japanese pages bring it
        return None
    titles = {s.name: getattr(s, "title_ja", None) for s in definitions}
    w = Words("ja")
    return SignalsJa(lambda name: titles.get(name) or name, lambda day: w.date(day)).clause


def _accounts(
    ds: Dataset, ids: list[str], health: Any, tiers: np.ndarray | None
) -> dict[str, Account]:
    frame = ds.accounts
    by_id = {str(a): i for i, a in enumerate(frame["account_id"].astype(str))}

    def column(name: str) -> list[Any]:
        return list(frame[name]) if name in frame.columns else [None] * len(frame)

    names, arrs, csms = column("name"), column("arr"), column("csm_owner")
    score = np.asarray(health.score, dtype=float)
    out = {}
    for k, account_id in enumerate(ids):
        i = by_id.get(account_id)
        arr = _number(arrs[i]) if i is not None else None
        out[account_id] = Account(
            name=_text(names[i]) if i is not None else "",
            arr=arr,
            csm=_text(csms[i]) or None if i is not None else None,
            tier=str(tiers[k]) if tiers is not None and tiers[k] is not None else None,
            health_score=float(score[k]) if math.isfinite(score[k]) else None,
        )
    return out


def _links(
    accounts: dict[str, Account],
    ids: list[str],
    tiers: np.ndarray | None,
    policy: Any,
    base: str,
) -> None:
    """The report's page of each account that has one (its first tier, as the report
    names them), else the report's index."""
    from pendo_segments.report.build import page_name

    for account in accounts.values():
        account.link = (f"{base}/index.html", False)
    if tiers is None or policy is None:
        return
    first = policy.names[0]
    taken: set[str] = set()
    for k in np.flatnonzero(tiers == first).tolist():
        accounts[ids[k]].link = (f"{base}/accounts/{page_name(ids[k], taken)}", True)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).strip()
    return "" if text in ("nan", "<NA>", "None") else text


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# -- plan --------------------------------------------------------------------------------


def plan(state: NotifyState, current: Current, settings: NotifySettings) -> Planned:
    """What is new, what cleared and what recovered since the state's last run."""
    wanted = set(settings.severities)
    firing = {
        (str(r["account_id"]), str(r["alert"])): r for r in current.rows if r["severity"] in wanted
    }
    problems = {a for (a, _), r in firing.items() if r["severity"] != "info"}
    out = Planned()
    open_now = {(e.account_id, e.alert): e for e in state.open_episodes()}

    def route(account_id: str) -> tuple[str, str]:
        """The webhook label and the locale of the account's CSM."""
        csm = current.accounts[account_id].csm if account_id in current.accounts else None
        hook = settings.webhook_for(csm)
        return (hook.label if hook else NO_WEBHOOK), settings.locale_for(csm)

    for (account_id, alert), row in firing.items():
        episode = open_now.get((account_id, alert))
        if episode is not None and episode.alert_state not in ("pending", "failed", None):
            continue  # posted (or maybe posted) already
        label, locale = route(account_id)
        payload = alert_message(current.facts(account_id, alert, locale, row))
        if episode is None:
            out.fired.append((account_id, alert, str(row["severity"]), label, payload))
        else:
            out.refreshed.append((episode.id, KIND_ALERT, label, payload))
    for key, episode in open_now.items():
        account_id, alert = key
        if key in firing:
            continue
        if alert in current.specs and alert not in current.ran:
            continue  # could not run today: unknown whether it still fires
        out.cleared.append(episode.id)
        spec = current.specs.get(alert)
        if (
            settings.recovered
            and spec is not None
            and spec.severity in wanted
            and spec.severity != "info"
            and episode.alert_state in ("sent", "unconfirmed")
            and account_id in current.accounts
            and account_id not in problems
        ):
            label, locale = route(account_id)
            facts = current.facts(account_id, alert, locale)
            out.recovered.append((episode.id, label, recovered_message(facts, episode.fired_on)))
    return out


# -- post --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """A message of this run: would_post (dry run) | posted | failed | not_attempted |
    no_webhook | claimed_elsewhere | unconfirmed (found after a crash)."""

    message: Message
    result: str
    detail: str = ""


@dataclass
class NotifyReport:
    as_of: dt.date
    send: bool
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    released: int = 0

    @property
    def ok(self) -> bool:
        """Everything was delivered (or, in a dry run, could be)."""
        return all(o.result in DONE for o in self.outcomes)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)


def _order(m: Message) -> tuple[int, int, str, int]:
    severity = SEVERITIES.index(m.severity) if m.severity in SEVERITIES else len(SEVERITIES)
    return (m.kind != KIND_ALERT, severity, m.account_id, m.id)


def notify(
    ds: Dataset,
    inputs: AlertInputs,
    settings: NotifySettings,
    *,
    send: bool = False,
    as_of: dt.date | None = None,
    previous: str | Path | None = None,
    release: Sequence[tuple[str, str]] = (),
    lock_wait: float = 0.0,
    poster: SlackPoster | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> NotifyReport:
    """Post each new alert (and recovery) once; a dry run unless ``send``."""
    if release and not send:
        raise NotifyError("--release changes the notify state: use it with --send")
    hooks = {h.label: h for h in [settings.default, *settings.csm_webhooks.values()] if h}
    if send and not hooks:
        raise NotifyError(
            f"no Slack webhook: set {WEBHOOK_ENV} (or slack_webhook under [notify], "
            "or [notify.csm_webhooks])"
        )
    japanese = settings.locale == "ja" or "ja" in settings.csm_locales.values()
    current = current_alerts(
        ds,
        inputs,
        as_of=as_of,
        previous=previous,
        report_url=settings.report_url,
        japanese=japanese,
    )
    report = NotifyReport(as_of=current.as_of, send=send, skipped=current.skipped)
    if not send:
        state = open_notify_state(settings.state_file, read_only=True)
        try:
            state.record(plan(state, current, settings), current.as_of)
            for m in sorted(state.messages(), key=_order):
                if m.webhook in hooks:
                    report.outcomes.append(Outcome(m, "would_post"))
                else:
                    report.outcomes.append(Outcome(m, "no_webhook", _no_webhook(m.webhook)))
        finally:
            state.close()
        return report
    with NotifyLock(settings.state_file, wait=lock_wait):
        state = open_notify_state(settings.state_file)
        try:
            _send_run(state, current, settings, hooks, report, release, poster, sleep, clock)
        finally:
            state.close()
    return report


def _send_run(
    state: NotifyState,
    current: Current,
    settings: NotifySettings,
    hooks: dict[str, Webhook],
    report: NotifyReport,
    release: Sequence[tuple[str, str]],
    poster: SlackPoster | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    found = state.recover()
    for account_id, alert in release:
        released = state.release(account_id, alert)
        if not released:
            raise NotifyError(
                f"--release {account_id} {alert}: no unconfirmed message of that alert "
                "in the notify state"
            )
        report.released += released
    found = [m for m in found if m.state == "unconfirmed" and not _released(m, release)]
    report.outcomes += [Outcome(m, "unconfirmed", m.last_error or "") for m in found]
    run_id = state.start_run(current.as_of)
    state.record(plan(state, current, settings), current.as_of)
    poster = poster or SlackPoster(
        timeout=settings.timeout,
        max_retry_after=settings.max_retry_after,
        max_throttled=settings.max_throttled,
        sleep=sleep,
        secrets=settings.secrets(),
    )
    status = "failed"
    try:
        report.outcomes += _deliver(
            state, run_id, state.messages(), hooks, poster, settings, sleep, clock
        )
        status = "ok" if report.ok else "failed"
    finally:
        state.finish_run(
            run_id, status, report.count("posted"), len(report.outcomes) - report.count("posted")
        )
        poster.close()


def _released(m: Message, release: Sequence[tuple[str, str]]) -> bool:
    return (m.account_id, m.alert) in set(release)


def _deliver(
    state: NotifyState,
    run_id: int,
    messages: list[Message],
    hooks: dict[str, Webhook],
    poster: SlackPoster,
    settings: NotifySettings,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[Outcome]:
    outcomes = []
    stopped: dict[str, str] = {}  # webhook label -> why nothing more goes there this run
    last_post: dict[str, float] = {}
    for m in sorted(messages, key=_order):
        hook = hooks.get(m.webhook)
        if hook is None:
            outcomes.append(Outcome(m, "no_webhook", _no_webhook(m.webhook)))
            continue
        if m.webhook in stopped:
            outcomes.append(Outcome(m, "not_attempted", stopped[m.webhook]))
            continue
        if m.webhook in last_post:  # Slack: about one message a second per webhook
            wait = settings.min_interval - (clock() - last_post[m.webhook])
            if wait > 0:
                sleep(wait)
        if not state.claim(m.id, run_id):
            outcomes.append(Outcome(m, "claimed_elsewhere", "another run is posting it"))
            continue
        try:
            poster.post(hook, m.payload)
        except NotPosted as err:
            reason = scrub(err.reason, settings.secrets())
            state.mark_failed(m.id, reason)
            outcomes.append(Outcome(m, "failed", reason))
            if err.stop:
                stopped[m.webhook] = f"not attempted: {m.webhook} failed ({reason})"
        else:
            state.mark_sent(m.id)
            outcomes.append(Outcome(m, "posted"))
        last_post[m.webhook] = clock()
    return outcomes


def _no_webhook(label: str) -> str:
    if label == NO_WEBHOOK:
        return f"no webhook for this account's CSM and no default ({WEBHOOK_ENV})"
    return f"webhook {label} is no longer configured"
