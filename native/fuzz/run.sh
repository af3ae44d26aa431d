#!/usr/bin/env bash
# npm run fuzz -- --minutes N [--target NAME]... [--execs N]
#
# Builds spoor's fuzz targets with cargo-afl and runs each for N minutes (or until N executions with --execs,
# whichever comes first), one at a time, niced, then prints what each run did from afl's fuzzer_stats. Exits
# non-zero when a run saved a crash or a hang. docs/reliability.md says what the targets cover and what to do
# with a finding.
set -euo pipefail
cd "$(dirname "$0")"

all=(query json headers batch)
minutes=1
execs=
targets=()
usage="usage: npm run fuzz -- --minutes N [--target ${all[*]// /|}]... [--execs N]"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=${2:-}; shift 2 ;;
    --target) targets+=("${2:-}"); shift 2 ;;
    --execs) execs=${2:-}; shift 2 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -gt 0 ]] || { echo "--minutes takes a whole number above 0" >&2; exit 2; }
[[ -z "$execs" || "$execs" =~ ^[0-9]+$ ]] || { echo "--execs takes a whole number" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "unknown target '$t'; the targets are: ${all[*]}" >&2; exit 2; }
done

# cargo-afl brings its own AFL++ (afl-fuzz, afl-tmin and the instrumentation runtime), built once per Rust
# toolchain by `cargo afl config --build`.
if ! cargo afl --version >/dev/null 2>&1; then
  echo "cargo-afl is missing: install it with 'cargo install cargo-afl', then build its AFL++ with" \
    "'cargo afl config --build' (needs make and a C compiler: apt-get install -y build-essential)" >&2
  exit 1
fi
if ! cargo afl --version 2>/dev/null | grep -q 'AFL++ version [0-9]'; then
  echo "cargo-afl has no AFL++ built for this Rust toolchain: run 'cargo afl config --build'" \
    "(needs make and a C compiler: apt-get install -y build-essential)" >&2
  exit 1
fi

nice -n 19 cargo afl build --release --quiet

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
mkdir -p out/previous
rows=()
found=0
for t in "${targets[@]}"; do
  # Each run starts from the committed seeds; an earlier run's output is kept aside, findings and all.
  if [ -d "out/$t" ]; then
    mv "out/$t" "out/previous/$t-$(date -u +%Y%m%dT%H%M%SZ)"
  fi
  args=(-V $((minutes * 60)) -i "corpus/$t" -o "out/$t")
  [ -z "$execs" ] || args+=(-E "$execs")
  echo "fuzzing $t for ${minutes} min${execs:+ or $execs executions} (log: native/fuzz/out/$t.log)"
  nice -n 19 cargo afl fuzz "${args[@]}" "target/release/$t" >"out/$t.log" 2>&1 || {
    echo "afl-fuzz failed on $t; the end of its log:" >&2
    tail -n 15 "out/$t.log" >&2
    exit 1
  }
  stats="out/$t/default/fuzzer_stats"
  stat() { sed -nE "s/^$1 *: *//p" "$stats"; }
  rows+=("$(printf '%-8s %12s %10s %8s %8s %6s %8s' "$t" "$(stat execs_done)" "$(stat execs_per_sec)" \
    "$(stat corpus_count)" "$(stat saved_crashes)" "$(stat saved_hangs)" "$(stat run_time)")")
  if [ "$(stat saved_crashes)" != 0 ] || [ "$(stat saved_hangs)" != 0 ]; then
    found=1
  fi
done

printf '%-8s %12s %10s %8s %8s %6s %8s\n' target execs execs/s corpus crashes hangs seconds
printf '%s\n' "${rows[@]}"
if [ "$found" = 1 ]; then
  echo "findings are in native/fuzz/out/<target>/default/{crashes,hangs}: minimise each with" \
    "'cargo afl tmin -i FILE -o native/fuzz/regressions/<target>/NAME -- native/fuzz/target/release/<target>'," \
    "fix it, and add a unit test beside the parser" >&2
  exit 1
fi
