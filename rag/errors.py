"""The one error type a user can cause and should see as a single clear line."""


class RagError(Exception):
    """A problem the user can fix (bad input, missing folder, unusable index).

    The CLI prints its message on one line and exits non-zero; the UI shows it
    as a polite reply. Anything else is a bug.
    """
