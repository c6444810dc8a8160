#!/usr/bin/env bash
# Create or update the ONE report comment on a pull request with the GitHub CLI. The comment is found by CML's
# watermark (`![](https://cml.dev/watermark.png#SHA "CML watermark TITLE")`) among the comments of
# github-actions[bot], so CML and this script update the same comment whichever of them ran last.
#
# Usage: post-report-comment.sh BODY_FILE
# Env:   GH_TOKEN, REPOSITORY (owner/name), PR_NUMBER, HEAD_SHA, WATERMARK_TITLE; optional RUN_URL (the workflow
#        run's address, from GitHub's event: a link to it is added after the body is made inert)
# The body is untrusted text (a fork wrote it): it is only ever sent as the comment's body, and before that
#   - images (Markdown `![alt](url)` and HTML <img>/<picture>/<video>) are removed, keeping their alt text, so a
#     report cannot load a tracking pixel or show a picture of its own choosing in this repository's name;
#   - links become their text (`[text](url)`, reference definitions, <a href>), and bare URLs and @-mentions get a
#     zero-width space after `http`/`www`/`@`, so nothing in it is clickable and nobody is notified;
#   - it is cut to GitHub's size limit at a character boundary (never inside a multi-byte UTF-8 character).
set -euo pipefail

body_file="${1:?usage: post-report-comment.sh BODY_FILE}"
: "${GH_TOKEN:?}" "${REPOSITORY:?}" "${PR_NUMBER:?}" "${HEAD_SHA:?}" "${WATERMARK_TITLE:?}"
max_chars=60000 # GitHub refuses comments over 65,536 characters

[[ "$PR_NUMBER" =~ ^[0-9]+$ ]] || { echo "::error::PR number '$PR_NUMBER' is not a number"; exit 1; }
[[ "$HEAD_SHA" =~ ^[0-9a-f]{40}$ ]] || { echo "::error::head SHA '$HEAD_SHA' is not a commit SHA"; exit 1; }
[[ "$WATERMARK_TITLE" =~ ^[A-Za-z0-9-]+$ ]] || { echo "::error::watermark title must be letters, digits, dashes"; exit 1; }
[[ -f "$body_file" ]] || { echo "::error::report body $body_file not found"; exit 1; }
run_url="${RUN_URL:-}"
if [[ -n "$run_url" && ! "$run_url" =~ ^https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/actions/runs/[0-9]+(/attempts/[0-9]+)?$ ]]; then
  echo "::error::RUN_URL '$run_url' is not a workflow run's address"; exit 1
fi

watermark_label="CML watermark $WATERMARK_TITLE"
body="$(mktemp)"
{
  python3 - "$body_file" "$max_chars" <<'PYTHON'
import re
import sys

path, max_chars = sys.argv[1], int(sys.argv[2])
# Undecodable bytes become U+FFFD; from here on the text is characters, so the cut below cannot split one.
text = open(path, "rb").read().decode("utf-8", errors="replace")
ZWSP = "\u200b"
text = re.sub(r"<(img|picture|source|video|audio|iframe)\b[^>]*>|</(picture|video|audio|iframe)\s*>", "", text, flags=re.I)
text = re.sub(r"</?a\b[^>]*>", "", text, flags=re.I)
text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # image: its alt text
text = re.sub(r"!?\[([^\]]*)\]\[[^\]]*\]", r"\1", text)  # reference-style link or image: its text
text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # inline link: its text
text = re.sub(r"(?m)^ {0,3}\[[^\]]+\]:.*\n?", "", text)  # reference definitions
text = re.sub(r"(?i)\b(https?|ftp)(?=://)|\b(www)(?=\.)", lambda m: m.group(0) + ZWSP, text)  # bare URLs
text = re.sub(r"@(?=[A-Za-z0-9])", "@" + ZWSP, text)  # @-mentions
if len(text) > max_chars:
    text = text[:max_chars] + f"\n\n_Report cut at {max_chars} characters: the whole of it is in the `pr-report` artifact._\n"
sys.stdout.buffer.write(text.encode("utf-8"))  # whatever the runner's locale
PYTHON
  if [[ -n "$run_url" ]]; then printf '\n\nThe full report: [the workflow run](%s).' "$run_url"; fi
  printf '\n\n![](https://cml.dev/watermark.png#%s "%s")\n' "$HEAD_SHA" "$watermark_label"
} > "$body"

comment_id="$(
  gh api --paginate "repos/$REPOSITORY/issues/$PR_NUMBER/comments" \
    --jq ".[] | select(.user.login == \"github-actions[bot]\") | select(.body | contains(\"\\\"$watermark_label\\\")\")) | .id" |
    tail -n 1
)"
if [[ -n "$comment_id" ]]; then
  gh api --silent -X PATCH "repos/$REPOSITORY/issues/comments/$comment_id" -F "body=@$body"
  echo "updated the report comment $comment_id on #$PR_NUMBER"
else
  gh api --silent -X POST "repos/$REPOSITORY/issues/$PR_NUMBER/comments" -F "body=@$body"
  echo "created the report comment on #$PR_NUMBER"
fi
