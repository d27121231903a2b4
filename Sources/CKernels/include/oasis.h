#ifndef NFX_OASIS_H
#define NFX_OASIS_H

#include <stddef.h>

// The AR(1) OASIS solve (Friedrich, Zhou & Paninski 2017, Algorithm 1) behind Deconvolution's `OASIS.ar1`; the
// Swift side documents the problem. Plain C, no vector build: the pool merges are a chain of dependent scalar steps.

/// Pool storage owned by the caller, `capacity` ≥ the trace length: per pool the weighted sum Σ g^k (y − shift),
/// the weight Σ g^{2k}, their ratio (`values`, filled at the end), first frame and length; and g^k for
/// k ≤ *powers_computed (extended here on demand, for `powers_for`; reset when g changes).
typedef struct {
    double *sums;
    double *weights;
    double *values;
    ptrdiff_t *starts;
    ptrdiff_t *lengths;
    double *powers;
    ptrdiff_t *powers_computed;
    double *powers_for;
    ptrdiff_t capacity;
} nfx_ar1_pools;

/// g^k from the pools' table, extending it as needed.
double nfx_ar1_power(const nfx_ar1_pools *pools, ptrdiff_t k);

// The solve in chunks, so that long traces can use several threads (Swift's OASIS.ar1 drives them): with
// s_min = 0 the problem is an isotonic regression in x_t = c_t / g^t (c_t ≥ g c_{t−1} ⇔ x_t ≥ x_{t−1}), whose
// optimal blocks contain those of any stretch solved alone, so pools found per chunk and then pushed onto the
// first chunk's, merging as frames would, give the same pools as one sequential pass (pool-adjacent violators).

/// The pools of frames [first, first + count) of a trace of T frames (NaN frames add length to a pool but no
/// data), stored at [first, first + *stored_pools) of the pool arrays, with `values`
/// holding each pool's decay g^length until nfx_oasis_ar1_finish.
void nfx_oasis_ar1_chunk(const double *y, ptrdiff_t first, ptrdiff_t count, ptrdiff_t T, double g, double lambda,
                         double minimum_spike, double baseline, const nfx_ar1_pools *pools,
                         ptrdiff_t *stored_pools);

/// Pushes the `count` pools stored at `first` onto the stack of `base` pools at 0 (first ≥ base), merging as
/// frames merge with s_min = 0; returns the stack's new size.
ptrdiff_t nfx_oasis_ar1_join(const nfx_ar1_pools *pools, ptrdiff_t base, ptrdiff_t first, ptrdiff_t count);

/// The pools of the same trace (no NaN frames) after the shift of every frame but the last grew by
/// shift_change ≥ 0 (λ(1 − g) + b) and the last frame's became λ + baseline, from the `count` pools of the previous
/// solve (s_min = 0, finished): a larger interior shift only merges pools (in c_t / g^t it subtracts an increasing
/// sequence, which keeps every block of the isotonic fit together), so the old pools' sums are updated and
/// re-merged, and only the last pool's frames are pooled again. Returns the new pool count, for
/// nfx_oasis_ar1_finish.
ptrdiff_t nfx_oasis_ar1_continue(const double *y, ptrdiff_t T, double g, double shift_change, double lambda,
                                 double baseline, const nfx_ar1_pools *pools, ptrdiff_t count);

/// Frames [first, end) of the solution from its `pool_count` pools: the calcium (each pool's value, sums /
/// weights, written to `values` by the range holding the pool's first frame; 0 when negative for the first pool or
/// under s_min for the others; decaying by g), the spikes s_t = c_t − g c_{t−1} (s_0 = 0), NaN calcium and spikes
/// where y is NaN; returns the residual sum of squares of y − baseline − c over the observed frames (0 without
/// `computes_residual`). Ranges may run on different threads. With s NULL (the steps of a λ search on a trace with
/// NaN frames, which need only c and the residual) no spikes are written and NaN frames keep their bridged
/// calcium; nfx_ar1_spikes finishes such a solution.
double nfx_oasis_ar1_finish(const double *y, ptrdiff_t first, ptrdiff_t end, const nfx_ar1_pools *pools,
                            ptrdiff_t pool_count, double g, double minimum_spike, double baseline, double *c,
                            double *s, int computes_residual);

/// What a step of the noise-constrained searches needs from a solve of a trace without NaN frames, from its pools
/// (no calcium is written): see nfx_ar1_pool_statistics.
typedef struct {
    /// Σ (y − b − c)² over the frames.
    double residual;
    /// Σ c over the frames.
    double calcium_total;
    /// Σ over pools of slope² · weight, slope = (1 − g^l) / weight (1 / weight for the last pool): dc/dλ is
    /// −slope · g^k in a pool, so this is ‖dc/dλ‖².
    double slope_squares;
    /// Σ over inner pools with value ≥ 0 of slope · (1 − g^l): their Σ_k slope g^k (y − b − c) is λ times it.
    double closed_form;
    /// Over the other pools (the last, and those clipped at 0): Σ_k slope g^k (y − c) and Σ_k slope g^k, so that
    /// their Σ_k slope g^k (y − b − c) is frame_sums − b · frame_weights for any b.
    double frame_sums;
    double frame_weights;
} nfx_ar1_statistics;

/// One pass over the pools of a solve of y (no NaN frames) for λ and b: each pool's fitted value sums / weights
/// into `values` (as the finish pass leaves them) and the statistics above. `squares` is Σ (y − b)² over the whole
/// trace. The residual is that minus, per pool with value v ≥ 0, v·S + 2vλ(1 − g^l) (the last pool: v·S + 2vλ),
/// S its sum: Σ (y − b − v g^k)² = Σ (y − b)² − 2vΣ g^k (y − b) + v²w, and Σ g^k (y − b) = S + λ(1 − g^l) (S + λ
/// for the last pool, whose last frame carries λ + b). A pool with v < 0 has calcium 0 and leaves its Σ (y − b)².
/// Inner unclipped pools need no frame: their Σ_k g^k (y − b − v g^k) is λ(1 − g^l).
void nfx_ar1_pool_statistics(const double *y, const nfx_ar1_pools *pools, ptrdiff_t count, double g, double lambda,
                             double squares, nfx_ar1_statistics *statistics);

/// The spikes of a solution finished without them: s_t = c_t − g c_{t−1} (s_0 = 0) over frames [0, T), and NaN
/// calcium and spikes where y is NaN.
void nfx_ar1_spikes(const double *y, ptrdiff_t T, double g, double *c, double *s);

/// Resets the power table when g changes.
void nfx_ar1_prepare(const nfx_ar1_pools *pools, double g);

#endif
