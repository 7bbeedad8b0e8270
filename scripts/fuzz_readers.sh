#!/usr/bin/env bash
# Mutation fuzzing of the instrument-format readers (docs/RELIABILITY.md): COUNT variants
# (default 10^6) of one seed file per reader from ../shared/fixtures/formats, each run as its
# own process so that a crash names the reader and leaves its variant in $WORK to reproduce.
#   scripts/fuzz_readers.sh [COUNT] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}; seed=${2:-1}
fixtures=../shared/fixtures/formats
[ -d "$fixtures" ] || { echo "fuzz_readers: $fixtures absent"; exit 1; }
bin=.build/release/atomtrack
[ -x "$bin" ] || swift build -c release --product atomtrack
seeds=(
  "velox_emd/fei_example_tem_stack.emd"      # Velox EMD (HDF5)
  "berkeley_emd/example_signal.emd"          # Berkeley EMD (HDF5)
  "nion/synthetic_sequence_4x24x32.h5"       # Nion HDF5
  "nion/synthetic_sequence_4x24x32.ndata"    # Nion ndata (zip + NPY)
  "tia_ser/16x16x5_STEM_BF_DF_preview_1.ser" # TIA SER
  "mrc/20241021_00405_movie.mrc"             # MRC (DE movie)
  "tiff/synthetic_tyx.ome.tif"               # OME-TIFF metadata
)
status=0
for s in "${seeds[@]}"; do
  work=$(mktemp -d)
  # HDF5 seeds run isolated: libhdf5 itself can crash on a corrupt file (counted, not hidden).
  isolated=(); case "$s" in *.emd|*.h5) isolated=(--isolated);; esac
  if ! "$bin" bench fuzz-readers "$fixtures/$s" --count "$count" --seed "$seed" --work-dir "$work" "${isolated[@]}"; then
    echo "fuzz_readers: $s FAILED; the last variant is in $work"; status=1; continue
  fi
  rm -rf "$work"
done
exit $status
