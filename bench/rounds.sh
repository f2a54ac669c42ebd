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

# A fresh bench pipeline on $PORT, its variables exported.
fresh() {
  stop
  : > "$env_file"
  "$examples/fake_gitlab" --port "$PORT" --scenario bench --tick-ms 3600000 > "$env_file" 2>/dev/null &
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
# extra rounds cost: rounds in which the pipeline's pages did not change since the round before
# (only their fingerprints are computed; none is scanned again). A round in which every page
# changed scans them all, as the selection's read does: `check 'unit 1??'` above is its cost.
reads_of() { grep -c "/pipelines/1000/jobs -> 200" "$1" | awk '{ print int($1 / 10) }'; }
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
  reads=$(reads_of "$rounds_log")
}
wait_rounds 6s
short=$count short_reads=$reads
wait_rounds 12s
long=$count long_reads=$reads
rm -f "$rounds_log"
[ "$long_reads" -gt "$short_reads" ] || { echo "rounds.sh: no more rounds in the longer wait" >&2; exit 1; }
steady=$(( (long - short) / (long_reads - short_reads) ))
peak_kib wait slow --interval 1s --timeout 6s
line "a wait round, pages unchanged (of $((long_reads - short_reads)) rounds)" "$steady" "$peak"
stop
