"""Factorization benchmarks for `make bench`: `nfx factorize` against scikit-learn's NMF, TruncatedSVD and PCA.

Workload A (speed, the issue's): a dense non-negative rank-20 matrix 10,000 × 5,000 (W·H plus 10 % noise, clipped at
0) with one NNDSVDa start (scikit-learn's own, written to a file) for both sides. scikit-learn NMF (cd and mu) runs to
its own tolerance; `nfx-bench factorize` (the fit in-process, without file I/O) is timed to the error scikit-learn
stopped at, per iteration and to its own stop, in double and single precision, with the MU rule, with 10 % of the
entries hidden, and as randomized PCA against TruncatedSVD and PCA; the whole `nfx factorize` process gives the peak
memory. Workload B (accuracy): `nfx simulate matrix` with a planted rank-10 truth; nfx and scikit-learn NMF scored by
their matched similarity to it, and nfx's cross-validated rank sweep. Both sides use 2 threads.
Appends (or replaces) the "Factorization" section of docs/benchmarks.md, which foundation.py writes first.
"""

import argparse
import dataclasses
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np

import benchlib

SECTION = "## Factorization"
THREADS = 2
# A measurement whose warm-up run takes longer than this is reported from that single run.
LONG_SECONDS = 20.0
RUNS = 3

# Workload A: the issue's dense matrix.
RANK = 20
FULL_SHAPE = (10_000, 5_000)
QUICK_SHAPE = (2_000, 1_000)
SEED = 1
NOISE = 0.1
MAX_ITER = 200
DEFAULT_TOL = 1e-4
MASKED_ITER = 40
MISSING = 0.1
POWER_ITERATIONS = 5
# Written into the data file, so a file made some other way (or by an older version of this script) is not reused.
GENERATOR = f"Scripts/bench/factorize.py: default_rng({SEED}), rank {RANK}, noise {NOISE} of the std, clipped at 0"

# The issue's targets (2 threads, the full-size workload A).
HALS_SECONDS = 1.5
HALS_STRETCH = 1.0
HALS_SPEEDUP = 3.0
SINGLE_SECONDS = 0.8
MASKED_SLOWDOWN = 2.0
PCA_SECONDS = 0.7
MEMORY_RATIO = 1.5
SINGULAR_AGREEMENT = 1e-3
LEADING = 10
ISSUE_TRUNCATED_SVD = 1.76

# Workload B: planted truth.
PLANTED_UNITS = 2000
PLANTED_TIME = 3000
PLANTED_RANK = 10
PLANTED_NOISE = 0.1
PLANTED_MAX_ITER = 400
SWEEP_RANKS = "6-14"
SWEEP_REPLICATES = 3


def tick(ok):
    return "✓" if ok else "✗"


def fs(seconds):
    return "—" if seconds is None else benchlib.format_seconds(seconds)


def per_iteration(seconds):
    return f"{seconds * 1000:.3g} ms/iteration"


def iterations_text(count, limit):
    return f"{count} (= max)" if count >= limit else str(count)


def own_stop_text(timing):
    """`20.1 s (200 iterations = max, error 0.01960; 1 run)`."""
    limit = " = max" if timing.iterations >= MAX_ITER else ""
    return (f"{fs(timing.seconds)} ({timing.iterations} iterations{limit}, error {timing.error:.5f}"
            + ("; 1 run)" if timing.single else ")"))


def ratio_text(peer, nfx):
    return "—" if peer is None or nfx is None else f"{benchlib.ratio(peer, nfx):.2f}"


# ---------------------------------------------------------------------------------------------------------------
# Workload A: data and starting factors


def has_shapes(path, shapes, generator=None):
    """Whether the HDF5 file at `path` holds these datasets with these shapes (and the `generator` attribute)."""
    if not os.path.exists(path):
        return False
    try:
        with h5py.File(path, "r") as file:
            if generator is not None and file.attrs.get("generator") != generator:
                return False
            return all(name in file and file[name].shape == shape for name, shape in shapes.items())
    except OSError:
        return False


def write_h5(path, attrs=None, **datasets):
    """Writes float64 datasets (contiguous, uncompressed) through a temporary file, so a partial file is never reused."""
    temporary = path + ".partial"
    with h5py.File(temporary, "w") as file:
        for name, value in datasets.items():
            file.create_dataset(name, data=np.ascontiguousarray(value, dtype=np.float64))
        for name, value in (attrs or {}).items():
            file.attrs[name] = value
    os.replace(temporary, path)


