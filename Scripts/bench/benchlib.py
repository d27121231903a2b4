"""Shared helpers for the `make bench` scripts: timing, machine description, markdown.

Every benchmark script compares nfx with a Python peer in the same run on the same inputs, so the numbers it
prints are medians of several runs measured side by side, with the machine they were measured on.
"""

import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import time


def run_json(command, env=None):
    """Runs an nfx command and returns the JSON object on the last line of its stdout.

    nfx-bench and `nfx --json` both print one JSON line; anything printed before it (warnings) is ignored.
    A failure raises with the command's stderr, so a broken benchmark never writes a half-filled table.
    """
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} printed nothing on stdout")
    return json.loads(lines[-1])


def repeat_command(command, runs, seconds_key="seconds", warmup=1):
    """Runs a command `warmup + runs` times and returns (median seconds, all seconds, last JSON result).

    The seconds come from the command's own report of its measured section, not from process start-up,
    so they compare with timings a Python peer takes inside its own process. The warm-up run fills the page
    cache and is not counted.
    """
    for _ in range(warmup):
        run_json(command)
    results = [run_json(command) for _ in range(runs)]
    times = [float(result[seconds_key]) for result in results]
    return statistics.median(times), times, results[-1]


def time_callable(function, runs, warmup=1):
    """Calls `function` `warmup + runs` times and returns (median seconds, all seconds, last return value).

    Wall time on the monotonic clock; the warm-up call is not counted (first-touch page faults, thread start-up,
    lazy imports), the same treatment nfx-bench gives its own measurements.
    """
    value = None
    for _ in range(warmup):
        value = function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, value


