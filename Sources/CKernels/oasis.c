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

/// One pool's fields as locals.
#define POOL_FIELDS(prefix) double prefix##sum, prefix##weight, prefix##decay; ptrdiff_t prefix##start, prefix##length

void nfx_oasis_ar1_chunk(const double *y, ptrdiff_t first, ptrdiff_t count, ptrdiff_t T, double g, double lambda,
                         double minimum_spike, double baseline, const nfx_ar1_pools *pools,
                         ptrdiff_t *stored_pools) {
    double *sums = pools->sums + first, *weights = pools->weights + first, *decays = pools->values + first;
    ptrdiff_t *starts = pools->starts + first, *lengths = pools->lengths + first;
    // The L1 term folded into the data (see OASIS.ar1): every frame but the last loses λ(1 − g), the last λ.
    const double interior = lambda * (1 - g) + baseline, last = lambda + baseline;
    // The newest pool and the one under it live in registers; `stored` pools lie under those in the arrays.
    POOL_FIELDS(top_);
    top_sum = isnan(y[first]) ? 0 : y[first] - (first == T - 1 ? last : interior);
    top_weight = 1;
    top_decay = g;
    top_start = first;
    top_length = 1;
    ptrdiff_t stored = 0;
    for (ptrdiff_t t = first + 1; t < first + count; t++) {
        const double value = y[t];
        if (isnan(value)) {
            top_length++;
            top_decay *= g;
            continue;
        }
        double below_sum = top_sum, below_weight = top_weight, below_decay = top_decay;
        ptrdiff_t below_start = top_start, below_length = top_length;
        top_sum = value - (t == T - 1 ? last : interior);
        top_weight = 1;
        top_decay = g;
        top_start = t;
        top_length = 1;
        // Merge while the pool below would need a negative spike (or one under s_min) at the junction:
        // v_below·decay + s_min > v_top, multiplied through by the (positive) weights, so no division waits on the
        // chain of dependent merges.
        for (;;) {
            if (!((below_sum * below_decay + minimum_spike * below_weight) * top_weight > top_sum * below_weight)) {
                sums[stored] = below_sum;
                weights[stored] = below_weight;
                decays[stored] = below_decay;
                starts[stored] = below_start;
                lengths[stored] = below_length;
                stored++;
                break;
            }
            top_sum = below_sum + top_sum * below_decay;
            top_weight = below_weight + top_weight * below_decay * below_decay;
            top_decay = below_decay * top_decay;
            top_length = below_length + top_length;
            top_start = below_start;
            if (stored == 0) break;
            stored--;
            below_sum = sums[stored];
            below_weight = weights[stored];
            below_decay = decays[stored];
            below_start = starts[stored];
            below_length = lengths[stored];
        }
    }
    sums[stored] = top_sum;
    weights[stored] = top_weight;
    decays[stored] = top_decay;
    starts[stored] = top_start;
    lengths[stored] = top_length;
    *stored_pools = stored + 1;
}

ptrdiff_t nfx_oasis_ar1_join(const nfx_ar1_pools *pools, ptrdiff_t base, ptrdiff_t first, ptrdiff_t count) {
    double *sums = pools->sums, *weights = pools->weights, *decays = pools->values;
    ptrdiff_t *starts = pools->starts, *lengths = pools->lengths;
    for (ptrdiff_t index = first; index < first + count; index++) {
        // Read before the stack can grow over it: the stack never passes index (a pool per frame at most).
        POOL_FIELDS(top_);
        top_sum = sums[index];
        top_weight = weights[index];
        top_decay = decays[index];
        top_start = starts[index];
        top_length = lengths[index];
        while (base > 0 && sums[base - 1] * decays[base - 1] * top_weight > top_sum * weights[base - 1]) {
            base--;
            top_sum = sums[base] + top_sum * decays[base];
            top_weight = weights[base] + top_weight * decays[base] * decays[base];
            top_decay = decays[base] * top_decay;
            top_length = lengths[base] + top_length;
            top_start = starts[base];
        }
        sums[base] = top_sum;
        weights[base] = top_weight;
        decays[base] = top_decay;
        starts[base] = top_start;
        lengths[base] = top_length;
        base++;
    }
    return base;
}

double nfx_oasis_ar1_finish(const double *y, ptrdiff_t first, ptrdiff_t end, const nfx_ar1_pools *pools,
                            ptrdiff_t pool_count, double g, double minimum_spike, double baseline, double *c,
                            double *s) {
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
    double previous = 0;
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
    }
    // Spikes s_t = c_t − g c_{t−1} (s_0 = 0, and NaN frames' calcium bridged until their spike is taken), the
    // residual over observed frames, and NaN where y is NaN.
    double rss = 0;
    for (ptrdiff_t t = first; t < end; t++) {
        const double current = c[t];
        s[t] = t == 0 ? 0 : current - g * previous;
        previous = current;
        const double residual = y[t] - baseline - current;
        if (isnan(residual)) {
            c[t] = NAN;
            s[t] = NAN;
        } else {
            rss += residual * residual;
        }
    }
    return rss;
}

void nfx_ar1_prepare(const nfx_ar1_pools *pools, double g) {
    if (!(g == *pools->powers_for)) {
        *pools->powers_for = g;
        pools->powers[0] = 1;
        *pools->powers_computed = 0;
    }
}
