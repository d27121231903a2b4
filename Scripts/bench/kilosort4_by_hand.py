"""Kilosort 4 on one recording, the way spikesort.py runs its peers: the by-hand trial behind the Kilosort note in
docs/benchmarks.md. Not run by `make bench`: kilosort and torch (6.1 GB with the CUDA wheels PyPI's torch pulls in)
are not in requirements.txt. To repeat it:

    python3 -m venv /tmp/ksvenv && /tmp/ksvenv/bin/pip install kilosort spikeinterface==0.105.3 h5py
    /tmp/ksvenv/bin/python Scripts/bench/kilosort4_by_hand.py RECORDING.h5

RECORDING.h5 holds `/data` (channels × samples), optionally `/channel_locations` (channels × 2, µm), and a root
attribute `sampling_rate` (default 30 kHz). Prints each call's seconds and unit count, or Kilosort's error.
"""

import shutil
import sys
import tempfile
import time
import warnings

import h5py
import numpy as np
import spikeinterface.core as si
from probeinterface import Probe
from spikeinterface.sorters import run_sorter


def main(path):
    with h5py.File(path, "r") as file:
        data = file["data"][()].astype(np.float32)
        locations = file["channel_locations"][()] if "channel_locations" in file else np.zeros((data.shape[0], 2))
        rate = float(file.attrs.get("sampling_rate", 30000.0))
    recording = si.NumpyRecording([np.ascontiguousarray(data.T)], sampling_frequency=rate)
    probe = Probe(ndim=2, si_units="um")
    probe.set_contacts(positions=locations, shapes="circle", shape_params={"radius": 5})
    probe.set_device_channel_indices(np.arange(data.shape[0]))
    recording.set_probe(probe)
    folder = tempfile.mkdtemp(prefix="kilosort4-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recording = recording.save(folder=f"{folder}/recording", format="binary")
            for call in range(2):
                start = time.perf_counter()
                sorting = run_sorter("kilosort4", recording, folder=f"{folder}/sorter{call}",
                                     remove_existing_folder=True, verbose=False, torch_device="cpu")
                print(f"call {call}: {time.perf_counter() - start:.1f} s, {len(sorting.unit_ids)} units", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
