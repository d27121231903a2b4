"""Fixed-point benchmarks for `make bench`: `nfx fixedpoints` against a NumPy line walk and against its own search.

Networks come from `nfx simulate rnn` (rank 2 and 3) plus the trained reach RNN with its known 17 fixed points when
/work/shared/data/rnn-models is present. For each: the analytic walk's time, regions and points (with --json), its
peak memory, the NumPy reference (rank 2 only: fixedpoints_numpy.py) with its count and coordinates compared, and
random-restart search's found/total and time. Appends (or replaces) the "Fixed points" section of
docs/benchmarks.md, which foundation.py writes first.
"""

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys

import h5py
import numpy as np

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = "## Fixed points"
DEFAULT_NETWORKS = "1000x2,10000x2,1000x3,2000x3"
REACH = "/work/shared/data/rnn-models/reach_rnn.h5"
# The targets on 2 cores, seconds.
TARGETS = {(1000, 3): 5.0, (10000, 2): 1.0, (2000, 3): 40.0}
# A measurement whose warm-up run takes longer than this is reported from that single run.
LONG_SECONDS = 15.0
# Two fixed points are the same when closer than this (relative to max(1, |z|)).
MATCH_TOLERANCE = 1e-6
THREADS = 2


@dataclasses.dataclass
class Timing:
    """Median seconds of the counted runs, all of them, the last JSON line, the largest peak RSS (KiB)."""

    median: float
    runs: list
    result: dict
    peak_kib: int
    single: bool

    def describe(self):
        return benchlib.format_seconds(self.median) + (" (1 run)" if self.single else "")


def measure(command, runs, seconds_key):
    """One warm-up run, then `runs` counted runs; a warm-up over LONG_SECONDS is the only (counted) run."""
    first, peak = benchlib.run_json_peak_memory(command)
    if float(first[seconds_key]) > LONG_SECONDS:
        return Timing(float(first[seconds_key]), [float(first[seconds_key])], first, peak, True)
    measured = [benchlib.run_json_peak_memory(command) for _ in range(runs)]
    times = [float(result[seconds_key]) for result, _ in measured]
    peaks = [p for _, p in measured if p is not None] + ([peak] if peak is not None else [])
    return Timing(statistics.median(times), times, measured[-1][0], max(peaks) if peaks else None, False)


@dataclasses.dataclass
class Row:
    name: str
    units: int
    rank: int
    analytic: Timing
    points: int
    classes: tuple
    target: float
    search: Timing
    search_found: int
    numpy: Timing = None
    numpy_check: str = ""
    reference_check: str = ""
    one_thread: Timing = None


def read_points(path):
    """(latent P×R, classes) from an `nfx fixedpoints` output file; classes from the eigenvalue moduli.

    (`unstable_directions` is −1 for both unstable and marginal points, so it does not tell them apart.)
    """
    with h5py.File(path, "r") as file:
        latent = np.asarray(file["latent"][()], dtype=float)
        moduli = np.hypot(file["eigenvalues_real"][()], file["eigenvalues_imag"][()])
    latent = latent.reshape(len(latent), -1)
    moduli = moduli.reshape(len(latent), -1)
    classes = []
    for row in moduli:
        outside = int(np.sum(row > 1 + 1e-9))
        marginal = bool(np.any(np.abs(row - 1) <= 1e-9))
        classes.append("marginal" if marginal else "stable" if outside == 0
                       else "unstable" if outside == len(row) else "saddle")
    return latent, classes


def match(reference, found):
    """For each reference point the nearest found point: (how many within tolerance, largest such distance, pairs)."""
    pairs, worst = [], 0.0
    for index, point in enumerate(reference):
        if len(found) == 0:
            break
        distances = np.linalg.norm(found - point, axis=1)
        nearest = int(np.argmin(distances))
        if distances[nearest] <= MATCH_TOLERANCE * max(1.0, np.linalg.norm(point)):
            pairs.append((index, nearest))
            worst = max(worst, float(distances[nearest]))
    return len(pairs), worst, pairs


def class_counts(classes):
    return (classes.count("stable"), classes.count("saddle"), classes.count("unstable"))


