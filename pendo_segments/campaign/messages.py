"""The campaign's copy: the no-login email and the welcome-back guide, per visitor and language.

Both come from the guide templates (``guide_templates/guides.yaml``); the
visitor's ``language`` picks the locale (``ja-JP`` → ``ja``, else English).
A message is rendered once, when its outbox row is created, and stored with
a Message-ID derived from (campaign, visitor, lapse): a retry sends the very
same bytes under the very same Message-ID, so a mail server log or the
recipient's client can always tell a duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from pendo_segments.campaign.smtp import list_unsubscribe
from pendo_segments.errors import RenderError

if TYPE_CHECKING:
    from pendo_segments.campaign.eligibility import Candidate
    from pendo_segments.campaign.settings import NoLoginSettings
    from pendo_segments.campaign.smtp import SmtpSettings
    from pendo_segments.campaign.state import OutboxRow

#: 7bit: non-ASCII bodies go out base64 / quoted-printable, so no 8BITMIME is needed.
EMAIL_POLICY = policy.SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Rendered:
    """One visitor's copy: the email, and the welcome-back guide they are enrolled in."""

    locale: str
    subject: str
    text: str
    html: str
    guide_id: str
    guide_locale: str
    guide_title: str


def message_id(campaign: str, visitor_id: str, lapse_day: dt.date, domain: str) -> str:
    """``<no_login.<32 hex>@domain>`` — the same for every attempt of one lapse."""
    digest = hashlib.sha256(f"{campaign}\x1f{visitor_id}\x1f{lapse_day.isoformat()}".encode())
    return f"<{campaign}.{digest.hexdigest()[:32]}@{domain}>"


class Renderer:
    """Renders the campaign's two guides; checks up front that they exist and fit."""

    def __init__(self, settings: NoLoginSettings, as_of: dt.date) -> None:
        from pendo_segments.guides.manifest import load_manifest

        self.manifest = load_manifest(settings.templates)
        self.email = self.manifest.guide(settings.email_guide)
        self.in_app = self.manifest.guide(settings.in_app_guide)
        if self.email.pendo_type != "email":
            raise RenderError(
                f"{self.manifest.path}: guide '{self.email.id}' is a "
                f"{self.email.pendo_type}, not an email "
                "(campaign.no_login.email_guide)"
            )
        self.as_of = as_of

    def render(self, candidate: Candidate) -> Rendered:
        from pendo_segments.guides.render import render_guide

        context = candidate.context(self.as_of)
        try:
            mail = render_guide(self.manifest, self.email.id, None, context)
            guide = render_guide(self.manifest, self.in_app.id, None, context)
        except RenderError as err:
            raise RenderError(f"visitor {candidate.visitor_id}: {err}") from None
        return Rendered(
            locale=mail.locale,
            subject=mail.subject or mail.title,
            text=mail.text or "",
            html=mail.html or "",
            guide_id=guide.guide_id,
            guide_locale=guide.locale,
            guide_title=guide.title,
        )


def outbox_item(
    candidate: Candidate, rendered: Rendered, campaign: str, domain: str
) -> dict[str, Any]:
    """The outbox row of a new contact (see :meth:`State.enqueue`)."""
    return {
        "visitor_id": candidate.visitor_id,
        "lapse_day": candidate.lapse_day,
        "account_id": candidate.account_id,
        "email": candidate.email,
        "locale": rendered.locale,
        "tier": candidate.tier,
        "days_since_last_visit": candidate.days_since_last_visit,
        "segment": candidate.segment,
        "message_id": message_id(campaign, candidate.visitor_id, candidate.lapse_day, domain),
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "guide_id": rendered.guide_id,
        "guide_locale": rendered.guide_locale,
        "guide_title": rendered.guide_title,
    }


def build_email(
    row: OutboxRow, smtp: SmtpSettings, campaign: str, now: dt.datetime | None = None
) -> EmailMessage:
    """The MIME message of an outbox row: text + HTML alternatives, fixed Message-ID,
    and a ``List-Unsubscribe`` header (see :func:`~pendo_segments.campaign.smtp.list_unsubscribe`)."""
    msg = EmailMessage(policy=EMAIL_POLICY)
    msg["From"] = smtp.sender
    msg["To"] = row.email
    if smtp.reply_to:
        msg["Reply-To"] = smtp.reply_to
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["X-Pendo-Segments-Campaign"] = campaign
    unsubscribe, one_click = list_unsubscribe(smtp, row.email, row.visitor_id)
    msg["List-Unsubscribe"] = unsubscribe
    if one_click:
        msg["List-Unsubscribe-Post"] = one_click
    msg.set_content(row.body_text)
    msg.add_alternative(row.body_html, subtype="html")
    msg["Content-Language"] = row.locale  # after the body: set_content drops Content-* headers
    return msg
