#!/usr/bin/env bash
# `make bench`: nfx against its Python peers on the same inputs, written to docs/benchmarks.md.
# Run from the repository root. Not part of `make test`: it takes minutes and its numbers depend on the machine.
# OPENBLAS_* variables are passed through untouched to nfx and numpy alike (they choose the BLAS kernel).
set -euo pipefail

VENV=.bench-venv
DATA=.bench-data
REQUIREMENTS=Scripts/bench/requirements.txt
NFX=.build/release/nfx
NFX_BENCH=.build/release/nfx-bench

# The venv is reused; pip runs only when requirements.txt changed since the last successful install.
setup_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "bench: creating $VENV"
        python3 -m venv "$VENV"
    fi
    if ! cmp -s "$REQUIREMENTS" "$VENV/installed-requirements.txt"; then
        echo "bench: installing the Python peers from PyPI ($REQUIREMENTS)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
        cp "$REQUIREMENTS" "$VENV/installed-requirements.txt"
    fi
}

# `make bench` has built everything already; a direct run of this script builds what is missing.
build_products() {
    [ -x "$NFX" ] || swift build -c release --static-swift-stdlib --product nfx
    [ -x "$NFX_BENCH" ] || swift build -c release --static-swift-stdlib --product nfx-bench
}

# Busy share of all cores over 2 s from /proc/stat: the load average would still count the build just done.
busy_percent() {
    local a b
    a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
    local busy=$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))
    local idle=$(( (b[4]+b[5]) - (a[4]+a[5]) ))
    echo $(( 100 * busy / (busy + idle > 0 ? busy + idle : 1) ))
}

check_load() {
    echo "bench: $(uptime)"
    local busy
    busy=$(busy_percent)
    if [ "$busy" -gt 25 ]; then
        echo "bench: warning: ${busy}% of the CPU is busy with other work; the timings will be slow and noisy." >&2
        echo "bench: warning: benchmark on a quiet machine (see docs/benchmarks.md notes)." >&2
    fi
}

setup_venv
build_products
mkdir -p "$DATA"
echo "bench: simulating $DATA/matrix.h5 (4000 × 5000)"
"$NFX" simulate matrix -o "$DATA/matrix.h5" --units 4000 --time 5000 --rank 20 --force --quiet
openblas_env=$(env | grep '^OPENBLAS_' | sort | tr '\n' ' ' || true)
echo "bench: OpenBLAS environment: ${openblas_env:-none set}"
check_load
"$VENV/bin/python" Scripts/bench/foundation.py --nfx-bench "$NFX_BENCH" --data "$DATA/matrix.h5" \
    --output docs/benchmarks.md
# Appends the "Fixed points" section to the document foundation.py just wrote (simulates its own networks).
echo "bench: fixed points"
"$VENV/bin/python" Scripts/bench/fixedpoints.py --nfx "$NFX" --data "$DATA" --output docs/benchmarks.md
# Appends the "Deconvolution" section (simulates its own calcium data; OASIS runs with OPENBLAS_NUM_THREADS=1).
echo "bench: deconvolution"
"$VENV/bin/python" Scripts/bench/deconvolve.py --nfx "$NFX" --data "$DATA" --output docs/benchmarks.md
# Appends the "Factorization" section (makes its own matrices; scikit-learn runs under threadpool_limits(2)).
echo "bench: factorization"
"$VENV/bin/python" Scripts/bench/factorize.py --nfx "$NFX" --nfx-bench "$NFX_BENCH" --data "$DATA" \
    --output docs/benchmarks.md
# Appends the "Tensor component analysis" section (makes its own tensors; tensortools and TensorLy run under
# threadpool_limits(2)).
echo "bench: tensor component analysis"
"$VENV/bin/python" Scripts/bench/tca.py --nfx "$NFX" --nfx-bench "$NFX_BENCH" --data "$DATA" \
    --output docs/benchmarks.md
# Appends the "Convolutional dictionary learning" section (simulates its own recordings; nfx, SPORCO and alphacsc all
# run on one thread).
echo "bench: convolutional dictionary learning"
"$VENV/bin/python" Scripts/bench/cdl.py --nfx "$NFX" --data "$DATA" --output docs/benchmarks.md
# Appends the "Spike sorting" section (simulates its own recordings, reads SpikeInterface's 4-channel ground truth from
# ../shared/data; nfx on all cores, SpyKING CIRCUS 2, Tridesclous 2 and MountainSort 5 through SpikeInterface in child
# processes with n_jobs=2 and a 600 s timeout each).
echo "bench: spike sorting"
"$VENV/bin/python" Scripts/bench/spikesort.py --nfx "$NFX" --data "$DATA" --output docs/benchmarks.md