def dense_workload(folder, shape, quick):
    """(data path, init path, X, W0, H0, noise floor): the issue's matrix and scikit-learn's NNDSVDa start, made or
    reused, and the relative error of the W·H it was made from (the first two draws of the seeded generator)."""
    from sklearn.decomposition._nmf import _initialize_nmf
    from threadpoolctl import threadpool_limits

    suffix = "-quick" if quick else ""
    data_path = os.path.join(folder, f"factorize-dense{suffix}.h5")
    init_path = os.path.join(folder, f"factorize-dense{suffix}-init.h5")
    m, n = shape
    fresh = False
    rng = np.random.default_rng(SEED)
    W = rng.random((m, RANK))
    H = rng.random((RANK, n))
    if has_shapes(data_path, {"data": (m, n)}, GENERATOR):
        print(f"factorization: reusing {data_path}", flush=True)
        with h5py.File(data_path, "r") as file:
            X = file["data"][()]
    else:
        print(f"factorization: generating {data_path} ({m} × {n}, rank {RANK})", flush=True)
        C = W @ H
        X = np.maximum(C + NOISE * C.std() * rng.standard_normal(C.shape), 0)
        del C
        write_h5(data_path, {"generator": GENERATOR}, data=X)
        fresh = True
    if not fresh and has_shapes(init_path, {"W": (m, RANK), "H": (RANK, n)}):
        print(f"factorization: reusing {init_path}", flush=True)
        with h5py.File(init_path, "r") as file:
            W0, H0 = file["W"][()], file["H"][()]
    else:
        print(f"factorization: NNDSVDa start → {init_path}", flush=True)
        with threadpool_limits(THREADS):
            W0, H0 = _initialize_nmf(X, RANK, init="nndsvda", random_state=0)
        write_h5(init_path, W=W0, H=H0)
    return data_path, init_path, X, W0, H0, relative_error(X, W, H)


def relative_error(X, W, H, block=2000):
    """||X − W·H||_F / ||X||_F, a block of rows at a time (no full-size temporary)."""
    residual = total = 0.0
    for start in range(0, X.shape[0], block):
        rows = X[start:start + block]
        residual += float(np.sum((rows - W[start:start + block] @ H) ** 2))
        total += float(np.sum(rows ** 2))
    return (residual / total) ** 0.5 if total > 0 else 0.0


# ---------------------------------------------------------------------------------------------------------------
# Running the two sides


@dataclasses.dataclass
class PeerFit:
    """One scikit-learn NMF fit: wall seconds, iterations, final relative error."""

    seconds: float
    iterations: int
    error: float

    @property
    def per_iteration(self):
        return self.seconds / max(1, self.iterations)


