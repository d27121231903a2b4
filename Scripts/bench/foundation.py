"""Foundation benchmarks for `make bench`: the machine's floors and HDF5 I/O, nfx against numpy and h5py.

The floors (DGEMM through OpenBLAS, memory bandwidth) say how fast this machine can go at all, so later
analysis benchmarks can be read against them; the HDF5 workloads are the I/O every nfx command pays. Each
workload runs nfx and its peer in the same run on the same inputs, reports medians, their ratio, and a quality
check beside the time so that speed is never bought with wrong results. Writes docs/benchmarks.md.
"""

import argparse
import dataclasses
import math
import os
import statistics
import time

import h5py
import numpy as np
from threadpoolctl import threadpool_limits

import benchlib

DGEMM_SIZE = 2000
BANDWIDTH_MEGABYTES = 512
# Above this fraction of the cores busy with other work, the document carries a warning.


@dataclasses.dataclass
class Result:
    """One workload's row: median seconds for each side, a throughput or size beside them, and the check."""

    workload: str
    nfx_seconds: float
    nfx_detail: str
    peer: str
    peer_seconds: float
    peer_detail: str
    quality: str
    nfx_runs: list
    peer_runs: list


def settle():
    """Waits for the other side's idle BLAS threads to stop spinning, so they do not steal a core."""
    time.sleep(1)


def dgemm_inputs(n):
    """The matrices nfx-bench builds (multiples of 1/8, so every product entry is exact in Float64)."""
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    a = ((i * 7 + j * 13) % 17 - 8) / 8
    b = ((i * 5 + j * 11) % 19 - 9) / 8
    return a, b


def bench_dgemm(nfx_bench, threads, runs):
    """DGEMM n×n×n at a fixed thread count: Debian's OpenBLAS via nfx against numpy's bundled OpenBLAS.

    Because the product is exact, both checksums must be equal: a difference is a wrong result, not rounding.
    Returns the row and nfx's OpenBLAS description for the notes.
    """
    flops = 2 * DGEMM_SIZE**3
    nfx = benchlib.run_json([nfx_bench, "dgemm", "--n", str(DGEMM_SIZE), "--threads", str(threads),
                             "--repeats", str(runs)])
    settle()
    a, b = dgemm_inputs(DGEMM_SIZE)
    with threadpool_limits(limits=threads, user_api="blas"):
        seconds, times, product = benchlib.time_callable(lambda: a @ b, runs)
    total, squares = benchlib.exact_checksums(product)
    settle()
    difference = max(benchlib.relative_difference(total, nfx["checksumSum"]),
                     benchlib.relative_difference(squares, nfx["checksumSumOfSquares"]))
    row = Result(
        workload=f"DGEMM {DGEMM_SIZE}×{DGEMM_SIZE}, {threads} thread{'s' if threads > 1 else ''}",
        nfx_seconds=nfx["medianSeconds"], nfx_detail=f"{nfx['gflops']:.1f} GFLOP/s",
        peer="numpy `a @ b`", peer_seconds=seconds, peer_detail=f"{flops / seconds / 1e9:.1f} GFLOP/s",
        quality=f"exact product; checksum rel. diff {difference:.1g}"
        + ("" if nfx["threads"] == threads else f"; nfx got {nfx['threads']} threads"),
        nfx_runs=nfx["seconds"], peer_runs=times)
    return row, nfx["openblas"]


