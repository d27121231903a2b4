"""Every fixed point of a rank-2 piecewise-linear low-rank RNN, in vectorised NumPy: the `make bench` peer.

The model is z' = A z + N φ(M z + b) + c with z in R² and n units; φ is ReLU or clipped ReLU (0 below 0, linear up
to θ_k, θ_k above). Each unit k contributes one switching line m_k·z + b_k = 0 (ReLU) or two parallel ones,
m_k·z + b_k = 0 and m_k·z + b_k − θ_k = 0 (clipped ReLU). Write every switching line h as ℓ_h(z) = m_h·z + β_h and
σ_h ∈ {0, 1} for the side z is on (1: ℓ_h > 0). Then φ_k(m_k·z + b_k) = Σ_{h of k} ε_h σ_h ℓ_h(z), with ε_h = +1 for
the lower line and −1 for the clip line, so inside a region (fixed σ) the map is affine,

    z' = (A + Σ_h σ_h P_h) z + c + Σ_h σ_h q_h,    P_h = ε_h N_k m_hᵀ,  q_h = ε_h β_h N_k,

and its fixed point solves the 2×2 system (I − A − S) z = c + s with S = Σ σ_h P_h, s = Σ σ_h q_h. That fixed point
is a fixed point of the network exactly when it lies in (the closure of) the region.

Enumerating the regions. Pick a generic direction d. A region is either bounded below along d, and then its lowest
point is a single vertex v (the crossing of two lines i and j), or it is unbounded below and then it meets a line
{d·z = T} for T below every vertex. Above a vertex v only one of its four wedges has v as its lowest point: writing
d = α m_i + β m_j, it is the wedge on the positive side of line i when α > 0 (negative when α < 0), and likewise
for j with β. So the regions are: one per vertex, plus the H + 1 segments of the far line.

The walk. For each line i, the crossings with every non-parallel line are sorted along the line; the side pattern
at t → −∞ is known from the direction of each crossing, and crossing line h flips σ_h, so S and s in each segment are
prefix sums (np.cumsum) of the rank-1 terms ±P_h, ±q_h in crossing order. The vertex (i, j) takes the pattern of
the segment before it, with σ_i, σ_j set by its wedge. Each vertex is taken from its lower-numbered line only.
Memory is O(H) per line; time is O(H² log H) in all.

Checking candidates. A candidate z from the region above vertex (i, j) must be on the wedge's sides of i and j,
and on the same side as the region of every other line: σ_h of that region is the −∞ side flipped when h's
crossing comes before the vertex along line i. This is checked in stages (the two wedge lines, then a fixed random
sample of lines, then all lines for the few that remain), so that the full O(H) check runs only on real fixed
points and near-misses. Fixed points on a boundary are found from every region touching it and are de-duplicated.

Only rank 2 is implemented: for R = 3 the same walk over planes is ~10 minutes in NumPy at n = 1000.
Usage: python fixedpoints_numpy.py MODEL.h5[:GROUP] [--json] [--points-out POINTS.npy]
(`seconds` in the JSON line is the enumeration alone: reading the model and importing numpy are not counted.)
"""

import argparse
import json
import sys
import time

import h5py
import numpy as np

SAMPLE_LINES = 64


def read_model(path, group="/rnn"):
    """(A, M, N, b, c, clip or None) from the contract's layout; A may be a scalar, a diagonal or 2×2."""
    with h5py.File(path, "r") as file:
        g = file[group]
        activation = g.attrs.get("activation", "relu")
        activation = activation.decode() if isinstance(activation, bytes) else str(activation)
        M = np.asarray(g["M"][()], dtype=float)
        N = np.asarray(g["N"][()], dtype=float)
        b = np.asarray(g["b"][()], dtype=float).reshape(-1)
        c = np.asarray(g["c"][()], dtype=float).reshape(-1)
        A = np.asarray(g["A"][()], dtype=float)
        clip = np.asarray(g["clip"][()], dtype=float).reshape(-1) if "clip" in g else None
    R = M.shape[1]
    if A.ndim <= 1:
        A = np.diag(np.broadcast_to(A.reshape(-1), (R,)).astype(float))
    if activation == "clipped-relu" and clip is None:
        clip = np.ones(M.shape[0])
    elif activation == "relu":
        clip = None
    elif activation != "clipped-relu":
        raise ValueError(f"activation {activation}: only relu and clipped-relu are piecewise linear")
    return A, M, N, b, c, clip


