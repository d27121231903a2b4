"""OASIS (PyPI `oasis-deconv`) on every row of a neurons × frames dataset: the `make bench` peer of `nfx deconvolve`.

Run by deconvolve.py in its own process so that OPENBLAS_NUM_THREADS=1 is in the environment before numpy loads
(OASIS' parameter estimation calls numpy's BLAS on tiny problems; with its threads spinning on a 2-core machine it
runs ~200× slower). threadpoolctl limits the BLAS to one thread as well. OASIS runs one trace at a time in a Python
loop, as its users call it.

Modes:
  ar1       `oasisAR1(y, g)` per row: the AR(1) solver given g, λ = 0 (`--g`).
  full      `deconvolve(y, penalty=1)` per row: g and σ estimated, baseline optimised, noise-constrained L1.
  variants  untimed, for accuracy: penalty=1; penalty=1 then `oasisAR1(y − b, g, lam=λ, s_min)` (what
            `nfx deconvolve --s-min` does); `oasisAR1(y − b, g, lam=0, s_min)` with penalty=1's b and g (OASIS'
            thresholded variant); penalty=0 (OASIS' L0).
Usage: python deconvolve_oasis.py FILE.h5[:DATASET] --mode MODE [--g G] [--runs 3] [--out OUT.npz]
                                  [--write-like NFX_OUTPUT.h5] [--json]
`seconds` in the JSON line is the loop over rows alone (reading the file and importing are not counted): the
median of `--runs` runs after one warm-up, or the warm-up alone when it took longer than `--long` seconds.
With --write-like, every run also reads the input with h5py and writes /spikes and /calcium with the chunks, shuffle
and gzip level of that nfx output file (to --out with .h5 added); `total_seconds` is then read + loop + write, the
work nfx's `wall_seconds` covers.
"""

import argparse
import json
import statistics
import sys
import time

import h5py
import numpy as np
from threadpoolctl import threadpool_limits

from oasis.functions import deconvolve
from oasis.oasis_methods import oasisAR1


def read(spec):
    path, _, dataset = spec.partition(":")
    with h5py.File(path, "r") as file:
        values = np.asarray(file[dataset or "/data"][()], dtype=np.float64)
    return np.atleast_2d(values)


def layout_of(path):
    """{dataset: h5py create_dataset keywords} for /spikes and /calcium of an nfx output file."""
    with h5py.File(path, "r") as file:
        return {name: {"chunks": file[name].chunks, "shuffle": file[name].shuffle,
                       "compression": file[name].compression, "compression_opts": file[name].compression_opts}
                for name in ("spikes", "calcium")}


def write(path, result, layout):
    with h5py.File(path, "w") as file:
        for name, keywords in layout.items():
            file.create_dataset(name, data=result[name], **keywords)


def run_ar1(y, g):
    spikes = np.empty_like(y)
    calcium = np.empty_like(y)
    for row in range(len(y)):
        calcium[row], spikes[row] = oasisAR1(y[row], g)
    return {"spikes": spikes, "calcium": calcium}


def run_full(y):
    spikes = np.empty_like(y)
    calcium = np.empty_like(y)
    baseline, g, lam = np.empty(len(y)), np.empty(len(y)), np.empty(len(y))
    for row in range(len(y)):
        result = deconvolve(y[row], penalty=1)
        calcium[row], spikes[row] = result[0], result[1]
        baseline[row], g[row], lam[row] = result[2], np.ravel(result[3])[0], result[4]
    return {"spikes": spikes, "calcium": calcium, "baseline": baseline, "g": g, "lambda": lam}


def run_variants(y, s_min):
    out = {name: np.empty_like(y) for name in ("l1", "l1_smin", "lam0_smin", "l0")}
    g = np.empty(len(y))
    for row in range(len(y)):
        c, s, b, gs, lam = deconvolve(y[row], penalty=1)
        g[row] = np.ravel(gs)[0]
        out["l1"][row] = s
        out["l1_smin"][row] = oasisAR1(y[row] - b, g[row], lam=lam, s_min=s_min)[1]
        out["lam0_smin"][row] = oasisAR1(y[row] - b, g[row], lam=0, s_min=s_min)[1]
        out["l0"][row] = deconvolve(y[row], penalty=0)[1]
    out["g"] = g
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="HDF5 file, optionally :DATASET (default /data)")
    parser.add_argument("--mode", choices=["ar1", "full", "variants"], required=True)
    parser.add_argument("--g", type=float, default=0.95, help="AR(1) coefficient for --mode ar1")
    parser.add_argument("--s-min", type=float, default=0.5, help="minimal spike size for --mode variants")
    parser.add_argument("--runs", type=int, default=3, help="counted runs after one warm-up")
    parser.add_argument("--long", type=float, default=20.0, help="a warm-up longer than this is the only run")
    parser.add_argument("--out", help="write the outputs (spikes, calcium, …) to this .npz")
    parser.add_argument("--write-like", help="also time h5py read + write in the layout of this nfx output")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    y = read(args.input)
    work = {"ar1": lambda: run_ar1(y, args.g), "full": lambda: run_full(y),
            "variants": lambda: run_variants(y, args.s_min)}[args.mode]
    layout = layout_of(args.write_like) if args.write_like else None

    def one_run():
        """(loop seconds, read + loop + write seconds or None, result)."""
        start = time.perf_counter()
        if layout:
            read(args.input)
        begin = time.perf_counter()
        result = work()
        end = time.perf_counter()
        if layout:
            write(args.out + ".h5", result, layout)
        return end - begin, (time.perf_counter() - start) if layout else None, result

    with threadpool_limits(limits=1):
        first = one_run()
        measured = [first]
        if args.mode != "variants" and first[0] <= args.long:
            measured = [one_run() for _ in range(args.runs)]
    times = [m[0] for m in measured]
    totals = [m[1] for m in measured if m[1] is not None]
    result = measured[-1][2]
    if args.out:
        np.savez(args.out, **result)
    summary = {"mode": args.mode, "rows": int(y.shape[0]), "frames": int(y.shape[1]),
               "seconds": statistics.median(times), "runs": times, "single": len(times) == 1,
               "total_seconds": statistics.median(totals) if totals else None, "total_runs": totals}
    print(json.dumps(summary) if args.json else f"{args.mode}: {y.shape[0]} × {y.shape[1]}, "
          f"{summary['seconds']:.4f} s (median of {len(times)})")


if __name__ == "__main__":
    sys.exit(main())