def bench_bandwidth(nfx_bench, runs):
    """Single-thread memory read (a sum) and copy of a 512 MiB array: nfx-bench against numpy.

    The values are multiples of 1/1024, so the sum is exact in any order and must match numpy's exactly.
    """
    nfx = benchlib.run_json([nfx_bench, "bandwidth", "--megabytes", str(BANDWIDTH_MEGABYTES),
                             "--repeats", str(runs)])
    settle()
    count = BANDWIDTH_MEGABYTES * 2**20 // 8
    source = (np.arange(count) % 1024) / 1024
    destination = np.zeros_like(source)
    nbytes = source.nbytes
    read_seconds, read_times, total = benchlib.time_callable(source.sum, runs)
    copy_seconds, copy_times, _ = benchlib.time_callable(lambda: np.copyto(destination, source), runs)
    copied = np.array_equal(destination, source)
    del source, destination
    read = Result(
        workload=f"memory read, {BANDWIDTH_MEGABYTES} MiB, 1 thread",
        nfx_seconds=statistics.median(nfx["readSeconds"]), nfx_detail=f"{nfx['readGBps']:.1f} GB/s",
        peer="numpy `a.sum()`", peer_seconds=read_seconds, peer_detail=f"{nbytes / read_seconds / 1e9:.1f} GB/s",
        quality=f"exact sum; rel. diff {benchlib.relative_difference(total, nfx['checksumSum']):.1g}",
        nfx_runs=nfx["readSeconds"], peer_runs=read_times)
    copy = Result(
        workload=f"memory copy, {BANDWIDTH_MEGABYTES} MiB, 1 thread",
        nfx_seconds=statistics.median(nfx["copySeconds"]), nfx_detail=f"{nfx['copyGBps']:.1f} GB/s",
        peer="numpy `np.copyto(b, a)`", peer_seconds=copy_seconds,
        peer_detail=f"{2 * nbytes / copy_seconds / 1e9:.1f} GB/s",
        quality="both copies checked equal" if copied else "numpy copy differs",
        nfx_runs=nfx["copySeconds"], peer_runs=copy_times)
    return [read, copy]


def h5py_read(path, dataset):
    """Opens the file, reads the whole dataset as float64, closes: what nfx-bench h5read times."""
    with h5py.File(path, "r") as file:
        return file[dataset][()]


def bench_h5read(nfx_bench, path, runs):
    """Whole-dataset read of a chunked, gzip-compressed matrix: HDF5Kit against h5py, checksums compared."""
    seconds, times, nfx = benchlib.repeat_command([nfx_bench, "h5read", path, "/data"], runs)
    settle()
    peer_seconds, peer_times, array = benchlib.time_callable(lambda: h5py_read(path, "/data"), runs)
    total, squares = benchlib.exact_checksums(array)
    with h5py.File(path, "r") as file:
        layout = describe_layout(file["/data"])
    megabytes = array.nbytes / 1e6
    return Result(
        workload=f"HDF5 read {array.shape[0]}×{array.shape[1]} float64 ({layout})",
        nfx_seconds=seconds, nfx_detail=f"{megabytes / seconds:.0f} MB/s",
        peer="h5py `f['/data'][()]`", peer_seconds=peer_seconds,
        peer_detail=f"{megabytes / peer_seconds:.0f} MB/s",
        quality=f"Σx rel. diff {benchlib.relative_difference(total, nfx['checksumSum']):.1g}, "
                f"Σx² rel. diff {benchlib.relative_difference(squares, nfx['checksumSumOfSquares']):.1g}",
        nfx_runs=times, peer_runs=peer_times)


def describe_layout(dataset):
    """`chunks 250×313, shuffle + gzip 4` for a dataset, from h5py's view of its creation properties."""
    if dataset.chunks is None:
        return "contiguous"
    parts = [f"chunks {'×'.join(str(c) for c in dataset.chunks)}"]
    filters = (["shuffle"] if dataset.shuffle else []) + (
        [f"{dataset.compression} {dataset.compression_opts}"] if dataset.compression else [])
    return ", ".join(parts + [" + ".join(filters)] if filters else parts)


def write_payload(rows, columns):
    """The values nfx-bench h5write writes, bit for bit.

    `math.sin` is the C library's `sin`, the one Swift calls on Linux (numpy's vectorised `np.sin` may differ
    in the last bit); the rest are single IEEE operations, which round identically everywhere.
    """
    waves = np.array([math.sin(0.001 * j) for j in range(columns)])
    i = np.arange(rows)[:, None]
    j = np.arange(columns)[None, :]
    return waves[None, :] * (1 + i % 7) + ((i * 31 + j * 17) % 101) / 128


def h5py_write(path, values, chunks):
    """Creates the file, writes /data chunked + shuffle + gzip 4 with nfx's chunk shape, closes."""
    with h5py.File(path, "w") as file:
        file.create_dataset("/data", data=values, chunks=chunks, shuffle=True, compression="gzip",
                            compression_opts=4)


