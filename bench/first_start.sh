#!/usr/bin/env bash
# First and second start of bin/run on a fresh clone, against a baseline commit measured
# in the same run:
#
#   bench/first_start.sh BASELINE_COMMIT [PORT]
#
# Each side is cloned into a temporary folder with an empty package cache (as on a new
# machine), started with RUN_ADDRESS, and timed until the home page answers, then until
# the demo is complete; then started a second time. Prints the phases (from bin/run's own
# lines), both sides' figures, their ratio, the load average and the size of .venv. Only
# the processes this script started are stopped (their process group).
set -euo pipefail
baseline="${1:?usage: bench/first_start.sh BASELINE_COMMIT [PORT]}"
port="${2:-8130}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

start_once() {
  # Arguments: the clone, its label, first|second. Prints "answer complete" seconds.
  local dest="$1" label="$2" mode="$3" started pgid log="$1.$3.log"
  started="$(now)"
  (
    cd "$dest"
    XDG_CACHE_HOME="$dest.cache" setsid bash -c 'echo $$ > "$0"; exec env -u DATABASE_URL \
      -u CELERY_BROKER_URL RUN_ADDRESS=127.0.0.1:'"$port"' bin/run' "$dest.pgid" 2>&1 |
      while IFS= read -r line; do printf '%6.1f %s\n' "$(since "$started")" "$line"; done
  ) >"$log" &
  local answered="" complete=""
  for _ in $(seq 1 2400); do
    if curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/"; then answered="$(since "$started")"; break; fi
    sleep 0.5
  done
  # A second start finds the demo complete: only its first answer is timed.
  for _ in $(seq 1 900); do
    [[ $mode == first ]] || break
    # bin/run before the background build had the demo complete when it answered.
    if grep -q "landscape is ready" "$log" || grep -q "^ *[0-9.]* Building the demo landscape\.\.\." "$log"; then
      complete="$(since "$started")"; break
    fi
    sleep 1
  done
  kill -- -"$(cat "$dest.pgid")" 2>/dev/null || true
  sleep 2
  {
    echo "== $label, $mode start (load $(cut -d' ' -f1-3 /proc/loadavg))"
    grep -v '"GET \|"POST ' "$log" | grep -v '^ *[0-9.]*   ' || true
  } >&2
  echo "$answered ${complete:-$answered}"
}

declare -A figures
for side in baseline current; do
  dest="$work/$side"
  git clone -q "$root" "$dest"
  if [[ $side == baseline ]]; then git -C "$dest" checkout -q "$baseline"; fi
  mkdir -p "$dest.cache"
  read -r answer complete < <(start_once "$dest" "$side" first)
  read -r answer2 _ < <(start_once "$dest" "$side" second)
  figures[$side]="$answer $complete $answer2 $(du -sm "$dest/.venv" | cut -f1)"
done

read -r b1 bc b2 bsize <<<"${figures[baseline]}"
read -r c1 cc c2 csize <<<"${figures[current]}"
ratio() { echo "scale=2; $2 / $1" | bc; }
printf '%-32s %10s %10s %8s\n' "" "baseline" "current" "ratio"
printf '%-32s %10.1f %10.1f %8s\n' "first start, first answer (s)" "$b1" "$c1" "$(ratio "$b1" "$c1")"
printf '%-32s %10.1f %10.1f %8s\n' "first start, demo complete (s)" "$bc" "$cc" "$(ratio "$bc" "$cc")"
printf '%-32s %10.1f %10.1f %8s\n' "second start, first answer (s)" "$b2" "$c2" "$(ratio "$b2" "$c2")"
printf '%-32s %10s %10s %8s\n' ".venv (MB)" "$bsize" "$csize" "$(ratio "$bsize" "$csize")"
