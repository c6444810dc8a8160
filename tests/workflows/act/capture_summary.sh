# Sourced by every `bash` step under act (the harness sets BASH_ENV to this file): when the step ends, keep a copy
# of what it wrote to the job summary in $ACT_SUMMARY_DIR, because act empties that file before each step and
# deletes it with the job's workspace. Only the step's own shell keeps it: the bash processes the step starts (make
# recipes, scripts) inherit the guard below, so they do not save partial copies. Test harness only; GitHub keeps
# the summaries itself.
if [[ -n "${ACT_SUMMARY_DIR:-}" && -n "${GITHUB_STEP_SUMMARY:-}" && -z "${__ACT_SUMMARY_SHELL:-}" ]]; then
  export __ACT_SUMMARY_SHELL=$$
  __act_keep_summary() {
    if [[ -s "$GITHUB_STEP_SUMMARY" ]]; then
      mkdir -p "$ACT_SUMMARY_DIR"
      cp "$GITHUB_STEP_SUMMARY" "$ACT_SUMMARY_DIR/${GITHUB_JOB:-job}-$(date +%s%N).md"
    fi
  }
  trap __act_keep_summary EXIT
fi
