"""``[salesforce]`` settings: how to log in, which Account fields to write, who owns Tasks.

::

    [salesforce]
    # Log in with a session id (an OAuth access token) and the instance URL …
    # session_id = "..."                  # better: SALESFORCE_SESSION_ID
    # instance_url = "https://acme.my.salesforce.com"   # or SALESFORCE_INSTANCE_URL
    # … or with a username, password and security token (SOAP login)
    # username = "cs-ops@acme.com"        # or SALESFORCE_USERNAME
    # password = "..."                    # better: SALESFORCE_PASSWORD
    # security_token = "..."              # better: SALESFORCE_SECURITY_TOKEN
    domain = "login"                      # "test" for a sandbox, or your My Domain
    api_version = "59.0"
    bulk_threshold = 2000                 # more rows than this: Bulk API 2.0
    bulk_poll_interval = 5.0              # seconds between Bulk job status checks
    timeout = 60.0                        # seconds per request
    max_retries = 3                       # 5xx / dropped connections on reads and updates
    retry_backoff = 1.0                   # seconds, doubled on each retry
    state_file = "salesforce-state.sqlite"   # Tasks created (relative: beside this file)
    tasks = true                          # one Task per new high-severity alert
    task_due_days = 3                     # Task due date: as-of day + N (0: no due date)
    default_owner = ""                    # User Id for CSMs missing below ("" = skip them)

    [salesforce.fields]                   # Account field API names ("" = do not write)
    health_score = "Pendo_Health_Score__c"
    tier = "Pendo_Tier__c"
    last_login = "Pendo_Last_Login__c"
    feature_adoption = "Pendo_Feature_Adoption_Rate__c"
    sessions_30d = "Pendo_Session_Count_30d__c"
    nps = "Pendo_NPS_Score__c"
    at_risk = "Pendo_At_Risk__c"

    [salesforce.owners]                   # accounts.csv csm_owner -> Salesforce User Id
    "Jane Doe" = "0055e000001AbCdAAK"

The environment wins over the file (``SALESFORCE_SESSION_ID``, ``SALESFORCE_INSTANCE_URL``,
``SALESFORCE_USERNAME``, ``SALESFORCE_PASSWORD``, ``SALESFORCE_SECURITY_TOKEN``,
``SALESFORCE_DOMAIN``). The password, token and session id are held as
:class:`~pendo_segments.base.secret.Secret`: never printed, logged or written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BeforeValidator, ConfigDict

from pendo_segments.base.secret import Secret
from pendo_segments.base.settings import Section, Text, number, problem, read_section, whole
from pendo_segments.errors import ConfigError

SECTION = "salesforce"
DEFAULT_STATE_FILE = "salesforce-state.sqlite"
#: What each Account field holds -> its default API name (the seed's field list).
DEFAULT_FIELDS: dict[str, str] = {
    "health_score": "Pendo_Health_Score__c",
    "tier": "Pendo_Tier__c",
    "last_login": "Pendo_Last_Login__c",
    "feature_adoption": "Pendo_Feature_Adoption_Rate__c",
    "sessions_30d": "Pendo_Session_Count_30d__c",
    "nps": "Pendo_NPS_Score__c",
    "at_risk": "Pendo_At_Risk__c",
}
ENV = {
    "username": "SALESFORCE_USERNAME",
    "password": "SALESFORCE_PASSWORD",
    "security_token": "SALESFORCE_SECURITY_TOKEN",
    "domain": "SALESFORCE_DOMAIN",
    "session_id": "SALESFORCE_SESSION_ID",
    "instance_url": "SALESFORCE_INSTANCE_URL",
}
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_VERSION = re.compile(r"^\d{2,3}\.0$")


def _secret(value: Any) -> Secret | None:
    # Never echo the value: it is (or was meant to be) a password, token or session id.
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("contains a control character (e.g. a line break); copy it again")
    return Secret(text) if text else None


def _instance_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    text = value.strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(
            f"must be an https:// URL such as https://acme.my.salesforce.com, got {text!r} "
            "(the session id must not travel unencrypted)"
        )
    return text


def _api_version(value: Any) -> str:
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if not _VERSION.match(text):
        raise ValueError(f'must be an API version such as "59.0", got {value!r}')
    return text


def _api_name(value: Any) -> str:
    if not isinstance(value, str) or (value.strip() and not _API_NAME.match(value.strip())):
        raise ValueError(
            f'must be a field API name such as "Pendo_Tier__c" (or "" to skip it), got {value!r}'
        )
    return value.strip()


def _optional_id(value: Any) -> str:
    if not isinstance(value, str) or (value.strip() and not _RECORD_ID.match(value.strip())):
        raise ValueError(
            f"must be a Salesforce User Id (15 or 18 letters and digits), got {value!r}"
        )
    return value.strip()


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


SecretText = Annotated[Secret | None, BeforeValidator(_secret)]
ApiName = Annotated[str, BeforeValidator(_api_name)]


class SalesforceSection(Section):
    """The keys of ``[salesforce]`` (its sub-tables are read on their own)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    ENV: ClassVar[Mapping[str, str]] = ENV

    username: Text = ""
    password: SecretText = None
    security_token: SecretText = None
    domain: Text = "login"
    session_id: SecretText = None
    instance_url: Annotated[str, BeforeValidator(_instance_url)] = ""
    api_version: Annotated[str, BeforeValidator(_api_version)] = "59.0"
    bulk_threshold: Annotated[int, BeforeValidator(whole(1))] = 2000
    bulk_poll_interval: Annotated[float, BeforeValidator(number(minimum=0, maximum=3600))] = 5.0
    timeout: Annotated[float, BeforeValidator(number(above=0, maximum=3600))] = 60.0
    max_retries: Annotated[int, BeforeValidator(whole(0, 20))] = 3
    retry_backoff: Annotated[float, BeforeValidator(number(minimum=0, maximum=600))] = 1.0
    state_file: Text = DEFAULT_STATE_FILE
    lock_wait: Annotated[float, BeforeValidator(number(minimum=0, maximum=86400))] = 0.0
    tasks: Annotated[bool, BeforeValidator(_flag)] = True
    task_due_days: Annotated[int, BeforeValidator(whole(0, 365))] = 3
    default_owner: Annotated[str, BeforeValidator(_optional_id)] = ""


