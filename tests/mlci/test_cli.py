"""`mlci.cli.main` called in-process (as tests and notebooks do) logs its command to stderr and leaves the root logger
as it found it: later code keeps its handlers (open) and its level."""

import io
import logging

import pandas as pd
import pytest

from mlci.cli import main


@pytest.fixture
def root_logger():
    """The root logger with a handler and a level of the caller's own; both are put back after the test."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    root.addHandler(logging.StreamHandler(stream))
    root.setLevel(logging.CRITICAL)
    yield root, stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize(
    "command, line",
    [
        (["schema", "infer", "table.csv", "--target", "kind", "--out", "schema.yaml"], "INFO mlci: contract drafted"),
        (["schema", "suite", "--contract", "missing.yaml"], "ERROR mlci: "),
    ],
    ids=["succeeds", "fails"],
)
def test_main_logs_to_stderr_then_restores_the_root_loggers_handlers_and_level(
    command, line, root_logger, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"id": range(20), "x": [i / 7 for i in range(20)], "kind": ["a", "b"] * 10}).to_csv(
        "table.csv", index=False
    )
    root, stream = root_logger
    handlers, level = root.handlers[:], root.level
    chatter_level = logging.getLogger("great_expectations").level

    main(command)

    assert line in capsys.readouterr().err
    assert root.handlers == handlers and root.level == level
    assert not stream.closed and stream.getvalue() == ""  # set aside during the command, not closed or written to
    assert logging.getLogger("great_expectations").level == chatter_level
