#!/bin/sh
# A stand-in for the `claude` and `opencode` CLIs in tests: it ignores its arguments and
# replays a recorded transcript over real pipes.
#
#   REPLAY_TRANSCRIPT  the transcript (JSON lines) to print
#   REPLAY_MODE        claude: before each turn's part (up to and including a "result" line)
#                      read one input line from stdin; after the transcript, wait for stdin
#                      to close.
#                      opencode: read all of stdin first, then print the whole transcript.
#   REPLAY_EXIT        exit code at the end (default 0)
#   REPLAY_ENV_OUT     if set, write the environment (`env`) to this file first
#   REPLAY_INPUT_OUT   if set, append what was read from stdin to this file
#   REPLAY_ARGS_OUT    if set, append the arguments (one line per run) to this file
#
# Transcript lines `@sleep N` and `@exit N` sleep and exit instead of being printed.

exec 3<&0
if [ -n "$REPLAY_ENV_OUT" ]; then env > "$REPLAY_ENV_OUT"; fi
if [ -n "$REPLAY_ARGS_OUT" ]; then printf '%s\n' "$*" >> "$REPLAY_ARGS_OUT"; fi

got_input() {
    if [ -n "$REPLAY_INPUT_OUT" ]; then printf '%s\n' "$1" >> "$REPLAY_INPUT_OUT"; fi
}

if [ "$REPLAY_MODE" = opencode ]; then
    if [ -n "$REPLAY_INPUT_OUT" ]; then cat <&3 >> "$REPLAY_INPUT_OUT"; else cat <&3 > /dev/null; fi
fi

need_input=1
while IFS= read -r line || [ -n "$line" ]; do
    if [ "$REPLAY_MODE" = claude ] && [ "$need_input" = 1 ]; then
        IFS= read -r input <&3 || exit 0
        got_input "$input"
        need_input=0
    fi
    case "$line" in
        "@sleep "*) sleep "${line#@sleep }"; continue ;;
        "@exit "*) exit "${line#@exit }" ;;
    esac
    printf '%s\n' "$line"
    case "$line" in
        *'"type":"result"'*) need_input=1 ;;
    esac
done < "$REPLAY_TRANSCRIPT"

if [ "$REPLAY_MODE" = claude ]; then
    while IFS= read -r input <&3; do got_input "$input"; done
fi
exit "${REPLAY_EXIT:-0}"
