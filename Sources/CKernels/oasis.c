#include "oasis.h"

#include <math.h>

// Why C: in Swift the solve ran at ~16 ns a frame, the merge test's operands coming back through memory on every
// frame and each merge waiting on a table lookup of g^length. Here the two newest pools live in registers and each
// pool carries its decay g^length (a product when pools merge).

static void extend_powers(const nfx_ar1_pools *pools, ptrdiff_t k) {
    ptrdiff_t computed = *pools->powers_computed;
    ptrdiff_t target = 2 * computed + 64;
    if (target < k) target = k;
    if (target > pools->capacity) target = pools->capacity;
    const double g = *pools->powers_for;
    for (ptrdiff_t j = computed + 1; j <= target; j++) pools->powers[j] = pools->powers[j - 1] * g;
    *pools->powers_computed = target;
}

double nfx_ar1_power(const nfx_ar1_pools *pools, ptrdiff_t k) {
    if (k > *pools->powers_computed) extend_powers(pools, k);
    return pools->powers[k];
}

/// A pool: Σ g^k (y − shift) over its observed frames, Σ g^{2k}, g^length, first frame, length. Kept in locals
/// (registers) for the newest pools; stored with `values` holding the decay until the solve is finished.
typedef struct {
    double sum, weight, decay;
    ptrdiff_t start, length;
} pool;

static inline pool load_pool(const nfx_ar1_pools *pools, ptrdiff_t index) {
    return (pool){pools->sums[index], pools->weights[index], pools->values[index], pools->starts[index],
                  pools->lengths[index]};
}

static inline void store_pool(const nfx_ar1_pools *pools, ptrdiff_t index, pool p) {
    pools->sums[index] = p.sum;
    pools->weights[index] = p.weight;
    pools->values[index] = p.decay;
    pools->starts[index] = p.start;
    pools->lengths[index] = p.length;
}

/// Whether `below` would need a negative spike (or one under s_min) where `top` starts: v_below·decay + s_min >
/// v_top, multiplied through by the (positive) weights, so no division waits on the chain of dependent merges.
static inline int violates(pool below, pool top, double minimum_spike) {
    return (below.sum * below.decay + minimum_spike * below.weight) * top.weight > top.sum * below.weight;
}

/// `below` and `top` as one pool: its value is the least-squares fit of all their frames.
static inline pool merged(pool below, pool top) {
    return (pool){below.sum + top.sum * below.decay, below.weight + top.weight * below.decay * below.decay,
                  below.decay * top.decay, below.start, below.length + top.length};
}

/// Frame t of y with the L1 term folded in (see OASIS.ar1): every frame but the last loses λ(1 − g) + b
/// (`interior`), the last λ + b (`last`).
static inline double folded(const double *y, ptrdiff_t t, ptrdiff_t T, double interior, double last) {
    return y[t] - (t == T - 1 ? last : interior);
}

void nfx_oasis_ar1_chunk(const double *y, ptrdiff_t first, ptrdiff_t count, ptrdiff_t T, double g, double lambda,
                         double minimum_spike, double baseline, const nfx_ar1_pools *pools,
                         ptrdiff_t *stored_pools) {
    // The chunk's stack lives at [first, first + count) of the arrays.
    const nfx_ar1_pools stack = {pools->sums + first, pools->weights + first, pools->values + first,
                                 pools->starts + first, pools->lengths + first, pools->powers,
                                 pools->powers_computed, pools->powers_for, pools->capacity - first};
    const double interior = lambda * (1 - g) + baseline, last = lambda + baseline;
    // The newest pool and the one under it live in registers; `stored` pools lie under those in the arrays.
    pool top = {isnan(y[first]) ? 0 : folded(y, first, T, interior, last), 1, g, first, 1};
    ptrdiff_t stored = 0;
    for (ptrdiff_t t = first + 1; t < first + count; t++) {
        const double value = y[t];
        if (isnan(value)) {
            top.length++;
            top.decay *= g;
            continue;
        }
        const pool below = top;
        top = (pool){folded(y, t, T, interior, last), 1, g, t, 1};
        if (!violates(below, top, minimum_spike)) {
            store_pool(&stack, stored++, below);
            continue;
        }
        top = merged(below, top);
        // Pools further down merge while they violate; one that does not stays where it is, unwritten.
        while (stored > 0) {
            const pool under = load_pool(&stack, stored - 1);
            if (!violates(under, top, minimum_spike)) break;
            top = merged(under, top);
            stored--;
        }
    }
    store_pool(&stack, stored, top);
    *stored_pools = stored + 1;
}