def max_difference(path, values):
    """Largest |file − expected| of /data, read back with h5py."""
    return float(np.max(np.abs(h5py_read(path, "/data") - values)))


def bench_h5write(nfx_bench, folder, rows, columns, runs):
    """Compressed write with the automatic layout nfx chooses, against h5py given the same chunk shape.

    Both files are read back with h5py and compared with the formula (must be exactly equal), and nfx reads
    h5py's file so that the two libraries' files are checked to be interchangeable both ways.
    """
    nfx_path = os.path.join(folder, "write-nfx.h5")
    peer_path = os.path.join(folder, "write-h5py.h5")
    seconds, times, nfx = benchlib.repeat_command(
        [nfx_bench, "h5write", nfx_path, str(rows), str(columns)], runs)
    settle()
    with h5py.File(nfx_path, "r") as file:
        chunks = file["/data"].chunks
        layout = describe_layout(file["/data"])
    values = write_payload(rows, columns)
    peer_seconds, peer_times, _ = benchlib.time_callable(lambda: h5py_write(peer_path, values, chunks), runs)
    nfx_error = max_difference(nfx_path, values)
    peer_error = max_difference(peer_path, values)
    total, squares = benchlib.exact_checksums(values)
    cross = benchlib.run_json([nfx_bench, "h5read", peer_path, "/data"])
    cross_ok = cross["checksumSum"] == total and cross["checksumSumOfSquares"] == squares
    nfx_size, peer_size = os.path.getsize(nfx_path), os.path.getsize(peer_path)
    megabytes = values.nbytes / 1e6
    return Result(
        workload=f"HDF5 write {rows}×{columns} float64 ({layout})",
        nfx_seconds=seconds, nfx_detail=f"{megabytes / seconds:.0f} MB/s, file {nfx_size / 1e6:.1f} MB",
        peer="h5py `create_dataset`", peer_seconds=peer_seconds,
        peer_detail=f"{megabytes / peer_seconds:.0f} MB/s, file {peer_size / 1e6:.1f} MB",
        quality=f"max abs. diff vs formula: nfx file {nfx_error:g}, h5py file {peer_error:g}; "
                f"nfx reads h5py's file {'identically' if cross_ok else 'DIFFERENTLY'}",
        nfx_runs=times, peer_runs=peer_times)


def render(machine, results, notes, runs):
    """docs/benchmarks.md: how it is made, the machine, the workloads, the raw runs, the notes."""
    intro = (
        "# Benchmarks\n\n"
        "Generated by `make bench` (`Scripts/bench/run.sh`, then `Scripts/bench/foundation.py`, which writes "
        "everything up to the Fixed points section, and `Scripts/bench/fixedpoints.py`, which appends it); do "
        "not edit by hand. Each foundation workload runs nfx and a Python peer in the same run, on the same "
        "inputs and under the same "
        f"OpenBLAS environment, and reports the median of {runs} runs after one warm-up. "
        "**Ratio** is peer time / nfx time: above 1 means nfx is faster. The **quality** column checks the "
        "results beside the time, so that speed is never bought with wrong answers. nfx times are the wall time "
        "of the measured section that `nfx-bench` reports (process start-up and input generation excluded); "
        "peer times are `time.perf_counter()` around the same call inside the running Python process.\n"
    )
    workload_rows = [
        (r.workload, f"{benchlib.format_seconds(r.nfx_seconds)} ({r.nfx_detail})", r.peer,
         f"{benchlib.format_seconds(r.peer_seconds)} ({r.peer_detail})",
         f"{benchlib.ratio(r.peer_seconds, r.nfx_seconds):.2f}", r.quality)
        for r in results
    ]
    raw_rows = [
        (r.workload, ", ".join(f"{t:.4f}" for t in r.nfx_runs), ", ".join(f"{t:.4f}" for t in r.peer_runs))
        for r in results
    ]
    return "\n".join([
        intro,
        "## Machine\n",
        benchlib.markdown_table(["", ""], machine),
        "\n## Foundation workloads\n",
        benchlib.markdown_table(["workload", "nfx (median)", "peer", "peer (median)", "ratio", "quality"],
                                workload_rows),
        "\n### All runs (seconds)\n",
        benchlib.markdown_table(["workload", "nfx", "peer"], raw_rows),
        "\n## Notes\n",
        "\n".join(f"- {note}" for note in notes),
        "",
    ])


