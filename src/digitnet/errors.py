"""YOURS to replace: the exceptions the CLI turns into a single clear line and a non-zero exit."""

# One base class for both wings: a DataError raised by the template's CSV reader is a UserFacingError here too.
from mlci.errors import UserFacingError

__all__ = ["TrainingInterrupted", "UserFacingError"]


class TrainingInterrupted(Exception):
    """Training stopped on request (SIGTERM) after saving a checkpoint; the next run resumes from it."""

    def __init__(self, epochs_done: int) -> None:
        if epochs_done:
            message = f"stopped after epoch {epochs_done}; checkpoint saved, run again to resume"
        else:
            message = "stopped during epoch 1, before its checkpoint; run again to start over"
        super().__init__(message)
        self.epochs_done = epochs_done
