#!/usr/bin/env bash
# A local AWS emulator (moto's server) for the tests of the AWS adapters.
#
#   eval "$(scripts/moto.sh start)"   # installs moto into .venv if needed, starts it,
#                                     # prints `export AWS_ENDPOINT_URL=http://127.0.0.1:PORT`
#   scripts/moto.sh stop              # stops it
#
# Both are idempotent: `start` on a running server prints the same export again.
# State lives in .moto/ (port, pid, server log), which git ignores.
set -euo pipefail

MOTO_VERSION="5.2.5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
state="$root/.moto"

log() { echo "moto.sh: $*" >&2; }

# `moto_server -H HOST -p PORT`, one request at a time. moto applies a TransactWriteItems
# item by item and undoes a cancelled one by restoring a copy of the whole table taken
# before it started; on moto's threaded server a concurrent request's committed writes are
# then lost (seen here: gapless-numbering and one-pro-forma races failed about one run in
# ten). Serialised, each request is atomic, as DynamoDB's transactions are.
#
# moto also keeps every model object it ever made (`instances_tracked`, for the dashboard
# and `/moto-api/data.json`): every version of every DynamoDB item, never freed. After the
# whole suite the server held 5.7 GB and one `data.json` took over ten minutes to encode,
# with every other test's request queued behind it. The tests read only SES's sent
# messages from `data.json`, so only SES's models are tracked.
SERIAL_MOTO_SERVER='
import sys, threading
from moto import server
from moto.core.common_models import BaseModel
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

def tracked_if_ses(cls, *args, **kwargs):
    instance = super(BaseModel, cls).__new__(cls)
    if cls.__module__.startswith("moto.ses."):
        cls.instances_tracked.append(instance)
    return instance

BaseModel.__new__ = staticmethod(tracked_if_ses)

lock = threading.Lock()
dispatch = DomainDispatcherApplication.__call__

def serial(self, environ, start_response):
    with lock:
        return dispatch(self, environ, start_response)

DomainDispatcherApplication.__call__ = serial
sys.argv[0] = "moto_server"
server.main(sys.argv[1:])
'


alive() {
    [[ -f "$state/pid" ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null
}

answers() {
    # Any HTTP answer means the server is up; moto serves its own API under /moto-api/.
    "$venv/bin/python" - "$1" <<'EOF'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
EOF
}

install() {
    if [[ ! -x "$venv/bin/python" ]]; then
        log "creating $venv"
        python3 -m venv "$venv"
    fi
    local have
    have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
    if [[ "$have" != "$MOTO_VERSION" || ! -x "$venv/bin/moto_server" ]]; then
        log "installing moto[server]==$MOTO_VERSION into $venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
}

start() {
    mkdir -p "$state"
    printf '*\n' >"$state/.gitignore"
    install
    if alive && answers "$(cat "$state/port")"; then
        echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$state/port")"
        return
    fi
    stop_server
    local port
    port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # setsid: the server outlives this script and the shell that ran it.
    setsid "$venv/bin/python" -c "$SERIAL_MOTO_SERVER" -H 127.0.0.1 -p "$port" \
        >"$state/server.log" 2>&1 </dev/null &
    echo $! >"$state/pid"
    echo "$port" >"$state/port"
    for _ in $(seq 1 150); do
        if answers "$port"; then
            log "moto $MOTO_VERSION listening on 127.0.0.1:$port (pid $(cat "$state/pid"))"
            echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$port"
            return
        fi
        if ! alive; then
            log "moto_server exited; its log:"
            cat "$state/server.log" >&2
            rm -f "$state/pid" "$state/port"
            exit 1
        fi
        sleep 0.2
    done
    log "moto_server did not answer on port $port within 30 s"
    stop_server
    exit 1
}

stop_server() {
    if alive; then
        local pid
        pid="$(cat "$state/pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "stopped moto (pid $pid)"
    fi
    rm -f "$state/pid" "$state/port"
}

case "${1:-}" in
    start) start ;;
    stop) stop_server ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