def notes_for(nfx_openblas, busy_start, busy_end, cores):
    """What a reader needs to interpret the table: which BLAS each side used, what each time includes."""
    notes = [
        f"nfx calls Debian's OpenBLAS through `LinearAlgebra.multiply` (`{nfx_openblas}`); numpy uses the "
        f"OpenBLAS bundled in its wheel ({benchlib.numpy_blas()}). Thread counts are set with "
        "`BLASThreads.set` and threadpoolctl's `threadpool_limits`. Both read the same `OPENBLAS_*` "
        "variables listed above, which pick the CPU kernel.",
        "DGEMM inputs are small multiples of 1/8, so every entry of the product is exact in float64 and the "
        "correctly rounded checksums (Σ and Σx², `math.fsum` / the same algorithm in nfx-bench) of both "
        "products must be equal.",
        "Memory bandwidth is single-threaded: nfx sums with four 8-wide SIMD accumulators, numpy with its "
        "pairwise `sum`. A copy counts the bytes read plus the bytes written (as STREAM does); the "
        "write-allocate traffic is not counted. 1 GB = 10⁹ bytes.",
        "HDF5 inputs come from `nfx simulate matrix --units 4000 --time 5000 --rank 20` (`.bench-data/`). The "
        "files are in the page cache (warm-up run), so reads measure HDF5 and gzip, not the disk; writes end "
        "at close, without fsync. The write payload is a scaled sine per row plus a periodic pattern "
        "(`write_payload` in foundation.py, `writePayload` in nfx-bench).",
        "nfx links Debian's libhdf5 1.10 and zlib; h5py's wheel bundles its own HDF5 and zlib, so compressed "
        "file sizes may differ slightly for the same data and layout.",
    ]
    return notes + benchlib.load_notes(busy_start, busy_end, cores)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nfx-bench", default=".build/release/nfx-bench")
    parser.add_argument("--data", default=".bench-data/matrix.h5", help="the simulated matrix to read")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per side (at least 3)")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")

    machine = benchlib.machine_info(args.nfx_bench)
    cores = benchlib.usable_cores()
    busy_start = benchlib.cpu_busy()
    if busy_start > benchlib.BUSY_THRESHOLD:
        print(f"warning: {busy_start:.0%} of the cores are busy with other work; timings will be noisy")
    results = []
    print("DGEMM …", flush=True)
    one_thread, nfx_openblas = bench_dgemm(args.nfx_bench, 1, args.runs)
    two_threads, _ = bench_dgemm(args.nfx_bench, 2, args.runs)
    results += [one_thread, two_threads]
    print("memory bandwidth …", flush=True)
    results += bench_bandwidth(args.nfx_bench, args.runs)
    print("HDF5 read …", flush=True)
    results.append(bench_h5read(args.nfx_bench, args.data, args.runs))
    print("HDF5 write …", flush=True)
    with h5py.File(args.data, "r") as file:
        shape = file["/data"].shape
    results.append(bench_h5write(args.nfx_bench, os.path.dirname(args.data) or ".", shape[0], shape[1], args.runs))
    busy_end = benchlib.cpu_busy()

    document = render(machine, results, notes_for(nfx_openblas, busy_start, busy_end, cores), args.runs)
    with open(args.output, "w") as output:
        output.write(document)
    print(f"wrote {args.output}")
    for result in results:
        print(f"  {result.workload}: nfx {benchlib.format_seconds(result.nfx_seconds)}, {result.peer} "
              f"{benchlib.format_seconds(result.peer_seconds)}, ratio "
              f"{benchlib.ratio(result.peer_seconds, result.nfx_seconds):.2f}; {result.quality}")


if __name__ == "__main__":
    main()
