"""Exceptions raised for malformed input at the domain edge.

Refusals of well-formed commands are values (:class:`scheduling.rules.Refused`);
these exceptions are for input that cannot even be checked.
"""


class SchedulingInputError(ValueError):
    """A value given to the domain is malformed (naive datetime, bad range, …)."""


class NaiveDatetimeError(SchedulingInputError):
    """An instant was given without a time zone."""


class InvalidIntervalError(SchedulingInputError):
    """An interval ends before (or when) it starts, or a duration is not positive."""


class UnknownTimeZoneError(SchedulingInputError):
    """A time zone name is not a known IANA zone."""


class UnknownIdError(SchedulingInputError, KeyError):
    """A referenced record does not exist in the given state."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else "unknown id"


class RecurrenceError(SchedulingInputError):
    """An RRULE is outside the supported subset or yields too many occurrences."""