class FieldsSection(Section):
    """``[salesforce.fields]``: the API name of each Account field ("" = not written)."""

    health_score: ApiName = DEFAULT_FIELDS["health_score"]
    tier: ApiName = DEFAULT_FIELDS["tier"]
    last_login: ApiName = DEFAULT_FIELDS["last_login"]
    feature_adoption: ApiName = DEFAULT_FIELDS["feature_adoption"]
    sessions_30d: ApiName = DEFAULT_FIELDS["sessions_30d"]
    nps: ApiName = DEFAULT_FIELDS["nps"]
    at_risk: ApiName = DEFAULT_FIELDS["at_risk"]


@dataclass(frozen=True)
class Credentials:
    """One way to log in; ``kind`` is ``session`` or ``password``. Secrets stay wrapped."""

    kind: str
    instance_url: str = ""
    session_id: Secret | None = None
    username: str = ""
    password: Secret | None = None
    security_token: Secret | None = None
    domain: str = "login"

    def describe(self) -> str:
        """Where the login goes, for messages (never a secret)."""
        if self.kind == "session":
            return f"session id for {self.instance_url}"
        return f"user {self.username} at {self.domain}.salesforce.com"


@dataclass(frozen=True)
class SalesforceSettings:
    fields: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    owners: dict[str, str] = field(default_factory=dict)
    default_owner: str = ""
    api_version: str = "59.0"
    bulk_threshold: int = 2000
    bulk_poll_interval: float = 5.0
    timeout: float = 60.0
    max_retries: int = 3
    retry_backoff: float = 1.0
    state_file: Path = Path(DEFAULT_STATE_FILE)
    lock_wait: float = 0.0
    tasks: bool = True
    task_due_days: int = 3
    login: Credentials | None = None
    where: str = "pendo-segments.toml"
    missing: str = ""  # why there are no credentials (None login)

    def credentials(self) -> Credentials:
        """The login, or one line saying what to set."""
        if self.login is None:
            raise ConfigError(self.missing)
        return self.login

    def owner_for(self, csm: str | None) -> str:
        """The User Id that owns a Task for this CSM ("" when none is configured)."""
        return self.owners.get((csm or "").strip(), "") or self.default_owner