/// Pushes `top` onto the stack of `stored` pools, merging while the pool below would need a negative spike
/// (s_min = 0); returns the stack's new size.
static inline ptrdiff_t push_pool(const nfx_ar1_pools *pools, ptrdiff_t stored, pool top) {
    while (stored > 0) {
        const pool below = load_pool(pools, stored - 1);
        if (!violates(below, top, 0)) break;
        top = merged(below, top);
        stored--;
    }
    store_pool(pools, stored, top);
    return stored + 1;
}

ptrdiff_t nfx_oasis_ar1_join(const nfx_ar1_pools *pools, ptrdiff_t base, ptrdiff_t first, ptrdiff_t count) {
    // Each pool is read before the stack can grow over it: the stack never passes index (a pool per frame at most).
    for (ptrdiff_t index = first; index < first + count; index++)
        base = push_pool(pools, base, load_pool(pools, index));
    return base;
}

ptrdiff_t nfx_oasis_ar1_continue(const double *y, ptrdiff_t T, double g, double shift_change, double lambda,
                                 double baseline, const nfx_ar1_pools *pools, ptrdiff_t count) {
    if (count <= 0) return 0;
    // The decays back in `values` (the finished solve left the pools' values there).
    for (ptrdiff_t p = 0; p < count; p++) pools->values[p] = nfx_ar1_power(pools, pools->lengths[p]);
    // Every frame but the last lost shift_change more: a pool's sum drops by shift_change · Σ_k g^k.
    const ptrdiff_t last_start = pools->starts[count - 1];
    for (ptrdiff_t p = 0; p < count - 1; p++) pools->sums[p] -= shift_change * (1 - pools->values[p]) / (1 - g);
    ptrdiff_t stored = nfx_oasis_ar1_join(pools, 0, 0, count - 1);
    // The last pool's frames from scratch, onto those: its last frame changed differently and may split it off.
    const double interior = lambda * (1 - g) + baseline, last = lambda + baseline;
    for (ptrdiff_t t = last_start; t < T; t++)
        stored = push_pool(pools, stored, (pool){folded(y, t, T, interior, last), 1, g, t, 1});
    return stored;
}

/// Spikes s_t = c_t − g c_{t−1} over frames [first, end), c_{first−1} being `previous` (s_0 = 0, and NaN frames'
/// calcium bridged until their spike is taken), then NaN calcium and spikes where y is NaN.
static void spikes_from_calcium(const double *y, ptrdiff_t first, ptrdiff_t end, double previous, double g,
                                double *c, double *s) {
    for (ptrdiff_t t = first; t < end; t++) {
        const double current = c[t];
        const double spike = current - g * previous;
        // Inside a pool c_t = g·c_{t−1} exactly; the difference of the rounded products is not a spike, and left in
        // it would make every frame count as one for a test s > 0. Across a chunk boundary inside a pool, c_{t−1}
        // comes from up to 2^13 chained products and c_t from pow(): about 1e-12 apart, relatively.
        s[t] = t == 0 || fabs(spike) <= 1e-11 * fabs(current) ? 0 : spike;
        previous = current;
        if (isnan(y[t])) {
            c[t] = NAN;
            s[t] = NAN;
        }
    }
}