def switching_lines(M, N, b, c, clip):
    """Normals m_h (H×2), offsets β_h, rank-1 terms P_h (H×2×2), q_h (H×2), and c with silent units folded in."""
    live = np.linalg.norm(M, axis=1) > 0
    c = c.copy()
    # A unit with m_k = 0 has the constant input b_k: its contribution φ(b_k) N_k belongs in c.
    dead_input = b[~live]
    dead_phi = np.maximum(dead_input, 0) if clip is None else np.clip(dead_input, 0, clip[~live])
    c += N[:, ~live] @ dead_phi
    M, N, b = M[live], N[:, live], b[live]
    if clip is None:
        normals, offsets, eps, owner = M, b, np.ones(len(b)), np.arange(len(b))
    else:
        clip = clip[live]
        normals = np.concatenate([M, M])
        offsets = np.concatenate([b, b - clip])
        eps = np.concatenate([np.ones(len(b)), -np.ones(len(b))])
        owner = np.concatenate([np.arange(len(b)), np.arange(len(b))])
    columns = N.T[owner] * eps[:, None]                      # ε_h N_k, H×2
    P = columns[:, :, None] * normals[:, None, :]            # ε_h N_k m_hᵀ, H×2×2
    q = columns * offsets[:, None]                           # ε_h β_h N_k, H×2
    return normals, offsets, P, q, c


def solve_regions(A, c, S, s):
    """Fixed points of z ↦ (A + S) z + c + s for K regions at once (Cramer's rule), and which are regular."""
    K00 = 1 - A[0, 0] - S[:, 0, 0]
    K01 = -A[0, 1] - S[:, 0, 1]
    K10 = -A[1, 0] - S[:, 1, 0]
    K11 = 1 - A[1, 1] - S[:, 1, 1]
    r0, r1 = c[0] + s[:, 0], c[1] + s[:, 1]
    det = K00 * K11 - K01 * K10
    scale = np.abs(K00 * K11) + np.abs(K01 * K10)
    regular = np.abs(det) > 1e-12 * np.maximum(scale, 1e-300)
    det = np.where(regular, det, 1.0)
    z = np.stack([(K11 * r0 - K01 * r1) / det, (K00 * r1 - K10 * r0) / det], axis=1)
    return z, regular


class Checker:
    """Tests candidates against the lines: ℓ_h(z) must have the sign the region's σ_h says (within a tolerance)."""

    def __init__(self, normals, offsets, seed):
        self.normals, self.offsets = normals, offsets
        self.norms = np.linalg.norm(normals, axis=1)
        H = len(offsets)
        rng = np.random.default_rng(seed)
        self.sample = rng.choice(H, size=min(SAMPLE_LINES, H), replace=False)

    def violated(self, z, lines, expected):
        """Boolean K×|lines|: z on the wrong side of the line. `expected` is σ (K×|lines| or broadcastable)."""
        values = z @ self.normals[lines].T + self.offsets[lines]
        tolerance = 1e-9 * (self.norms[lines] * np.linalg.norm(z, axis=1, keepdims=True)
                            + np.abs(self.offsets[lines]) + 1)
        return np.where(expected, values < -tolerance, values > tolerance)

    def consistent(self, z, expected_sides, skip):
        """Keeps candidates whose every line except their own (skip: K×2, −1 for none) agrees with the pattern.

        expected_sides(rows, lines) gives σ for those candidates and lines; the check runs on a random sample of
        lines first and on all of them only for the survivors.
        """
        keep = np.ones(len(z), dtype=bool)
        for lines in (self.sample, np.arange(len(self.offsets))):
            rows = np.flatnonzero(keep)
            if len(rows) == 0:
                break
            for start in range(0, len(rows), 256):       # bounds memory at 256 × H
                part = rows[start:start + 256]
                bad = self.violated(z[part], lines, expected_sides(part, lines))
                own = (lines[None, :] == skip[part, 0:1]) | (lines[None, :] == skip[part, 1:2])
                keep[part] = ~np.any(bad & ~own, axis=1)
        return keep


