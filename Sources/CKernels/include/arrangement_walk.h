#ifndef NFX_ARRANGEMENT_WALK_H
#define NFX_ARRANGEMENT_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The innermost step of `nfx fixedpoints --method analytic` (FixedPoints' ArrangementWalk): walking one line of a
// rank-2 or rank-3 switching arrangement, updating the region map by one rank-1 term per crossing and solving the
// region whose lowest vertex each crossing makes. Swift sets up each line (its point, direction and dual basis);
// this file does the per-crossing work. AVX2/FMA where the CPU has them, a portable build of the same code
// elsewhere (see kernels.h).

/// One walk's fixed data (R = `rank`, H = `hyperplanes`, stride = R² + R).
typedef struct {
    ptrdiff_t hyperplanes;
    int rank;
    /// The hyperplanes the lines cross, by coordinate: R rows of H (row i holds every normal's i-th entry).
    const double *walk_normals;
    /// Their offsets, perturbed (the walk's generic arrangement).
    const double *walk_offsets;
    /// The exact normals (H × R, row-major) and offsets that candidates are checked against.
    const double *normals;
    const double *offsets;
    /// Per hyperplane, its term of the region map: R × R then R values (SwitchingArrangement.terms), followed by 4
    /// values of padding after the last record (the walk loads records in whole vectors of 4).
    const double *terms;
    /// I − A (R × R) and c: a region's fixed point solves (I − A − K) z = k + c.
    const double *identity_minus_a;
    const double *constant;
    /// The generic sweep direction d (R).
    const double *direction;
    /// A hyperplane is parallel to a line when |slope| ≤ this × Σ|normal|.
    double parallel_tolerance;
    /// A system is singular when |det| < this × Hadamard's bound.
    double singular_tolerance;
    /// A candidate may lie this × (1 + Σ|terms of m·z + β|) on the wrong side of a hyperplane (rounding).
    double side_tolerance;
    /// A label per hyperplane (0 or 1): a line whose hyperplanes are labelled `nfx_line.half` also solves the
    /// regions at its vertices with hyperplanes of the other label (see nfx_walk_line). All 0 for the plain walk.
    const uint8_t *halves;
} nfx_arrangement;

/// Per-thread buffers of H entries each (`candidates`: H × R); `check_order` persists between lines, the others are
/// scratch (`positive`: each hyperplane's side where the line starts).
typedef struct {
    int32_t *check_order;
    bool *positive;
    double *position;
    double *slopes;
    bool *crosses;
    uint8_t *sides;
    int32_t *items;
    int32_t *spare_items;
    uint32_t *keys;
    uint32_t *spare_keys;
    double *sorted_positions;
    int32_t *walk_order;
    double *candidates;
} nfx_walk_workspace;

/// One line: where the R − 1 hyperplanes of `subset` meet, as point + t·direction.
typedef struct {
    const double *point;
    const double *direction;
    /// Dual basis of the subset's normals ((R − 1) × R: dual_a · normal_b = δ_ab) and each dual_a · d.
    const double *dual;
    const double *dual_direction;
    /// d · direction.
    double along;
    /// The label (`nfx_arrangement.halves`) of the line's hyperplanes.
    uint8_t half;
    /// The subset, increasing, and by hyperplane its position in the subset (−1 when not in it).
    const int32_t *subset;
    const int32_t *subset_position;
    /// For every combination of the subset's hyperplanes (bit a: subset[a]), the sum of their terms (R² + R each,
    /// not padded).
    const double *subset_terms;
} nfx_line;

typedef struct {
    ptrdiff_t regions;
    ptrdiff_t singular_regions;
    /// Fixed points found on this line, written to the workspace's `candidates`.
    ptrdiff_t candidates;
    /// The lowest and highest vertex heights d·z met (±infinity when there was none).
    double lowest;
    double highest;
} nfx_line_outcome;

/// Walks one line of a rank-2 or rank-3 arrangement (`arrangement->rank`), visiting the region above every
/// vertex it makes with a hyperplane later than the subset's last or labelled differently from the line.
void nfx_walk_line(const nfx_arrangement *arrangement, nfx_walk_workspace *workspace, const nfx_line *line,
                   nfx_line_outcome *outcome);

/// An order-preserving image of a crossing position in 32 bits (through its Float32 rounding).
uint32_t nfx_crossing_key(double position);

/// Sorts items[0..<count] (hyperplane indices) by position[item], ascending: a radix sort on `keys` (each item's
/// nfx_crossing_key, on entry) and an insertion pass on the exact positions, which end in sorted_positions.
/// Spare buffers hold `count` entries.
void nfx_sort_crossings(int32_t *items, uint32_t *keys, ptrdiff_t count, const double *position,
                        int32_t *spare_items, uint32_t *spare_keys, double *sorted_positions);

/// Solves a x = b in place for n = 1, 2, 3 (a row-major, b becomes x) by Cramer's rule; returns 0 when |det| is
/// below relative_tolerance × Hadamard's bound (the product of the row norms).
int nfx_solve_small(const double *a, double *b, int n, double relative_tolerance);

#endif