def bench_network(nfx, name, slug, path, runs, out_folder, with_numpy, one_thread):
    """Every measurement for one network file; returns its Row."""
    analytic_out = os.path.join(out_folder, f"{slug}.analytic.h5")
    search_out = os.path.join(out_folder, f"{slug}.search.h5")
    base = [nfx, "fixedpoints", path, "--force", "--json", "--quiet"]
    print(f"  {name}: analytic …", flush=True)
    analytic = measure(base + ["-o", analytic_out, "--threads", str(THREADS)], runs, "wall_seconds")
    latent, classes = read_points(analytic_out)
    units, rank = nfx_shape(analytic_out)
    print(f"  {name}: search …", flush=True)
    search = measure(base + ["-o", search_out, "--method", "search", "--restarts", "1000", "--threads",
                             str(THREADS)], runs, "wall_seconds")
    search_latent, _ = read_points(search_out)
    found, _, _ = match(latent, search_latent)
    row = Row(name=name, units=units, rank=rank, analytic=analytic, points=len(latent),
              classes=class_counts(classes), target=TARGETS.get((units, rank)), search=search, search_found=found)
    if with_numpy and rank == 2:
        print(f"  {name}: numpy …", flush=True)
        numpy_out = os.path.join(out_folder, f"{slug}.numpy.npy")
        row.numpy = measure([sys.executable, os.path.join(HERE, "fixedpoints_numpy.py"), path, "--json",
                             "--points-out", numpy_out], runs, "seconds")
        numpy_points = np.load(numpy_out)
        matched, worst, _ = match(latent, numpy_points)
        numpy_classes = (row.numpy.result["stable"], row.numpy.result["saddles"], row.numpy.result["unstable"])
        same = matched == len(latent) == len(numpy_points) and numpy_classes == row.classes
        row.numpy_check = (f"{len(numpy_points)} points, {matched} matched to nfx (max |Δz| {worst:.1g}), "
                           f"classes {'agree' if numpy_classes == row.classes else 'DIFFER'}; "
                           f"regions {row.numpy.result['regions']}"
                           + ("" if same else " — **DISAGREES with nfx**"))
    if one_thread:
        print(f"  {name}: analytic, 1 thread …", flush=True)
        command = base + ["-o", analytic_out, "--threads", "1"]
        result, peak = benchlib.run_json_peak_memory(command)
        row.one_thread = Timing(result["wall_seconds"], [result["wall_seconds"]], result, peak, True)
    return row


def nfx_shape(output_path):
    """(units, rank) from the provenance nfx writes into its output (input_shape = [n, R])."""
    with h5py.File(output_path, "r") as file:
        shape = file.attrs["input_shape"]
    return int(shape[0]), int(shape[1])


def reference_check(row, reach_path, analytic_out):
    """The reach RNN's nfx points against /reference/latent and /reference/kind."""
    with h5py.File(reach_path, "r") as file:
        reference = file["reference/latent"][()]
        kinds = [k.decode() if isinstance(k, bytes) else str(k) for k in file["reference/kind"][()]]
    latent, classes = read_points(analytic_out)
    matched, worst, pairs = match(reference, latent)
    kinds_agree = all(classes[j] == kinds[i] for i, j in pairs)
    return (f"reference: {len(reference)} points ({'/'.join(str(n) for n in class_counts(kinds))} "
            f"stable/saddle/unstable); nfx matches {matched} of them (max |Δz| {worst:.1g}), classes "
            f"{'agree' if kinds_agree else 'DIFFER'}")


def memory(kib):
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def render(rows, notes):
    """The markdown section: the main table, the agreement checks, all runs, the notes."""
    headers = ["network", "regions", f"nfx analytic ({THREADS} threads)", "target", "numpy line walk",
               "ratio", "fixed points (stable/saddle/unstable)", "search found/total", "search time",
               "peak memory nfx / numpy"]
    table = []
    for r in rows:
        table.append((
            f"{r.name} (n = {r.units}, R = {r.rank})",
            f"{r.analytic.result['regions_searched']:,} (bound {r.analytic.result['region_bound']:,.0f})",
            r.analytic.describe(),
            "—" if r.target is None else f"≤ {benchlib.format_seconds(r.target)}"
            + (" ✓" if r.analytic.median <= r.target else " ✗"),
            "skipped (R = 3)" if r.numpy is None and r.rank == 3 else "—" if r.numpy is None else r.numpy.describe(),
            "—" if r.numpy is None else f"{benchlib.ratio(r.numpy.median, r.analytic.median):.1f}",
            f"{r.points} ({'/'.join(str(n) for n in r.classes)})",
            f"{r.search_found}/{r.points}",
            r.search.describe(),
            f"{memory(r.analytic.peak_kib)} / {memory(r.numpy.peak_kib) if r.numpy else '—'}",
        ))
    checks = [(r.name, r.numpy_check or "—", r.reference_check or "—",
               "—" if r.one_thread is None else
               f"1 thread {benchlib.format_seconds(r.one_thread.median)}, {THREADS} threads "
               f"{benchlib.format_seconds(r.analytic.median)}: speed-up "
               f"{r.one_thread.median / r.analytic.median:.2f}×") for r in rows]
    raw = [(r.name, ", ".join(f"{t:.3f}" for t in r.analytic.runs), ", ".join(f"{t:.3f}" for t in r.search.runs),
            "—" if r.numpy is None else ", ".join(f"{t:.3f}" for t in r.numpy.runs)) for r in rows]
    return "\n".join([
        SECTION + "\n",
        "Generated by `Scripts/bench/fixedpoints.py` (called by `Scripts/bench/run.sh` after foundation.py). "
        "`nfx fixedpoints` (the analytic line/plane walk over every region of the switching arrangement, "
        f"`--threads {THREADS}`) against `Scripts/bench/fixedpoints_numpy.py`, a vectorised NumPy line walk "
        "for rank 2, and against `nfx fixedpoints --method search --restarts 1000` (random-restart Newton). "
        "**Ratio** is numpy time / nfx time. Times are medians of the counted runs after one warm-up; a "
        f"measurement whose warm-up took over {LONG_SECONDS:.0f} s is reported from that single run, marked "
        "\"(1 run)\".\n",
        benchlib.markdown_table(headers, table),
        "\n### Agreement and threads\n",
        benchlib.markdown_table(["network", "numpy reference vs nfx", "known answer", "threads"], checks),
        "\n### All runs (seconds)\n",
        benchlib.markdown_table(["network", "nfx analytic", "nfx search", "numpy"], raw),
        "\n### Notes\n",
        "\n".join(f"- {note}" for note in notes),
        "",
    ])


