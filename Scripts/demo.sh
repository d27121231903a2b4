#!/usr/bin/env bash
# `make demo`: simulate a small recording of each kind, run every nfx command on it, print what it found.
# Usage: Scripts/demo.sh PATH/TO/nfx DEMO_FOLDER
set -euo pipefail
nfx=${1:-.build/release/nfx}
demo=${2:-.demo}
mkdir -p "$demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "ground truth for every analysis (nfx simulate)"
"$nfx" simulate matrix  -o "$demo/matrix.h5"  --force --units 200 --time 1000 --rank 6
"$nfx" simulate tensor  -o "$demo/tensor.h5"  --force --units 60 --time 100 --trials 40 --rank 4
"$nfx" simulate calcium -o "$demo/calcium.h5" --force --neurons 20 --frames 3000
"$nfx" simulate ephys   -o "$demo/ephys.h5"   --force --channels 4 --units 3 --duration 10 --firing-rate 10 --seed 2
"$nfx" simulate rnn     -o "$demo/rnn.h5"     --force --units 60 --rank 2
"$nfx" simulate ephys   -o "$demo/spikes.h5"  --force --channels 1 --units 3 --duration 10 --sampling-rate 10000 \
    --firing-rate 30 --noise 1 --amplitude 10 --waveform-duration 0.003

step "ensembles in the simulated recording (nfx factorize): the rank by cross-validation, then the planted factors"
"$nfx" factorize "$demo/matrix.h5" -o "$demo/matrix.factorize.h5" --force --ranks 3-9 --replicates 3
"$nfx" compare "$demo/matrix.factorize.h5" "$demo/matrix.h5" | tail -1
"$nfx" factorize "$demo/matrix.h5" -o "$demo/matrix.pca.h5" --force --method pca --rank 6

step "components across trials in the simulated tensor (nfx tca): an ensemble over ranks, then the planted factors"
"$nfx" tca "$demo/tensor.h5" -o "$demo/tensor.tca.h5" --force --ranks 2-6 --replicates 4
"$nfx" compare "$demo/tensor.tca.h5" "$demo/tensor.h5"

step "spike waveforms learned from the 1-channel recording (nfx cdl-train), matched to the planted ones"
"$nfx" cdl-train "$demo/spikes.h5" -o "$demo/spikes.cdl-train.h5" --force --filters 3 --filter-length 45
"$nfx" compare "$demo/spikes.cdl-train.h5" "$demo/spikes.h5"

step "spikes sorted from the 4-channel recording (nfx spikesort: units found from the data), scored as SpikeInterface does"
"$nfx" spikesort "$demo/ephys.h5" -o "$demo/ephys.spikesort.h5" --force
"$nfx" compare "$demo/ephys.spikesort.h5" "$demo/ephys.h5"

step "every fixed point of the simulated RNN (nfx fixedpoints), exact, then by random-restart search"
"$nfx" fixedpoints "$demo/rnn.h5" -o "$demo/rnn.fixedpoints.h5" --force
"$nfx" fixedpoints "$demo/rnn.h5" -o "$demo/rnn.search.h5" --force --method search --restarts 200 | head -1

step "spikes from the simulated calcium (nfx deconvolve), scored against the planted spikes (nfx compare)"
"$nfx" deconvolve "$demo/calcium.h5" -o "$demo/calcium.deconvolve.h5" --force --s-min 0.5
"$nfx" compare "$demo/calcium.deconvolve.h5" "$demo/calcium.h5" | tail -1

step "what a file holds (nfx info)"
"$nfx" info "$demo/tensor.h5"

step "the same, as one JSON line (nfx info --json), first 300 characters"
"$nfx" info "$demo/ephys.h5" --json | cut -c1-300

printf '\nDemo files are in %s/.\n' "$demo"
