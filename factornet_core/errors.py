"""The one exception type for problems a user can fix (bad input, mismatched files)."""


class FactorNetError(Exception):
    """A user-facing error: the message says what is wrong, where, and how to fix it.

    The CLI prints ``factornet <sub>: error: <message>`` and exits with status 2; any other
    exception is a bug and keeps its traceback.
    """
