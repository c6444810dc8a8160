"""The exception the CLI turns into one clear `error:` line and a non-zero exit."""


class UserFacingError(Exception):
    """An error caused by input the user controls (data, contract, files), with a message that says what to do."""


class DataError(UserFacingError):
    """A data file is missing or cannot be read as a CSV."""


class ContractError(UserFacingError):
    """The data contract is missing, unreadable or inconsistent."""