def sklearn_nmf(X, W0, H0, solver):
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    model = NMF(n_components=RANK, init="custom", solver=solver, max_iter=MAX_ITER)
    with threadpool_limits(THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # reaching max_iter shows in the iteration count
        start = time.perf_counter()
        W = model.fit_transform(X, W=W0.copy(), H=H0.copy())
        seconds = time.perf_counter() - start
    return PeerFit(seconds, int(model.n_iter_), relative_error(X, W, model.components_))


@dataclasses.dataclass
class BenchTiming:
    """nfx-bench factorize: medians over the counted runs (seconds to target: None if any run missed it)."""

    seconds: float
    to_target: float
    per_iteration: float
    runs: list
    single: bool
    result: dict

    @property
    def iterations(self):
        return int(self.result["iterations"])

    @property
    def error(self):
        return float(self.result["relativeError"])

    def describe(self, seconds=None):
        value = self.seconds if seconds is None else seconds
        return fs(value) + (" (1 run)" if self.single else "")


def measure_bench(command, runs=RUNS):
    """`runs` processes, medians over them; a first run whose fit took over LONG_SECONDS is the only one.

    No warm-up process: every process reads the file (from the page cache: this script has just read it) before
    it starts the clock, and nothing else carries over from one process to the next.
    """
    print("  " + " ".join(command[1:]), flush=True)
    first = benchlib.run_json(command)
    if float(first["seconds"]) > LONG_SECONDS:
        results, single = [first], True
    else:
        results, single = [first] + [benchlib.run_json(command) for _ in range(runs - 1)], False
    targets = [r.get("secondsToTarget") for r in results]
    to_target = None if any(t is None for t in targets) else statistics.median(float(t) for t in targets)
    return BenchTiming(statistics.median(float(r["seconds"]) for r in results), to_target,
                       statistics.median(float(r["secondsPerIteration"]) for r in results), results, single,
                       results[-1])


# Launches COMMAND from a fresh, small interpreter and prints its ru_maxrss (KiB) on stderr's last line. Linux
# counts a child's memory before exec in its ru_maxrss, so a child forked straight from this process (which holds
# the 400 MB matrix and scikit-learn) would report this process's size, not nfx's.
_LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(process.pid, 0)
process.returncode = os.waitstatus_to_exitcode(status)
print(f"maxrss_kib {usage.ru_maxrss}", file=sys.stderr)
sys.exit(process.returncode)
"""


def peak_memory(command):
    """Runs `command` alone and returns (its JSON line, its peak RSS in KiB, wall seconds of the process).

    The command runs under a fresh Python launcher (a few MB, counted in the peak: an upper bound by that much),
    whose wait4 sees only the command's own memory.
    """
    print("  " + " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    peak = [line for line in result.stderr.splitlines() if line.startswith("maxrss_kib ")]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines or not peak:
        raise RuntimeError(f"{' '.join(command)} printed nothing on stdout")
    return json.loads(lines[-1]), int(peak[-1].split()[1]), elapsed


def init_option(nfx):
    """`nfx factorize`'s option for the starting factors: --init, or --initialization in older builds."""
    help_text = subprocess.run([nfx, "factorize", "--help"], capture_output=True, text=True).stdout
    return "--init" if re.search(r"--init\b(?!ialization)", help_text) else "--initialization"


# ---------------------------------------------------------------------------------------------------------------
# Workload A


def bench_dense(nfx, nfx_bench, folder, shape, quick):
    from sklearn.decomposition import PCA, TruncatedSVD
    from threadpoolctl import threadpool_limits

    data_path, init_path, X, W0, H0, floor = dense_workload(folder, shape, quick)
    m, n = shape
    a = {"shape": shape, "data": data_path, "init": init_path, "floor": floor}

    print("factorization: scikit-learn NMF cd …", flush=True)
    a["cd"] = cd = sklearn_nmf(X, W0, H0, "cd")
    print(f"  {cd.seconds:.2f} s, {cd.iterations} iterations, error {cd.error:.6f}", flush=True)
    print("factorization: scikit-learn NMF mu …", flush=True)
    a["mu"] = mu = sklearn_nmf(X, W0, H0, "mu")
    print(f"  {mu.seconds:.2f} s, {mu.iterations} iterations, error {mu.error:.6f}", flush=True)

    def bench(*extra):
        return [nfx_bench, "factorize", data_path, "/data", "--rank", str(RANK), "--threads", str(THREADS), *extra]

    start = ["--init", init_path]
    to_cd = ["--tol", "0", "--max-iter", str(MAX_ITER), "--target", repr(cd.error)]
    own_stop = ["--tol", repr(DEFAULT_TOL), "--max-iter", str(MAX_ITER)]
    print("factorization: nfx-bench HALS …", flush=True)
    a["hals"] = measure_bench(bench(*start, *to_cd))
    a["hals_stop"] = measure_bench(bench(*start, *own_stop))
    print("factorization: nfx-bench HALS, single precision …", flush=True)
    a["single"] = measure_bench(bench(*start, "--precision", "single", *to_cd))
    a["single_stop"] = measure_bench(bench(*start, "--precision", "single", *own_stop))
    print("factorization: nfx-bench MU …", flush=True)
    a["nfx_mu"] = measure_bench(bench(*start, "--solver", "mu", "--tol", "0", "--max-iter", str(MAX_ITER),
                                      "--target", repr(mu.error)))
    print("factorization: nfx-bench masked and unmasked, 40 iterations …", flush=True)
    short = ["--tol", "0", "--max-iter", str(MASKED_ITER), "--target", repr(cd.error)]
    a["masked"] = measure_bench(bench(*start, *short, "--missing", repr(MISSING)))
    a["unmasked"] = measure_bench(bench(*start, *short))

    print("factorization: randomized PCA …", flush=True)
    a["nfx_pca"] = measure_bench(bench("--method", "pca", "--solver", "randomized"))
    with threadpool_limits(THREADS):
        print("  scikit-learn TruncatedSVD …", flush=True)
        a["tsvd"] = benchlib.time_callable(
            lambda: TruncatedSVD(n_components=RANK, algorithm="randomized", n_iter=POWER_ITERATIONS,
                                 random_state=0).fit(X), RUNS)[:2]
        # Samples are time points and features units, so PCA centres each unit as nfx does.
        transposed = np.ascontiguousarray(X.T)
        print("  scikit-learn PCA …", flush=True)
        seconds, runs, pca = benchlib.time_callable(
            lambda: PCA(n_components=RANK, svd_solver="randomized", iterated_power=POWER_ITERATIONS,
                        random_state=0).fit(transposed), RUNS)
        del transposed
    a["pca"] = (seconds, runs)
    ours = np.asarray(a["nfx_pca"].result["singularValues"], dtype=float)
    theirs = np.asarray(pca.singular_values_, dtype=float)
    differences = np.abs(ours - theirs) / np.maximum(np.abs(theirs), np.finfo(float).tiny)
    a["sv"] = {"leading": float(differences[:LEADING].max()), "all": float(differences.max()),
               "first": (float(ours[0]), float(theirs[0])), "last": (float(ours[-1]), float(theirs[-1]))}

    print("factorization: peak memory of nfx factorize …", flush=True)
    out = os.path.join(folder, f"factorize-dense{'-quick' if quick else ''}.nfx.h5")
    command = [nfx, "factorize", data_path + ":/data", "--rank", str(RANK), init_option(nfx), init_path, "-o", out,
               "--force", "--json", "--quiet", "--max-iter", "30", "--tol", "0", "--threads", str(THREADS)]
    result, peak_kib, process_seconds = peak_memory(command)
    a["memory"] = {"kib": peak_kib, "input": m * n * 8, "wall": float(result["wall_seconds"]),
                   "process": process_seconds, "error": float(result["relative_error"]),
                   "iterations": int(result["iterations"])}
    a["memory"]["ratio"] = peak_kib * 1024 / a["memory"]["input"]
    os.remove(out)
    return a


# ---------------------------------------------------------------------------------------------------------------
# Workload B


def matched_similarity(W, H, true_W, true_H):
    """Mean over components of cos(W column, true W column) · cos(H row, true H row), optimally paired."""
    from scipy.optimize import linear_sum_assignment

    def cosines(A, B):
        A = A / np.where((norm := np.linalg.norm(A, axis=0)) > 0, norm, 1)
        B = B / np.where((norm := np.linalg.norm(B, axis=0)) > 0, norm, 1)
        return A.T @ B

    scores = cosines(W, true_W) * cosines(H.T, true_H.T)
    rows, columns = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, columns].mean())


