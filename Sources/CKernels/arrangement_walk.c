#include "arrangement_walk.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

// Why C: 1.7·10⁸ regions for 1000 units at rank 3, each met at a vertex on a line walked past ~1000 crossings.
// In Swift (baseline x86-64: no FMA, no vector types) that took 10.3 s on 2 cores; here 4.2 s, and 2.5 s since
// FixedPoints walks only half the lines (CompiledLineWalk.pairsWithinHalves). What made the difference here,
// measured one change at a time: computing the crossings four hyperplanes at a time together with the λ signs of
// each vertex; the region maps built in a branch-free pass over the sorted crossings (the records' random reads
// overlap); four regions solved at once, one per vector lane, without dividing (y = adj(S) q, checked as
// m·y + β det); and the keys sorted on enough bits that the final insertion pass rarely moves anything.

#define FORCE_INLINE static inline __attribute__((always_inline))

// Four doubles; AVX registers in the AVX2 build, pairs of SSE registers in the portable one. The region map
// (R² + R values, padded to whole vectors) is kept in two or three of these.
typedef double vec4 __attribute__((vector_size(32)));
// Passing vec4 by value would differ between the two builds' ABIs; load4 is always inlined, so it never is.
#pragma clang diagnostic ignored "-Wpsabi"

FORCE_INLINE vec4 load4(const double *p) {
    vec4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/// Comparison results (all bits set where true) and sign-bit masks.
typedef long long vec4i __attribute__((vector_size(32)));
#define SIGN_BIT ((long long)(1ULL << 63))

FORCE_INLINE vec4 broadcast4(double x) { return (vec4){x, x, x, x}; }

FORCE_INLINE vec4 abs4(vec4 x) { return (vec4)((vec4i)x & ~(vec4i){SIGN_BIT, SIGN_BIT, SIGN_BIT, SIGN_BIT}); }

uint32_t nfx_crossing_key(double position) {
    float rounded = (float)position;
    uint32_t bits;
    memcpy(&bits, &rounded, sizeof bits);
    return (bits >> 31) ? ~bits : (bits | 0x80000000u);
}

FORCE_INLINE void sort_crossings(int32_t *items, uint32_t *keys, ptrdiff_t count, const double *position,
                                 int32_t *spare_items, uint32_t *spare_keys, double *sorted) {
    if (count > 64) {
        // Least-significant digit first over the keys' top bits (sign, exponent and the leading mantissa bits):
        // enough of them that the ties left to the insertion pass are few (each costs a mispredicted branch),
        // in as few passes as the list's length pays for. All digits are counted in one read.
        enum { MAX_PASSES = 3, MAX_DIGITS = 1 << 11 };
        const int passes = count > 2048 ? 2 : count > 256 ? 3 : 2, width = count > 2048 ? 11 : 8;
        const int digits = 1 << width;
        const uint32_t digit_mask = (uint32_t)digits - 1;
        ptrdiff_t counts[MAX_PASSES][MAX_DIGITS];
        for (int pass = 0; pass < passes; pass++) memset(counts[pass], 0, (size_t)digits * sizeof counts[0][0]);
        for (ptrdiff_t i = 0; i < count; i++) {
            for (int pass = 0; pass < passes; pass++)
                counts[pass][(keys[i] >> (32 - (passes - pass) * width)) & digit_mask]++;
        }
        uint32_t *source_keys = keys, *target_keys = spare_keys;
        int32_t *source_items = items, *target_items = spare_items;
        for (int pass = 0; pass < passes; pass++) {
            const int shift = 32 - (passes - pass) * width;
            ptrdiff_t *bucket = counts[pass];
            if (bucket[(source_keys[0] >> shift) & digit_mask] == count) continue;
            ptrdiff_t total = 0;
            for (int i = 0; i < digits; i++) {
                const ptrdiff_t c = bucket[i];
                bucket[i] = total;
                total += c;
            }
            for (ptrdiff_t i = 0; i < count; i++) {
                const ptrdiff_t destination = bucket[(source_keys[i] >> shift) & digit_mask]++;
                target_keys[destination] = source_keys[i];
                target_items[destination] = source_items[i];
            }
            uint32_t *k = source_keys; source_keys = target_keys; target_keys = k;
            int32_t *t = source_items; source_items = target_items; target_items = t;
        }
        if (source_items != items) memcpy(items, source_items, (size_t)count * sizeof *items);
    }
    // Exact order: nearly sorted after the radix passes (or short), so insertion is linear. The positions are
    // gathered first so that the comparisons read them in order.
    for (ptrdiff_t i = 0; i < count; i++) sorted[i] = position[items[i]];
    for (ptrdiff_t i = 1; i < count; i++) {
        const int32_t item = items[i];
        const double value = sorted[i];
        ptrdiff_t j = i - 1;
        while (j >= 0 && sorted[j] > value) {
            items[j + 1] = items[j];
            sorted[j + 1] = sorted[j];
            j--;
        }
        items[j + 1] = item;
        sorted[j + 1] = value;
    }
}

void nfx_sort_crossings(int32_t *items, uint32_t *keys, ptrdiff_t count, const double *position,
                        int32_t *spare_items, uint32_t *spare_keys, double *sorted_positions) {
    sort_crossings(items, keys, count, position, spare_items, spare_keys, sorted_positions);
}

/// Cramer's rule for four systems at once (one per lane), without the division: y = adj(a) b and det = det(a), so
/// that each solution is y / det. The result is true (all bits) in the lanes where |det| is at least
/// relative_tolerance × Hadamard's bound (the product of the row norms), false where the system counts as singular.
/// n ∈ {1, 2, 3} is a constant where this is inlined; a is n × n by rows, each entry a vector of lanes.
FORCE_INLINE vec4i solve_scaled(const vec4 *a, const vec4 *b, vec4 *y, vec4 *determinant, const int n,
                                double relative_tolerance) {
    const vec4 tolerance = broadcast4(relative_tolerance * relative_tolerance), zero = broadcast4(0);
    if (n == 1) {
        y[0] = b[0];
        *determinant = a[0];
        return abs4(a[0]) > zero;
    }
    if (n == 2) {
        const vec4 det = a[0] * a[3] - a[1] * a[2];
        const vec4 bound = (a[0] * a[0] + a[1] * a[1]) * (a[2] * a[2] + a[3] * a[3]);
        y[0] = b[0] * a[3] - a[1] * b[1];
        y[1] = a[0] * b[1] - b[0] * a[2];
        *determinant = det;
        return (det * det > tolerance * bound) & (bound > zero);
    }
    // adj(a) is the transposed cofactor matrix.
    const vec4 c00 = a[4] * a[8] - a[5] * a[7], c01 = a[5] * a[6] - a[3] * a[8], c02 = a[3] * a[7] - a[4] * a[6];
    const vec4 c10 = a[2] * a[7] - a[1] * a[8], c11 = a[0] * a[8] - a[2] * a[6], c12 = a[1] * a[6] - a[0] * a[7];
    const vec4 c20 = a[1] * a[5] - a[2] * a[4], c21 = a[2] * a[3] - a[0] * a[5], c22 = a[0] * a[4] - a[1] * a[3];
    const vec4 det = a[0] * c00 + a[1] * c01 + a[2] * c02;
    const vec4 bound = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) * (a[3] * a[3] + a[4] * a[4] + a[5] * a[5]) *
                       (a[6] * a[6] + a[7] * a[7] + a[8] * a[8]);
    y[0] = c00 * b[0] + c10 * b[1] + c20 * b[2];
    y[1] = c01 * b[0] + c11 * b[1] + c21 * b[2];
    y[2] = c02 * b[0] + c12 * b[1] + c22 * b[2];
    *determinant = det;
    return (det * det > tolerance * bound) & (bound > zero);
}

