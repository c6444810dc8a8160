"""The one exception type the CLI turns into a single clear line and a non-zero exit."""


class UserFacingError(Exception):
    """An error caused by input the user controls (data, params, files), with a message that says what to do."""