def bench_planted(nfx, folder):
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    path = os.path.join(folder, "factorize-planted.h5")
    print(f"factorization: simulating {path}", flush=True)
    subprocess.run([nfx, "simulate", "matrix", "-o", path, "--units", str(PLANTED_UNITS), "--time",
                    str(PLANTED_TIME), "--rank", str(PLANTED_RANK), "--noise", repr(PLANTED_NOISE), "--force",
                    "--quiet"], check=True)
    with h5py.File(path, "r") as file:
        X = np.asarray(file["data"][()], dtype=float)
        true_W = np.asarray(file["truth/W"][()], dtype=float)
        true_H = np.asarray(file["truth/H"][()], dtype=float)
    b = {"truth_error": relative_error(X, true_W, true_H)}

    print("factorization: nfx factorize on the planted matrix …", flush=True)
    out = os.path.join(folder, "factorize-planted.nfx.h5")
    result = benchlib.run_json([nfx, "factorize", path + ":/data", "--rank", str(PLANTED_RANK), "-o", out, "--force",
                                "--json", "--quiet", "--threads", str(THREADS)])
    with h5py.File(out, "r") as file:
        W, H = np.asarray(file["W"][()], dtype=float), np.asarray(file["H"][()], dtype=float)
    b["nfx"] = {"error": float(result["relative_error"]), "iterations": int(result["iterations"]),
                "seconds": float(result["wall_seconds"]), "similarity": matched_similarity(W, H, true_W, true_H),
                "own_error": relative_error(X, W, H)}

    print("factorization: scikit-learn NMF on the planted matrix …", flush=True)
    model = NMF(n_components=PLANTED_RANK, solver="cd", max_iter=PLANTED_MAX_ITER, random_state=0)
    with threadpool_limits(THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        W = model.fit_transform(X)
        seconds = time.perf_counter() - start
    H = model.components_
    b["sklearn"] = {"error": relative_error(X, W, H), "iterations": int(model.n_iter_), "seconds": seconds,
                    "similarity": matched_similarity(W, H, true_W, true_H)}

    print(f"factorization: nfx rank sweep {SWEEP_RANKS} × {SWEEP_REPLICATES} …", flush=True)
    sweep_out = os.path.join(folder, "factorize-planted.sweep.h5")
    start = time.perf_counter()
    result = benchlib.run_json([nfx, "factorize", path + ":/data", "--ranks", SWEEP_RANKS, "--replicates",
                                str(SWEEP_REPLICATES), "--json", "--quiet", "-o", sweep_out, "--force", "--threads",
                                str(THREADS)])
    b["sweep"] = {"rows": result["sweep"], "chosen": int(result["rank"]), "seconds": float(result["wall_seconds"]),
                  "process": time.perf_counter() - start}
    for name in (out, sweep_out):
        os.remove(name)
    return b


# ---------------------------------------------------------------------------------------------------------------
# The section


def speed_table(a):
    cd, mu = a["cd"], a["mu"]
    hals, single, nfx_mu = a["hals"], a["single"], a["nfx_mu"]
    rows = []

    def to_target_cell(timing, iterations):
        if timing.to_target is None:
            return f"not reached in {iterations} iterations (error {timing.error:.5f})"
        return timing.describe(timing.to_target)

    ratio = None if hals.to_target is None else benchlib.ratio(cd.seconds, hals.to_target)
    met = "✗ (not reached)" if hals.to_target is None else (
        f"{tick(hals.to_target <= HALS_SECONDS)} time, {tick(hals.to_target <= HALS_STRETCH)} stretch, "
        f"{tick(ratio >= HALS_SPEEDUP)} ratio")
    rows.append((f"NMF to scikit-learn cd's error {cd.error:.5f} (HALS, double)", to_target_cell(hals, MAX_ITER),
                 f"scikit-learn `NMF(solver='cd')` {fs(cd.seconds)} ({cd.iterations} iterations, 1 run)",
                 ratio_text(cd.seconds, hals.to_target),
                 f"≤ {HALS_SECONDS:g} s (stretch ≤ {HALS_STRETCH:g} s), ratio ≥ {HALS_SPEEDUP:g}", met))
    rows.append(("NMF time per iteration (double)", per_iteration(hals.per_iteration),
                 f"scikit-learn cd {per_iteration(cd.per_iteration)}", ratio_text(cd.per_iteration, hals.per_iteration), "—", ""))
    stop = a["hals_stop"]
    rows.append((f"NMF to its own stop (`--tol {DEFAULT_TOL:g}`, double)",
                 own_stop_text(stop), f"scikit-learn cd {fs(cd.seconds)} ({cd.iterations} iterations, error "
                                       f"{cd.error:.5f})",
                 ratio_text(cd.seconds, stop.seconds), "—", ""))
    met = "✗ (not reached)" if single.to_target is None else tick(single.to_target <= SINGLE_SECONDS)
    rows.append((f"NMF to cd's error {cd.error:.5f}, `--precision single`", to_target_cell(single, MAX_ITER),
                 f"scikit-learn cd {fs(cd.seconds)}", ratio_text(cd.seconds, single.to_target), f"≤ {SINGLE_SECONDS:g} s", met))
    rows.append(("NMF time per iteration (single)", per_iteration(single.per_iteration),
                 f"scikit-learn cd {per_iteration(cd.per_iteration)}", ratio_text(cd.per_iteration, single.per_iteration), "—",
                 ""))
    stop = a["single_stop"]
    rows.append((f"NMF to its own stop (`--tol {DEFAULT_TOL:g}`, single)",
                 own_stop_text(stop), f"scikit-learn cd {fs(cd.seconds)}", ratio_text(cd.seconds, stop.seconds), "—",
                 ""))
    rows.append((f"MU to scikit-learn mu's error {mu.error:.5f} (double)", to_target_cell(nfx_mu, MAX_ITER),
                 f"scikit-learn `NMF(solver='mu')` {fs(mu.seconds)} ({mu.iterations} iterations, 1 run)",
                 ratio_text(mu.seconds, nfx_mu.to_target), "—", ""))
    rows.append(("MU time per iteration", per_iteration(nfx_mu.per_iteration), f"scikit-learn mu {per_iteration(mu.per_iteration)}",
                 ratio_text(mu.per_iteration, nfx_mu.per_iteration), "—", ""))
    masked, unmasked = a["masked"], a["unmasked"]
    slowdown = masked.per_iteration / unmasked.per_iteration
    rows.append((f"NMF per iteration with {MISSING:.0%} of entries missing ({MASKED_ITER} iterations)",
                 per_iteration(masked.per_iteration), f"nfx unmasked {per_iteration(unmasked.per_iteration)}",
                 ratio_text(unmasked.per_iteration, masked.per_iteration),
                 f"masked ≤ {MASKED_SLOWDOWN:g}× unmasked", f"{tick(slowdown <= MASKED_SLOWDOWN)} ({slowdown:.2f}×)"))
    rows.append((f"NMF with {MISSING:.0%} missing to cd's error {cd.error:.5f} (error on the observed entries)",
                 to_target_cell(masked, MASKED_ITER), "scikit-learn NMF does not take missing entries", "—", "—", ""))
    pca_seconds = a["nfx_pca"].seconds
    rows.append((f"randomized PCA, rank {RANK}, {POWER_ITERATIONS} power iterations",
                 a["nfx_pca"].describe(),
                 f"scikit-learn `TruncatedSVD(algorithm='randomized')` {fs(a['tsvd'][0])} (issue: {ISSUE_TRUNCATED_SVD:g} s)",
                 ratio_text(a["tsvd"][0], pca_seconds), f"≤ {PCA_SECONDS:g} s", tick(pca_seconds <= PCA_SECONDS)))
    sv = a["sv"]
    rows.append((f"randomized PCA, rank {RANK} (centred on both sides)", a["nfx_pca"].describe(),
                 f"scikit-learn `PCA(svd_solver='randomized')` {fs(a['pca'][0])}", ratio_text(a["pca"][0], pca_seconds),
                 f"singular values agree to {SINGULAR_AGREEMENT:g} (leading {LEADING})",
                 f"{tick(sv['leading'] <= SINGULAR_AGREEMENT)} ({sv['leading']:.1e})"))
    memory = a["memory"]
    rows.append(("peak memory of `nfx factorize` (whole process, 30 iterations)",
                 f"{memory['kib'] / 1024:.0f} MiB = {memory['ratio']:.2f}× the input "
                 f"({memory['input'] / 2**20:.0f} MiB); wall_seconds {memory['wall']:.2f} s",
                 "—", "—", f"≤ {MEMORY_RATIO:g}× the input", tick(memory["ratio"] <= MEMORY_RATIO)))
    return benchlib.markdown_table(["measurement", "nfx", "peer", "ratio", "target", "met?"], rows)


def accuracy_table(a, b):
    rows = []
    m, n = a["shape"]
    label = f"A: {m:,} × {n:,}, rank {RANK}"
    cd, mu = a["cd"], a["mu"]
    rows.append((label, "the generating W·H (noise floor)", f"{a['floor']:.6f}", "—", "—"))
    rows.append((label, f"scikit-learn `NMF(solver='cd')`, tol {DEFAULT_TOL:g}", f"{cd.error:.6f}",
                 iterations_text(cd.iterations, MAX_ITER), "—"))
    rows.append((label, f"scikit-learn `NMF(solver='mu')`, tol {DEFAULT_TOL:g}", f"{mu.error:.6f}",
                 iterations_text(mu.iterations, MAX_ITER), "—"))
    for key, name in (("hals", "nfx HALS, double, `--tol 0`"), ("hals_stop", f"nfx HALS, double, `--tol {DEFAULT_TOL:g}`"),
                      ("single", "nfx HALS, single, `--tol 0`"), ("single_stop", f"nfx HALS, single, `--tol {DEFAULT_TOL:g}`"),
                      ("nfx_mu", "nfx MU, `--tol 0`"), ("unmasked", f"nfx HALS, `--max-iter {MASKED_ITER}`"),
                      ("masked", f"nfx HALS, {MISSING:.0%} missing, `--max-iter {MASKED_ITER}` (observed entries)")):
        timing = a[key]
        limit = MASKED_ITER if key in ("masked", "unmasked") else MAX_ITER
        rows.append((label, name, f"{timing.error:.6f}", iterations_text(timing.iterations, limit), "—"))
    sv = a["sv"]
    rows.append((label, f"randomized PCA singular values, nfx vs scikit-learn PCA",
                 f"max rel. diff. {sv['leading']:.1e} (leading {LEADING}), {sv['all']:.1e} (all {RANK}); "
                 f"s₁ {sv['first'][0]:.6g} / {sv['first'][1]:.6g}, s₂₀ {sv['last'][0]:.6g} / {sv['last'][1]:.6g}",
                 "—", "—"))
    label = f"B: planted, {PLANTED_UNITS:,} × {PLANTED_TIME:,}, rank {PLANTED_RANK}, noise {PLANTED_NOISE:g}"
    rows.append((label, "the planted W·H (noise floor)", f"{b['truth_error']:.6f}", "—", "1"))
    rows.append((label, f"nfx `factorize --rank {PLANTED_RANK}` (defaults; {fs(b['nfx']['seconds'])})",
                 f"{b['nfx']['error']:.6f}", str(b["nfx"]["iterations"]), f"{b['nfx']['similarity']:.4f}"))
    rows.append((label, f"scikit-learn `NMF(solver='cd', max_iter={PLANTED_MAX_ITER})`, default init "
                        f"({fs(b['sklearn']['seconds'])})",
                 f"{b['sklearn']['error']:.6f}", str(b["sklearn"]["iterations"]), f"{b['sklearn']['similarity']:.4f}"))
    return benchlib.markdown_table(["workload", "fit", "relative error", "iterations", "matched similarity to truth"],
                                   rows)


def sweep_table(b):
    sweep = b["sweep"]
    rows = [(row["rank"], f"{row['train_error']:.5f}", f"{row['test_error']:.5f}", f"{row['similarity']:.3f}",
             "← chosen" if int(row["rank"]) == sweep["chosen"] else "") for row in sweep["rows"]]
    return benchlib.markdown_table(["rank", "train error", "test error", "similarity", ""], rows)


def runs_table(a):
    rows = []
    for key, name in (("hals", "HALS double → cd's error"), ("hals_stop", "HALS double, own stop"),
                      ("single", "HALS single → cd's error"), ("single_stop", "HALS single, own stop"),
                      ("nfx_mu", "MU → mu's error"), ("masked", f"HALS {MISSING:.0%} missing, {MASKED_ITER} it."),
                      ("unmasked", f"HALS, {MASKED_ITER} it."), ("nfx_pca", "randomized PCA")):
        timing = a[key]
        targets = [r.get("secondsToTarget") for r in timing.runs]
        rows.append((name, ", ".join(f"{float(r['seconds']):.3f}" for r in timing.runs),
                     ", ".join("—" if t is None else f"{float(t):.3f}" for t in targets),
                     "—" if key == "nfx_pca" else
                     ", ".join(f"{float(r['secondsPerIteration']) * 1000:.2f}" for r in timing.runs)))
    rows.append(("scikit-learn NMF cd (1 run)", f"{a['cd'].seconds:.3f}", "—",
                 f"{a['cd'].per_iteration * 1000:.2f} (time / n_iter_)"))
    rows.append(("scikit-learn NMF mu (1 run)", f"{a['mu'].seconds:.3f}", "—",
                 f"{a['mu'].per_iteration * 1000:.2f} (time / n_iter_)"))
    rows.append(("scikit-learn TruncatedSVD", ", ".join(f"{t:.3f}" for t in a["tsvd"][1]), "—", "—"))
    rows.append(("scikit-learn PCA", ", ".join(f"{t:.3f}" for t in a["pca"][1]), "—", "—"))
    return benchlib.markdown_table(["measurement", "seconds", "seconds to target", "ms per iteration"], rows)


def notes_for(a, b, busy_start, busy_end, cores, versions):
    openblas = {name: value for name, value in sorted(os.environ.items()) if name.startswith("OPENBLAS_")}
    m, n = a["shape"]
    notes = [
        f"Threads: scikit-learn runs under `threadpoolctl.threadpool_limits({THREADS})` (its BLAS calls; the "
        f"coordinate-descent sweeps of `solver='cd'` are single-threaded Cython), nfx with `--threads {THREADS}`. "
        "OPENBLAS_* variables are passed through untouched to nfx and numpy alike: "
        + (", ".join(f"`{name}={value}`" for name, value in openblas.items()) or "none set") + ".",
        f"Workload A: `rng = np.random.default_rng({SEED})`, W = rng.random(({m}, {RANK})), H = rng.random(({RANK}, "
        f"{n})), C = W·H, X = max(C + {NOISE:g}·std(C)·N(0, 1), 0), float64 in `{os.path.basename(a['data'])}:/data`. "
        "Both sides start from the same factors: scikit-learn's NNDSVDa "
        f"(`_initialize_nmf(X, {RANK}, init='nndsvda', random_state=0)`), given to scikit-learn as `init='custom'` "
        f"and to nfx as `--init {os.path.basename(a['init'])}`.",
        f"scikit-learn NMF stops at its own tolerance (`tol={DEFAULT_TOL:g}`, `max_iter={MAX_ITER}`): cd stopped after "
        f"{a['cd'].iterations} iterations at relative error E = {a['cd'].error:.6f}, mu after {a['mu'].iterations} at "
        f"{a['mu'].error:.6f}. Those errors are nfx's targets: nfx runs `--tol 0 --max-iter {MAX_ITER} --target E` "
        "and reports when its relative error ||X − WH||_F / ||X||_F first reached E. scikit-learn's time is "
        "`time.perf_counter()` around one `fit_transform` (one run each; input checks included, X "
        "already in memory); its ms per iteration is that time / `n_iter_`. Its relative error is computed by this "
        "script from the returned W and H.",
        "nfx-bench (`nfx-bench factorize FILE /data --rank 20 --init INIT --threads 2 …`) reads the file first and "
        "then times the fit alone in-process (initialisation from the given factors included, no file I/O, "
        "nothing written). Seconds to target come from its per-iteration progress (time since the start of the "
        "fit when the error first fell to the target); its time per iteration is the median over iterations after "
        f"the first. Every nfx-bench number is the median of {RUNS} processes (no warm-up process: each one reads "
        f"the file from the page cache before its clock starts); a first run whose fit took over "
        f"{LONG_SECONDS:.0f} s is the only one, marked \"(1 run)\".",
        f"Masked: `--missing {MISSING:g}` makes nfx-bench hide {MISSING:.0%} of the entries at random (NaN) before the "
        f"fit, which masks them out. Its median time per iteration over `--tol 0 --max-iter {MASKED_ITER}` is compared "
        f"with the unmasked fit of the same {MASKED_ITER} iterations; its relative error (and so \"reached E\") is "
        "over the observed entries only.",
        f"PCA: nfx-bench `--method pca --solver randomized` ({POWER_ITERATIONS} power iterations, each unit centred) "
        f"against `TruncatedSVD(n_components={RANK}, algorithm='randomized', n_iter={POWER_ITERATIONS}, "
        "random_state=0)` on X (uncentred: the issue's reference) and `PCA(n_components="
        f"{RANK}, svd_solver='randomized', iterated_power={POWER_ITERATIONS}, random_state=0)` on a C-contiguous "
        "copy of Xᵀ (samples = time points, so PCA centres each unit, as nfx does; the copy is made before the "
        f"timing). scikit-learn times are medians of {RUNS} calls after one warm-up. The singular values compared "
        "are nfx's `singularValues` and PCA's `singular_values_`.",
        f"Peak memory uses the full CLI, unlike the other rows: `nfx factorize FILE:/data --rank {RANK} "
        "--init INIT -o OUT --force --json --max-iter 30 --tol 0 --threads 2`, whose maximum resident set "
        "(ru_maxrss from `os.wait4` in a fresh Python launcher of a few MB, since Linux counts a child's pre-exec memory: a child forked from the benchmark process would report the benchmark's size) covers the HDF5 read, the fit, the output write and the "
        f"runtime; the input is {m} × {n} × 8 bytes. Its process took {a['memory']['process']:.2f} s "
        f"(`wall_seconds` {a['memory']['wall']:.2f} s, relative error {a['memory']['error']:.5f} after "
        f"{a['memory']['iterations']} iterations).",
        f"Workload B: `nfx simulate matrix --units {PLANTED_UNITS} --time {PLANTED_TIME} --rank {PLANTED_RANK} "
        f"--noise {PLANTED_NOISE:g}` (seed 0) writes /data and the planted /truth/W, /truth/H. nfx runs "
        f"`nfx factorize FILE:/data --rank {PLANTED_RANK}` with its defaults (HALS, NNDSVDa, tol {DEFAULT_TOL:g}), "
        f"scikit-learn `NMF(n_components={PLANTED_RANK}, solver='cd', max_iter={PLANTED_MAX_ITER}, random_state=0)` "
        "(default init, which is NNDSVDa here). Matched similarity: cos(W column, true W column) × cos(H row, true "
        "H row) for every pair of components, paired by `scipy.optimize.linear_sum_assignment` (maximising) and "
        "averaged over the components; 1 is a perfect recovery up to scale and order.",
        f"Rank sweep: `nfx factorize FILE:/data --ranks {SWEEP_RANKS} --replicates {SWEEP_REPLICATES} --json` "
        "(10 % of the entries held out per fit, a different hold-out and random start per replicate; similarity "
        "is between replicates), which writes the rank with the lowest test error. It chose rank "
        f"{b['sweep']['chosen']} (planted {PLANTED_RANK}: {tick(b['sweep']['chosen'] == PLANTED_RANK)}) in "
        f"{b['sweep']['seconds']:.1f} s (`wall_seconds`; whole process {b['sweep']['process']:.1f} s).",
        f"Versions: nfx {versions['nfx']}; scikit-learn {versions['sklearn']}, numpy {versions['numpy']}, scipy "
        f"{versions['scipy']}; BLAS libraries loaded in Python (threadpoolctl): {versions['blas']}.",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} at commit "
        f"{benchlib._git_commit()} (the Machine section above may come from an earlier run when this script is run "
        "alone).",
    ]
    return notes + benchlib.load_notes(busy_start, busy_end, cores, THREADS)


