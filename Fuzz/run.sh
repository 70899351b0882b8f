#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ and runs each for a bounded time.
#
#   Fuzz/run.sh [SECONDS] [TARGET...]     (default: 60 seconds, every target)
#   FUZZ_CONFIGURATION=release Fuzz/run.sh 600   (optimised: about ten times the executions per second, for long
#                                                 runs; Swift's bounds, overflow and precondition checks stay on)
#
# Each target starts from a copy of its seed corpus in Fuzz/Corpus/<target>/ (the copy is thrown away, so runs never
# change the repository). Crashing inputs are kept in .build-fuzz/artifacts/<target>/; the script prints their paths
# and exits non-zero if any target crashed or broke an invariant. libFuzzer's output goes to
# .build-fuzz/logs/<target>.log. Reproduce a crash with: .build-fuzz/<debug|release>/<target> <crash-file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
all=(FuzzLineDecoder FuzzCommand FuzzHostPort FuzzReplyParser FuzzListing FuzzVirtualPath FuzzArguments FuzzASCII
    FuzzNetRC)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

scratch=.build-fuzz
# -sanitize=fuzzer adds libFuzzer and its coverage instrumentation, -sanitize=address catches memory errors.
# lld, shipped with the toolchain: gold warns about every ASan symbol it cannot export.
configuration="${FUZZ_CONFIGURATION:-debug}"
flags=(-c "$configuration" --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)

started=$(date +%s)
if [ ${#targets[@]} -eq ${#all[@]} ]; then
    swift build --package-path Fuzz "${flags[@]}"
else
    for target in "${targets[@]}"; do swift build --package-path Fuzz "${flags[@]}" --product "$target"; done
fi
echo "fuzz: built ($configuration) in $(($(date +%s) - started)) s"

bin="$(swift build --package-path Fuzz "${flags[@]}" --show-bin-path)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$scratch/logs"

failed=0
summary=()
for target in "${targets[@]}"; do
    artifacts="$scratch/artifacts/$target"
    log="$scratch/logs/$target.log"
    mkdir -p "$artifacts" "$work/$target"
    cp -R "Fuzz/Corpus/$target/." "$work/$target/" 2>/dev/null || true
    before=$(find "$artifacts" -type f | wc -l)
    touch "$work/$target.start"
    # SWIFT_BACKTRACE=enable=no: Swift's crash backtracer reads the stack in a way ASan reports as an error of its
    # own, which would hide the real failure; libFuzzer prints the stack and saves the input instead.
    # -timeout: one input taking 10 s is a hang, reported like a crash. -rss_limit_mb: memory growth is a failure.
    # `timeout` is a second bound in case libFuzzer itself cannot stop.
    status=0
    SWIFT_BACKTRACE=enable=no timeout --kill-after=10 $((seconds + 120)) \
        "$bin/$target" "$work/$target" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$status" -ne 0 ] || [ "$(find "$artifacts" -type f | wc -l)" -ne "$before" ]; then
        failed=1
        summary+=("$(printf '%-16s %6s s %12s runs  FAILED (exit %s)' "$target" "$seconds" "${runs:-?}" "$status")")
        echo "fuzz: $target FAILED; the end of $log:"
        tail -n 40 "$log"
        find "$artifacts" -type f -newer "$work/$target.start" -printf 'fuzz: crashing input: %p\n'
    else
        summary+=("$(printf '%-16s %6s s %12s runs  no crash' "$target" "$seconds" "${runs:-?}")")
    fi
done

printf '%s\n' "${summary[@]}"
echo "fuzz: finished in $(($(date +%s) - started)) s"
exit "$failed"