int nfx_solve_small(const double *a, double *b, int n, double relative_tolerance) {
    if (n < 1 || n > 3) return 0;
    vec4 matrix[9], rhs[3], y[3], det;
    for (int i = 0; i < n * n; i++) matrix[i] = broadcast4(a[i]);
    for (int i = 0; i < n; i++) rhs[i] = broadcast4(b[i]);
    vec4i solved;
    switch (n) {
    case 1: solved = solve_scaled(matrix, rhs, y, &det, 1, relative_tolerance); break;
    case 2: solved = solve_scaled(matrix, rhs, y, &det, 2, relative_tolerance); break;
    default: solved = solve_scaled(matrix, rhs, y, &det, 3, relative_tolerance); break;
    }
    if (!solved[0]) return 0;
    for (int i = 0; i < n; i++) b[i] = y[i][0] / det[0];
    return 1;
}

/// How far z = y / det lies on the wrong side of hyperplane g beyond the rounding allowance, times |det|, in each
/// lane: positive means outside. Scaled by det so that no division is needed until a candidate is accepted:
/// m·z + β = (m·y + β det) / det, and the allowance side_tolerance (1 + |β| + Σ|m_r z_r|) scales the same way.
/// `required` has the sign bit set in the lanes where z must be on g's positive side.
FORCE_INLINE vec4 excess(const nfx_arrangement *arrangement, int32_t g, vec4i required, const vec4 *y, vec4 det,
                         const int R) {
    const double *row = arrangement->normals + (ptrdiff_t)g * R;
    const vec4 offset = broadcast4(arrangement->offsets[g]);
    vec4 value = offset * det, magnitude = abs4(offset * det) + abs4(det);
    for (int r = 0; r < R; r++) {
        const vec4 term = broadcast4(row[r]) * y[r];
        value += term;
        magnitude += abs4(term);
    }
    // The wrong side is the negative one where required, flipped where det < 0: flip value's sign bit so.
    const vec4i sign_bits = (vec4i){SIGN_BIT, SIGN_BIT, SIGN_BIT, SIGN_BIT};
    const vec4 wrong = (vec4)((vec4i)value ^ ((required ^ (vec4i)det) & sign_bits));
    return wrong - broadcast4(arrangement->side_tolerance) * magnitude;
}

