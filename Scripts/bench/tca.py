"""Tensor component analysis benchmarks for `make bench`: `nfx tca` against tensortools and TensorLy.

Workload A (speed, the issue's): a dense non-negative rank-10 tensor 1000 × 200 × 100 (a random CP model plus 10 %
noise, clipped at 0) with one random non-negative start written to a file, given to all three tools. tensortools
(`ncp_hals`, `cp_als`) and TensorLy (`non_negative_parafac_hals`, `parafac`) run to their own tolerance;
`nfx-bench tca` (the fit in-process, without file I/O) is timed to the best error the peers stopped at, per
iteration and to its own stop, for non-negative CP (HALS, with its default extrapolation and without it) and CP
(ALS), in single precision and with 10 % of the entries missing; the errors after the same number of iterations from the same start are compared; the ensemble
over ranks 1–12 is timed; the whole `nfx tca` process gives the peak memory. Workload B (accuracy): `nfx simulate
tensor` with a planted rank-4 truth; nfx, tensortools and TensorLy scored by Williams et al.'s similarity to it, and
nfx's ensemble over ranks 1–8. All sides use 2 threads.
Appends (or replaces) the "Tensor component analysis" section of docs/benchmarks.md, which foundation.py writes
first.
"""

import argparse
import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np

import benchlib
# The generic pieces of the factorization benchmark: nfx-bench medians, the fresh-launcher peak memory, data files.
from factorize import fs, has_shapes, measure_bench, peak_memory, ratio_text, tick, write_h5

SECTION = "## Tensor component analysis"
THREADS = 2

# Workload A: the dense tensor.
RANK = 10
FULL_SHAPE = (1000, 200, 100)
QUICK_SHAPE = (200, 100, 50)
SEED = 1
NOISE = 0.1
MAX_ITER = 500
TOL = 1e-6
# Errors of the three tools compared after this many iterations from the same start.
CHECK_ITER = 20
MASKED_ITER = 40
MISSING = 0.1
MASK_SEED = 99
# tensortools' masked fits are slow: its `max_iter` for them (it runs one iteration more than `max_iter`).
PEER_MASKED_MAX_ITER = 2
PEER_MCP_MAX_ITER = 1
MEMORY_ITER = 30
# Written into the data file, so a file made some other way (or by an older version of this script) is not reused.
GENERATOR = (f"Scripts/bench/tca.py: default_rng({SEED}), F = rng.random((d, {RANK})) per mode, X = einsum(F), "
             f"max(X + {NOISE} std(X) N(0, 1), 0); start = rng.random((d, {RANK})) per mode")

# Ensembles.
ENSEMBLE_LOW, ENSEMBLE_HIGH = 1, 12
ENSEMBLE_REPLICATES = 8
# nfx's ensemble on workload A is abandoned after this long (then only the small tensor is reported) …
ENSEMBLE_TIMEOUT = 300.0
# … and tensortools' Ensemble on the small tensor and on workload A after these.
PEER_ENSEMBLE_TIMEOUT = 180.0
PEER_ENSEMBLE_A_TIMEOUT = 900.0
SMALL_SHAPE = QUICK_SHAPE

# The targets (2 threads, the full-size workload A).
NCP_PER_ITERATION = 0.020
NCP_STRETCH = 0.012
NCP_SPEEDUP = 3.0
NCP_SECONDS = 1.5
CP_SPEEDUP = 5.0
MASKED_SLOWDOWN = 2.0
ENSEMBLE_SECONDS = 60.0

# Workload B: planted truth.
PLANTED_UNITS = 100
PLANTED_TIME = 80
PLANTED_TRIALS = 60
PLANTED_RANK = 4
PLANTED_NOISE = 0.1
SWEEP_RANKS = "1-8"
SWEEP_REPLICATES = 4


def per_iteration(seconds):
    """`20.9 ms/iteration`, or `3.01 s/iteration` from one second up."""
    return f"{seconds:.3g} s/iteration" if seconds >= 1 else f"{seconds * 1000:.3g} ms/iteration"


def error_text(value):
    return "—" if value is None else f"{value:.6f}"


def iterations_text(count, limit):
    return f"{count} (= max)" if count >= limit else str(count)


# ---------------------------------------------------------------------------------------------------------------
# Tensors, errors and the similarity score


def model_error(X, factors, weights=None, block=100):
    """||X − [[w; A, B, C]]||_F / ||X||_F, a block of units at a time (no full-size model tensor)."""
    A, B, C = (np.asarray(f, dtype=float) for f in factors)
    if weights is not None:
        A = A * np.asarray(weights, dtype=float)[None, :]
    residual = total = 0.0
    for start in range(0, X.shape[0], block):
        slab = X[start:start + block]
        model = np.einsum("ir,jr,kr->ijk", A[start:start + block], B, C, optimize=True)
        residual += float(np.sum((slab - model) ** 2))
        total += float(np.sum(slab ** 2))
    return (residual / total) ** 0.5 if total > 0 else 0.0


def normalized(factors, weights=None):
    """(unit-norm factor columns, weights): the column norms of every mode multiply into the weights."""
    rank = factors[0].shape[1]
    weights = np.ones(rank) if weights is None else np.asarray(weights, dtype=float).copy()
    units = []
    for factor in factors:
        factor = np.asarray(factor, dtype=float)
        norms = np.linalg.norm(factor, axis=0)
        weights = weights * norms
        units.append(factor / np.where(norms > 0, norms, 1))
    return units, weights


def williams_similarity(first, second):
    """Williams et al. (2018): for every pair of components the product over modes of the cosines of their factors
    times 1 − |w − w'| / max(w, w'), paired by an optimal assignment (maximising), summed over the pairs and divided by
    the larger rank (an unmatched component counts 0). `first` and `second` are (factors, weights) with weights None
    when the scale is in the factors."""
    from scipy.optimize import linear_sum_assignment

    (U, u), (V, v) = normalized(*first), normalized(*second)
    scores = np.ones((len(u), len(v)))
    for a, b in zip(U, V):
        scores *= a.T @ b
    top = np.maximum(u[:, None], v[None, :])
    scores *= np.where(top > 0, 1 - np.abs(u[:, None] - v[None, :]) / np.where(top > 0, top, 1), 1)
    rows, columns = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, columns].sum() / max(len(u), len(v)))


def read_factors(path, prefix=""):
    with h5py.File(path, "r") as file:
        factors = [np.asarray(file[f"{prefix}/factors/mode{mode}"][()], dtype=float) for mode in range(3)]
        weights = np.asarray(file[f"{prefix}/weights"][()], dtype=float) if f"{prefix}/weights" in file else None
    return factors, weights


# ---------------------------------------------------------------------------------------------------------------
# Workload A: data and starting factors


def dense_workload(folder, shape, quick):
    """(data path, init path, X, start factors, noise floor): the issue's tensor and its random start, made or reused
    (a file is reused only with the right shape and this script's `generator` attribute), and the relative error of
    the CP model it was made from."""
    name = "tca-dense-quick" if quick else "tca-dense"
    data_path = os.path.join(folder, f"{name}.h5")
    init_path = os.path.join(folder, f"{name.replace('dense', 'init')}.h5")
    rng = np.random.default_rng(SEED)
    F = [rng.random((d, RANK)) for d in shape]
    starts = {f"mode{m}": (d, RANK) for m, d in enumerate(shape)}
    if has_shapes(data_path, {"data": shape}, GENERATOR) and has_shapes(init_path, starts, GENERATOR):
        print(f"tca: reusing {data_path} and {init_path}", flush=True)
        with h5py.File(data_path, "r") as file:
            X = file["data"][()]
        with h5py.File(init_path, "r") as file:
            S = [file[f"mode{m}"][()] for m in range(3)]
    else:
        print(f"tca: generating {data_path} ({' × '.join(map(str, shape))}, rank {RANK}) and {init_path}", flush=True)
        X = np.einsum("ir,jr,kr->ijk", *F)
        X = np.maximum(X + NOISE * X.std() * rng.standard_normal(X.shape), 0)
        S = [rng.random((d, RANK)) for d in shape]
        write_h5(data_path, {"generator": GENERATOR}, data=X)
        write_h5(init_path, {"generator": GENERATOR}, **{f"mode{m}": S[m] for m in range(3)})
    return data_path, init_path, X, S, model_error(X, F)


