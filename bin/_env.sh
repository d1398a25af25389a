# Shared by bin/run and bin/test: a virtual environment that matches requirements.txt.

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

ensure_venv() {
  # Arguments: extra requirement files beside requirements.txt (bin/test adds the
  # learned matcher's, which the app itself runs without).
  if [[ ! -x .venv/bin/python ]]; then
    echo "Creating the virtual environment in .venv"
    "$PYTHON" -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
  local files=(requirements.txt "$@")
  local stamp=".venv/.requirements.sha256"
  local want
  want="$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "Installing ${files[*]}"
    python -m pip install --quiet --upgrade pip
    local args=()
    for file in "${files[@]}"; do args+=(-r "$file"); done
    python -m pip install --quiet "${args[@]}"
    echo "$want" > "$stamp"
  fi
}

ensure_chromium() {
  # The browser tests drive Debian's Chromium; Playwright's own downloads do not work here.
  if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
      echo "Installing Chromium for the browser tests"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
    else
      echo "Chromium is missing: install Debian's 'chromium' package (the browser tests need /usr/bin/chromium)" >&2
    fi
  fi
}

port_open() {
  python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

run_url() {
  # The address to open for runserver's RUN_ADDRESS: "port", "host:port" or "[v6]:port".
  local address="${1:-127.0.0.1:8000}"
  if [[ "$address" =~ ^[0-9]+$ ]]; then
    address="127.0.0.1:$address"
  fi
  local host="${address%:*}" port="${address##*:}"
  case "$host" in
    0.0.0.0 | 0 | "[::]") echo "http://127.0.0.1:$port" ;;
    *) echo "http://$host:$port" ;;
  esac
}