/// The side of hyperplane g that the region above the line's vertex with the `vertex`-th crossing (hyperplane
/// `crossing`, whose λ signs are `code`, see walk_line) lies on: the λ signs for the vertex's own hyperplanes; for
/// the others, the side where the line starts, switched if the walk crossed it before this vertex.
FORCE_INLINE int required_side(const nfx_walk_workspace *w, const nfx_line *line, int32_t g, int32_t crossing,
                               ptrdiff_t vertex, int code, const int R) {
    const int32_t in_subset = line->subset_position[g];
    if (g == crossing) return (code >> (R - 1)) & 1;
    if (in_subset >= 0) return (code >> in_subset) & 1;
    return w->positive[g] ^ (w->walk_order[g] < vertex);
}

/// Whether y / det lies in its region on every hyperplane but `first` and `second` (already checked), moving a
/// hyperplane that rejects it to the front of the check order: the same few reject most candidates.
static int rest_of_region_contains(const nfx_arrangement *arrangement, nfx_walk_workspace *w, const nfx_line *line,
                                   const double *y, double det, const int R, int32_t first, int32_t second,
                                   int32_t crossing, ptrdiff_t vertex, int code) {
    int32_t *order = w->check_order;
    vec4 lanes[3];
    for (int r = 0; r < R; r++) lanes[r] = broadcast4(y[r]);
    for (ptrdiff_t index = 0; index < arrangement->hyperplanes; index++) {
        const int32_t g = order[index];
        if (g == first || g == second) continue;
        const long long required = required_side(w, line, g, crossing, vertex, code, R) ? SIGN_BIT : 0;
        if (excess(arrangement, g, (vec4i){required, required, required, required}, lanes, broadcast4(det), R)[0] > 0) {
            order[index] = order[0];
            order[0] = g;
            return 0;
        }
    }
    return 1;
}

