#ifndef NFX_SPARSE_CODES_H
#define NFX_SPARSE_CODES_H

#include <stddef.h>
#include <stdint.h>

// The sparse operations of convolutional sparse coding (SparseCoding's UnrolledEncoder): a list of non-zero codes
// is `count` flat indices c·positions + s (filter c, position s; repeats allowed) with their values. Filters are
// filters × channels × length, signals channels × samples, positions = samples − length + 1. AVX2/FMA where the
// CPU has them (nfx_vector_kernels_enabled), a portable loop elsewhere; the two agree to rounding.

/// out[c′·positions + s − (length − 1) + i] += value · rows[(c·filters + c′)·(2·length − 1) + i] for every listed
/// code and every filter c′, over the i that land on a position: HᵀH x, `rows` being the filters'
/// cross-correlations ordered so that each is one contiguous run.
void nfx_add_gram_product(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                          ptrdiff_t filters, ptrdiff_t length, const double *rows, double *out);

/// out[k·samples + s + τ] += value · weights[(c·channels + k)·length + τ]: H x.
void nfx_add_synthesis(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                       ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples, const double *weights, double *out);

/// gradient[(c·channels + k)·length + τ] += scale · value · signal[k·samples + s + τ]: ∂⟨signal, H x⟩/∂H.
void nfx_add_filter_gradient(const int32_t *indices, const double *values, ptrdiff_t count, double scale,
                             ptrdiff_t positions, ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples,
                             const double *signal, double *gradient);

/// One FISTA step over every code position t < size (the caller has built product = HᵀH z):
///   v = z + correlation − product · inverse_lipschitz,
///   next = max(v − threshold, 0) + negative_part · min(v + threshold, 0)   (negative_part 0: codes ≥ 0; 1: signed),
///   z ← next + momentum · (next − x),  x ← next,
/// and the non-zeros of the new x and z listed in position order (their counts returned through the pointers;
/// each list needs room for `size` entries).
void nfx_fista_threshold_step(ptrdiff_t size, const double *correlation, const double *product,
                              double inverse_lipschitz, double threshold, double negative_part, double momentum,
                              double *x, double *z, int32_t *code_indices, double *code_values,
                              ptrdiff_t *code_count, int32_t *extrapolated_indices, double *extrapolated_values,
                              ptrdiff_t *extrapolated_count);

#endif
