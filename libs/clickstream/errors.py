"""Errors that map onto the documented exit codes."""


class UsageError(Exception):
    """Bad arguments, a bad profile, or an input path that matches nothing: exit 2."""

    exit_code = 2
