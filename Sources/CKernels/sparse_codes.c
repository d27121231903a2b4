#include "sparse_codes.h"

#include "kernels.h"

// Why C: each listed code costs a few axpys of one filter length, which Swift vectorises two doubles wide (it
// compiles for baseline x86-64); with AVX2/FMA they run four wide. One body per operation is compiled twice.

#define BODY_GRAM                                                                                              \
    const ptrdiff_t width = 2 * length - 1;                                                                    \
    for (ptrdiff_t entry = 0; entry < count; entry++) {                                                        \
        const ptrdiff_t index = indices[entry], c = index / positions, s = index - c * positions;              \
        const double value = values[entry];                                                                    \
        const ptrdiff_t low = s < length - 1 ? length - 1 - s : 0;                                             \
        const ptrdiff_t high = positions - s + length - 1 < width ? positions - s + length - 1 : width;        \
        for (ptrdiff_t other = 0; other < filters; other++) {                                                  \
            const double *row = rows + (c * filters + other) * width + low;                                    \
            double *target = out + other * positions + s - (length - 1) + low;                                 \
            for (ptrdiff_t i = 0; i < high - low; i++) target[i] += value * row[i];                            \
        }                                                                                                      \
    }

#define BODY_SYNTHESIS                                                                                         \
    for (ptrdiff_t entry = 0; entry < count; entry++) {                                                        \
        const ptrdiff_t index = indices[entry], c = index / positions, s = index - c * positions;              \
        const double value = values[entry];                                                                    \
        for (ptrdiff_t k = 0; k < channels; k++) {                                                             \
            const double *filter = weights + (c * channels + k) * length;                                      \
            double *target = out + k * samples + s;                                                            \
            for (ptrdiff_t tap = 0; tap < length; tap++) target[tap] += value * filter[tap];                   \
        }                                                                                                      \
    }

#define BODY_FILTER_GRADIENT                                                                                   \
    for (ptrdiff_t entry = 0; entry < count; entry++) {                                                        \
        const ptrdiff_t index = indices[entry], c = index / positions, s = index - c * positions;              \
        const double value = scale * values[entry];                                                            \
        for (ptrdiff_t k = 0; k < channels; k++) {                                                             \
            double *target = gradient + (c * channels + k) * length;                                           \
            const double *source = signal + k * samples + s;                                                   \
            for (ptrdiff_t tap = 0; tap < length; tap++) target[tap] += value * source[tap];                   \
        }                                                                                                      \
    }

static void gram_portable(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                          ptrdiff_t filters, ptrdiff_t length, const double *rows, double *out) {
    BODY_GRAM
}

static void synthesis_portable(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                               ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples, const double *weights,
                               double *out) {
    BODY_SYNTHESIS
}

