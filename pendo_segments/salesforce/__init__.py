"""Account fields and Tasks in Salesforce from the health score, tiers and alerts.

``salesforce plan`` reads the Accounts' current values and lists only what
changes (and the Tasks new high alerts call for); ``salesforce apply`` writes
exactly that plan, once; ``salesforce check`` probes the org read-only.
Modules: :mod:`.settings` (``[salesforce]``), :mod:`.values` (what each Account
should hold), :mod:`.org` (the REST calls, through simple-salesforce),
:mod:`.plan`, :mod:`.apply`, :mod:`.state` (Tasks created, exactly once),
:mod:`.check`.

``simple-salesforce`` is the ``[salesforce]`` extra; it is imported only when
a command talks to Salesforce.
"""

from __future__ import annotations

from pendo_segments.salesforce.errors import SalesforceError
from pendo_segments.salesforce.settings import SalesforceSettings, load_salesforce_settings

__all__ = ["SalesforceError", "SalesforceSettings", "load_salesforce_settings"]
