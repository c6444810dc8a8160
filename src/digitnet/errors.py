"""The one exception type the CLI turns into a single clear line and a non-zero exit."""


class UserFacingError(Exception):
    """An error caused by input the user controls (data, params, files), with a message that says what to do."""


class TrainingInterrupted(Exception):
    """Training stopped on request (SIGTERM) after saving a checkpoint; the next run resumes from it."""

    def __init__(self, epochs_done: int) -> None:
        super().__init__(f"stopped after epoch {epochs_done}; checkpoint saved, run again to resume")
        self.epochs_done = epochs_done
