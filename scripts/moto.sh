#!/usr/bin/env bash
# Starts or stops a local moto server (DynamoDB + SQS emulator) for the tests.
#
#   scripts/moto.sh start   creates/reuses .venv/, starts moto_server on 127.0.0.1, prints the port
#   scripts/moto.sh stop    stops the server started by `start`
#   scripts/moto.sh port    prints the port of the running server
#
# State lives in target/moto.pid, target/moto.port and target/moto.log.
# MOTO_PORT picks the preferred port (default 4566; another free port is used if it is taken).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
state="$root/target"
pid_file="$state/moto.pid"
port_file="$state/moto.port"
log_file="$state/moto.log"
# One major version of moto; flask and flask-cors are what moto_server serves with.
requirement="moto[server,sqs,dynamodb]>=5.1,<6"
extra_packages=(flask flask-cors)

say() { printf 'moto.sh: %s\n' "$*" >&2; }

python_bin() {
  for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  say "python3 is required to run the AWS emulator (moto)"
  return 1
}

ensure_venv() {
  local stamp="$venv/.baton-moto-requirement"
  local wanted="$requirement ${extra_packages[*]}"
  if [[ -x "$venv/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    say "creating $venv"
    "$(python_bin)" -m venv "$venv"
  fi
  say "installing $wanted"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" "${extra_packages[@]}" >&2
  printf '%s' "$wanted" >"$stamp"
}

port_in_use() {
  "$venv/bin/python" - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)  # in use
finally:
    s.close()
sys.exit(1)
PY
}

free_port() {
  "$venv/bin/python" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

answers() {
  "$venv/bin/python" - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen("http://127.0.0.1:%s/moto-api/data.json" % sys.argv[1], timeout=1).read()
except Exception:
    sys.exit(1)
PY
}

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
  mkdir -p "$state"
  ensure_venv
  if running_pid >/dev/null && [[ -f "$port_file" ]] && answers "$(cat "$port_file")"; then
    say "already running on port $(cat "$port_file")"
    cat "$port_file"
    return 0
  fi
  local port="${MOTO_PORT:-4566}"
  if port_in_use "$port"; then
    port=$(free_port)
  fi
  # moto's conditional writes take no lock, and its server handles requests on threads. A
  # long GIL switch interval keeps each request's check-then-write from being interleaved
  # with another's (threads still switch whenever one blocks on I/O), so the tests' races
  # on one key exercise the adapters, not moto's thread scheduling.
  nohup "$venv/bin/python" -c 'import sys; sys.setswitchinterval(0.05); from moto.server import main; main(sys.argv[1:])' \
    -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 &
  local pid=$!
  echo "$pid" >"$pid_file"
  echo "$port" >"$port_file"
  # Bounded wait: about 30 s.
  for _ in $(seq 1 150); do
    if answers "$port"; then
      say "moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)') on 127.0.0.1:$port (pid $pid)"
      echo "$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "moto_server exited; its log ($log_file):"
      cat "$log_file" >&2
      rm -f "$pid_file" "$port_file"
      return 1
    fi
    sleep 0.2
  done
  say "moto_server did not answer on port $port within 30 s; log: $log_file"
  stop
  return 1
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file" "$port_file"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  port)
    running_pid >/dev/null && cat "$port_file"
    ;;
  *)
    echo "usage: $0 start|stop|port" >&2
    exit 2
    ;;
esac