def render(a, b, notes, quick, versions):
    m, n = a["shape"]
    intro = (
        "Generated by `Scripts/bench/factorize.py` (called by `Scripts/bench/run.sh` after deconvolve.py). "
        f"`nfx factorize` (NMF by HALS or MU, randomized PCA) against scikit-learn {versions['sklearn']} "
        f"(`NMF` with `solver='cd'` and `'mu'`, `TruncatedSVD`, `PCA`; numpy {versions['numpy']}) on the same inputs "
        f"in the same run, both on {THREADS} threads. Speed: workload A, the issue's dense non-negative rank-{RANK} "
        f"matrix {m:,} × {n:,}, from the same starting factors; nfx is timed in-process by `nfx-bench factorize`. "
        f"Accuracy: workload A's errors, and workload B, a planted rank-{PLANTED_RANK} truth. **Ratio** is "
        "scikit-learn / nfx: above 1 means nfx is faster."
    )
    if quick:
        intro += (f"\n\n**Quick run (`--quick`): workload A is {m:,} × {n:,}, not the issue's "
                  f"{FULL_SHAPE[0]:,} × {FULL_SHAPE[1]:,}; the targets are for the full size and do not apply.**")
    return "\n".join([
        SECTION + "\n",
        intro + "\n",
        "### Speed (workload A)\n",
        speed_table(a),
        "\n### Accuracy\n",
        accuracy_table(a, b),
        f"\n### Rank sweep (workload B, nfx `--ranks {SWEEP_RANKS} --replicates {SWEEP_REPLICATES}`)\n",
        f"Chosen rank {b['sweep']['chosen']} (planted {PLANTED_RANK}: {tick(b['sweep']['chosen'] == PLANTED_RANK)}), "
        f"{b['sweep']['seconds']:.1f} s.\n",
        sweep_table(b),
        "\n### All runs\n",
        runs_table(a),
        "\n### Notes\n",
        "\n".join(f"- {note}" for note in notes),
        "",
    ])


