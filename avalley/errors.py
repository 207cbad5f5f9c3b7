"""Every error the library raises on purpose, in one place, so that the runner can tell a
user's mistake (exit code 2, one paragraph) from a bug (a traceback)."""


class ParameterError(ValueError):
    """A user-supplied parameter or option is invalid; raised before any compute."""


class DatasetMissing(FileNotFoundError):
    """A dataset's files are not on disk and could not be obtained; the message says where
    to put them."""


class CheckFailed(AssertionError):
    """A `check` claim did not hold: the book's own method or a simulation is wrong."""


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class NotInCache(LookupError):
    """A run that may only read the training cache (the chapters of a paper-scale plan) asked
    for a network that is not in it: the plan did not list it."""
