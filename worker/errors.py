"""The one error tree: every error caredrip raises on purpose descends from CaredripError."""

from __future__ import annotations


class CaredripError(Exception):
    """Raised for any failure caredrip itself signals."""


class ConfigError(CaredripError):
    """Raised when a setting is missing or malformed; the message names the setting."""


class ContentError(CaredripError):
    """Raised when a program or template is invalid; the message names the file and field."""


class RenderError(ContentError):
    """Raised when a template fails to render (unknown variable, syntax error)."""


class ValidationError(CaredripError):
    """Raised when enrollment input is invalid; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(CaredripError):
    """Raised when an enrollment, clinic or message does not exist (or is not yours)."""


class Conflict(CaredripError):
    """Raised when an action is not possible in the current state (an ended enrollment, a revoked clinic)."""


class ChannelError(CaredripError):
    """Raised by a channel when a provider call did not succeed."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason if code is None else f"{reason} ({code})")
        self.reason = reason
        self.code = code


class TransientChannelError(ChannelError):
    """Raised when the provider certainly did not take the message and a later try may work."""


class PermanentChannelError(ChannelError):
    """Raised when the provider refused the message for good (bad number, bad address)."""

    def __init__(self, reason: str, *, code: str | None = None, opt_out: bool = False) -> None:
        super().__init__(reason, code=code)
        self.opt_out = opt_out


class AmbiguousChannelError(ChannelError):
    """Raised when the provider may or may not have taken the message (read timeout, reset).

    The message goes to state `unknown`: re-sending could text a patient twice.
    """