double nfx_oasis_ar1_finish(const double *y, ptrdiff_t first, ptrdiff_t end, const nfx_ar1_pools *pools,
                            ptrdiff_t pool_count, double g, double minimum_spike, double baseline, double *c,
                            double *s, int computes_residual) {
    if (first >= end) return 0;
    const double *sums = pools->sums, *weights = pools->weights;
    const ptrdiff_t *starts = pools->starts, *lengths = pools->lengths;
    // The pool holding frame first − 1 (or first): the last one starting at or before it.
    const ptrdiff_t anchor = first > 0 ? first - 1 : 0;
    ptrdiff_t low = 0, high = pool_count - 1;
    while (low < high) {
        const ptrdiff_t middle = (low + high + 1) / 2;
        if (starts[middle] <= anchor) low = middle; else high = middle - 1;
    }
    // The calcium of frames [first, end), and of frame first − 1 (kept aside: another range owns it). A pool's
    // value is written by the range holding its first frame.
    double previous = 0, rss = 0;
    const double g2 = g * g, g3 = g2 * g, g4 = g2 * g2;
    for (ptrdiff_t p = low; p < pool_count && starts[p] < end; p++) {
        const double value = sums[p] / weights[p];
        if (starts[p] >= first) pools->values[p] = value;
        double level = value;
        if ((p == 0 && level < 0) || (p > 0 && level < minimum_spike)) level = 0;
        ptrdiff_t from = starts[p], to = starts[p] + lengths[p];
        if (first > 0 && from <= first - 1 && first - 1 < to) previous = level * pow(g, (double)(first - 1 - from));
        if (from < first) {
            level *= pow(g, (double)(first - from));
            from = first;
        }
        if (to > end) to = end;
        // Only frame first − 1 of this pool lies before the range: it set `previous` and nothing is written.
        if (to <= from) continue;
        double *out = c + from;
        const ptrdiff_t length = to - from;
        // Four frames at a time: level·g^k.
        ptrdiff_t k = 0;
        for (; k + 4 <= length; k += 4) {
            out[k] = level;
            out[k + 1] = level * g;
            out[k + 2] = level * g2;
            out[k + 3] = level * g3;
            level *= g4;
        }
        for (; k < length; k++) {
            out[k] = level;
            level *= g;
        }
        // The residual (in frame order) and the spikes while the segment is in cache.
        if (computes_residual) {
            for (k = 0; k < length; k++) {
                const double residual = y[from + k] - baseline - out[k];
                if (!isnan(residual)) rss += residual * residual;
            }
        }
        if (s) {
            // The last frame's calcium as bridged, before a NaN there replaces it.
            const double last = out[length - 1];
            spikes_from_calcium(y, from, to, previous, g, c, s);
            previous = last;
        }
    }
    return rss;
}

void nfx_ar1_pool_statistics(const double *y, const nfx_ar1_pools *pools, ptrdiff_t count, double g, double lambda,
                             double squares, nfx_ar1_statistics *statistics) {
    nfx_ar1_statistics sums = {squares, 0, 0, 0, 0, 0};
    for (ptrdiff_t p = 0; p < count; p++) {
        const ptrdiff_t length = pools->lengths[p];
        const double sum = pools->sums[p], weight = pools->weights[p], value = sum / weight;
        pools->values[p] = value;
        const int last = p == count - 1;
        const double decay = nfx_ar1_power(pools, length);
        const double slope = (last ? 1 : 1 - decay) / weight;
        sums.slope_squares += slope * slope * weight;
        if (value >= 0) {
            sums.residual -= value * sum + 2 * value * (last ? lambda : lambda * (1 - decay));
            sums.calcium_total += value * (1 - decay) / (1 - g);
            if (!last) {
                sums.closed_form += slope * (1 - decay);
                continue;
            }
        }
        const ptrdiff_t start = pools->starts[p];
        double power = slope, calcium = value < 0 ? 0 : value, frames = 0;
        for (ptrdiff_t t = start; t < start + length; t++) {
            frames += (y[t] - calcium) * power;
            power *= g;
            calcium *= g;
        }
        sums.frame_sums += frames;
        sums.frame_weights += slope * (1 - decay) / (1 - g);
    }
    *statistics = sums;
}

void nfx_ar1_spikes(const double *y, ptrdiff_t T, double g, double *c, double *s) {
    spikes_from_calcium(y, 0, T, 0, g, c, s);
}

void nfx_ar1_prepare(const nfx_ar1_pools *pools, double g) {
    if (!(g == *pools->powers_for)) {
        *pools->powers_for = g;
        pools->powers[0] = 1;
        *pools->powers_computed = 0;
    }
}