static void filter_gradient_portable(const int32_t *indices, const double *values, ptrdiff_t count, double scale,
                                     ptrdiff_t positions, ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples,
                                     const double *signal, double *gradient) {
    BODY_FILTER_GRADIENT
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VECTOR_KERNELS 1
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void gram_avx2(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                      ptrdiff_t filters, ptrdiff_t length, const double *rows, double *out) {
    BODY_GRAM
}

__attribute__((target("avx2,fma")))
static void synthesis_avx2(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                           ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples, const double *weights,
                           double *out) {
    BODY_SYNTHESIS
}

__attribute__((target("avx2,fma")))
static void filter_gradient_avx2(const int32_t *indices, const double *values, ptrdiff_t count, double scale,
                                 ptrdiff_t positions, ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples,
                                 const double *signal, double *gradient) {
    BODY_FILTER_GRADIENT
}
#endif

void nfx_add_gram_product(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                          ptrdiff_t filters, ptrdiff_t length, const double *rows, double *out) {
#ifdef VECTOR_KERNELS
    if (nfx_vector_kernels_enabled()) {
        gram_avx2(indices, values, count, positions, filters, length, rows, out);
        return;
    }
#endif
    gram_portable(indices, values, count, positions, filters, length, rows, out);
}

void nfx_add_synthesis(const int32_t *indices, const double *values, ptrdiff_t count, ptrdiff_t positions,
                       ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples, const double *weights, double *out) {
#ifdef VECTOR_KERNELS
    if (nfx_vector_kernels_enabled()) {
        synthesis_avx2(indices, values, count, positions, channels, length, samples, weights, out);
        return;
    }
#endif
    synthesis_portable(indices, values, count, positions, channels, length, samples, weights, out);
}

void nfx_add_filter_gradient(const int32_t *indices, const double *values, ptrdiff_t count, double scale,
                             ptrdiff_t positions, ptrdiff_t channels, ptrdiff_t length, ptrdiff_t samples,
                             const double *signal, double *gradient) {
#ifdef VECTOR_KERNELS
    if (nfx_vector_kernels_enabled()) {
        filter_gradient_avx2(indices, values, count, scale, positions, channels, length, samples, signal, gradient);
        return;
    }
#endif
    filter_gradient_portable(indices, values, count, scale, positions, channels, length, samples, signal, gradient);
}

static inline void fista_position(ptrdiff_t t, const double *correlation, const double *product,
                                  double inverse_lipschitz, double threshold, double negative_part, double momentum,
                                  double *x, double *z) {
    const double v = z[t] + correlation[t] - product[t] * inverse_lipschitz;
    const double above = v - threshold, below = v + threshold;
    const double next = (above > 0 ? above : 0) + negative_part * (below < 0 ? below : 0);
    z[t] = next + momentum * (next - x[t]);
    x[t] = next;
}

static inline void list_position(ptrdiff_t t, const double *x, const double *z, int32_t *code_indices,
                                 double *code_values, ptrdiff_t *codes, int32_t *extrapolated_indices,
                                 double *extrapolated_values, ptrdiff_t *extrapolated) {
    if (x[t] != 0) {
        code_indices[*codes] = (int32_t)t;
        code_values[(*codes)++] = x[t];
    }
    if (z[t] != 0) {
        extrapolated_indices[*extrapolated] = (int32_t)t;
        extrapolated_values[(*extrapolated)++] = z[t];
    }
}

static void fista_step_portable(ptrdiff_t size, const double *correlation, const double *product,
                                double inverse_lipschitz, double threshold, double negative_part, double momentum,
                                double *x, double *z, int32_t *code_indices, double *code_values,
                                ptrdiff_t *code_count, int32_t *extrapolated_indices, double *extrapolated_values,
                                ptrdiff_t *extrapolated_count) {
    ptrdiff_t codes = 0, extrapolated = 0;
    for (ptrdiff_t t = 0; t < size; t++) {
        fista_position(t, correlation, product, inverse_lipschitz, threshold, negative_part, momentum, x, z);
        list_position(t, x, z, code_indices, code_values, &codes, extrapolated_indices, extrapolated_values,
                      &extrapolated);
    }
    *code_count = codes;
    *extrapolated_count = extrapolated;
}

#ifdef VECTOR_KERNELS
__attribute__((target("avx2,fma")))
static void fista_step_avx2(ptrdiff_t size, const double *correlation, const double *product,
                            double inverse_lipschitz, double threshold, double negative_part, double momentum,
                            double *x, double *z, int32_t *code_indices, double *code_values,
                            ptrdiff_t *code_count, int32_t *extrapolated_indices, double *extrapolated_values,
                            ptrdiff_t *extrapolated_count) {
    // Four positions at a time; most quadruples are all zeros after the step and are not looked at again.
    ptrdiff_t codes = 0, extrapolated = 0, t = 0;
    const __m256d scale = _mm256_set1_pd(inverse_lipschitz), theta = _mm256_set1_pd(threshold);
    const __m256d negative = _mm256_set1_pd(negative_part), mu = _mm256_set1_pd(momentum);
    const __m256d zero = _mm256_setzero_pd();
    for (; t + 4 <= size; t += 4) {
        const __m256d previous = _mm256_loadu_pd(x + t);
        const __m256d v = _mm256_sub_pd(_mm256_add_pd(_mm256_loadu_pd(z + t), _mm256_loadu_pd(correlation + t)),
                                        _mm256_mul_pd(_mm256_loadu_pd(product + t), scale));
        const __m256d next = _mm256_add_pd(_mm256_max_pd(_mm256_sub_pd(v, theta), zero),
                                           _mm256_mul_pd(negative, _mm256_min_pd(_mm256_add_pd(v, theta), zero)));
        const __m256d extrapolation = _mm256_add_pd(next, _mm256_mul_pd(mu, _mm256_sub_pd(next, previous)));
        _mm256_storeu_pd(x + t, next);
        _mm256_storeu_pd(z + t, extrapolation);
        const int nonzero = _mm256_movemask_pd(_mm256_cmp_pd(next, zero, _CMP_NEQ_UQ)) |
                            _mm256_movemask_pd(_mm256_cmp_pd(extrapolation, zero, _CMP_NEQ_UQ));
        if (nonzero == 0) continue;
        for (ptrdiff_t u = t; u < t + 4; u++)
            list_position(u, x, z, code_indices, code_values, &codes, extrapolated_indices, extrapolated_values,
                          &extrapolated);
    }
    for (; t < size; t++) {
        fista_position(t, correlation, product, inverse_lipschitz, threshold, negative_part, momentum, x, z);
        list_position(t, x, z, code_indices, code_values, &codes, extrapolated_indices, extrapolated_values,
                      &extrapolated);
    }
    *code_count = codes;
    *extrapolated_count = extrapolated;
}
#endif

void nfx_fista_threshold_step(ptrdiff_t size, const double *correlation, const double *product,
                              double inverse_lipschitz, double threshold, double negative_part, double momentum,
                              double *x, double *z, int32_t *code_indices, double *code_values,
                              ptrdiff_t *code_count, int32_t *extrapolated_indices, double *extrapolated_values,
                              ptrdiff_t *extrapolated_count) {
#ifdef VECTOR_KERNELS
    if (nfx_vector_kernels_enabled()) {
        fista_step_avx2(size, correlation, product, inverse_lipschitz, threshold, negative_part, momentum, x, z,
                        code_indices, code_values, code_count, extrapolated_indices, extrapolated_values,
                        extrapolated_count);
        return;
    }
#endif
    fista_step_portable(size, correlation, product, inverse_lipschitz, threshold, negative_part, momentum, x, z,
                        code_indices, code_values, code_count, extrapolated_indices, extrapolated_values,
                        extrapolated_count);
}
