"""The one issue a scheduled job keeps while it fails: opened by the first failing run, updated by later ones (never a
second issue), closed with a comment by the next passing run. Also the self-test's issue body.

The issue is found by a hidden marker in its body (`<!-- mlci-issue: KEY -->`) among the open issues the workflow's
token opened, never by its title, so renaming it changes nothing and nobody else's issue is ever edited. GitHub is
reached through the `gh` CLI (`gh api`, which GitHub's runners have). Standard library only: the self-test's issue
job runs it with the runner's python3, whatever state the project's environment is in.

    python -m mlci.issues sync --key monitor --failing --title TITLE --body-file BODY.md [--run-url URL]
    python -m mlci.issues self-test-body --failed-step "fast tests" --log LOG --freeze FREEZE --lock LOCK ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- mlci-issue: {key} -->"
KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
DEFAULT_AUTHOR = "github-actions[bot]"  # who opens issues with a workflow's GITHUB_TOKEN
MAX_BODY = 60000  # GitHub refuses bodies over 65,536 characters
LOG_LINES = 80  # lines of the failed step's log the self-test issue shows
INSTALLERS = ("pip", "setuptools", "wheel")  # in every environment, never a dependency: not listed as moved


class IssueError(RuntimeError):
    """`gh` failed or answered something that is not what the issues API returns."""


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    author: str


def marker(key: str) -> str:
    """The hidden line that identifies the issue of one job (`key`: lowercase letters, numbers and dashes)."""
    if not KEY.match(key):
        raise ValueError(f"issue key {key!r}: use lowercase letters, numbers and dashes")
    return MARKER.format(key=key)


def with_marker(body: str, key: str) -> str:
    """The body cut to GitHub's size limit, with the marker as its last line."""
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY] + "\n\n_Cut at the size limit: the whole text is in the run's job summary._\n"
    return body.rstrip("\n") + f"\n\n{marker(key)}\n"


