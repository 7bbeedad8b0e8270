#!/usr/bin/env bash
# Builds libFuzzer harnesses (swiftc -sanitize=fuzzer,address) for the MicroscopyIO readers
# (TIFF, PNG, NPY, DM3, DM4) and the safetensors loader, and runs each for SECONDS.
#
#   scripts/fuzz/run.sh [seconds-per-target] [target ...]     (default 60 s; targets:
#                                                              tiff png npy dm3 dm4 safetensors
#                                                              mrc ser ndata emd h5; the last five
#                                                              seeded from ../shared/fixtures/formats)
#
# Environment: IO_SRC=dir holding Sources/MicroscopyIO to fuzz (default: this checkout; e.g. an
#              export of a branch still landing reader fixes),
#              DM_SEEDS=dir with real .dm3/.dm4 files (default /work/shared/fixtures/dm; without
#              them the DM seeds are the small DM files made by seeds.py),
#              WORK=build/corpus dir (default .build/fuzz), JOBS (parallel libFuzzer jobs, default 1),
#              EXTRA=more libFuzzer flags (e.g. "-fork=2 -ignore_ooms=1 -ignore_crashes=1" to keep
#              going past a known finding).
# Findings (crash-*, leak-*, timeout-*, oom-*) land in $WORK/findings/<target>/; the summary
# (executions, time, findings per target) is printed at the end and written to $WORK/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_PER=${1:-60}; shift || true
TARGETS=${*:-tiff png npy dm3 dm4 safetensors}
IO_SRC=$(realpath "${IO_SRC:-$ROOT}")
SRC=$ROOT
WORK=$(realpath -m "${WORK:-$ROOT/.build/fuzz}")
DM_SEEDS=${DM_SEEDS:-/work/shared/fixtures/dm}
FORMAT_SEEDS=${FORMAT_SEEDS:-$ROOT/../shared/fixtures/formats}
PY=${PYTHON:-python3}
mkdir -p "$WORK/bin" "$WORK/obj"
# LeakSanitizer off: Foundation's Data(contentsOf:) keeps one 4 KiB buffer that it reports at
# exit (outside project code). Swift's own backtracer off: ASan/libFuzzer print the stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} SWIFT_BACKTRACE=enable=no
FLAGS=(-O -wmo -parse-as-library -sanitize=fuzzer,address -g)
BUILD_LOG="$WORK/build.log"   # ld.gold prints hundreds of harmless ASan symbol warnings

build_core() {  # Core is its own module (MicroscopyIO imports it), built once.
    [[ -f $WORK/obj/Core.o && $WORK/obj/Core.o -nt "$SRC/Sources/Core" ]] && return
    (cd "$WORK/obj" && swiftc "${FLAGS[@]}" -module-name Core -emit-module -emit-module-path "$WORK/obj/Core.swiftmodule" \
        -c -o "$WORK/obj/Core.o" $(find "$SRC/Sources/Core" -name '*.swift')) >>"$BUILD_LOG" 2>&1
}

