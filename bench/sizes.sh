#!/usr/bin/env bash
# Size and start-up time of the two release binaries, built by scripts/build-static:
#   - size in bytes (what a FROM scratch image carries), and gzip -9 (roughly what is downloaded);
#   - start-up: `gljob --help` wall time with hyperfine (no shell in between, -N), x86_64 natively
#     and aarch64 under qemu-aarch64-static (user-mode emulation on this x86_64 machine: it times
#     qemu's translation as much as gljob, so it is no forecast for a real arm64 machine). Each beside
#     its floor: an empty static C program (`int main(void){return 0;}`) started the same way.
#
#   bench/sizes.sh            # prints a markdown section
#   bench/sizes.sh --append   # ... and appends it to bench/results.md
#
# It installs what it needs: hyperfine, qemu-user-static, gcc-aarch64-linux-gnu (Debian).
# bench/compare.sh rewrites bench/results.md whole: run this after it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive
RUNS=${RUNS:-300}

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v musl-gcc >/dev/null || need+=(musl-tools)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

x86=$(scripts/build-static)
arm=$(scripts/build-static --target aarch64-unknown-linux-musl)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The floors: the least a static program of each kind costs to start.
echo 'int main(void) { return 0; }' > "$work/empty.c"
musl-gcc -static -O2 -o "$work/empty-x86_64" "$work/empty.c"
aarch64-linux-gnu-gcc -static -O2 -o "$work/empty-aarch64" "$work/empty.c"

# Median and mean in ms of one command, from hyperfine's JSON.
time_ms() {
  local label=$1; shift
  hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$work/$label.json" --output=null "$@" >/dev/null 2>&1
  python3 - "$work/$label.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"{r['median'] * 1000:.2f} | {r['mean'] * 1000:.2f} | {r['stddev'] * 1000:.2f}")
PY
}

size_row() {
  local target=$1 bin=$2 bytes gz
  bytes=$(stat -c %s "$bin")
  gz=$(gzip -9 -c "$bin" | wc -c)
  printf '| %s | %s | %.2f | %s | %s |\n' "$target" "$bytes" "$(awk -v b="$bytes" 'BEGIN {print b / 1048576}')" "$gz" \
    "$(readelf -hW "$bin" | awk '/Type:/ {print $2}')"
}

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
  echo
  echo "## Two architectures: size and start-up (bench/sizes.sh)"
  echo
  echo "Measured $(date -u +%F) on $(nproc) cores of $cpu, Linux $(uname -r); gljob $(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1),"
  echo "$(rustc --version | cut -d' ' -f1-2), $(hyperfine --version), $(qemu-aarch64-static --version | head -n 1 | sed 's/ version / /')."
  echo
  echo "| target | bytes | MiB | gzip -9 bytes | ELF type |"
  echo "|---|---|---|---|---|"
  size_row x86_64-unknown-linux-musl "$x86"
  size_row aarch64-unknown-linux-musl "$arm"
  echo
  echo "Start-up, \`gljob --help\` to /dev/null, hyperfine -N, $RUNS runs after 20 warm-ups (ms):"
  echo
  echo "| what | how | median | mean | σ |"
  echo "|---|---|---|---|---|"
  echo "| gljob --help, x86_64 | native | $(time_ms x86 "$x86 --help") |"
  echo "| empty static C program, x86_64 (floor) | native | $(time_ms x86-floor "$work/empty-x86_64") |"
  echo "| gljob --help, aarch64 | qemu-aarch64-static | $(time_ms arm "qemu-aarch64-static $arm --help") |"
  echo "| empty static C program, aarch64 (floor) | qemu-aarch64-static | $(time_ms arm-floor "qemu-aarch64-static $work/empty-aarch64") |"
  echo
  echo "Both are static non-PIE executables (EXEC): rustc's aarch64 musl target links that way, and the"
  echo "x86_64 one is linked so by .cargo/config.toml (a static PIE is 58 KB larger; docs/static-build.md)."
  echo "Under qemu the time is mostly qemu's start and translation (compare its floor); no arm64 hardware"
  echo "was at hand, so this is no forecast for one."
} > "$work/section.md"

cat "$work/section.md"
if [ "${1:-}" = --append ]; then cat "$work/section.md" >> bench/results.md; fi