def simulate_seed_like_ephys(nfx, path, duration, seed, units=3, rate=10000):
    """`nfx simulate ephys` with the issues' seed-like recipe (one channel, 3 ms waveforms, 30 Hz, peak SNR ~10),
    the recordings cdl.py and spikesort.py share."""
    command = [nfx, "simulate", "ephys", "-o", path, "--channels", "1", "--units", str(units), "--duration",
               str(duration), "--sampling-rate", str(rate), "--firing-rate", "30", "--noise", "1", "--amplitude",
               "10", "--waveform-duration", "0.003", "--seed", str(seed), "--force", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")


def exact_checksums(array):
    """Correctly rounded sum and sum of squares of a 2-D float64 array.

    `math.fsum` is exact then rounded once, like nfx-bench's own checksum, so identical data gives identical
    checksums whatever order either side adds in: a non-zero difference means the data differ. Rows are
    converted one at a time to keep memory flat.
    """
    total = math.fsum(value for row in array for value in row.tolist())
    squares = math.fsum(value * value for row in array for value in row.tolist())
    return total, squares


def relative_difference(a, b):
    """|a − b| / max(|a|, |b|), and 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def ratio(peer_seconds, nfx_seconds):
    """Peer time over nfx time: above 1 means nfx is faster."""
    return peer_seconds / nfx_seconds if nfx_seconds > 0 else float("nan")


def format_seconds(seconds):
    """Seconds with units that keep three significant digits readable (ms below one second)."""
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    return f"{seconds:.3g} s"


def usable_cores():
    """Cores this process may run on (the affinity mask, which a container or taskset can narrow)."""
    return len(os.sched_getaffinity(0))


def cpu_busy(seconds=2.0):
    """Fraction of all cores' time spent busy over the next `seconds`, from /proc/stat.

    Unlike the load average, which still remembers the build that `make bench` just ran, this says whether
    something else is running now, while this process sleeps.
    """
    def sample():
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields[:8]) - idle, sum(fields[:8])

    busy_before, total_before = sample()
    time.sleep(seconds)
    busy_after, total_after = sample()
    elapsed = total_after - total_before
    return (busy_after - busy_before) / elapsed if elapsed > 0 else 0.0


def _command_output(command, default="unknown"):
    """First line of a command's output, or `default` when it is missing or fails (e.g. not a git checkout)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return default
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if result.returncode == 0 and text else default


def _cpu_model():
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _git_commit():
    """Short commit, marked when the work tree has uncommitted changes (the numbers then describe those too)."""
    commit = _command_output(["git", "rev-parse", "--short", "HEAD"], default="no commit")
    dirty = _command_output(["git", "status", "--porcelain", "--untracked-files=no"], default="")
    return commit + (" + uncommitted changes" if dirty else "")


def package_version(name):
    """The installed version of a Python distribution, or "not installed"."""
    import importlib.metadata
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def numpy_blas():
    """numpy's BLAS as threadpoolctl sees it: library, version, the CPU kernel it chose, thread count."""
    import numpy  # noqa: F401  (loads the BLAS so threadpoolctl can find it)
    from threadpoolctl import threadpool_info

    entries = [entry for entry in threadpool_info() if entry.get("user_api") == "blas"]
    if not entries:
        return "no BLAS found by threadpoolctl"
    return "; ".join(
        f"{entry.get('internal_api')} {entry.get('version')} ({os.path.basename(entry.get('filepath', ''))}), "
        f"core: {entry.get('architecture')}, {entry.get('num_threads')} threads"
        for entry in entries
    )


def nfx_blas(nfx_bench):
    """nfx's OpenBLAS build and the kernel it chose, from a tiny `nfx-bench dgemm` run."""
    return run_json([nfx_bench, "dgemm", "--n", "64", "--repeats", "1"])["openblas"]


def machine_info(nfx_bench):
    """What the numbers depend on, as (name, value) rows: hardware, OpenBLAS settings, versions, commit.

    OPENBLAS_* variables are printed as they are: they choose OpenBLAS' kernel for nfx and numpy alike, and a
    run under OPENBLAS_CORETYPE=Haswell is not comparable with one on the auto-detected kernel.
    """
    import h5py
    import numpy

    cores = usable_cores()
    openblas_env = {name: value for name, value in sorted(os.environ.items()) if name.startswith("OPENBLAS_")}
    rows = [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("commit", _git_commit()),
        ("CPU", _cpu_model()),
        ("cores usable", f"{cores} (of {os.cpu_count()} logical)"),
        ("memory", f"{_memory_gib():.1f} GiB"),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("OpenBLAS environment",
         ", ".join(f"`{name}={value}`" for name, value in openblas_env.items()) or "none set"),
        ("nfx BLAS", nfx_blas(nfx_bench)),
        ("numpy BLAS (threadpoolctl)", numpy_blas()),
        ("Swift", _command_output(["swift", "--version"])),
        ("Python", platform.python_version()),
        ("numpy / h5py", f"{numpy.__version__} / {h5py.__version__}"),
        ("HDF5 library", f"nfx: {_command_output(['pkg-config', '--modversion', 'hdf5-serial'])} (Debian); "
                         f"h5py: {h5py.version.hdf5_version} (bundled in the wheel)"),
    ]
    return rows


def markdown_table(headers, rows):
    """A GitHub markdown table; `|` inside cells is escaped so free text cannot break the columns."""
    def cell(value):
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def run_json_peak_memory(command):
    """`run_json` under `/usr/bin/time -f %M`: (JSON result, peak resident memory in KiB, or None).

    The peak is the whole process's maximum resident set (ru_maxrss), start-up included; without GNU time
    (not installed) the command runs bare and the memory is None.
    """
    if not os.path.exists("/usr/bin/time"):
        return run_json(command), None
    result = subprocess.run(["/usr/bin/time", "-f", "peak-kib %M"] + list(command), capture_output=True, text=True)
    lines = result.stderr.splitlines()
    peak = next((int(line.split()[1]) for line in reversed(lines) if line.startswith("peak-kib ")), None)
    if result.returncode != 0:
        errors = "\n".join(line for line in lines if not line.startswith("peak-kib ")).strip()
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {errors}")
    stdout = [line for line in result.stdout.splitlines() if line.strip()]
    if not stdout:
        raise RuntimeError(f"{' '.join(command)} printed nothing on stdout")
    return json.loads(stdout[-1]), peak


BUSY_THRESHOLD = 0.25


def load_notes(busy_start, busy_end, cores, threads=None):
    """The notes every section ends with: how busy the machine was around its workloads, and warnings."""
    notes = [f"Other work used {busy_start:.0%} of the {cores} cores just before the workloads and {busy_end:.0%} "
             "just after (2 s samples of /proc/stat)."]
    if threads is not None and cores < threads:
        notes.append(f"**Only {cores} core(s) usable: the {threads}-thread runs share them.**")
    if max(busy_start, busy_end) > BUSY_THRESHOLD:
        notes.append("**Warning: the machine was busy during this run; the times may be slow and noisy.**")
    return notes


def replace_section(path, heading, section):
    """Writes `section` (starting with `heading`, a `## …` line) into the markdown file at `path`: in place of the
    section with that heading if there is one, keeping the sections before and after it, else at the end."""
    text = ""
    if os.path.exists(path):
        with open(path) as document:
            text = document.read()
    marker = ("\n" + text).find("\n" + heading + "\n") - 1   # −1 before the text: the file starts with it
    if marker >= -1:
        following = text.find("\n## ", marker + len(heading) + 2)
        tail = text[following + 1:] if following >= 0 else ""
        head = text[:marker + 1].rstrip("\n")
        text = (head + "\n\n" if head else "") + section + ("\n" + tail if tail else "")
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section
    with open(path, "w") as document:
        document.write(text)
