#!/usr/bin/env bash
# What one round of a wait costs gljob, in instructions (valgrind's callgrind counts them; unlike
# times on a shared machine, they repeat from run to run) and in peak memory, against the GitLab
# test server's "bench" pipeline (1,000 jobs, 10 pages, about 2 MB of JSON).
#
#   bench/rounds.sh [GLJOB]      # default: the static release binary (scripts/build-static)
#
# Prints one line per measurement: what, instructions, peak RSS in KiB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT=${BENCH_PORT:-18182}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

gljob=${1:-$(scripts/build-static)}
cargo build --quiet --locked --release --example fake_gitlab
examples=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples
env_file=$(mktemp)
"$examples/fake_gitlab" --port "$PORT" --scenario bench --tick-ms 3600000 > "$env_file" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$env_file" callgrind.out.gljob.*' EXIT
for _ in $(seq 100); do [ -s "$env_file" ] && break; sleep 0.1; done
eval "$(cat "$env_file")"
export CI_API_V4_URL CI_PROJECT_ID CI_PIPELINE_ID CI_JOB_ID CI_JOB_TOKEN GITLAB_TOKEN

# Instructions of one run of `gljob ARGS`, the whole process (start-up included).
instructions() {
  rm -f callgrind.out.gljob.*
  valgrind --tool=callgrind --callgrind-out-file=callgrind.out.gljob.%p "$gljob" "$@" >/dev/null 2>&1 || true
  callgrind_annotate callgrind.out.gljob.* 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}
peak_kib() {
  /usr/bin/time -f %M "$gljob" "$@" 2>&1 >/dev/null | tail -1
}
measure() {
  local what=$1; shift
  printf '%-58s %14s instructions %8s KiB peak\n' "$what" "$(instructions "$@")" "$(peak_kib "$@")"
}

measure "single read: gljob job --field pipeline.id" job --field pipeline.id
measure "one round over 1,000 jobs: gljob check 'unit 1??'" check 'unit 1??'
measure "all 1,000 jobs: gljob jobs --field id" jobs --field id
measure "all 1,000 jobs as GitLab's JSON: gljob jobs --json" jobs --json
