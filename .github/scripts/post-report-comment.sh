#!/usr/bin/env bash
# Create or update the ONE report comment on a pull request with the GitHub CLI. The comment is found by CML's
# watermark (`![](https://cml.dev/watermark.png#SHA "CML watermark TITLE")`) among the comments of
# github-actions[bot], so CML and this script update the same comment whichever of them ran last.
#
# Usage: post-report-comment.sh BODY_FILE
# Env:   GH_TOKEN, REPOSITORY (owner/name), PR_NUMBER, HEAD_SHA, WATERMARK_TITLE
# The body is treated as untrusted text: it is only ever sent as the comment's body, cut to GitHub's size limit,
# and @-mentions in it are defused so a report cannot notify people.
set -euo pipefail

body_file="${1:?usage: post-report-comment.sh BODY_FILE}"
: "${GH_TOKEN:?}" "${REPOSITORY:?}" "${PR_NUMBER:?}" "${HEAD_SHA:?}" "${WATERMARK_TITLE:?}"
max_chars=60000 # GitHub refuses comments over 65,536 characters

[[ "$PR_NUMBER" =~ ^[0-9]+$ ]] || { echo "::error::PR number '$PR_NUMBER' is not a number"; exit 1; }
[[ "$HEAD_SHA" =~ ^[0-9a-f]{40}$ ]] || { echo "::error::head SHA '$HEAD_SHA' is not a commit SHA"; exit 1; }
[[ "$WATERMARK_TITLE" =~ ^[A-Za-z0-9-]+$ ]] || { echo "::error::watermark title must be letters, digits, dashes"; exit 1; }
[[ -f "$body_file" ]] || { echo "::error::report body $body_file not found"; exit 1; }

watermark_label="CML watermark $WATERMARK_TITLE"
body="$(mktemp)"
{
  head -c "$max_chars" "$body_file" | sed -E 's/@([A-Za-z0-9])/@\xE2\x80\x8B\1/g'
  if [[ "$(wc -c < "$body_file")" -gt "$max_chars" ]]; then
    # shellcheck disable=SC2016 # the backticks are markdown, not a command
    printf '\n\n_Report cut at %d characters: the whole of it is in the `pr-report` artifact._\n' "$max_chars"
  fi
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
