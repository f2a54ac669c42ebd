#!/usr/bin/env python3
"""Runs a command many times; prints one JSON line of medians: wall ms, CPU ms, peak RSS KiB.

usage: measure.py RUNS [--before URL] -- COMMAND ARG...

The command runs in a runner's environment: PATH, HOME, and the CI_* and GITLAB_TOKEN variables of
this process, nothing else. Timed runs spawn it directly (no wrapper process): wall time around the
process, CPU time (user + system) from wait4(), which for a shell pipeline covers every process the
shell waited for. Peak RSS comes from separate runs under GNU time (%M), since wait4() on a child
forked from Python reports Python's pre-exec memory; its floor is GNU time's own RSS. --before URL
is POSTed (the test server's /__reset) before each run, outside the timing.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RSS_RUNS = 5


def runner_env() -> dict:
    keep = {"PATH", "HOME", "GITLAB_TOKEN"}
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("CI_")}


def run(command, env, before):
    if before:
        urllib.request.urlopen(urllib.request.Request(before, method="POST")).read()
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{command[0]} ... exited {code}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def main() -> None:
    runs = int(sys.argv[1])
    args = sys.argv[2:]
    before = None
    if args[0] == "--before":
        before, args = args[1], args[2:]
    assert args[0] == "--", "usage: measure.py RUNS [--before URL] -- COMMAND ARG..."
    command = args[1:]
    env = runner_env()
    timed = [run(command, env, before) for _ in range(runs)]
    rss = []
    for _ in range(min(runs, RSS_RUNS)):
        with tempfile.NamedTemporaryFile("r") as report:
            run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], env, before)
            rss.append(int(report.read().split()[-1]))
    print(json.dumps({
        "runs": runs,
        "wall_ms": statistics.median(w for w, _ in timed),
        "cpu_ms": statistics.median(c for _, c in timed),
        "rss_kib": statistics.median(rss),
        "rss_max_kib": max(rss),
    }))


if __name__ == "__main__":
    main()