def load_salesforce_settings(
    config: Any, env: Mapping[str, str] | None = None
) -> SalesforceSettings:
    """``[salesforce]`` (+ ``.fields``, ``.owners``) of a :class:`~pendo_segments.config.Config`."""
    import os

    env = os.environ if env is None else env
    table = config.section(SECTION) if config is not None else {}
    where = str(config.path) if config is not None and config.path else "pendo-segments.toml"
    base = config.path.parent if config is not None and config.path else Path(".")
    subs = {}
    for name in ("fields", "owners"):
        sub = table.pop(name, {})
        if not isinstance(sub, dict):
            raise ConfigError(
                problem(where, SECTION, name, f"must be a table ([salesforce.{name}])")
            )
        subs[name] = sub
    section = read_section(SalesforceSection, table, where=where, section=SECTION, env=env)
    names = read_section(FieldsSection, subs["fields"], where=where, section=f"{SECTION}.fields")
    fields = {k: v for k, v in names.model_dump().items() if v}
    seen: dict[str, str] = {}
    for key, api in fields.items():
        if api.lower() in seen:
            raise ConfigError(
                problem(
                    where,
                    f"{SECTION}.fields",
                    key,
                    f"'{api}' is also the field of {seen[api.lower()]}",
                )
            )
        seen[api.lower()] = key
    owners = {}
    for csm, user in subs["owners"].items():
        try:
            owners[str(csm).strip()] = _optional_id(user)
        except ValueError as err:
            raise ConfigError(problem(where, f"{SECTION}.owners", f'"{csm}"', str(err))) from None
    login, missing = _login(section, where)
    return SalesforceSettings(
        fields=fields,
        owners=owners,
        default_owner=section.default_owner,
        api_version=section.api_version,
        bulk_threshold=section.bulk_threshold,
        bulk_poll_interval=section.bulk_poll_interval,
        timeout=section.timeout,
        max_retries=section.max_retries,
        retry_backoff=section.retry_backoff,
        state_file=base / section.state_file,
        lock_wait=section.lock_wait,
        tasks=section.tasks,
        task_due_days=section.task_due_days,
        login=login,
        where=where,
        missing=missing,
    )


def _login(section: SalesforceSection, where: str) -> tuple[Credentials | None, str]:
    """A session id wins over a username; a half-set login says what is missing."""
    if section.session_id or section.instance_url:
        if not section.session_id:
            return (
                None,
                f"{where}: [salesforce] has an instance_url but no session_id: set {ENV['session_id']}",
            )
        if not section.instance_url:
            return None, (
                f"{where}: [salesforce] has a session id but no instance_url: set "
                f"{ENV['instance_url']} (e.g. https://acme.my.salesforce.com)"
            )
        return Credentials(
            "session", instance_url=section.instance_url, session_id=section.session_id
        ), ""
    if section.username or section.password or section.security_token:
        lacking = [
            ENV[key]
            for key in ("username", "password", "security_token")
            if not getattr(section, key)
        ]
        if lacking:
            return None, (
                f"{where}: [salesforce] login is incomplete: set {' and '.join(lacking)} "
                "(or the same keys under [salesforce])"
            )
        return (
            Credentials(
                "password",
                username=section.username,
                password=section.password,
                security_token=section.security_token,
                domain=section.domain or "login",
            ),
            "",
        )
    return None, (
        f"no Salesforce login: set {ENV['session_id']} and {ENV['instance_url']}, or "
        f"{ENV['username']}, {ENV['password']} and {ENV['security_token']} (or the same keys "
        f"under [salesforce] in {where})"
    )
