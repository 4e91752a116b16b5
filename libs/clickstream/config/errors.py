"""Errors that map onto the documented exit codes."""


class UsageError(Exception):
    """Bad arguments, a bad profile, or an input path that matches nothing: exit 2."""

    exit_code = 2


class JobFailed(Exception):
    """A known way for a run to fail that one line explains (e.g. concurrent writers
    kept conflicting): exit 1 without a traceback. Nothing partial is left visible."""

    exit_code = 1