def json_values(text: str) -> list[Any]:
    """Every JSON value in `text`: `gh api --paginate` prints one array per page, one after another."""
    decoder, values, position = json.JSONDecoder(), [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return values
        value, position = decoder.raw_decode(text, position)
        values.append(value)


class GitHubIssues:
    """The issues of one repository, through `gh api` (GH_TOKEN from the environment)."""

    def __init__(
        self, repository: str, gh: str = "gh", run: Callable[..., subprocess.CompletedProcess] = subprocess.run
    ):
        if not REPOSITORY.match(repository):
            raise ValueError(f"repository {repository!r} is not OWNER/NAME")
        self.repository, self.gh, self.run = repository, gh, run

    def _api(self, method: str, endpoint: str, payload: dict | None = None, paginate: bool = False) -> list[Any]:
        command = [self.gh, "api", "-X", method, endpoint, *(["--paginate"] if paginate else [])]
        with tempfile.TemporaryDirectory() as folder:
            if payload is not None:
                path = Path(folder) / "payload.json"
                path.write_text(json.dumps(payload), encoding="utf-8")
                command += ["--input", str(path)]
            done = self.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise IssueError(f"`gh api -X {method} {endpoint}` failed ({done.returncode}): {done.stderr.strip()}")
        try:
            return json_values(done.stdout)
        except json.JSONDecodeError as error:
            raise IssueError(f"`gh api -X {method} {endpoint}` did not answer JSON: {error}") from None

    def open_issues(self, author: str | None) -> list[Issue]:
        """Open issues (not pull requests), oldest first; only those `author` opened when given (filtered here: the
        API's `creator` filter is not documented to take a bot's login)."""
        endpoint = f"repos/{self.repository}/issues?state=open&per_page=100"
        issues = []
        for page in self._api("GET", endpoint, paginate=True):
            for item in page if isinstance(page, list) else [page]:
                if "pull_request" in item:
                    continue
                login = (item.get("user") or {}).get("login", "")
                if author and login != author:
                    continue
                issues.append(Issue(int(item["number"]), item.get("title") or "", item.get("body") or "", login))
        return sorted(issues, key=lambda issue: issue.number)

    def create(self, title: str, body: str) -> int:
        (created,) = self._api("POST", f"repos/{self.repository}/issues", {"title": title, "body": body})
        return int(created["number"])

    def edit(self, number: int, title: str, body: str) -> None:
        self._api("PATCH", f"repos/{self.repository}/issues/{number}", {"title": title, "body": body})

    def comment(self, number: int, body: str) -> None:
        self._api("POST", f"repos/{self.repository}/issues/{number}/comments", {"body": body})

    def close(self, number: int, comment: str, reason: str = "completed") -> None:
        self.comment(number, comment)
        self._api("PATCH", f"repos/{self.repository}/issues/{number}", {"state": "closed", "state_reason": reason})


def find_issues(issues: Iterable[Issue], key: str, author: str | None) -> list[Issue]:
    """The issues carrying `key`'s marker (and opened by `author`, when given), oldest first."""
    line = marker(key)
    return [issue for issue in issues if line in issue.body and (not author or issue.author == author)]


def sync_issue(
    tracker: GitHubIssues,
    key: str,
    failing: bool,
    title: str,
    body: str,
    run_url: str | None = None,
    author: str | None = DEFAULT_AUTHOR,
) -> str:
    """Open, update or close the job's one issue; return what was done, in a sentence.

    Failing: the oldest open issue with the marker gets the new title and body and a comment (so its subscribers
    hear of it); with none, one is opened. Any other open issue with the marker (two runs racing) is closed as a
    duplicate of it. Passing: every open issue with the marker is closed with a comment.
    """
    found = find_issues(tracker.open_issues(author), key, author)
    run = f" ({run_url})" if run_url else ""
    if not failing:
        for issue in found:
            tracker.close(issue.number, f"The last run passed{run}: closing. A new failure opens a new issue.")
        return f"closed #{', #'.join(str(i.number) for i in found)}" if found else "nothing to close: no open issue"
    text = with_marker(body, key)
    if not found:
        return f"opened #{tracker.create(title, text)}"
    kept, *duplicates = found
    tracker.edit(kept.number, title, text)
    tracker.comment(kept.number, f"Still failing{run}: the description above is this run's result.")
    for duplicate in duplicates:
        tracker.close(duplicate.number, f"Duplicate of #{kept.number}.", reason="not_planned")
    return f"updated #{kept.number}"


# ------------------------------------------------------------------------------------------------------- self-test
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\#]+)")


def canonical(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions(lines: Iterable[str]) -> dict[str, str]:
    """`name==version` pins of a lock or of `pip freeze`, by canonical name (hash and comment lines skipped)."""
    pins = {}
    for line in lines:
        match = NAME.match(line.strip())
        if match:
            pins[canonical(match[1])] = match[2]
    return pins


def moved_packages(locked: dict[str, str], installed: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, locked version, installed version) of each package whose version differs from its lock, or that the
    locks do not hold ("" for locked), by name."""
    return [
        (name, locked.get(name, ""), version)
        for name, version in sorted(installed.items())
        if locked.get(name) != version
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def self_test_body(
    failed_step: str | None,
    moved: Sequence[tuple[str, str, str]],
    log_tail: str = "",
    run_url: str | None = None,
) -> str:
    """The self-test's issue body (and job summary): the first failure, its log's tail, the packages that moved."""
    if failed_step:
        lines = [
            "## Self-test: ⚠️ the newest versions the dependency ranges allow fail",
            "",
            f"First failure: **{_cell(failed_step)}**.",
        ]
    else:
        lines = ["## Self-test: ✅ the newest versions the dependency ranges allow pass", ""]
        lines.append("Every step that ran passed with the packages below at the versions installed.")
    lines += ["", f"### Packages that moved from the locks ({len(moved)})", ""]
    if moved:
        lines += ["| package | locked | installed |", "|:---|:---|:---|"]
        lines += [f"| `{_cell(n)}` | {_cell(old) or '(not locked)'} | {_cell(new)} |" for n, old, new in moved]
    else:
        lines.append("None: the environment is the locked set.")
    if failed_step and log_tail.strip():
        fence = "````" if "```" in log_tail else "```"
        lines += ["", f"<details><summary>Last lines of the {_cell(failed_step)} log</summary>", "", fence]
        lines += [log_tail.rstrip("\n"), fence, "", "</details>"]
    if failed_step:
        lines += [
            "",
            "What to do: reproduce with `make self-test` (a separate environment, .venv-newest), then either fix the "
            "code for the new release and refresh the locks (`make lock UPGRADE=1`), or exclude the release with an "
            "upper bound in pyproject.toml (your libraries; the template's are in requirements/template.in). This "
            "issue closes itself when the self-test passes again.",
        ]
    if run_url:
        lines += ["", f"Run: {run_url}"]
    return "\n".join(lines) + "\n"


def _tail(path: Path | None, lines: int = LOG_LINES) -> str:
    if path is None or not path.is_file():
        return ""
    text = path.read_bytes().decode("utf-8", errors="replace")
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # colour codes
    return "\n".join(text.splitlines()[-lines:])


# ------------------------------------------------------------------------------------------------------- command line
def _run_url(env: dict[str, str]) -> str | None:
    server, repository, run_id = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None


def cmd_sync(args: argparse.Namespace) -> int:
    repository = args.repository or os.environ.get("GITHUB_REPOSITORY", "")
    body = args.body_file.read_bytes().decode("utf-8", errors="replace") if args.body_file else ""
    tracker = GitHubIssues(repository, gh=args.gh)
    done = sync_issue(
        tracker, args.key, args.failing, args.title, body, args.run_url or _run_url(dict(os.environ)), args.author
    )
    print(f"{args.key} issue: {done}")
    return 0


def cmd_self_test_body(args: argparse.Namespace) -> int:
    locked: dict[str, str] = {}
    for lock in args.lock:
        locked.update(pinned_versions(lock.read_text(encoding="utf-8").splitlines()))
    freeze = args.freeze.read_text(encoding="utf-8").splitlines() if args.freeze and args.freeze.is_file() else []
    moved = [
        row
        for row in moved_packages(locked, pinned_versions(freeze))
        if row[0] not in {*INSTALLERS, *map(canonical, args.skip)}
    ]
    body = self_test_body(args.failed_step or None, moved, _tail(args.log), args.run_url or _run_url(dict(os.environ)))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(body, encoding="utf-8")
    else:
        sys.stdout.write(body)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlci.issues", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sync = commands.add_parser("sync", help="open, update or close the job's one issue")
    sync.add_argument("--key", required=True, help="which job's issue: lowercase letters, numbers, dashes")
    state = sync.add_mutually_exclusive_group(required=True)
    state.add_argument("--failing", dest="failing", action="store_true", help="open or update the issue")
    state.add_argument("--passing", dest="failing", action="store_false", help="close the issue, if open")
    sync.add_argument("--title", default="", help="the issue's title (failing)")
    sync.add_argument("--body-file", type=Path, default=None, help="the issue's body, Markdown (failing)")
    sync.add_argument("--repository", default="", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    sync.add_argument("--run-url", default="", help="link to this run (default: from the GITHUB_ variables)")
    sync.add_argument("--author", default=DEFAULT_AUTHOR, help="only issues this login opened ('' for any)")
    sync.add_argument("--gh", default="gh", help="the GitHub CLI")
    sync.set_defaults(run=cmd_sync)

    body = commands.add_parser("self-test-body", help="the self-test's issue body")
    body.add_argument("--failed-step", default="", help="the first step that failed ('' when all passed)")
    body.add_argument("--log", type=Path, default=None, help="that step's log (its tail is shown)")
    body.add_argument("--freeze", type=Path, default=None, help="`pip freeze` of the tested environment")
    body.add_argument("--lock", type=Path, action="append", default=[], help="a lock file (repeat for each)")
    body.add_argument("--skip", action="append", default=[], help="a package not to list (the project itself)")
    body.add_argument("--run-url", default="", help="link to this run (default: from the GITHUB_ variables)")
    body.add_argument("--out", type=Path, default=None, help="write here (default: print)")
    body.set_defaults(run=cmd_self_test_body)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sync" and args.failing and not (args.title and args.body_file):
        build_parser().error("--failing needs --title and --body-file")
    try:
        return args.run(args)
    except (IssueError, ValueError, OSError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