# ---------------------------------------------------------------------------------------------------------------
# The peers


@dataclasses.dataclass
class PeerFit:
    """One tensortools or TensorLy fit: wall seconds, iterations, the relative error this script computes from the
    returned factors, and the peer's own relative error after every iteration."""

    seconds: float
    iterations: int
    error: float
    history: list

    @property
    def per_iteration(self):
        return self.seconds / max(1, self.iterations)

    def error_at(self, iteration):
        return float(self.history[iteration - 1]) if len(self.history) >= iteration else None


def warm_up_peers():
    """One tiny fit of each kind: numba compiles tensortools' HALS update on its first call (for every input type),
    and nothing of that belongs in the timings."""
    import tensortools as tt
    from tensorly.cp_tensor import CPTensor
    from tensorly.decomposition import non_negative_parafac_hals, parafac

    rng = np.random.default_rng(0)
    X = rng.random((6, 5, 4))
    mask = rng.random(X.shape) >= MISSING
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for extra in ({}, {"mask": mask}):
            tt.ncp_hals(X, RANK, init=tt.KTensor([rng.random((d, RANK)) for d in X.shape]), max_iter=2,
                        verbose=False, **extra)
        tt.cp_als(X, RANK, init=tt.KTensor([rng.random((d, RANK)) for d in X.shape]), max_iter=2, verbose=False)
        start = CPTensor((np.ones(RANK), [rng.random((d, RANK)) for d in X.shape]))
        non_negative_parafac_hals(X, RANK, init=start, n_iter_max=2)
        parafac(X, RANK, init=start, n_iter_max=2, normalize_factors=False, linesearch=False)


def tensortools_fit(X, S, method, max_iter=MAX_ITER, tol=TOL, mask=None, compute_error=True):
    """tensortools `ncp_hals`, `cp_als` or `mcp_als` from the given start (a KTensor, which tensortools copies)."""
    import tensortools as tt
    from threadpoolctl import threadpool_limits

    function = {"ncp_hals": tt.ncp_hals, "cp_als": tt.cp_als, "mcp_als": tt.mcp_als}[method]
    arguments = {"mask": mask} if mask is not None else {}
    start = tt.KTensor([np.array(f, dtype=float) for f in S])
    with threadpool_limits(THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # numba's NumbaPerformanceWarning about a non-contiguous matmul
        begin = time.perf_counter()
        result = function(X, RANK, init=start, tol=tol, max_iter=max_iter, verbose=False, **arguments)
        seconds = time.perf_counter() - begin
    error = model_error(X, result.factors.factors) if compute_error else float(result.obj)
    return PeerFit(seconds, int(result.iterations), error, [float(e) for e in result.obj_hist])


def tensorly_fit(X, S, method, max_iter=MAX_ITER, tol=TOL):
    """TensorLy `non_negative_parafac_hals` or `parafac` (ALS, normalize_factors=False, no line search) from the
    given start (a CPTensor with unit weights, which TensorLy copies)."""
    import tensorly as tl
    from tensorly.cp_tensor import CPTensor
    from tensorly.decomposition import non_negative_parafac_hals, parafac
    from threadpoolctl import threadpool_limits

    tl.set_backend("numpy")
    start = CPTensor((np.ones(RANK), [np.array(f, dtype=float) for f in S]))
    with threadpool_limits(THREADS):
        begin = time.perf_counter()
        if method == "ncp":
            cp, errors = non_negative_parafac_hals(X, RANK, init=start, n_iter_max=max_iter, tol=tol,
                                                   return_errors=True)
        else:
            cp, errors = parafac(X, RANK, init=start, n_iter_max=max_iter, tol=tol, normalize_factors=False,
                                 linesearch=False, return_errors=True)
        seconds = time.perf_counter() - begin
    weights, factors = cp
    return PeerFit(seconds, len(errors), model_error(X, factors, weights), [float(e) for e in errors])


def report(name, fit):
    print(f"  {name}: {fit.seconds:.2f} s, {fit.iterations} iterations, error {fit.error:.6f}", flush=True)


def run_json_timeout(command, timeout):
    """`benchlib.run_json` with a time limit: None when the command ran longer (it is killed)."""
    print("  " + " ".join(command[1:]), flush=True)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  … stopped after {timeout:.0f} s", flush=True)
        return None
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} printed nothing on stdout")
    return json.loads(lines[-1])