build_reader() {  # $1 = target name, $2 = -D flag
    local out="$WORK/bin/fuzz-$1"
    [[ -x $out && $out -nt "$IO_SRC/Sources/MicroscopyIO" && $out -nt scripts/fuzz/ReaderHarness.swift ]] && return
    build_core
    echo "== building fuzz-$1"
    # Built inside $WORK/obj: swiftc leaves module files (MicroscopyIO-1.swiftmodule …) in its
    # working directory.
    (cd "$WORK/obj" && swiftc "${FLAGS[@]}" -D "$2" -module-name MicroscopyIO -I "$WORK/obj" \
        -I "$IO_SRC/Sources/CPNG" -I "$IO_SRC/Sources/CTIFF" -I "$IO_SRC/Sources/CHDF5" $(pkg-config --cflags-only-I hdf5-serial | sed 's/-I/-Xcc -I/g') \
        "$IO_SRC"/Sources/MicroscopyIO/*.swift "$ROOT/scripts/fuzz/ReaderHarness.swift" "$WORK/obj/Core.o" \
        -lpng16 -ltiff $(pkg-config --libs hdf5-serial) -o "$out") >>"$BUILD_LOG" 2>&1 || { grep -v '^/usr/bin/ld.gold: warning' "$BUILD_LOG" >&2; exit 1; }
}

build_safetensors() {
    local out="$WORK/bin/fuzz-safetensors"
    [[ -x $out && $out -nt "$SRC/Sources/Networks" && $out -nt scripts/fuzz/SafeTensorsHarness.swift ]] && return
    echo "== building fuzz-safetensors"
    # Tensors is its own module (Networks imports it); Networks is compiled with the harness.
    (cd "$WORK/obj" && swiftc "${FLAGS[@]}" -module-name Tensors -I "$SRC/Sources/CBLAS" \
        -emit-module -emit-module-path "$WORK/obj/Tensors.swiftmodule" \
        -c -o "$WORK/obj/Tensors.o" "$SRC"/Sources/Tensors/*.swift) >>"$BUILD_LOG" 2>&1
    (cd "$WORK/obj" && swiftc "${FLAGS[@]}" -module-name Networks -I "$WORK/obj" -I "$SRC/Sources/CBLAS" \
        "$SRC"/Sources/Networks/*.swift "$ROOT/scripts/fuzz/SafeTensorsHarness.swift" \
        "$WORK/obj/Tensors.o" -lopenblas -o "$out") >>"$BUILD_LOG" 2>&1 || { grep -v '^/usr/bin/ld.gold: warning' "$BUILD_LOG" >&2; exit 1; }
}

# Seeds: small valid files written by seeds.py (numpy/Pillow/tifffile/safetensors via
# /work/venv when present, else pure-Python fallbacks) plus the test fixtures.
make_seeds() {
    local t=$1 dir="$WORK/seeds/$t"
    mkdir -p "$dir"
    if [[ -n $(ls -A "$dir") ]]; then return; fi
    "$PY" scripts/fuzz/seeds.py "$t" "$dir"
    case $t in
        tiff) cp Tests/MicroscopyIOTests/Fixtures/*.tif "$dir"/ 2>/dev/null || true ;;
        png) cp Tests/MicroscopyIOTests/Fixtures/*.png "$dir"/ 2>/dev/null || true ;;
        npy) cp Tests/MicroscopyIOTests/Fixtures/*.npy "$dir"/ 2>/dev/null || true ;;
        dm3|dm4) for f in "$DM_SEEDS"/*."$t"; do [[ -f $f && $(stat -c %s "$f") -lt 200000 ]] && cp "$f" "$dir"/; done; true ;;
        mrc|ser|ndata|emd|h5) for f in "$FORMAT_SEEDS"/*/*."$t"; do [[ -f $f && $(stat -c %s "$f") -lt 262144 ]] && cp "$f" "$dir"/; done; true ;;
    esac
}

: > "$WORK/summary.txt"
for t in $TARGETS; do
    case $t in
        tiff) build_reader tiff FUZZ_TIFF ;; png) build_reader png FUZZ_PNG ;;
        npy) build_reader npy FUZZ_NPY ;; dm3) build_reader dm3 FUZZ_DM3 ;;
        dm4) build_reader dm4 FUZZ_DM4 ;; safetensors) build_safetensors ;;
        mrc) build_reader mrc FUZZ_MRC ;; ser) build_reader ser FUZZ_SER ;; ndata) build_reader ndata FUZZ_NDATA ;;
        emd) build_reader emd FUZZ_EMD ;; h5) build_reader h5 FUZZ_H5 ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    make_seeds "$t"
    corpus="$WORK/corpus/$t"; findings="$WORK/findings/$t"
    mkdir -p "$corpus" "$findings"
    echo "== fuzzing $t for ${SECONDS_PER}s"
    log="$WORK/$t.log"
    start=$(date +%s)
    set +e
    # Timeouts (10 s per input) and memory over 2 GiB count as findings.
    jobs=()
    [[ ${JOBS:-1} -gt 1 ]] && jobs=(-jobs="$JOBS" -workers="$JOBS")
    (cd "$findings" && "$WORK/bin/fuzz-$t" -max_total_time="$SECONDS_PER" -max_len=262144 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -timeout=10 -detect_leaks=0 -print_final_stats=1 "${jobs[@]}" ${EXTRA:-} \
        "$corpus" "$WORK/seeds/$t") > "$log" 2>&1
    rc=$?
    set -e
    secs=$(( $(date +%s) - start ))
    execs=$(grep -h "stat::number_of_executed_units" "$log" "$findings"/fuzz-*.log 2>/dev/null | awk "{s+=\$2} END {print s+0}" || true)
    # -fork mode prints no final stats; its last "#N: cov …" line holds the total.
    [[ $execs == 0 ]] && execs=$(grep -oE '^#[0-9]+: cov' "$log" | tail -1 | tr -dc '0-9' || true)
    nfind=$(ls "$findings" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
    line="$t: $execs executions in ${secs}s, exit $rc, findings: $nfind"
    echo "$line" | tee -a "$WORK/summary.txt"
    if [[ $nfind -gt 0 ]]; then ls "$findings" | grep -E '^(crash|leak|timeout|oom)-' | sed 's/^/    /' | tee -a "$WORK/summary.txt"; fi
done
echo "summary: $WORK/summary.txt"
