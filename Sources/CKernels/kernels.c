#include "kernels.h"

// Why C: Swift compiles for baseline x86-64 (SSE2, no FMA), and has no per-function target attributes or CPU
// dispatch; the correlation is the sorter's and cdl-train's innermost loop.

static void correlate_portable(const double *signal, const double *const filters[4], double *const outputs[4],
                               int count, ptrdiff_t taps, ptrdiff_t positions) {
    for (int i = 0; i < count; i++) {
        const double *filter = filters[i];
        double *output = outputs[i];
        for (ptrdiff_t s = 0; s < positions; s++) {
            double sum = 0;
            for (ptrdiff_t tap = 0; tap < taps; tap++) sum += filter[tap] * signal[s + tap];
            output[s] += sum;
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void correlate_avx2(const double *signal, const double *const filters[4], double *const outputs[4],
                           int count, ptrdiff_t taps, ptrdiff_t positions) {
    // Fewer than four filters repeat the last one; its sums are stored once.
    const double *f[4];
    for (int i = 0; i < 4; i++) f[i] = filters[i < count ? i : count - 1];
    ptrdiff_t s = 0;
    for (; s + 8 <= positions; s += 8) {
        __m256d a0 = _mm256_setzero_pd(), b0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
        __m256d a2 = _mm256_setzero_pd(), b2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd(), b3 = _mm256_setzero_pd();
        const double *x = signal + s;
        for (ptrdiff_t tap = 0; tap < taps; tap++) {
            __m256d low = _mm256_loadu_pd(x + tap), high = _mm256_loadu_pd(x + tap + 4);
            __m256d w0 = _mm256_broadcast_sd(f[0] + tap), w1 = _mm256_broadcast_sd(f[1] + tap);
            __m256d w2 = _mm256_broadcast_sd(f[2] + tap), w3 = _mm256_broadcast_sd(f[3] + tap);
            a0 = _mm256_fmadd_pd(w0, low, a0); b0 = _mm256_fmadd_pd(w0, high, b0);
            a1 = _mm256_fmadd_pd(w1, low, a1); b1 = _mm256_fmadd_pd(w1, high, b1);
            a2 = _mm256_fmadd_pd(w2, low, a2); b2 = _mm256_fmadd_pd(w2, high, b2);
            a3 = _mm256_fmadd_pd(w3, low, a3); b3 = _mm256_fmadd_pd(w3, high, b3);
        }
        __m256d sums[8] = {a0, b0, a1, b1, a2, b2, a3, b3};
        for (int i = 0; i < count; i++) {
            double *o = outputs[i] + s;
            _mm256_storeu_pd(o, _mm256_add_pd(_mm256_loadu_pd(o), sums[2 * i]));
            _mm256_storeu_pd(o + 4, _mm256_add_pd(_mm256_loadu_pd(o + 4), sums[2 * i + 1]));
        }
    }
    if (s < positions) {
        double *rest[4];
        for (int i = 0; i < count; i++) rest[i] = outputs[i] + s;
        correlate_portable(signal + s, filters, rest, count, taps, positions - s);
    }
}

#endif

static int portable_only = 0;

void nfx_use_portable_kernels(int portable) { portable_only = portable; }

int nfx_vector_kernels_enabled(void) {
    if (portable_only) return 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
#else
    return 0;
#endif
}

void nfx_correlate_filters(const double *signal, const double *const filters[4], double *const outputs[4],
                           int count, ptrdiff_t taps, ptrdiff_t positions) {
    if (count <= 0 || positions <= 0) return;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (nfx_vector_kernels_enabled()) {
        correlate_avx2(signal, filters, outputs, count, taps, positions);
        return;
    }
#endif
    correlate_portable(signal, filters, outputs, count, taps, positions);
}