def versions_of(nfx):
    import scipy
    import sklearn

    return {"sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "blas": benchlib.numpy_blas(), "nfx": benchlib._command_output([nfx, "--version"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nfx", default=".build/release/nfx")
    parser.add_argument("--nfx-bench", help="nfx-bench for the in-process timings (default: next to --nfx)")
    parser.add_argument("--data", default=".bench-data", help="folder for the matrices and outputs")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true",
                        help=f"workload A at {QUICK_SHAPE[0]} × {QUICK_SHAPE[1]} (for trying the script out)")
    args = parser.parse_args()
    nfx_bench = args.nfx_bench or os.path.join(os.path.dirname(args.nfx), "nfx-bench")
    os.makedirs(args.data, exist_ok=True)
    cores = benchlib.usable_cores()
    versions = versions_of(args.nfx)
    busy_start = benchlib.cpu_busy()
    a = bench_dense(args.nfx, nfx_bench, args.data, QUICK_SHAPE if args.quick else FULL_SHAPE, args.quick)
    b = bench_planted(args.nfx, args.data)
    busy_end = benchlib.cpu_busy()
    notes = notes_for(a, b, busy_start, busy_end, cores, versions)
    benchlib.replace_section(args.output, SECTION, render(a, b, notes, args.quick, versions))
    print(f"wrote the {SECTION[3:]} section of {args.output}")
    cd, hals, single = a["cd"], a["hals"], a["single"]
    print(f"  NMF: scikit-learn cd {fs(cd.seconds)} ({cd.iterations} iterations, error {cd.error:.5f}); nfx HALS to "
          f"that error {fs(hals.to_target)}, single {fs(single.to_target)}; PCA nfx {fs(a['nfx_pca'].seconds)} vs "
          f"TruncatedSVD {fs(a['tsvd'][0])}; peak memory {a['memory']['ratio']:.2f}× the input; planted similarity "
          f"nfx {b['nfx']['similarity']:.4f}, scikit-learn {b['sklearn']['similarity']:.4f}; sweep chose rank "
          f"{b['sweep']['chosen']}")


if __name__ == "__main__":
    main()
