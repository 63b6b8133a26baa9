"""One exception tree for everything a user can get wrong.

The CLI catches :class:`PendoSegmentsError` at a single boundary and prints
``Error: <message>`` on stderr with exit code 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class PendoSegmentsError(Exception):
    """Root of every user-facing error; ``str(err)`` is the one-line message."""

    exit_code: int = 1


class ConfigError(PendoSegmentsError):
    """Configuration (file or environment) is missing or invalid."""


class DefinitionError(PendoSegmentsError):
    """A segment / tier / health definition file is invalid.

    Carries every problem found (``problems``), each already formatted as
    ``FILE:LINE: message``, so one run reports all of them.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class CompileError(PendoSegmentsError):
    """A definition cannot be compiled to the requested target (strict mode)."""


class DataError(PendoSegmentsError):
    """Usage data (CSV / Parquet / API frames) is missing or malformed."""


class EvaluationError(PendoSegmentsError):
    """A segment cannot be evaluated on the given data (e.g. unknown segment)."""


class RenderError(PendoSegmentsError):
    """A guide template failed to render or its manifest is invalid."""


class PendoAPIError(PendoSegmentsError):
    """Pendo's API answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class SyncError(PendoSegmentsError):
    """A sync plan cannot be made or applied (e.g. stale plan)."""


class CampaignError(PendoSegmentsError):
    """The no-login campaign cannot run (state, lock, delivery)."""


class NotifyError(PendoSegmentsError):
    """Alert notifications cannot run (state, lock, webhook settings)."""