/// See nfx_walk_line; R is a constant (2 or 3) where this is inlined, so the map's R² + R entries stay in
/// registers (V vectors) and every loop over them unrolls.
FORCE_INLINE void walk_line(const nfx_arrangement *arrangement, nfx_walk_workspace *w, const nfx_line *line,
                            nfx_line_outcome *outcome, const int R) {
    enum { MAX_RANK = 3, MAX_VECTORS = 3 };
    // Records are R² + R apart; loading whole vectors reads past a record at R = 2 into map entries 6 and 7, which
    // nothing uses.
    const int V = R == 2 ? 2 : 3, stride = R * R + R, m = R - 1;
    const ptrdiff_t H = arrangement->hyperplanes;
    const double *terms = arrangement->terms;
    double *position = w->position, *slopes = w->slopes;
    bool *positive = w->positive;

    // Every hyperplane's value at the line's point, its slope along the line and the crossing position.
    double point[MAX_RANK], direction[MAX_RANK];
    for (int i = 0; i < R; i++) {
        point[i] = line->point[i];
        direction[i] = line->direction[i];
    }
    const double *n = arrangement->walk_normals;
    const double along = line->along;
    // Where the line starts (t → −∞) a crossing hyperplane is on its positive side when its slope is negative,
    // a parallel one when its value is positive. The crossings' keys go to spare_keys by hyperplane first.
    //
    // The region whose lowest point is the vertex with hyperplane h lies, for each hyperplane through the vertex,
    // on the side given by the sign of d's coefficient λ on that hyperplane's normal (LP duality at the vertex).
    // Writing d = (d·u) u + its part in the span of the line's normals: λ_h = (d·u)/(ã_h·u), and
    // λ_a = w_a·d − λ_h w_a·ã_h with w the dual basis of the line's normals. Only their signs matter, so both are
    // multiplied by (ã_h·u)², which is positive, instead of divided. Bit a of sides[h] is λ_a > 0 (the subset's
    // a-th hyperplane on its positive side), bit R − 1 is λ_h > 0.
    bool *crosses = w->crosses;
    uint8_t *sides = w->sides;
    uint32_t *keys_by_hyperplane = w->spare_keys;
    {
        const double *o = arrangement->walk_offsets;
        const double parallel_tolerance = arrangement->parallel_tolerance;
        double dual[MAX_RANK - 1][MAX_RANK], dual_direction[MAX_RANK - 1];
        for (int a = 0; a < m; a++) {
            dual_direction[a] = line->dual_direction[a];
            for (int i = 0; i < R; i++) dual[a][i] = line->dual[a * R + i];
        }
        for (ptrdiff_t h = 0; h < H; h++) {
            double value = o[h], slope = 0, size = 0, dot[MAX_RANK - 1] = {0};
            for (int i = 0; i < R; i++) {
                const double normal = n[i * H + h];
                value += normal * point[i];
                slope += normal * direction[i];
                size += fabs(normal);
                for (int a = 0; a < m; a++) dot[a] += dual[a][i] * normal;
            }
            const double t = -value / slope;
            const bool crossing = !(fabs(slope) <= parallel_tolerance * size);
            slopes[h] = slope;
            position[h] = t;
            crosses[h] = crossing;
            positive[h] = crossing ? slope < 0 : value > 0;
            keys_by_hyperplane[h] = nfx_crossing_key(t);
            int code = (along * slope > 0) << m;
            for (int a = 0; a < m; a++) code |= (slope * (dual_direction[a] * slope - along * dot[a]) > 0) << a;
            sides[h] = (uint8_t)code;
        }
    }
    // The line's own hyperplanes neither cross it nor count in the map.
    for (int a = 0; a < R - 1; a++) {
        crosses[line->subset[a]] = false;
        positive[line->subset[a]] = false;
    }
    ptrdiff_t crossings = 0;
    for (ptrdiff_t h = 0; h < H; h++) {
        w->keys[crossings] = keys_by_hyperplane[h];
        w->items[crossings] = (int32_t)h;
        crossings += crosses[h];
        w->walk_order[h] = INT32_MAX;
    }
    // The starting region's map: the sum of the terms of the hyperplanes on their positive side (four partial
    // sums, so that the additions do not wait on each other).
    vec4 map[MAX_VECTORS] = {{0}};
    {
        vec4 partial[4][MAX_VECTORS] = {{{0}}};
        ptrdiff_t h = 0;
        for (; h + 4 <= H; h += 4) {
            for (int lane = 0; lane < 4; lane++) {
                const double weight = positive[h + lane];
                const double *record = terms + (h + lane) * stride;
                for (int v = 0; v < V; v++) partial[lane][v] += weight * load4(record + 4 * v);
            }
        }
        for (; h < H; h++) {
            const double weight = positive[h];
            for (int v = 0; v < V; v++) partial[0][v] += weight * load4(terms + h * stride + 4 * v);
        }
        for (int v = 0; v < V; v++) map[v] = (partial[0][v] + partial[1][v]) + (partial[2][v] + partial[3][v]);
    }
    double *sorted = w->sorted_positions;
    sort_crossings(w->items, w->keys, crossings, position, w->spare_items, w->spare_keys, sorted);

    // The subset's term sums, padded like the records.
    vec4 combinations[1 << (MAX_RANK - 1)][MAX_VECTORS];
    for (int mask = 0; mask < 1 << m; mask++) {
        double padded[4 * MAX_VECTORS] = {0};
        for (int i = 0; i < R * R + R; i++) padded[i] = line->subset_terms[mask * (R * R + R) + i];
        for (int v = 0; v < V; v++) combinations[mask][v] = load4(padded + 4 * v);
    }

    const double *d = arrangement->direction;
    double height_at_origin = 0, height_slope = 0;
    for (int i = 0; i < R; i++) {
        height_at_origin += d[i] * point[i];
        height_slope += d[i] * direction[i];
    }
    const int32_t last = line->subset[m - 1];
    const uint8_t *halves = arrangement->halves, half = line->half;
    int32_t *walk_order = w->walk_order;
    int32_t *order = w->check_order;
    ptrdiff_t regions = 0, singular = 0, found = 0, first_vertex = -1, last_vertex = -1;
    // In chunks: first the map of the region above every vertex (a prefix sum over the crossings, plus the
    // vertex's own hyperplanes on the sides λ picks; without branches, so that the random reads of the records
    // overlap), kept at the vertices whose region is solved on this line; then those regions' solves.
    enum { CHUNK = 128 };
    vec4 snapshots[CHUNK][MAX_VECTORS];
    int32_t vertices[CHUNK];
    uint8_t codes[CHUNK];
    for (ptrdiff_t start = 0; start < crossings; start += CHUNK) {
        const ptrdiff_t end = start + CHUNK < crossings ? start + CHUNK : crossings;
        ptrdiff_t count = 0;
        for (ptrdiff_t index = start; index < end; index++) {
            const int32_t h = w->items[index];
            const double *record = terms + (ptrdiff_t)h * stride;
            const double before = positive[h];
            const int code = sides[h];
            const double own_weight = (double)(code >> m) - before;
            walk_order[h] = (int32_t)index;
            for (int v = 0; v < V; v++) {
                const vec4 own = load4(record + 4 * v);
                snapshots[count][v] = map[v] + combinations[code & ((1 << m) - 1)][v] + own_weight * own;
                map[v] += (1 - 2 * before) * own;
            }
            vertices[count] = (int32_t)index;
            codes[count] = (uint8_t)code;
            count += (h > last) | (halves[h] != half);
        }
        if (count > 0) {
            if (first_vertex < 0) first_vertex = vertices[0];
            last_vertex = vertices[count - 1];
        }
        regions += count;
        // Four regions at a time, one per vector lane: their solves and the checks against the two hyperplanes
        // first in the check order, which reject most candidates; the few survivors are checked one by one.
        for (ptrdiff_t group = 0; group < count; group += 4) {
            const int lanes = count - group < 4 ? (int)(count - group) : 4;
            const int32_t first = order[0], second = order[H >= 2];
            // Missing lanes repeat the group's first region; their results are not used.
            ptrdiff_t snapshot[4];
            for (int lane = 0; lane < 4; lane++) snapshot[lane] = group + (lane < lanes ? lane : 0);
            // Transposed: entry[i] holds the four regions' i-th map entry.
            vec4 entry[4 * MAX_VECTORS];
            for (int v = 0; v < V; v++) {
                const vec4 r0 = snapshots[snapshot[0]][v], r1 = snapshots[snapshot[1]][v];
                const vec4 r2 = snapshots[snapshot[2]][v], r3 = snapshots[snapshot[3]][v];
                const vec4 low01 = __builtin_shufflevector(r0, r1, 0, 4, 2, 6);
                const vec4 high01 = __builtin_shufflevector(r0, r1, 1, 5, 3, 7);
                const vec4 low23 = __builtin_shufflevector(r2, r3, 0, 4, 2, 6);
                const vec4 high23 = __builtin_shufflevector(r2, r3, 1, 5, 3, 7);
                entry[4 * v + 0] = __builtin_shufflevector(low01, low23, 0, 1, 4, 5);
                entry[4 * v + 1] = __builtin_shufflevector(high01, high23, 0, 1, 4, 5);
                entry[4 * v + 2] = __builtin_shufflevector(low01, low23, 2, 3, 6, 7);
                entry[4 * v + 3] = __builtin_shufflevector(high01, high23, 2, 3, 6, 7);
            }
            vec4 system[MAX_RANK * MAX_RANK], rhs[MAX_RANK], y[MAX_RANK], det;
            for (int i = 0; i < R * R; i++) system[i] = broadcast4(arrangement->identity_minus_a[i]) - entry[i];
            for (int r = 0; r < R; r++) rhs[r] = entry[R * R + r] + broadcast4(arrangement->constant[r]);
            const vec4i solved = solve_scaled(system, rhs, y, &det, R, arrangement->singular_tolerance);
            vec4i first_required, second_required;
            for (int lane = 0; lane < 4; lane++) {
                const ptrdiff_t index = vertices[snapshot[lane]];
                const int32_t h = w->items[index];
                const int code = codes[snapshot[lane]];
                first_required[lane] = required_side(w, line, first, h, index, code, R) ? SIGN_BIT : 0;
                second_required[lane] = required_side(w, line, second, h, index, code, R) ? SIGN_BIT : 0;
            }
            const vec4 first_excess = excess(arrangement, first, first_required, y, det, R);
            const vec4 second_excess = excess(arrangement, second, second_required, y, det, R);
            for (int lane = 0; lane < lanes; lane++) {
                if (!solved[lane]) {
                    singular++;
                } else if (first_excess[lane] > 0) {
                    continue;
                } else if (second_excess[lane] > 0) {
                    if (order[0] == first && order[1] == second) {
                        order[0] = second;
                        order[1] = first;
                    }
                } else {
                    const ptrdiff_t index = vertices[group + lane];
                    double solution[MAX_RANK];
                    for (int r = 0; r < R; r++) solution[r] = y[r][lane];
                    if (rest_of_region_contains(arrangement, w, line, solution, det[lane], R, first, second,
                                                w->items[index], index, codes[group + lane])) {
                        for (int r = 0; r < R; r++) w->candidates[found * R + r] = solution[r] / det[lane];
                        found++;
                    }
                }
            }
        }
    }
    // Heights are linear along the line, so the extremes are at the first and last vertex.
    double lowest = INFINITY, highest = -INFINITY;
    if (first_vertex >= 0) {
        const double a = height_at_origin + sorted[first_vertex] * height_slope;
        const double b = height_at_origin + sorted[last_vertex] * height_slope;
        lowest = a < b ? a : b;
        highest = a < b ? b : a;
    }
    outcome->regions = regions;
    outcome->singular_regions = singular;
    outcome->candidates = found;
    outcome->lowest = lowest;
    outcome->highest = highest;
}

static void walk_line_portable(const nfx_arrangement *a, nfx_walk_workspace *w, const nfx_line *line,
                               nfx_line_outcome *outcome) {
    if (a->rank == 2) walk_line(a, w, line, outcome, 2);
    else walk_line(a, w, line, outcome, 3);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma")))
static void walk_line_avx2(const nfx_arrangement *a, nfx_walk_workspace *w, const nfx_line *line,
                           nfx_line_outcome *outcome) {
    if (a->rank == 2) walk_line(a, w, line, outcome, 2);
    else walk_line(a, w, line, outcome, 3);
}
#endif

void nfx_walk_line(const nfx_arrangement *arrangement, nfx_walk_workspace *workspace, const nfx_line *line,
                   nfx_line_outcome *outcome) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (nfx_vector_kernels_enabled()) {
        walk_line_avx2(arrangement, workspace, line, outcome);
        return;
    }
#endif
    walk_line_portable(arrangement, workspace, line, outcome);
}
