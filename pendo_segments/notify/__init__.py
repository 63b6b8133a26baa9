"""Alerts reach people: each new alert posted once to Slack (``alerts notify``).

``settings`` reads ``[notify]``; ``messages`` builds the Block Kit payloads;
``webhook`` posts one and says what Slack's answer means; ``state`` remembers
what was posted (SQLite); ``run`` puts them together.
"""

from __future__ import annotations

from pendo_segments.notify.run import NotifyReport, notify
from pendo_segments.notify.settings import NotifySettings, notify_settings

__all__ = ["NotifyReport", "NotifySettings", "notify", "notify_settings"]
