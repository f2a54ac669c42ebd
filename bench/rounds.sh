#!/usr/bin/env bash
# What gljob's reads cost, in instructions (valgrind's callgrind counts them; unlike times on a
# shared machine, they repeat from run to run) and in peak memory, and what a wait round asks of
# GitLab (requests and bytes, counted by the test server), against the GitLab test server's bench
# pipelines (1,000 jobs, 10 pages, about 2 MB of JSON).
#
#   bench/rounds.sh [GLJOB]      # default: the static release binary (scripts/build-static)
#
# Prints one line per measurement: what, instructions, peak RSS in KiB. Each measurement starts a
# fresh test server (the bench's timelines move with every read of the list, so the callgrind run
# and the peak-memory run see the same pipeline) and checks gljob's exit code: a figure of a run
# that failed (a list refused, a job missing) measures nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT=${BENCH_PORT:-18182}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

gljob=${1:-$(scripts/build-static)}
cargo build --quiet --locked --release --example fake_gitlab
examples=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples
env_file=$(mktemp)
server=
stop() { [ -z "$server" ] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }; server=; }
trap 'stop; rm -f "$env_file" callgrind.out.gljob.*' EXIT

# A fresh bench pipeline on $PORT (scenario $scenario), its variables exported.
scenario=bench
fresh() {
  stop
  : > "$env_file"
  "$examples/fake_gitlab" --port "$PORT" --scenario "$scenario" --tick-ms 3600000 > "$env_file" 2>/dev/null &
  server=$!
  for _ in $(seq 100); do [ -s "$env_file" ] && break; sleep 0.1; done
  eval "$(cat "$env_file")"
  export CI_API_V4_URL CI_PROJECT_ID CI_PIPELINE_ID CI_JOB_ID CI_JOB_TOKEN GITLAB_TOKEN
}

# Instructions of one run of `gljob ARGS` on a fresh pipeline, the whole process (start-up
# included), into $count; the run must exit `want`. (Not in a command substitution: the server
# started there would outlive the subshell that knows its pid.)
count=
instructions() {
  local want=$1; shift
  fresh
  rm -f callgrind.out.gljob.*
  local code=0
  valgrind --tool=callgrind --callgrind-out-file=callgrind.out.gljob.%p "$gljob" "$@" >/dev/null 2>&1 || code=$?
  if [ "$code" != "$want" ]; then
    echo "rounds.sh: gljob $* exited $code, not $want: no figure" >&2
    exit 1
  fi
  # awk reads to the end: exiting early would end callgrind_annotate with SIGPIPE (pipefail).
  count=$(callgrind_annotate callgrind.out.gljob.* 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
}
# Peak RSS in KiB of one run of `gljob ARGS` on a fresh pipeline, into $peak.
peak=
peak_kib() {
  fresh
  # (The exit code is the measured run's own, checked where instructions are counted.)
  peak=$(/usr/bin/time -f %M "$gljob" "$@" 2>&1 >/dev/null | tail -1) || true
}
line() { printf '%-62s %14s instructions %8s KiB peak\n' "$1" "$2" "$3"; }
measure() {
  local what=$1 want=$2; shift 2
  instructions "$want" "$@"
  peak_kib "$@"
  line "$what" "$count" "$peak"
}

measure "single read: gljob job --field pipeline.id" 0 job --field pipeline.id
measure "selection and verdict over 1,000 jobs: gljob check 'unit 1??'" 0 check 'unit 1??'
measure "all 1,000 jobs: gljob jobs --field id" 0 jobs --field id
measure "all 1,000 jobs as GitLab's JSON: gljob jobs --json" 0 jobs --json

# Wait rounds. In `bench-ten`, ten followed jobs (one on each of the 10 pages) run for ever: each
# round asks for the unfinished jobs only (one page of 11 jobs, gljob's own among them). In
# `bench-running` every job runs, so the unfinished jobs are all 1,000 (10 pages): the most a
# round can cost. Two waits that time out after different numbers of rounds; their difference is
# what the extra rounds cost. Rounds are counted by the test server (its /__stats log): every
# read of the list but the selection's starts with its page 1.
stats() { python3 -c '
import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1]))["log"]
lists = [r for r in log if r["path"].endswith("/pipelines/1000/jobs")]
reads = sum(1 for r in lists if "page=1" in r["query"].split("&"))
print(reads - 1, len(lists), sum(r["bytes"] or 0 for r in lists))
' "${CI_API_V4_URL%/api/v4}/__stats"; }
wait_rounds() {
  local timeout=$1; shift
  fresh
  rm -f callgrind.out.gljob.*
  local code=0
  valgrind --tool=callgrind --callgrind-out-file=callgrind.out.gljob.%p "$gljob" wait "$@" \
    --interval 1s --timeout "$timeout" >/dev/null 2>&1 || code=$?
  [ "$code" = 124 ] || { echo "rounds.sh: gljob wait exited $code, not 124: no figure" >&2; exit 1; }
  count=$(callgrind_annotate callgrind.out.gljob.* 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
  read -r rounds requests bytes < <(stats)
}
rounds() {
  local what=$1; shift
  wait_rounds 6s "$@"
  local short=$count short_rounds=$rounds short_requests=$requests short_bytes=$bytes
  wait_rounds 12s "$@"
  local extra=$((rounds - short_rounds))
  [ "$extra" -ge 2 ] || { echo "rounds.sh: no more rounds in the longer wait" >&2; exit 1; }
  peak_kib wait "$@" --interval 1s --timeout 6s
  line "$what (of $extra rounds)" "$(( (count - short) / extra ))" "$peak"
  printf '%-62s %14s requests %12s bytes a round\n' "" \
    "$(( (requests - short_requests) / extra ))" "$(( (bytes - short_bytes) / extra ))"
}
scenario=bench-ten
rounds "a wait round on 10 running jobs, one on each page" \
  'unit 50' 'unit 150' 'unit 250' 'unit 350' 'unit 450' 'unit 550' 'unit 650' 'unit 750' \
  'unit 850' 'unit 950'
scenario=bench-running
rounds "a wait round, every one of 1,000 jobs running" slow
stop