def fixed_points(A, M, N, b, c, clip=None, seed=0):
    """All fixed points (P×2), their Jacobians' stability class, and the number of regions examined."""
    if M.shape[1] != 2:
        raise ValueError(f"this reference handles rank 2 only (got rank {M.shape[1]})")
    normals, offsets, P, q, c = switching_lines(M, N, b, c, clip)
    H = len(offsets)
    checker = Checker(normals, offsets, seed)
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(angle), np.sin(angle)])
    cross = lambda a, b: a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]  # noqa: E731
    found = []           # (z, S) of accepted candidates
    regions = 0
    lowest = np.inf      # lowest vertex along d, for the far line

    def walk(point, direction, exclude):
        """Crossings of the line point + t·direction, sorted; the −∞ pattern; prefix sums of S and s."""
        slopes = normals @ direction
        values = normals @ point + offsets
        crosses = np.abs(slopes) > 1e-12 * np.linalg.norm(normals, axis=1) * np.linalg.norm(direction)
        if exclude is not None:
            crosses[exclude] = False
        order = np.flatnonzero(crosses)
        order = order[np.argsort(-values[order] / slopes[order], kind="stable")]
        t = -values[order] / slopes[order]
        below = np.where(crosses, slopes < 0, values > 0)   # σ_h at t → −∞ (parallel lines: where they stay)
        if exclude is not None:
            below[exclude] = False
        rank = np.full(H, H + 1)
        rank[order] = np.arange(len(order))
        flip = np.where(slopes[order] > 0, 1.0, -1.0)        # σ goes 0 → 1 when the slope is positive
        base_S = np.tensordot(below.astype(float), P, axes=1)
        base_s = below.astype(float) @ q
        # S, s in segment k (before crossing k): base + Σ_{l<k} flip_l (P, q)_l; k = 0 … len(order).
        S = np.concatenate([np.zeros((1, 2, 2)), np.cumsum(flip[:, None, None] * P[order], axis=0)]) + base_S
        s = np.concatenate([np.zeros((1, 2)), np.cumsum(flip[:, None] * q[order], axis=0)]) + base_s
        return order, t, below, rank, S, s

    for i in range(H):
        m_i = normals[i]
        point = -offsets[i] * m_i / (m_i @ m_i)
        direction = np.array([-m_i[1], m_i[0]])
        order, t, below, rank, S, s = walk(point, direction, exclude=i)
        vertex_mask = order > i                          # each vertex once, from its lower-numbered line
        k = np.flatnonzero(vertex_mask)
        j = order[k]
        regions += len(k)
        if len(k) == 0:
            continue
        vertices = point + t[k, None] * direction
        lowest = min(lowest, float(np.min(vertices @ d)))
        # The wedge above the vertex: d = α m_i + β m_j, σ_i = [α > 0], σ_j = [β > 0].
        m_j = normals[j]
        det = cross(m_i[None, :], m_j)
        side_i = cross(d[None, :], m_j) / det > 0
        side_j = cross(m_i[None, :], d[None, :]) / det > 0
        S_v = S[k] + (side_i.astype(float))[:, None, None] * P[i] \
            + (side_j.astype(float) - below[j])[:, None, None] * P[j]
        s_v = s[k] + (side_i.astype(float))[:, None] * q[i] + (side_j.astype(float) - below[j])[:, None] * q[j]
        z, regular = solve_regions(A, c, S_v, s_v)
        # Stage 0: the two lines through the vertex (cheap, vectorised over all candidates of line i).
        ok = regular.copy()
        ok &= ~checker.violated(z, np.array([i]), side_i[:, None])[:, 0]
        ok &= _own_line_ok(z, j, side_j, normals, offsets)
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            continue
        kk = k[rows]

        def expected(part, lines, kk=kk, below=below, rank=rank):
            return below[lines][None, :] ^ (rank[lines][None, :] < kk[part][:, None])

        skip = np.stack([np.full(len(rows), i), j[rows]], axis=1)
        good = checker.consistent(z[rows], expected, skip)
        found += [(z[r], S_v[r]) for r in rows[good]]

    # The far line d·z = lowest − margin: its H + 1 segments are the regions unbounded below along d.
    if not np.isfinite(lowest):
        lowest = 0.0
    level = lowest - max(1.0, 0.1 * abs(lowest))
    point = level * d
    direction = np.array([-d[1], d[0]])
    order, t, below, rank, S, s = walk(point, direction, exclude=None)
    regions += len(order) + 1
    z, regular = solve_regions(A, c, S, s)
    rows = np.flatnonzero(regular)
    segment = np.arange(len(order) + 1)

    def expected_far(part, lines):
        return below[lines][None, :] ^ (rank[lines][None, :] < segment[rows][part][:, None])

    good = checker.consistent(z[rows], expected_far, np.full((len(rows), 2), -1))
    found += [(z[r], S[r]) for r in rows[good]]
    points, jacobians = deduplicate(found, A)
    return points, [classify(J) for J in jacobians], regions


