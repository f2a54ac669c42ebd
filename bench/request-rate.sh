#!/usr/bin/env bash
# What one gate's rounds cost GitLab, counted by the GitLab test server itself: requests and bytes
# a round while nothing ends, against a read of every page, on a 1,000-job pipeline whose ten
# followed jobs (one on each page) run for ever (fake_gitlab's `bench-ten`).
#
#   bench/request-rate.sh [GLJOB]         # default: target/debug/gljob (cargo build)
#
# Prints `key=value` lines: the selection's pages and bytes (a read of every page), the rounds and
# what each cost, and the requests a minute of one gate at the default 5 s interval, gljob's and a
# gate's that reads every page each round. The rounds here are 300 ms apart so the run is short;
# what a round asks does not depend on the interval.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -ge 1 ]; then
  gljob=$1
else
  cargo build --quiet --locked
  gljob=target/debug/gljob
fi
cargo build --quiet --locked --example fake_gitlab
examples=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples
env_file=$(mktemp)
"$examples/fake_gitlab" --scenario bench-ten --tick-ms 3600000 > "$env_file" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -f "$env_file"' EXIT
for _ in $(seq 100); do [ -s "$env_file" ] && break; sleep 0.1; done
eval "$(cat "$env_file")"
export CI_API_V4_URL CI_PROJECT_ID CI_PIPELINE_ID CI_JOB_ID CI_JOB_TOKEN
unset GITLAB_TOKEN
code=0
env -i PATH="$PATH" CI_API_V4_URL="$CI_API_V4_URL" CI_PROJECT_ID="$CI_PROJECT_ID" \
  CI_PIPELINE_ID="$CI_PIPELINE_ID" CI_JOB_ID="$CI_JOB_ID" CI_JOB_TOKEN="$CI_JOB_TOKEN" \
  "$gljob" wait 'unit 50' 'unit 150' 'unit 250' 'unit 350' 'unit 450' 'unit 550' 'unit 650' \
  'unit 750' 'unit 850' 'unit 950' --interval 300ms --timeout 4s >/dev/null 2>&1 || code=$?
[ "$code" = 124 ] || { echo "request-rate.sh: gljob wait exited $code, not 124: no figure" >&2; exit 1; }
python3 - "${CI_API_V4_URL%/api/v4}/__stats" <<'PY'
import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1]))["log"]
lists = [r for r in log if r["path"].endswith("/pipelines/1000/jobs")]
def first_page(r):
    return "page=1" in r["query"].split("&")
# A read starts with its first page: the selection is the first read, every later one a round's.
starts = [i for i, r in enumerate(lists) if first_page(r)]
if len(starts) < 3:
    sys.exit("request-rate.sh: fewer than two rounds")
selection = lists[starts[0]:starts[1]]
# The last round may have been cut by the deadline: whole rounds only.
rounds = [lists[a:b] for a, b in zip(starts[1:], starts[2:])]
other = [r for r in log if r not in lists]
full_requests = len(selection)
full_bytes = sum(r["bytes"] or 0 for r in selection)
per_round = sum(len(r) for r in rounds) / len(rounds)
bytes_round = sum(sum(x["bytes"] or 0 for x in r) for r in rounds) / len(rounds)
per_minute = 60 / 5
print(f"full_read_requests={full_requests}")
print(f"full_read_bytes={full_bytes}")
print(f"rounds={len(rounds)}")
print(f"requests_per_round={per_round:g}")
print(f"bytes_per_round={bytes_round:.0f}")
print(f"bytes_per_round_percent_of_full_read={100 * bytes_round / full_bytes:.1f}")
print(f"other_requests={len(other)}")
print(f"gate_requests_per_minute={per_round * per_minute:g}")
print(f"every_page_requests_per_minute={full_requests * per_minute:g}")
print(f"gate_kib_per_minute={bytes_round * per_minute / 1024:.0f}")
print(f"every_page_kib_per_minute={full_bytes * per_minute / 1024:.0f}")
PY
