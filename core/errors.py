"""Errors that carry a message meant for the person using the lab.

Bad parameters and bad input raise ``ValueError`` (scikit-learn's convention). A resource that
cannot be had here (a package that is not installed, a model or data set that needs internet)
raises ``ResourceUnavailable``. Both carry a message that says what was wrong and what to do, so
the app and the CLI show ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class ResourceUnavailable(RuntimeError):
    """A model, data set or package needed for a request is not available on this machine."""


USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, ResourceUnavailable, FileNotFoundError)
"""Exceptions whose message is shown to the user as it is."""


class Interrupted(Exception):
    """A long job was stopped by its callback; work already saved is kept."""
