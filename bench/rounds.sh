#!/usr/bin/env bash
# What one round of a wait costs gljob, in instructions (valgrind's callgrind counts them; unlike
# times on a shared machine, they repeat from run to run) and in peak memory, against the GitLab
# test server's "bench" pipeline (1,000 jobs, 10 pages, about 2 MB of JSON).
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

# Wait rounds, on `slow`, which runs for ever: two waits that time out after different numbers
# of rounds (counted from --verbose, ten page requests a read). Their difference is what the
# extra rounds cost. In the `bench` pipeline the pages do not change from round to round (only
# their jobs' fingerprints are computed; none is scanned again); in `bench-busy` every page holds
# a running job whose duration grows with every read, as GitLab's do, so every page changes in
# every round (that job is scanned again, the others on its page are recognised by their
# fingerprints); in `bench-running` every job runs so, and every job is scanned in every round:
# the most a round costs. A read of pages none of whose jobs was read before (the selection's)
# is `check 'unit 1??'` above, with the read that confirms its pass.
# Page requests, not whole reads: the wait that times out may be cut in the middle of a read, and
# the pages it read cost what they cost.
pages_of() { grep -c "/pipelines/1000/jobs -> 200" "$1"; }
rounds_log=$(mktemp)
wait_rounds() {
  local timeout=$1
  fresh
  rm -f callgrind.out.gljob.*
  local code=0
  valgrind --tool=callgrind --callgrind-out-file=callgrind.out.gljob.%p "$gljob" --verbose wait slow \
    --interval 1s --timeout "$timeout" >/dev/null 2>"$rounds_log" || code=$?
  [ "$code" = 124 ] || { echo "rounds.sh: gljob wait slow exited $code, not 124: no figure" >&2; exit 1; }
  count=$(callgrind_annotate callgrind.out.gljob.* 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
  pages=$(pages_of "$rounds_log")
}
rounds() {
  local what=$1
  wait_rounds 6s
  local short=$count short_pages=$pages
  wait_rounds 12s
  local long=$count long_pages=$pages
  [ "$long_pages" -ge "$((short_pages + 10))" ] || { echo "rounds.sh: no more rounds in the longer wait" >&2; exit 1; }
  # Ten page requests a round.
  local steady=$(( (long - short) * 10 / (long_pages - short_pages) ))
  peak_kib wait slow --interval 1s --timeout 6s
  line "$what (of $(( (long_pages - short_pages) / 10 )) rounds)" "$steady" "$peak"
}
rounds "a wait round, pages unchanged"
scenario=bench-busy
rounds "a wait round, every page changed"
scenario=bench-running
rounds "a wait round, every job changed"
rm -f "$rounds_log"
stop