def tensortools_ensemble(path):
    """Runs in a child process (`tca.py --tensortools-ensemble FILE`, killed after PEER_ENSEMBLE_TIMEOUT): tensortools'
    Ensemble of `ncp_hals` fits over the same ranks and replicates as nfx, printed as one JSON line. Besides
    tensortools' own similarity (kruskal_align: the mean over modes of |cos|, no weights) it gives Williams et al.'s
    score of the same fits, as nfx computes it."""
    import tensortools as tt
    from threadpoolctl import threadpool_limits

    with h5py.File(path, "r") as file:
        X = file["data"][()]
    warm_up_peers()
    ranks = list(range(ENSEMBLE_LOW, ENSEMBLE_HIGH + 1))
    ensemble = tt.Ensemble(nonneg=True, fit_method="ncp_hals", fit_options={"tol": TOL, "max_iter": MAX_ITER})
    with threadpool_limits(THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        begin = time.perf_counter()
        ensemble.fit(X, ranks=ranks, replicates=ENSEMBLE_REPLICATES, verbose=False)
        seconds = time.perf_counter() - begin
    summary = []
    for rank in ranks:
        results = ensemble.results[rank]   # sorted by objective: the best first
        best = (results[0].factors.factors, None)
        williams = [williams_similarity(best, (result.factors.factors, None)) for result in results[1:]]
        summary.append([rank, float(results[0].obj), float(np.mean(ensemble.similarities(rank)[1:])),
                        float(np.mean(williams))])
    print(json.dumps({"seconds": seconds, "fits": len(ranks) * ENSEMBLE_REPLICATES, "summary": summary}))


# ---------------------------------------------------------------------------------------------------------------
# Workload A


def bench_dense(nfx, nfx_bench, folder, shape, quick):
    data_path, init_path, X, S, floor = dense_workload(folder, shape, quick)
    a = {"shape": shape, "data": data_path, "init": init_path, "floor": floor, "quick": quick}
    warm_up_peers()

    print("tca: tensortools ncp_hals …", flush=True)
    a["tt_ncp"] = tensortools_fit(X, S, "ncp_hals")
    report("tensortools ncp_hals", a["tt_ncp"])
    print("tca: TensorLy non_negative_parafac_hals …", flush=True)
    a["tl_ncp"] = tensorly_fit(X, S, "ncp")
    report("TensorLy non_negative_parafac_hals", a["tl_ncp"])
    print("tca: tensortools cp_als …", flush=True)
    a["tt_cp"] = tensortools_fit(X, S, "cp_als")
    report("tensortools cp_als", a["tt_cp"])
    print("tca: TensorLy parafac …", flush=True)
    a["tl_cp"] = tensorly_fit(X, S, "cp")
    report("TensorLy parafac", a["tl_cp"])
    a["ncp_target"] = ncp_target = min(a["tt_ncp"].error, a["tl_ncp"].error)
    a["cp_target"] = cp_target = min(a["tt_cp"].error, a["tl_cp"].error)

    def bench(*extra):
        return [nfx_bench, "tca", data_path, "/data", "--rank", str(RANK), "--init", init_path, "--threads",
                str(THREADS), *extra]

    own_stop = ["--tol", repr(TOL), "--max-iter", str(MAX_ITER)]

    def to(target):
        return ["--tol", "0", "--max-iter", str(MAX_ITER), "--target", repr(target)]

    print("tca: nfx-bench ncp …", flush=True)
    a["ncp"] = measure_bench(bench(*to(ncp_target)))
    a["ncp_stop"] = measure_bench(bench(*own_stop))
    print("tca: nfx-bench ncp without extrapolation (--acceleration none) …", flush=True)
    a["ncp_plain"] = measure_bench(bench("--acceleration", "none", *to(ncp_target)))
    print("tca: nfx-bench ncp, single precision …", flush=True)
    a["single"] = measure_bench(bench("--precision", "single", *to(ncp_target)))
    a["single_stop"] = measure_bench(bench("--precision", "single", *own_stop))
    print("tca: nfx-bench cp …", flush=True)
    a["cp"] = measure_bench(bench("--method", "cp", *to(cp_target)))
    a["cp_stop"] = measure_bench(bench("--method", "cp", *own_stop))
    print(f"tca: nfx-bench masked and unmasked ncp, {MASKED_ITER} iterations …", flush=True)
    short = ["--tol", "0", "--max-iter", str(MASKED_ITER)]
    a["masked"] = measure_bench(bench(*short, "--missing", repr(MISSING)))
    a["unmasked"] = measure_bench(bench(*short))
    print(f"tca: nfx-bench after {CHECK_ITER} iterations (same start as the peers) …", flush=True)
    check = ["--tol", "0", "--max-iter", str(CHECK_ITER)]
    a["check"] = {method: float(benchlib.run_json(bench("--method", method, *check))["relativeError"])
                  for method in ("ncp", "cp")}

    print(f"tca: tensortools with {MISSING:.0%} of the entries masked (reference) …", flush=True)
    mask = np.random.default_rng(MASK_SEED).random(shape) >= MISSING
    a["tt_masked"] = tensortools_fit(X, S, "ncp_hals", max_iter=PEER_MASKED_MAX_ITER, tol=-np.inf, mask=mask,
                                     compute_error=False)
    a["tt_unmasked"] = tensortools_fit(X, S, "ncp_hals", max_iter=PEER_MASKED_MAX_ITER, tol=-np.inf,
                                       compute_error=False)
    a["tt_mcp"] = tensortools_fit(X, S, "mcp_als", max_iter=PEER_MCP_MAX_ITER, tol=-np.inf, mask=mask,
                                  compute_error=False)
    for key in ("tt_masked", "tt_unmasked", "tt_mcp"):
        print(f"  {key}: {a[key].per_iteration * 1000:.1f} ms/iteration ({a[key].iterations} iterations)", flush=True)
    del mask

    print("tca: peak memory of nfx tca …", flush=True)
    out = os.path.join(folder, f"tca-dense{'-quick' if quick else ''}.nfx.h5")
    command = [nfx, "tca", data_path + ":/data", "--rank", str(RANK), "--init", "svd", "-o", out, "--force", "--json",
               "--quiet", "--max-iter", str(MEMORY_ITER), "--tol", "0", "--threads", str(THREADS)]
    result, peak_kib, process_seconds = peak_memory(command)
    a["memory"] = {"kib": peak_kib, "input": int(np.prod(shape)) * 8, "wall": float(result["wall_seconds"]),
                   "process": process_seconds, "error": float(result["relative_error"]),
                   "iterations": int(result["iterations"])}
    a["memory"]["ratio"] = peak_kib * 1024 / a["memory"]["input"]
    os.remove(out)
    return a, X


def bench_ensembles(nfx_bench, folder, a):
    """nfx-bench tca-ensemble on workload A in double and single precision (each stopped after ENSEMBLE_TIMEOUT)
    and on the small tensor; tensortools' Ensemble on the small tensor (stopped after PEER_ENSEMBLE_TIMEOUT) and on
    workload A (after PEER_ENSEMBLE_A_TIMEOUT)."""
    e = {}

    def command(path, precision="double"):
        return [nfx_bench, "tca-ensemble", path, "/data", "--low", str(ENSEMBLE_LOW), "--high", str(ENSEMBLE_HIGH),
                "--replicates", str(ENSEMBLE_REPLICATES), "--max-iter", str(MAX_ITER), "--tol", repr(TOL),
                "--precision", precision, "--threads", str(THREADS)]

    print(f"tca: nfx-bench tca-ensemble, ranks {ENSEMBLE_LOW}-{ENSEMBLE_HIGH} × {ENSEMBLE_REPLICATES}, workload A …",
          flush=True)
    e["nfx_a"] = run_json_timeout(command(a["data"]), ENSEMBLE_TIMEOUT)
    print("tca: the same, --precision single …", flush=True)
    e["nfx_a_single"] = run_json_timeout(command(a["data"], "single"), ENSEMBLE_TIMEOUT)
    if a["quick"]:
        small_path = a["data"]
        e["nfx_small"] = e["nfx_a"]
    else:
        small_path = dense_workload(folder, SMALL_SHAPE, True)[0]
        print(f"tca: nfx-bench tca-ensemble, small tensor {' × '.join(map(str, SMALL_SHAPE))} …", flush=True)
        e["nfx_small"] = run_json_timeout(command(small_path), ENSEMBLE_TIMEOUT)
    e["small_path"] = small_path
    print("tca: tensortools Ensemble (ncp_hals) on the small tensor …", flush=True)
    e["tt_small"] = run_json_timeout([sys.executable, os.path.abspath(__file__), "--tensortools-ensemble",
                                      small_path], PEER_ENSEMBLE_TIMEOUT)
    e["tt_a"] = None
    if not a["quick"]:
        print(f"tca: tensortools Ensemble (ncp_hals) on workload A (up to {PEER_ENSEMBLE_A_TIMEOUT:.0f} s) …",
              flush=True)
        e["tt_a"] = run_json_timeout([sys.executable, os.path.abspath(__file__), "--tensortools-ensemble",
                                      a["data"]], PEER_ENSEMBLE_A_TIMEOUT)
    for key in ("nfx_a", "nfx_a_single", "nfx_small", "tt_small", "tt_a"):
        if e[key] is not None:
            print(f"  {key}: {float(e[key]['seconds']):.1f} s", flush=True)
    return e


# ---------------------------------------------------------------------------------------------------------------
# Workload B


def bench_planted(nfx, folder):
    import tensortools as tt
    from tensorly.decomposition import non_negative_parafac_hals
    from threadpoolctl import threadpool_limits

    path = os.path.join(folder, "tca-planted.h5")
    print(f"tca: simulating {path}", flush=True)
    subprocess.run([nfx, "simulate", "tensor", "-o", path, "--units", str(PLANTED_UNITS), "--time", str(PLANTED_TIME),
                    "--trials", str(PLANTED_TRIALS), "--rank", str(PLANTED_RANK), "--noise", repr(PLANTED_NOISE),
                    "--force", "--quiet"], check=True)
    with h5py.File(path, "r") as file:
        X = np.asarray(file["data"][()], dtype=float)
        truth = ([np.asarray(file[f"truth/factors/mode{m}"][()], dtype=float) for m in range(3)], None)
    b = {"truth_error": model_error(X, truth[0]), "truth_weights": normalized(*truth)[1]}

    print("tca: nfx tca on the planted tensor …", flush=True)
    out = os.path.join(folder, "tca-planted.nfx.h5")
    result = benchlib.run_json([nfx, "tca", path + ":/data", "--rank", str(PLANTED_RANK), "-o", out, "--force",
                                "--json", "--quiet", "--threads", str(THREADS)])
    fit = read_factors(out)
    b["nfx"] = {"error": float(result["relative_error"]), "own_error": model_error(X, *fit),
                "iterations": int(result["iterations"]), "seconds": float(result["wall_seconds"]),
                "similarity": williams_similarity(fit, truth)}
    # `nfx compare` may not score tca results yet: its similarity, when it does, checks this script's.
    try:
        compared = benchlib.run_json([nfx, "compare", out, path, "--json"])
        b["compare"] = next((float(value) for key, value in compared.items() if "similarity" in key
                             and isinstance(value, (int, float))), None)
    except RuntimeError as error:
        found = re.search(r" exited (\d+): (.*)", str(error), re.S)
        b["compare"] = (f"exit {found[1]}: {found[2].strip().splitlines()[-1]}" if found and found[2].strip()
                        else str(error))

    print("tca: tensortools ncp_hals and TensorLy non_negative_parafac_hals on the planted tensor …", flush=True)
    with threadpool_limits(THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        begin = time.perf_counter()
        fitted = tt.ncp_hals(X, PLANTED_RANK, random_state=0, max_iter=MAX_ITER, verbose=False)
        seconds = time.perf_counter() - begin
        factors = (fitted.factors.factors, None)
        b["tt"] = {"error": model_error(X, *factors), "iterations": int(fitted.iterations), "seconds": seconds,
                   "similarity": williams_similarity(factors, truth)}
        begin = time.perf_counter()
        cp, errors = non_negative_parafac_hals(X, PLANTED_RANK, random_state=0, n_iter_max=MAX_ITER,
                                               return_errors=True)
        seconds = time.perf_counter() - begin
        factors = (cp[1], cp[0])
        b["tl"] = {"error": model_error(X, *factors), "iterations": len(errors), "seconds": seconds,
                   "similarity": williams_similarity(factors, truth)}

    print(f"tca: nfx ensemble {SWEEP_RANKS} × {SWEEP_REPLICATES} …", flush=True)
    sweep_out = os.path.join(folder, "tca-planted.sweep.h5")
    begin = time.perf_counter()
    result = benchlib.run_json([nfx, "tca", path + ":/data", "--ranks", SWEEP_RANKS, "--replicates",
                                str(SWEEP_REPLICATES), "--json", "--quiet", "-o", sweep_out, "--force", "--threads",
                                str(THREADS)])
    written = read_factors(sweep_out)
    b["sweep"] = {"rows": result["ensemble"], "chosen": int(result["rank"]), "seconds": float(result["wall_seconds"]),
                  "process": time.perf_counter() - begin, "error": float(result["relative_error"]),
                  "similarity": williams_similarity(written, truth)}
    for name in (out, sweep_out):
        os.remove(name)
    return b


# ---------------------------------------------------------------------------------------------------------------
# Other work during the run


# Above this share of all cores' time spent on other work during the run, the section carries a warning.
OTHER_WORK_WARNING = 0.10


class RunConditions:
    """What else happened while the benchmark ran (a build on this machine slows it down and rewrites nfx): the CPU
    time the rest of the machine used — all cores' busy time from /proc/stat minus the CPU time of this process and
    of its children, which it has all waited for (os.times) — and whether the binaries changed."""

    def __init__(self, binaries):
        self.binaries = {path: self._stamp(path) for path in binaries}
        self.start = self._sample()

    @staticmethod
    def _stamp(path):
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None

    @staticmethod
    def _sample():
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        total = sum(fields[:8])
        busy = total - fields[3] - fields[4]
        own = os.times()
        return busy, total, own.user + own.system + own.children_user + own.children_system

    def finish(self):
        """(share of all cores' time used by other work, binaries that changed during the run)."""
        busy0, total0, own0 = self.start
        busy1, total1, own1 = self._sample()
        ticks = os.sysconf("SC_CLK_TCK")
        other = max(0.0, (busy1 - busy0) / ticks - (own1 - own0))
        share = other / ((total1 - total0) / ticks) if total1 > total0 else 0.0
        changed = [path for path, stamp in self.binaries.items() if self._stamp(path) != stamp]
        return share, changed


# ---------------------------------------------------------------------------------------------------------------
# The section


def own_stop_text(timing):
    """`0.51 s (25 iterations, error 0.09951)`."""
    limit = " = max" if timing.iterations >= MAX_ITER else ""
    return (f"{fs(timing.seconds)} ({timing.iterations} iterations{limit}, error {timing.error:.5f}"
            + ("; 1 run)" if timing.single else ")"))


def peer_text(name, fit):
    return f"{name} {fs(fit.seconds)} ({fit.iterations} iterations, error {fit.error:.5f}, 1 run)"


def to_target_cell(timing):
    if timing.to_target is None:
        return f"not reached in {timing.iterations} iterations (error {timing.error:.5f})"
    return timing.describe(timing.to_target)


def speed_table(a, e):
    tt_ncp, tl_ncp, tt_cp, tl_cp = a["tt_ncp"], a["tl_ncp"], a["tt_cp"], a["tl_cp"]
    ncp, single, cp = a["ncp"], a["single"], a["cp"]
    rows = []

    def ratio_of(peer, nfx):
        return None if nfx is None else benchlib.ratio(peer, nfx)

    # Non-negative CP.
    E = a["ncp_target"]
    speedup = ratio_of(tt_ncp.seconds, ncp.to_target)
    met = "✗ (not reached)" if ncp.to_target is None else (
        f"{tick(ncp.to_target <= NCP_SECONDS)} time, {tick(speedup >= NCP_SPEEDUP)} ratio")
    rows.append((f"NCP (HALS) to the best peer error E = {E:.5f}, double", to_target_cell(ncp),
                 peer_text("tensortools `ncp_hals`", tt_ncp), ratio_text(tt_ncp.seconds, ncp.to_target),
                 f"≤ {NCP_SECONDS:g} s, ratio ≥ {NCP_SPEEDUP:g}", met))
    rows.append((f"NCP (HALS) to E = {E:.5f}, double", to_target_cell(ncp),
                 peer_text("TensorLy `non_negative_parafac_hals`", tl_ncp), ratio_text(tl_ncp.seconds, ncp.to_target),
                 "—", ""))
    plain = a["ncp_plain"]
    rows.append((f"NCP (plain HALS, `--acceleration none`) to E = {E:.5f}, double", to_target_cell(plain),
                 peer_text("tensortools `ncp_hals`", tt_ncp), ratio_text(tt_ncp.seconds, plain.to_target), "—", ""))
    speedup = benchlib.ratio(tt_ncp.per_iteration, ncp.per_iteration)
    rows.append(("NCP time per iteration, double", per_iteration(ncp.per_iteration),
                 f"tensortools {per_iteration(tt_ncp.per_iteration)}", ratio_text(tt_ncp.per_iteration, ncp.per_iteration),
                 f"≤ {NCP_PER_ITERATION * 1000:g} ms (stretch ≤ {NCP_STRETCH * 1000:g} ms), ratio ≥ {NCP_SPEEDUP:g}",
                 f"{tick(ncp.per_iteration <= NCP_PER_ITERATION)} time, {tick(ncp.per_iteration <= NCP_STRETCH)} "
                 f"stretch, {tick(speedup >= NCP_SPEEDUP)} ratio"))
    rows.append(("NCP time per iteration, double", per_iteration(ncp.per_iteration),
                 f"TensorLy {per_iteration(tl_ncp.per_iteration)}", ratio_text(tl_ncp.per_iteration, ncp.per_iteration),
                 "—", ""))
    stop = a["ncp_stop"]
    rows.append((f"NCP to its own stop (`--tol {TOL:g}`), double", own_stop_text(stop),
                 f"tensortools {fs(tt_ncp.seconds)}, TensorLy {fs(tl_ncp.seconds)}",
                 ratio_text(tt_ncp.seconds, stop.seconds), "—", ""))
    rows.append((f"NCP to E = {E:.5f}, `--precision single`", to_target_cell(single),
                 f"tensortools {fs(tt_ncp.seconds)}", ratio_text(tt_ncp.seconds, single.to_target), "—", ""))
    rows.append(("NCP time per iteration, single", per_iteration(single.per_iteration),
                 f"tensortools {per_iteration(tt_ncp.per_iteration)}",
                 ratio_text(tt_ncp.per_iteration, single.per_iteration), "—", ""))
    stop = a["single_stop"]
    rows.append((f"NCP to its own stop (`--tol {TOL:g}`), single", own_stop_text(stop),
                 f"tensortools {fs(tt_ncp.seconds)}", ratio_text(tt_ncp.seconds, stop.seconds), "—", ""))

    # CP.
    E = a["cp_target"]
    speedup = ratio_of(tt_cp.seconds, cp.to_target)
    met = "✗ (not reached)" if cp.to_target is None else tick(speedup >= CP_SPEEDUP)
    rows.append((f"CP (ALS) to the best peer error E = {E:.5f}", to_target_cell(cp),
                 peer_text("tensortools `cp_als`", tt_cp), ratio_text(tt_cp.seconds, cp.to_target),
                 f"ratio ≥ {CP_SPEEDUP:g}", met))
    rows.append((f"CP (ALS) to E = {E:.5f}", to_target_cell(cp), peer_text("TensorLy `parafac`", tl_cp),
                 ratio_text(tl_cp.seconds, cp.to_target), "—", ""))
    speedup = benchlib.ratio(tt_cp.per_iteration, cp.per_iteration)
    rows.append(("CP time per iteration", per_iteration(cp.per_iteration),
                 f"tensortools {per_iteration(tt_cp.per_iteration)}", ratio_text(tt_cp.per_iteration, cp.per_iteration),
                 f"ratio ≥ {CP_SPEEDUP:g}", tick(speedup >= CP_SPEEDUP)))
    rows.append(("CP time per iteration", per_iteration(cp.per_iteration),
                 f"TensorLy {per_iteration(tl_cp.per_iteration)}", ratio_text(tl_cp.per_iteration, cp.per_iteration),
                 "—", ""))
    stop = a["cp_stop"]
    rows.append((f"CP to its own stop (`--tol {TOL:g}`)", own_stop_text(stop),
                 f"tensortools {fs(tt_cp.seconds)}, TensorLy {fs(tl_cp.seconds)}",
                 ratio_text(tt_cp.seconds, stop.seconds), "—", ""))

    # Missing entries.
    masked, unmasked = a["masked"], a["unmasked"]
    slowdown = masked.per_iteration / unmasked.per_iteration
    rows.append((f"NCP per iteration with {MISSING:.0%} of entries missing ({MASKED_ITER} iterations)",
                 per_iteration(masked.per_iteration), f"nfx unmasked {per_iteration(unmasked.per_iteration)}",
                 ratio_text(unmasked.per_iteration, masked.per_iteration), f"masked ≤ {MASKED_SLOWDOWN:g}× unmasked",
                 f"{tick(slowdown <= MASKED_SLOWDOWN)} ({slowdown:.2f}×)"))
    tt_masked, tt_unmasked, tt_mcp = a["tt_masked"], a["tt_unmasked"], a["tt_mcp"]
    rows.append((f"NCP per iteration, {MISSING:.0%} missing (reference)", per_iteration(masked.per_iteration),
                 f"tensortools `ncp_hals(mask=…)` {per_iteration(tt_masked.per_iteration)} = "
                 f"{tt_masked.per_iteration / tt_unmasked.per_iteration:.1f}× its unmasked "
                 f"{per_iteration(tt_unmasked.per_iteration)} ({tt_masked.iterations} iterations)",
                 ratio_text(tt_masked.per_iteration, masked.per_iteration), "—", ""))
    rows.append((f"CP per iteration, {MISSING:.0%} missing (reference)", "— (nfx masks ncp and cp alike)",
                 f"tensortools `mcp_als` {per_iteration(tt_mcp.per_iteration)} = "
                 f"{tt_mcp.per_iteration / tt_unmasked.per_iteration:.1f}× its unmasked `ncp_hals` "
                 f"({tt_mcp.iterations} iterations)",
                 ratio_text(tt_mcp.per_iteration, masked.per_iteration), "—", ""))

    # Ensembles.
    m, n, k = a["shape"]
    low_high = f"ranks {ENSEMBLE_LOW}–{ENSEMBLE_HIGH} × {ENSEMBLE_REPLICATES}"
    tt_a = e["tt_a"]
    for key, precision in (("nfx_a", "double"), ("nfx_a_single", "`--precision single`")):
        nfx_a = e[key]
        if nfx_a is None:
            rows.append((f"ensemble, {low_high}, workload A, {precision}", f"stopped after {ENSEMBLE_TIMEOUT:.0f} s",
                         "—", "—", f"< {ENSEMBLE_SECONDS:g} s", "✗"))
            continue
        seconds = float(nfx_a["seconds"])
        if a["quick"]:
            peer, ratio = "tensortools: next row", "—"
        elif tt_a is None:
            peer, ratio = f"tensortools `Ensemble(fit_method='ncp_hals')` stopped after {PEER_ENSEMBLE_A_TIMEOUT:.0f} s", \
                f"> {PEER_ENSEMBLE_A_TIMEOUT / seconds:.1f}"
        else:
            peer = f"tensortools `Ensemble(fit_method='ncp_hals')` {fs(float(tt_a['seconds']))}"
            ratio = ratio_text(float(tt_a["seconds"]), seconds)
        rows.append((f"ensemble, {low_high} ({nfx_a['fits']} fits, {nfx_a['iterations']} iterations), workload A "
                     f"{m} × {n} × {k}, {precision}", fs(seconds), peer, ratio, f"< {ENSEMBLE_SECONDS:g} s",
                     tick(seconds < ENSEMBLE_SECONDS)))
    if not a["quick"]:
        small = e["nfx_small"]
        tt_small = e["tt_small"]
        rows.append((f"ensemble, {low_high}, small tensor {' × '.join(map(str, SMALL_SHAPE))}",
                     "—" if small is None else fs(float(small["seconds"])),
                     f"skipped (over {PEER_ENSEMBLE_TIMEOUT:.0f} s)" if tt_small is None
                     else f"tensortools `Ensemble(fit_method='ncp_hals')` {fs(float(tt_small['seconds']))}",
                     "—" if small is None or tt_small is None
                     else ratio_text(float(tt_small["seconds"]), float(small["seconds"])), "—", ""))
    elif e["tt_small"] is None:
        rows.append(("tensortools Ensemble on the same tensor", "—",
                     f"skipped (over {PEER_ENSEMBLE_TIMEOUT:.0f} s)", "—", "—", ""))
    else:
        rows.append(("tensortools Ensemble on the same tensor", fs(float(nfx_a["seconds"])) if nfx_a else "—",
                     f"tensortools `Ensemble(fit_method='ncp_hals')` {fs(float(e['tt_small']['seconds']))}",
                     "—" if nfx_a is None else ratio_text(float(e["tt_small"]["seconds"]), float(nfx_a["seconds"])),
                     "—", ""))

    memory = a["memory"]
    rows.append((f"peak memory of `nfx tca --init svd` (whole process, {MEMORY_ITER} iterations)",
                 f"{memory['kib'] / 1024:.0f} MiB = {memory['ratio']:.2f}× the input "
                 f"({memory['input'] / 2**20:.0f} MiB); wall_seconds {memory['wall']:.2f} s", "—", "—", "—", ""))
    return benchlib.markdown_table(["measurement", "nfx", "peer", "ratio peer/nfx", "target", "met?"], rows)


def agreement_table(a):
    rows = []
    for method, tt_key, tl_key, names in (("ncp", "tt_ncp", "tl_ncp", "HALS: `ncp_hals` / `non_negative_parafac_hals`"),
                                          ("cp", "tt_cp", "tl_cp", "ALS: `cp_als` / `parafac`")):
        values = [a[tt_key].error_at(CHECK_ITER), a[tl_key].error_at(CHECK_ITER), a["check"][method]]
        known = [v for v in values if v is not None]
        spread = (max(known) - min(known)) / min(known) if len(known) > 1 and min(known) > 0 else None
        rows.append((f"{method} ({names})", *(error_text(v) for v in values),
                     "—" if spread is None else f"{spread:.1e}"))
    return benchlib.markdown_table(["method", "tensortools", "TensorLy", "nfx", "max relative difference"], rows)


def accuracy_table(a, b):
    rows = []
    m, n, k = a["shape"]
    label = f"A: {m} × {n} × {k}, rank {RANK}"
    rows.append((label, "the generating CP model (noise floor)", f"{a['floor']:.6f}", "—", "—"))
    for key, name in (("tt_ncp", f"tensortools `ncp_hals`, tol {TOL:g}"),
                      ("tl_ncp", f"TensorLy `non_negative_parafac_hals`, tol {TOL:g}"),
                      ("tt_cp", f"tensortools `cp_als`, tol {TOL:g}"),
                      ("tl_cp", f"TensorLy `parafac`, tol {TOL:g}")):
        fit = a[key]
        rows.append((label, name, f"{fit.error:.6f}", iterations_text(fit.iterations, MAX_ITER), "—"))
    for key, name, limit in (("ncp", "nfx ncp, double, `--tol 0`", MAX_ITER),
                             ("ncp_stop", f"nfx ncp, double, `--tol {TOL:g}`", MAX_ITER),
                             ("single", "nfx ncp, single, `--tol 0`", MAX_ITER),
                             ("single_stop", f"nfx ncp, single, `--tol {TOL:g}`", MAX_ITER),
                             ("cp", "nfx cp, `--tol 0`", MAX_ITER),
                             ("cp_stop", f"nfx cp, `--tol {TOL:g}`", MAX_ITER),
                             ("unmasked", f"nfx ncp, `--max-iter {MASKED_ITER}`", MASKED_ITER),
                             ("masked", f"nfx ncp, {MISSING:.0%} missing, `--max-iter {MASKED_ITER}` (observed entries)",
                              MASKED_ITER)):
        timing = a[key]
        rows.append((label, name, f"{timing.error:.6f}", iterations_text(timing.iterations, limit), "—"))
    label = (f"B: planted, {PLANTED_UNITS} × {PLANTED_TIME} × {PLANTED_TRIALS}, rank {PLANTED_RANK}, "
             f"noise {PLANTED_NOISE:g}")
    rows.append((label, "the planted CP model (noise floor)", f"{b['truth_error']:.6f}", "—", "1"))
    rows.append((label, f"nfx `tca --rank {PLANTED_RANK}` (defaults: svd start, tol {TOL:g}; "
                        f"{fs(b['nfx']['seconds'])})", f"{b['nfx']['own_error']:.6f}", str(b["nfx"]["iterations"]),
                 f"{b['nfx']['similarity']:.4f}"))
    rows.append((label, f"tensortools `ncp_hals` (random start, `random_state=0`, tol 1e-5; {fs(b['tt']['seconds'])})",
                 f"{b['tt']['error']:.6f}", str(b["tt"]["iterations"]), f"{b['tt']['similarity']:.4f}"))
    rows.append((label, f"TensorLy `non_negative_parafac_hals` (svd start, `random_state=0`, tol 1e-7; "
                        f"{fs(b['tl']['seconds'])})",
                 f"{b['tl']['error']:.6f}", str(b["tl"]["iterations"]), f"{b['tl']['similarity']:.4f}"))
    sweep = b["sweep"]
    rows.append((label, f"nfx `tca --ranks {SWEEP_RANKS} --replicates {SWEEP_REPLICATES}`, the written rank "
                        f"{sweep['chosen']}", f"{sweep['error']:.6f}", "—", f"{sweep['similarity']:.4f}"))
    return benchlib.markdown_table(["workload", "fit", "relative error", "iterations",
                                    "similarity to truth (Williams et al.)"], rows)


def sweep_table(b):
    sweep = b["sweep"]
    rows = [(row["rank"], f"{row['best_error']:.5f}", f"{row['mean_error']:.5f}", f"{row['similarity']:.3f}",
             "← written" if int(row["rank"]) == sweep["chosen"] else "") for row in sweep["rows"]]
    return benchlib.markdown_table(["rank", "best error", "mean error", "similarity", ""], rows)


def ensemble_table(a, e):
    by_rank = {}
    columns = []
    m, n, k = a["shape"]
    sources = [("nfx_a", f"nfx, A {m} × {n} × {k}")]
    if not a["quick"]:
        sources.append(("tt_a", f"tensortools, A {m} × {n} × {k}"))
        sources.append(("nfx_small", f"nfx, {' × '.join(map(str, SMALL_SHAPE))}"))
    small = " × ".join(map(str, SMALL_SHAPE if not a["quick"] else a["shape"]))
    sources.append(("tt_small", f"tensortools, {small}"))
    for key, name in sources:
        if e[key] is None:
            continue
        columns.append(name)
        for row in e[key]["summary"]:
            cells = [f"{row[1]:.5f}", f"{row[2]:.3f}"]
            if key in ("tt_small", "tt_a"):
                cells = [f"{row[1]:.5f}", f"{row[3]:.3f} ({row[2]:.3f})"]
            by_rank.setdefault(int(row[0]), {})[name] = cells
    if not columns:
        return "No ensemble finished in its time limit."
    headers = ["rank"]
    for name in columns:
        headers += [f"{name}: best error", f"{name}: mean similarity"]
    rows = []
    for rank in sorted(by_rank):
        row = [rank]
        for name in columns:
            row += by_rank[rank].get(name, ["—", "—"])
        rows.append(row)
    return benchlib.markdown_table(headers, rows)


def runs_table(a, e):
    rows = []
    for key, name in (("ncp", "ncp double → E"), ("ncp_stop", "ncp double, own stop"),
                      ("ncp_plain", "ncp double, --acceleration none → E"),
                      ("single", "ncp single → E"), ("single_stop", "ncp single, own stop"),
                      ("cp", "cp → E (cp)"), ("cp_stop", "cp, own stop"),
                      ("masked", f"ncp {MISSING:.0%} missing, {MASKED_ITER} it."),
                      ("unmasked", f"ncp, {MASKED_ITER} it.")):
        timing = a[key]
        targets = [r.get("secondsToTarget") for r in timing.runs]
        rows.append((name, ", ".join(f"{float(r['seconds']):.3f}" for r in timing.runs),
                     ", ".join("—" if t is None else f"{float(t):.3f}" for t in targets),
                     ", ".join(f"{float(r['secondsPerIteration']) * 1000:.2f}" for r in timing.runs)))
    for key, name in (("tt_ncp", "tensortools ncp_hals"), ("tl_ncp", "TensorLy non_negative_parafac_hals"),
                      ("tt_cp", "tensortools cp_als"), ("tl_cp", "TensorLy parafac"),
                      ("tt_masked", f"tensortools ncp_hals, {MISSING:.0%} masked"),
                      ("tt_unmasked", "tensortools ncp_hals, same iterations unmasked"),
                      ("tt_mcp", f"tensortools mcp_als, {MISSING:.0%} masked")):
        fit = a[key]
        rows.append((f"{name} (1 run, {fit.iterations} it.)", f"{fit.seconds:.3f}", "—",
                     f"{fit.per_iteration * 1000:.2f} (time / iterations)"))
    for key, name in (("nfx_a", "nfx-bench tca-ensemble, A"),
                      ("nfx_a_single", "nfx-bench tca-ensemble --precision single, A"),
                      ("tt_a", "tensortools Ensemble, A"),
                      ("nfx_small", "nfx-bench tca-ensemble, small"), ("tt_small", "tensortools Ensemble, small")):
        if a["quick"] and key in ("nfx_small", "tt_a"):
            continue
        rows.append((f"{name} (1 run)", "—" if e[key] is None else f"{float(e[key]['seconds']):.3f}", "—", "—"))
    return benchlib.markdown_table(["measurement", "seconds", "seconds to target", "ms per iteration"], rows)


def notes_for(a, b, e, busy_start, busy_end, cores, versions, conditions):
    openblas = {name: value for name, value in sorted(os.environ.items()) if name.startswith("OPENBLAS_")}
    m, n, k = a["shape"]
    tt_ncp, tl_ncp, tt_cp, tl_cp = a["tt_ncp"], a["tl_ncp"], a["tt_cp"], a["tl_cp"]
    small = " × ".join(map(str, SMALL_SHAPE))
    if e["nfx_a"] is None:
        ensemble_note = (f"nfx's ensemble on workload A did not finish within {ENSEMBLE_TIMEOUT:.0f} s and was "
                         f"stopped; the small tensor {small} (the same recipe) is reported instead. ")
    elif a["quick"]:
        ensemble_note = ""
    else:
        ensemble_note = (f"The small tensor {small} (the same recipe, `tca-dense-quick.h5`) gives tensortools' Ensemble "
                         "a size it finishes in minutes, with nfx on the same tensor beside it; on workload A "
                         f"tensortools runs up to {PEER_ENSEMBLE_A_TIMEOUT:.0f} s. Note that tensortools stops when the "
                         "relative error (not its square) changes by less than `tol` in absolute terms, which at an "
                         "error of 0.036 is about 50× looser than nfx's relative change of the objective at the same "
                         "`tol`: tensortools' fits stop after fewer iterations. ")
    compare = b["compare"]
    if isinstance(compare, float):
        compare_note = (f"`nfx compare` on nfx's planted fit gives similarity {compare:.4f} (this script: "
                        f"{b['nfx']['similarity']:.4f}).")
    elif compare is None:
        compare_note = "`nfx compare` ran on nfx's planted fit but printed no similarity."
    else:
        compare_note = (f"`nfx compare` does not score tca results in this build ({compare}), so the similarity is "
                        "computed here.")
    notes = [
        f"Threads: tensortools and TensorLy run under `threadpoolctl.threadpool_limits({THREADS})` (their BLAS calls; "
        "tensortools' HALS column updates are a numba-compiled single-threaded loop, compiled by a warm-up fit before "
        f"any timing), nfx with `--threads {THREADS}`. OPENBLAS_* variables are passed through untouched to nfx and "
        "numpy alike: " + (", ".join(f"`{name}={value}`" for name, value in openblas.items()) or "none set") + ".",
        f"Workload A: `rng = np.random.default_rng({SEED})`, F = [rng.random((d, {RANK})) for d in ({m}, {n}, {k})], "
        f"X = einsum('ir,jr,kr->ijk', *F), X = max(X + {NOISE:g}·std(X)·N(0, 1), 0), float64 in "
        f"`{os.path.basename(a['data'])}:/data`; then the start S = [rng.random((d, {RANK})) for d in the same dims] "
        f"from the same generator, in `{os.path.basename(a['init'])}` (/mode0, /mode1, /mode2). All three tools start "
        "from S exactly: tensortools as `init=tt.KTensor(S)` (its `ncp_hals` and `cp_als` accept a KTensor and copy "
        "it; no random_state is used then), TensorLy as `init=CPTensor((ones(10), S))` (copied, weights 1), nfx-bench "
        "as `--init`. The generating model's own relative error (the noise floor) is "
        f"{a['floor']:.6f}.",
        f"Stopping rules differ: tensortools stops when its relative error falls by less than `tol={TOL:g}` in an "
        f"iteration (and runs one iteration past `max_iter={MAX_ITER}`), TensorLy when |change of relative error| < "
        f"`tol={TOL:g}` (`n_iter_max={MAX_ITER}`), nfx when the objective ½‖X − model‖² changes by less than "
        f"`--tol {TOL:g}` of itself — about {TOL / 2:g} × the error, a tighter rule, so nfx's own stop runs longer "
        "and lower. The comparison is therefore to the same error: E = the lower of the two peers' final errors "
        f"(NCP {a['ncp_target']:.6f}, CP {a['cp_target']:.6f}); nfx runs `--tol 0 --max-iter {MAX_ITER} --target E` "
        "and reports when its relative error first reached E. A peer whose own error is above E is compared on time "
        "to its own (higher) error, which favours the peer.",
        "Relative errors in the tables are ||X − model||_F / ||X||_F computed by this script from each peer's returned "
        "factors (for nfx: its own report, the same quantity). The peers' times are `time.perf_counter()` around one "
        "call (X already in memory; their input checks and norms included); their ms per iteration is that time / "
        "the number of iterations. nfx-bench (`nfx-bench tca FILE /data --rank 10 --init S --threads 2 …`) reads the "
        "file first and then times the fit alone in-process; seconds to target come from its per-iteration progress "
        "and its time per iteration is the median over iterations after the first. Every nfx-bench number is the "
        "median of 3 processes (no warm-up process: each reads the file from the page cache before its clock "
        "starts).",
        f"Same start, {CHECK_ITER} iterations: the peers' own per-iteration errors (tensortools `obj_hist`, TensorLy "
        f"`return_errors`) at iteration {CHECK_ITER} of the runs above, and nfx-bench `--tol 0 --max-iter "
        f"{CHECK_ITER}`. ALS from the same start is the same algorithm in all three (mode order 0, 1, 2; tensortools "
        "rebalances the column norms, which leaves the model unchanged), so its errors should agree to rounding; "
        "the HALS variants differ in their inner sweeps (tensortools 3 per mode, TensorLy up to 5), so theirs "
        "need not.",
        f"Masked: `--missing {MISSING:g}` makes nfx-bench hide {MISSING:.0%} of the entries at random (NaN) before the "
        f"fit, which masks them out (EM refill); median time per iteration over `--tol 0 --max-iter {MASKED_ITER}` "
        f"against the unmasked fit of the same {MASKED_ITER} iterations; its error is over the observed entries. "
        f"For reference tensortools `ncp_hals(mask=M)` (M: {MISSING:.0%} of the entries hidden, seed {MASK_SEED}; it "
        "rebuilds the full model after every mode update) and `mcp_als(X, 10, M)` (masked CP by ALS with batched "
        "per-row solves: it forms a 10 × the tensor's size temporary per mode) run `max_iter` "
        f"{PEER_MASKED_MAX_ITER} and {PEER_MCP_MAX_ITER} with `tol=-inf` (so "
        f"{PEER_MASKED_MAX_ITER + 1} and {PEER_MCP_MAX_ITER + 1} iterations), compared with unmasked `ncp_hals` run "
        "the same way; these include their setup (copy and mean-fill of X, norms) in the time per iteration.",
        f"Ensembles: `nfx-bench tca-ensemble FILE /data --low {ENSEMBLE_LOW} --high {ENSEMBLE_HIGH} --replicates "
        f"{ENSEMBLE_REPLICATES} --max-iter {MAX_ITER} --tol {TOL:g} --threads {THREADS}` (random starts; the replicates "
        "are fitted together in batches that share each pass over the tensor, each batch on both threads), timed "
        "in-process, and the same with `--precision single`; similarity is Williams et al.'s score of each replicate "
        "to the best one of its rank, averaged over the others. " + ensemble_note +
        f"tensortools: `Ensemble(nonneg=True, fit_method='ncp_hals', fit_options={{'tol': {TOL:g}, 'max_iter': "
        f"{MAX_ITER}}})` `.fit(X, ranks={ENSEMBLE_LOW}..{ENSEMBLE_HIGH}, replicates={ENSEMBLE_REPLICATES})` in a child "
        f"process (stopped after {PEER_ENSEMBLE_TIMEOUT:.0f} s on the small tensor), one fit after another, each from tensortools' "
        "unseeded `rand` start; its column shows Williams' score computed here on its fits, and in parentheses "
        "tensortools' own similarity (kruskal_align: mean over modes of |cos|, no weight term).",
        f"Peak memory uses the full CLI: `nfx tca FILE:/data --rank {RANK} --init svd -o OUT --force --json "
        f"--max-iter {MEMORY_ITER} --tol 0 --threads {THREADS}`, whose maximum resident set (ru_maxrss from "
        "`os.wait4` in a fresh Python launcher of a few MB, since Linux counts a child's pre-exec memory) covers the "
        f"HDF5 read, the SVD start, the fit, the output write and the runtime; the input is {m} × {n} × {k} × 8 "
        f"bytes. Its process took {a['memory']['process']:.2f} s (`wall_seconds` {a['memory']['wall']:.2f} s, "
        f"relative error {a['memory']['error']:.5f} after {a['memory']['iterations']} iterations).",
        f"Workload B: `nfx simulate tensor --units {PLANTED_UNITS} --time {PLANTED_TIME} --trials {PLANTED_TRIALS} "
        f"--rank {PLANTED_RANK} --noise {PLANTED_NOISE:g}` (seed 0) writes /data and the planted "
        "/truth/factors/mode0..2; the true weights are the products of their column norms (true weights here: "
        + ", ".join(f"{w:.3g}" for w in sorted(b["truth_weights"], reverse=True)) + "). "
        f"nfx runs `nfx tca FILE:/data --rank {PLANTED_RANK}` with its defaults; tensortools `ncp_hals(X, "
        f"{PLANTED_RANK}, random_state=0, max_iter={MAX_ITER})` (default `init='rand'`, tol 1e-5) and TensorLy "
        f"`non_negative_parafac_hals(X, {PLANTED_RANK}, random_state=0, n_iter_max={MAX_ITER})` (default "
        "`init='svd'`, tol 1e-7; its default limit is 100 iterations) under the same thread limit. Similarity "
        "(Williams et al. 2018): for every pair of components the product over modes of the cosines of the "
        "normalised factor columns times 1 − |w − w′| / max(w, w′), paired by `scipy.optimize.linear_sum_assignment` "
        "(maximising), summed and divided by the larger rank. " + compare_note,
        f"Ensemble on B: `nfx tca FILE:/data --ranks {SWEEP_RANKS} --replicates {SWEEP_REPLICATES} --json`, which "
        f"writes the smallest rank whose mean similarity is ≥ 0.95 and whose best error is within 3 % of the largest such rank's: rank {b['sweep']['chosen']} (planted "
        f"{PLANTED_RANK}: {tick(b['sweep']['chosen'] == PLANTED_RANK)}) in {b['sweep']['seconds']:.2f} s "
        f"(`wall_seconds`; whole process {b['sweep']['process']:.2f} s).",
        f"Versions: nfx {versions['nfx']}; tensortools {versions['tensortools']} (numba {versions['numba']}), TensorLy "
        f"{versions['tensorly']}, numpy {versions['numpy']}, scipy {versions['scipy']}; BLAS libraries loaded in "
        f"Python (threadpoolctl): {versions['blas']}.",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} at commit "
        f"{benchlib._git_commit()} (the Machine section above may come from an earlier run when this script is run "
        "alone).",
    ]
    other, changed = conditions
    notes += benchlib.load_notes(busy_start, busy_end, cores, THREADS)
    notes.append(f"Other work used {other:.0%} of all cores' time over the whole run (/proc/stat busy time minus the "
                 "CPU time of this script and its children).")
    if other > OTHER_WORK_WARNING:
        notes.append("**Warning: other work ran during the benchmark (e.g. a build); the times may be slow and "
                     "noisy.**")
    if changed:
        notes.append(f"**Warning: {', '.join(changed)} changed during the run (rebuilt): the rows may come from two "
                     "builds.**")
    return notes


def render(a, b, e, notes, versions):
    m, n, k = a["shape"]
    intro = (
        "Generated by `Scripts/bench/tca.py` (called by `Scripts/bench/run.sh` after factorize.py). `nfx tca` "
        f"(non-negative CP by HALS, CP by ALS) against tensortools {versions['tensortools']} (`ncp_hals`, `cp_als`, "
        f"`mcp_als`, `Ensemble`) and TensorLy {versions['tensorly']} (`non_negative_parafac_hals`, `parafac`) on the "
        f"same inputs in the same run, all on {THREADS} threads. Speed: workload A, the issue's dense non-negative "
        f"rank-{RANK} tensor {m:,} × {n:,} × {k:,}, from the same starting factors; nfx is timed in-process by "
        f"`nfx-bench tca`. Accuracy: workload A's errors, and workload B, a planted rank-{PLANTED_RANK} truth. "
        "**Ratio** is peer / nfx: above 1 means nfx is faster."
    )
    if a["quick"]:
        intro += (f"\n\n**Quick run (`--quick`): workload A is {m:,} × {n:,} × {k:,}, not the issue's "
                  f"{FULL_SHAPE[0]:,} × {FULL_SHAPE[1]:,} × {FULL_SHAPE[2]:,}; the targets are for the full size and do "
                  "not apply.**")
    sweep = b["sweep"]
    return "\n".join([
        SECTION + "\n",
        intro + "\n",
        "### Speed (workload A)\n",
        speed_table(a, e),
        f"\n### Same start, {CHECK_ITER} iterations (workload A, relative error)\n",
        agreement_table(a),
        "\n### Accuracy\n",
        accuracy_table(a, b),
        f"\n### Ensemble (ranks {ENSEMBLE_LOW}–{ENSEMBLE_HIGH} × {ENSEMBLE_REPLICATES} replicates)\n",
        ensemble_table(a, e),
        f"\n### Ensemble on workload B (nfx `--ranks {SWEEP_RANKS} --replicates {SWEEP_REPLICATES}`)\n",
        f"Written rank {sweep['chosen']} (planted {PLANTED_RANK}: {tick(sweep['chosen'] == PLANTED_RANK)}), "
        f"{sweep['seconds']:.2f} s.\n",
        sweep_table(b),
        "\n### All runs\n",
        runs_table(a, e),
        "\n### Notes\n",
        "\n".join(f"- {note}" for note in notes),
        "",
    ])


def versions_of(nfx):
    import scipy

    return {"tensortools": benchlib.package_version("tensortools"), "tensorly": benchlib.package_version("tensorly"), "numba": benchlib.package_version("numba"),
            "numpy": np.__version__, "scipy": scipy.__version__, "blas": benchlib.numpy_blas(),
            "nfx": benchlib._command_output([nfx, "--version"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nfx", default=".build/release/nfx")
    parser.add_argument("--nfx-bench", help="nfx-bench for the in-process timings (default: next to --nfx)")
    parser.add_argument("--data", default=".bench-data", help="folder for the tensors and outputs")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true",
                        help=f"workload A at {' × '.join(map(str, QUICK_SHAPE))} (for trying the script out)")
    parser.add_argument("--tensortools-ensemble", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tensortools_ensemble:
        return tensortools_ensemble(args.tensortools_ensemble)
    nfx_bench = args.nfx_bench or os.path.join(os.path.dirname(args.nfx), "nfx-bench")
    os.makedirs(args.data, exist_ok=True)
    cores = benchlib.usable_cores()
    versions = versions_of(args.nfx)
    busy_start = benchlib.cpu_busy()
    conditions = RunConditions([args.nfx, nfx_bench])
    a, X = bench_dense(args.nfx, nfx_bench, args.data, QUICK_SHAPE if args.quick else FULL_SHAPE, args.quick)
    del X
    e = bench_ensembles(nfx_bench, args.data, a)
    b = bench_planted(args.nfx, args.data)
    finished = conditions.finish()
    busy_end = benchlib.cpu_busy()
    notes = notes_for(a, b, e, busy_start, busy_end, cores, versions, finished)
    benchlib.replace_section(args.output, SECTION, render(a, b, e, notes, versions))
    print(f"wrote the {SECTION[3:]} section of {args.output}")
    ncp, cp = a["ncp"], a["cp"]
    print(f"  ncp: tensortools {fs(a['tt_ncp'].seconds)}, TensorLy {fs(a['tl_ncp'].seconds)}; nfx to E "
          f"{fs(ncp.to_target)}, {per_iteration(ncp.per_iteration)}; cp: tensortools {fs(a['tt_cp'].seconds)}, nfx to "
          f"E {fs(cp.to_target)}; planted similarity nfx {b['nfx']['similarity']:.4f}, tensortools "
          f"{b['tt']['similarity']:.4f}, TensorLy {b['tl']['similarity']:.4f}; ensemble wrote rank "
          f"{b['sweep']['chosen']}; other work {finished[0]:.0%} of the cores"
          + (f"; CHANGED DURING THE RUN: {', '.join(finished[1])}" if finished[1] else ""))


if __name__ == "__main__":
    main()
