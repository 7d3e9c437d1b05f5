"""User-facing errors.

Every error a user can cause with bad input is an :class:`ObliviateError`
(or a subclass). The CLI prints its message on one line and exits with code 2;
anything else is a bug and keeps its traceback.
"""


class ObliviateError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""


class DataError(ObliviateError):
    """A data file is missing, malformed, or does not match the expected shape."""


class ConfigError(ObliviateError):
    """A configuration value is invalid."""


class ModelSpecError(ObliviateError):
    """A model spec cannot be resolved to a model."""


class TrainingDiverged(ObliviateError):
    """The loss became NaN/inf or exploded; the run stopped before saving a broken model."""
