"""The GitHub CLI fallback that posts the report: one comment per PR, found by CML's watermark, never duplicated.

`gh` is replaced by a stand-in on PATH that records its arguments and answers the comment listing from a file
(applying the script's own --jq filter with jq); it does not talk to GitHub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / ".github/scripts/post-report-comment.sh"
SHA = "0123456789abcdef0123456789abcdef01234567"
WATERMARK = f'![](https://cml.dev/watermark.png#{SHA} "CML watermark model-report")'

FAKE_GH = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$GH_LOG"
args=("$@")
for i in "${!args[@]}"; do
  if [[ "${args[$i]}" == "--jq" ]]; then jq -r "${args[$((i + 1))]}" "$GH_COMMENTS"; exit 0; fi
  if [[ "${args[$i]}" == body=@* ]]; then cp "${args[$i]#body=@}" "$GH_LOG.body"; fi
done
"""

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="needs jq (GitHub's runners have it)")


def post(tmp_path: Path, comments: list[dict], body: str | bytes, **env_overrides) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    comment = tmp_path / "comment.md"
    comment.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GH_LOG": str(tmp_path / "gh.log"),
        "GH_COMMENTS": str(tmp_path / "comments.json"),
        "GH_TOKEN": "test-token",
        "REPOSITORY": "octo/ml",
        "PR_NUMBER": "7",
        "HEAD_SHA": SHA,
        "WATERMARK_TITLE": "model-report",
        **env_overrides,
    }
    return subprocess.run(["bash", str(SCRIPT), str(tmp_path / "comment.md")], env=env, capture_output=True, text=True)


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "gh.log").read_text().splitlines()


def test_first_report_creates_a_comment_with_the_watermark(tmp_path: Path):
    result = post(tmp_path, [{"id": 1, "user": {"login": "someone"}, "body": "LGTM"}], "## my-project report\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "created the report comment on #7\n"
    assert re.fullmatch(r"api --silent -X POST repos/octo/ml/issues/7/comments -F body=@/\S+", calls(tmp_path)[-1])
    assert (tmp_path / "gh.log.body").read_text() == f"## my-project report\n\n\n{WATERMARK}\n"


def test_later_report_updates_the_bot_comment_carrying_the_watermark(tmp_path: Path):
    old_watermark = WATERMARK.replace(SHA, "f" * 40)  # an older push: the SHA differs, the title matches
    comments = [
        {"id": 10, "user": {"login": "someone"}, "body": f"quoting the bot: {old_watermark}"},
        {"id": 11, "user": {"login": "github-actions[bot]"}, "body": f"old report\n\n{old_watermark}"},
        {"id": 12, "user": {"login": "github-actions[bot]"}, "body": "another bot comment"},
    ]
    result = post(tmp_path, comments, "new report\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "updated the report comment 11 on #7\n"
    assert calls(tmp_path)[-1].startswith("api --silent -X PATCH repos/octo/ml/issues/comments/11 -F body=@")


def test_mentions_are_defused_and_long_reports_cut(tmp_path: Path):
    result = post(tmp_path, [], "ping @octocat " + "x" * 70000)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "gh.log.body").read_text()
    assert "@\u200boctocat" in body and "@octocat" not in body
    assert "_Report cut at 60000 characters: the whole of it is in the `pr-report` artifact._" in body
    assert len(body) < 60500


def test_a_pr_number_that_is_not_a_number_is_refused(tmp_path: Path):
    result = post(tmp_path, [], "report", PR_NUMBER="7; rm -rf /")
    assert result.returncode == 1
    assert result.stdout == "::error::PR number '7; rm -rf /' is not a number\n"
    assert not (tmp_path / "gh.log").exists()


def test_a_long_report_is_cut_at_a_character_boundary_not_inside_a_utf8_character(tmp_path: Path):
    # 59,999 ASCII characters, then 3-byte characters: a byte cut at 60,000 would split the first "€".
    result = post(tmp_path, [], "x" * 59999 + "€" * 100)
    assert result.returncode == 0, result.stderr
    raw = (tmp_path / "gh.log.body").read_bytes()
    body = raw.decode("utf-8")  # strict: fails on a split character
    assert body.startswith("x" * 59999 + "€\n\n_Report cut at 60000 characters: the whole of it is in the ")
    assert "\ufffd" not in body


def test_images_and_links_from_the_fork_become_plain_text(tmp_path: Path):
    fork_report = (
        "## Report\n"
        "![accuracy](https://evil.example/pixel.png?pr=7)\n"
        '[![badge](https://evil.example/b.svg)](https://evil.example/x "t")\n'
        "see [the docs](https://evil.example/phish) and [ref link][r]\n"
        "[r]: https://evil.example/ref\n"
        'raw <img src="https://evil.example/p.gif"> and <a href="https://evil.example/a">anchor</a>\n'
        "bare https://evil.example/bare and www.evil.example, ping @octocat\n"
        "| metric | value |\n|---|---|\n| accuracy | 0.97 |\n"
    )
    result = post(tmp_path, [], fork_report)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "gh.log.body").read_text()
    assert body == (
        "## Report\n"
        "accuracy\n"
        "badge\n"
        "see the docs and ref link\n"
        "raw  and anchor\n"
        "bare https\u200b://evil.example/bare and www\u200b.evil.example, ping @\u200boctocat\n"
        "| metric | value |\n|---|---|\n| accuracy | 0.97 |\n"
        f"\n\n{WATERMARK}\n"
    )


def test_bytes_that_are_not_utf8_are_replaced_not_passed_on(tmp_path: Path):
    result = post(tmp_path, [], b"ok \xff\xfe end\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gh.log.body").read_text(encoding="utf-8") == f"ok \ufffd\ufffd end\n\n\n{WATERMARK}\n"


def test_the_run_link_is_added_after_the_body_is_made_inert(tmp_path: Path):
    run_url = "https://github.com/octo/ml/actions/runs/42"
    result = post(tmp_path, [], "see [x](https://evil.example)\n", RUN_URL=run_url)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / "gh.log.body").read_text()
    assert body == f"see x\n\n\nThe full report: [the workflow run]({run_url}).\n\n{WATERMARK}\n"


def test_a_run_url_that_is_not_a_run_s_address_is_refused(tmp_path: Path):
    result = post(tmp_path, [], "report", RUN_URL="https://evil.example/phish")
    assert result.returncode == 1
    assert result.stdout == "::error::RUN_URL 'https://evil.example/phish' is not a workflow run's address\n"
    assert not (tmp_path / "gh.log").exists()