def notes_for(rows, busy_start, busy_end, cores):
    notes = [
        "nfx times are the `wall_seconds` nfx reports in its `--json` line: reading the model, the enumeration "
        "and writing the output HDF5, without process start-up. numpy times are the enumeration alone (the "
        "`seconds` fixedpoints_numpy.py reports; reading the model and importing numpy are not counted).",
        "Peak memory is the maximum resident set of the whole process (`/usr/bin/time -f %M`), runtime "
        "included: about 40 MiB for an idle nfx and 30–40 MiB for Python with numpy and h5py.",
        "Networks: `nfx simulate rnn --units N --rank R` (seed 0, ReLU, excitatory/inhibitory unit pairs that "
        "read the same direction, so the switching hyperplanes come in parallel pairs and the arrangement has "
        "fewer regions than the general-position bound Σ_{k≤R} C(n, k)).",
        "The NumPy reference was written for this benchmark from the math (docstring of fixedpoints_numpy.py): "
        "per line, crossings sorted with `argsort`, region maps by `cumsum` of the rank-1 terms, 2×2 systems "
        "by Cramer's rule, candidates checked against a 64-line sample and then all lines. It agreed with "
        "`nfx fixedpoints --method brute` on small ReLU and clipped-ReLU networks when it was written. It "
        "covers rank 2 only: the same walk for R = 3 in NumPy takes about 10 minutes at n = 1000 (the issue "
        "measured 533 s), so R = 3 is not run.",
        "**search found/total**: distinct analytic fixed points that random-restart search also found "
        f"(points matched within {MATCH_TOLERANCE:g} relative), with 1000 restarts and seed 0.",
        "For context, the issue's measurements on its machine: NumPy line walk 0.72 s (n = 1000, R = 2) and "
        "533 s (n = 1000, R = 3); a first compiled prototype 19.6 s on 2 threads (n = 1000, R = 3) and 4.7 s "
        "(n = 10,000, R = 2).",
    ]
    return notes + benchlib.load_notes(busy_start, busy_end, cores, THREADS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nfx", default=".build/release/nfx")
    parser.add_argument("--data", default=".bench-data", help="folder for the simulated networks and outputs")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--networks", default=DEFAULT_NETWORKS, help="comma-separated NxR (units x rank)")
    parser.add_argument("--reach", default=REACH, help="the trained reach RNN (skipped when absent)")
    parser.add_argument("--runs", type=int, default=3, help="counted runs per measurement (at least 3)")
    parser.add_argument("--no-threads-comparison", action="store_true",
                        help="skip the 1-thread run of n = 1000, R = 3")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    os.makedirs(args.data, exist_ok=True)
    cores = benchlib.usable_cores()
    busy_start = benchlib.cpu_busy()
    rows = []
    if os.path.exists(args.reach):
        print("fixed points: reach RNN …", flush=True)
        row = bench_network(args.nfx, "reach RNN (trained)", "reach_rnn", args.reach, args.runs, args.data, True, False)
        row.reference_check = reference_check(row, args.reach, os.path.join(args.data, "reach_rnn.analytic.h5"))
        rows.append(row)
    else:
        print(f"fixed points: {args.reach} not found; the reach RNN is skipped", flush=True)
    for spec in args.networks.split(","):
        units, rank = (int(value) for value in spec.lower().split("x"))
        path = os.path.join(args.data, f"rnn_{units}_{rank}.h5")
        print(f"fixed points: simulating {path}", flush=True)
        subprocess.run([args.nfx, "simulate", "rnn", "--units", str(units), "--rank", str(rank), "-o", path,
                        "--force", "--quiet"], check=True)
        one_thread = (units, rank) == (1000, 3) and not args.no_threads_comparison
        rows.append(bench_network(args.nfx, f"simulated rnn_{units}_{rank}", f"rnn_{units}_{rank}", path, args.runs, args.data, True, one_thread))
    busy_end = benchlib.cpu_busy()
    benchlib.replace_section(args.output, SECTION, render(rows, notes_for(rows, busy_start, busy_end, cores)))
    print(f"wrote the {SECTION[3:]} section of {args.output}")
    for r in rows:
        print(f"  {r.name}: {r.points} points, {r.analytic.result['regions_searched']} regions, nfx "
              f"{r.analytic.describe()}" + (f", numpy {r.numpy.describe()}" if r.numpy else "")
              + f", search {r.search_found}/{r.points} in {r.search.describe()}"
              + (f"; {r.numpy_check}" if r.numpy_check else "") + (f"; {r.reference_check}" if r.reference_check else ""))


if __name__ == "__main__":
    main()
