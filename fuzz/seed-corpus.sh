#!/usr/bin/env sh
# Seeds each target's corpus with the test fixtures, framed as the harness expects
# (see fuzz_targets/common.rs): a flags byte, an event index, then the body.
#   flags 0x1d = valid signature + delivery id + event header + application/json
#   flags 0x2d = the same, form-encoded (GitHub's `payload=` field)
set -eu
cd "$(dirname "$0")"
fixtures=../core/src/webhooks/fixtures

byte() { printf "\\$(printf '%03o' "$1")"; }

seed() { # target event-index fixture
    mkdir -p "corpus/$1"
    name=$(basename "$3" .json)
    { byte 29; byte "$2"; cat "$3"; } > "corpus/$1/seed-$name"
}

seed github 0 "$fixtures/github/issues_opened.json"
seed github 0 "$fixtures/github/issues_labeled.json"
seed github 1 "$fixtures/github/issue_comment_created.json"
seed github 1 "$fixtures/github/issue_comment_on_pull_request.json"
seed github 2 "$fixtures/github/pull_request_closed.json"
seed github 3 "$fixtures/github/pull_request_review_submitted.json"
seed github 4 "$fixtures/github/ping.json"
# The labeled fixture has no `&`, `%` or `+`, so it is a valid form value as is.
{ byte 45; byte 0; printf 'payload='; cat "$fixtures/github/issues_labeled.json"; } \
    > corpus/github/seed-form-issues_labeled

for f in "$fixtures"/linear/*.json; do seed linear 0 "$f"; done
for f in "$fixtures"/jira/*.json; do seed jira 0 "$f"; done

seed gitlab 0 "$fixtures/gitlab/issue_open.json"
seed gitlab 0 "$fixtures/gitlab/issue_update_labels.json"
seed gitlab 1 "$fixtures/gitlab/note_issue.json"
seed gitlab 2 "$fixtures/gitlab/merge_request_merge.json"
