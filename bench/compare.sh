#!/usr/bin/env bash
# gljob against what people use today, on one machine in one run, against the GitLab test server
# (examples/fake_gitlab.rs, scenario "bench": a 1,000-job pipeline, 50 jobs to wait on, a job whose
# log grows to 50 MB). Median of many runs; wall time, CPU time, peak RSS.
#
#   bench/compare.sh            # prints the table and writes bench/results.md
#
# It installs what it needs: curl, jq (Debian), python-gitlab (in a virtualenv under target/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive
PORT=${BENCH_PORT:-18181}
RUNS_FAST=${RUNS_FAST:-200}
RUNS_SLOW=${RUNS_SLOW:-20}

need=()
for tool in curl jq; do command -v "$tool" >/dev/null || need+=("$tool"); done
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi
venv=target/bench-venv
if [ ! -x "$venv/bin/gitlab" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q python-gitlab
fi

gljob=$(scripts/build-static)
cargo build --quiet --locked --release --example fake_gitlab
target/release/examples/fake_gitlab --port "$PORT" --scenario bench > target/bench.env 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s target/bench.env ] && break; sleep 0.1; done
eval "$(cat target/bench.env)"
export CI_API_V4_URL CI_PROJECT_ID CI_PIPELINE_ID CI_JOB_ID CI_JOB_TOKEN GITLAB_TOKEN
server_url="http://127.0.0.1:$PORT"
reset="$server_url/__reset"
pg=("$venv/bin/gitlab" --server-url "$server_url" --private-token "$GITLAB_TOKEN" --skip-login --per-page 100 -o json)
# Every tool runs in what a runner gives a job (bench/measure.py keeps PATH, HOME and the CI_* and
# GITLAB_TOKEN variables): this machine's SSL_CERT_FILE, proxies and the like do not weigh on any tool.
measure() { python3 bench/measure.py "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# What a CI script does today to list every page: follow X-Next-Page with curl, merge with jq.
cat > target/curl-list.sh <<'SH'
#!/bin/sh
page=1
while [ -n "$page" ]; do
  curl -sf -D target/curl-headers -H "JOB-TOKEN: $CI_JOB_TOKEN" \
    "$CI_API_V4_URL/projects/$CI_PROJECT_ID/pipelines/$CI_PIPELINE_ID/jobs?per_page=100&page=$page"
  page=$(tr -d '\r' < target/curl-headers | sed -n 's/^[Xx]-[Nn]ext-[Pp]age: *//p')
done | jq -s 'add | length' >/dev/null
SH
chmod +x target/curl-list.sh

echo "== the measuring floor: spawning true, and GNU time's own peak RSS" >&2
floor=$(measure "$RUNS_FAST" -- true)

echo "== single read: this job's pipeline id" >&2
read_gljob=$(measure "$RUNS_FAST" -- "$gljob" job --field pipeline.id)
read_curl=$(measure "$RUNS_FAST" -- sh -c 'curl -sf -H "JOB-TOKEN: $CI_JOB_TOKEN" "$CI_API_V4_URL/job" | jq -r .pipeline.id')
read_py=$(measure "$RUNS_SLOW" -- "${pg[@]}" project-job get --project-id "$CI_PROJECT_ID" --id "$CI_JOB_ID")

echo "== list the 1,000-job pipeline, all pages" >&2
list_gljob=$(measure "$RUNS_SLOW" --before "$reset" -- "$gljob" jobs --json)
list_curl=$(measure "$RUNS_SLOW" --before "$reset" -- target/curl-list.sh)
list_py=$(measure 5 --before "$reset" -- "${pg[@]}" project-pipeline-job list --project-id "$CI_PROJECT_ID" --pipeline-id "$CI_PIPELINE_ID" --get-all)

echo "== wait on 50 jobs of the 1,000-job pipeline" >&2
wait_runs=10
wait_gljob=$(measure "$wait_runs" --before "$reset" -- "$gljob" wait 'wait-*' --interval 200ms)
curl -sf -X POST "$reset" >/dev/null
"$gljob" wait 'wait-*' --interval 200ms 2>/dev/null
stats=$(curl -sf "$server_url/__stats")
reads=$(field "$stats" pipeline_list_reads)
pages=$(field "$stats" pipeline_list_pages)
requests=$(field "$stats" requests)
per_read=$((pages / reads))
cpu_per_read=$(python3 -c "print(round($(field "$wait_gljob" cpu_ms) / $reads, 2))")

echo "== trace --follow of a log that grows to 50 MB" >&2
trace_gljob=$(measure 3 --before "$reset" -- "$gljob" trace big-log --follow --interval 10ms)
small_trace=$(measure 3 --before "$reset" -- "$gljob" trace big-log)

ms() { python3 -c "print(f'{$(field "$1" wall_ms):.1f}')"; }
cpu() { python3 -c "print(f'{$(field "$1" cpu_ms):.1f}')"; }
mib() { python3 -c "print(f'{$(field "$1" rss_max_kib) / 1024:.1f}')"; }
ratio() { python3 -c "print(f'{$(field "$2" wall_ms) / $(field "$1" wall_ms):.1f}x')"; }

size=$(stat -c %s "$gljob")
{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores of $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(uname -sr);"
  echo "gljob $("$gljob" --version | cut -d' ' -f2), static musl, $size bytes; curl $(curl --version | head -n 1 | cut -d' ' -f2), $(jq --version), python-gitlab $("$venv/bin/gitlab" --version)."
  echo "Medians. Spawning \`true\` takes $(ms "$floor") ms wall and $(cpu "$floor") ms CPU here: the floor of every row. Peak RSS is the"
  echo "largest process of the run, measured by GNU time, whose own RSS ($(mib "$floor") MiB) is its floor."
  echo "Server: examples/fake_gitlab.rs (release build) on loopback; it serves every tool the same bytes."
  echo
  echo "| task | tool | wall ms | CPU ms | peak RSS MiB | gljob is faster by |"
  echo "|---|---|---|---|---|---|"
  echo "| read this job's pipeline id | gljob job --field pipeline.id | $(ms "$read_gljob") | $(cpu "$read_gljob") | $(mib "$read_gljob") | |"
  echo "| | curl \\| jq -r .pipeline.id | $(ms "$read_curl") | $(cpu "$read_curl") | $(mib "$read_curl") | $(ratio "$read_gljob" "$read_curl") |"
  echo "| | python-gitlab: project-job get (access token) | $(ms "$read_py") | $(cpu "$read_py") | $(mib "$read_py") | $(ratio "$read_gljob" "$read_py") |"
  echo "| list 1,000 jobs, all pages | gljob jobs --json | $(ms "$list_gljob") | $(cpu "$list_gljob") | $(mib "$list_gljob") | |"
  echo "| | curl loop on X-Next-Page \\| jq -s | $(ms "$list_curl") | $(cpu "$list_curl") | $(mib "$list_curl") | $(ratio "$list_gljob" "$list_curl") |"
  echo "| | python-gitlab: project-pipeline-job list --get-all | $(ms "$list_py") | $(cpu "$list_py") | $(mib "$list_py") | $(ratio "$list_gljob" "$list_py") |"
  echo "| wait on 50 of 1,000 jobs (3 list reads) | gljob wait 'wait-*' | $(ms "$wait_gljob") | $(cpu "$wait_gljob") | $(mib "$wait_gljob") | |"
  echo "| trace --follow, log grows to 50 MB | gljob trace big-log --follow | $(ms "$trace_gljob") | $(cpu "$trace_gljob") | $(mib "$trace_gljob") | |"
  echo "| trace of a short log, for comparison | gljob trace big-log (log empty) | $(ms "$small_trace") | $(cpu "$small_trace") | $(mib "$small_trace") | |"
  echo
  echo "Wait: $requests requests in all, $reads reads of the pipeline's job list (1 to resolve the selectors, then one per round),"
  echo "$per_read requests per read: the floor of ceil(1000/100) = 10 pages (the one request more in all is the bridges list, read"
  echo "once to resolve names because an access token was set); $cpu_per_read ms of CPU per read (the whole process's CPU over its reads)."
} | tee bench/results.md