def _own_line_ok(z, j, side_j, normals, offsets):
    """z on the wedge's side of its own second line j (row-wise), for many candidates."""
    values = np.einsum("kr,kr->k", z, normals[j]) + offsets[j]
    tolerance = 1e-9 * (np.linalg.norm(normals[j], axis=1) * np.linalg.norm(z, axis=1) + np.abs(offsets[j]) + 1)
    return np.where(side_j, values >= -tolerance, values <= tolerance)


def deduplicate(found, A):
    """One point per cluster of candidates closer than 1e-7 (relative); a boundary point keeps its first region."""
    points, jacobians = [], []
    for z, S in found:
        if any(np.linalg.norm(z - p) <= 1e-7 * max(1.0, np.linalg.norm(p)) for p in points):
            continue
        points.append(z)
        jacobians.append(A + S)
    return np.array(points).reshape(-1, 2), jacobians


def classify(J):
    """stable / saddle / unstable by the moduli of the eigenvalues against 1 (a discrete-time map)."""
    outside = int(np.sum(np.abs(np.linalg.eigvals(J)) > 1))
    return "stable" if outside == 0 else "unstable" if outside == J.shape[0] else "saddle"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="HDF5 file, optionally :GROUP (default /rnn)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sweep direction and the line sample")
    parser.add_argument("--points-out", help="write the fixed points (P×2) to this .npy file")
    args = parser.parse_args()
    path, _, group = args.model.partition(":")
    model = read_model(path, group or "/rnn")
    start = time.perf_counter()
    points, kinds, regions = fixed_points(*model, seed=args.seed)
    seconds = time.perf_counter() - start
    summary = {"points": len(points), "stable": kinds.count("stable"), "saddles": kinds.count("saddle"),
               "unstable": kinds.count("unstable"), "regions": regions, "seconds": seconds}
    if args.points_out:
        np.save(args.points_out, points)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{len(points)} fixed points ({summary['stable']} stable, {summary['saddles']} saddles, "
              f"{summary['unstable']} unstable), {regions} regions, {seconds:.2f} s")
        for z, kind in zip(points, kinds):
            print(f"  {z[0]: .6g} {z[1]: .6g}  {kind}")


if __name__ == "__main__":
    sys.exit(main())
