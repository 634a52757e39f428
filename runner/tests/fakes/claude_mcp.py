"""A stand-in for `claude -p --output-format stream-json`: on its first user message it
calls the `tracker_comment` tool of the MCP server named in `--mcp-config` (as Claude Code
does for `mcp__baton__tracker_comment`), then reports a successful result. It writes its
argv to $FAKE_CLAUDE_SEEN so the test can check the flags."""
import json
import os
import sys
import urllib.request

argv = sys.argv[1:]
with open(os.environ["FAKE_CLAUDE_SEEN"], "w") as f:
    json.dump(argv, f)
config = json.load(open(argv[argv.index("--mcp-config") + 1]))
server = config["mcpServers"]["baton"]
session = None


def rpc(message):
    global session
    headers = dict(server["headers"])
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/json, text/event-stream"
    if session:
        headers["Mcp-Session-Id"] = session
    request = urllib.request.Request(
        server["url"], data=json.dumps(message).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        session = response.headers.get("Mcp-Session-Id") or session
        text = response.read().decode()
    for line in text.splitlines() + [text]:
        data = line[5:] if line.startswith("data:") else line
        try:
            value = json.loads(data)
        except ValueError:
            continue
        if isinstance(value, dict) and "id" in value:
            return value
    return None


def emit(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


emit({"type": "system", "subtype": "init", "session_id": "fake-mcp-session"})
for line in sys.stdin:
    if not line.strip():
        continue
    rpc({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "fake-claude", "version": "0"}}})
    rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
    answer = rpc({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "tracker_comment", "arguments": {"body": "hello from claude over MCP"}}})
    failed = answer is None or answer.get("result", {}).get("isError", True)
    emit({"type": "result", "subtype": "error_during_execution" if failed else "success",
          "is_error": failed, "result": json.dumps(answer),
          "session_id": "fake-mcp-session",
          "usage": {"input_tokens": 10, "output_tokens": 5}})
