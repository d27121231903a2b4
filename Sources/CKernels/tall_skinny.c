#include "kernels.h"

#include <stdlib.h>
#include <string.h>

// The two tall-and-skinny products of a CP iteration (see TensorDecomposition's CPState). BLAS GEMM packs the
// tall operand into buffers before multiplying; with a rank of ten that copy costs more than the arithmetic
// (measured: two thirds of OpenBLAS' time on the 1000 × 200 × 100 benchmark tensor). These kernels read the tall
// matrix in place, three rows at a time, and keep the small one packed in panels of a few vectors' width.
//
// A result depends on how its rows are split between calls only through the order the callers add the partial
// products of the second kernel, so a fixed split gives the same result on any number of threads.

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NFX_HAS_X86 1
#endif

// ---------------------------------------------------------------------------------------------------------------
// Portable loops: the reference the vector paths are tested against, and the path on other CPUs.

#define PORTABLE_KERNELS(T, SUFFIX)                                                                                \
    static void times_small_portable_##SUFFIX(const T *X, ptrdiff_t rows, ptrdiff_t K, const T *W, ptrdiff_t R,    \
                                              T *Y) {                                                              \
        for (ptrdiff_t row = 0; row < rows; row++) {                                                               \
            T *y = Y + row * R;                                                                                    \
            for (ptrdiff_t r = 0; r < R; r++) y[r] = 0;                                                            \
            for (ptrdiff_t k = 0; k < K; k++) {                                                                    \
                T x = X[row * K + k];                                                                              \
                for (ptrdiff_t r = 0; r < R; r++) y[r] += x * W[k * R + r];                                        \
            }                                                                                                      \
        }                                                                                                          \
    }                                                                                                              \
    static void khatri_rao_portable_##SUFFIX(const T *X, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t K,             \
                                             const T *A, const T *B, ptrdiff_t J, ptrdiff_t R, T *M) {             \
        T *product = malloc((size_t)(R > 0 ? R : 1) * sizeof(T));                                                  \
        double *total = calloc((size_t)(K * R) + 1, sizeof(double));                                               \
        for (ptrdiff_t row = first; row < first + rows; row++) {                                                   \
            const T *a = A + (row / J) * R, *b = B + (row % J) * R;                                                \
            for (ptrdiff_t r = 0; r < R; r++) product[r] = a[r] * b[r];                                            \
            for (ptrdiff_t k = 0; k < K; k++) {                                                                    \
                T x = X[(row - first) * K + k];                                                                    \
                for (ptrdiff_t r = 0; r < R; r++) total[k * R + r] += (double)(x * product[r]);                    \
            }                                                                                                      \
        }                                                                                                          \
        for (ptrdiff_t i = 0; i < K * R; i++) M[i] += (T)total[i];                                                 \
        free(total);                                                                                               \
        free(product);                                                                                             \
    }

PORTABLE_KERNELS(double, d)
PORTABLE_KERNELS(float, s)

// ---------------------------------------------------------------------------------------------------------------
// AVX2/FMA: blocks of BLOCK_ROWS rows × up to 3 vectors of ranks, 9 accumulators (of 16 vector registers; four rows
// spill and run ~1.7× slower). The rows of the block after next are prefetched into L2 while a block is computed,
// one cache line per step: the hardware prefetchers do not follow three short interleaved streams, and without
// the hint the passes run at half speed, waiting on memory.
//
// The small matrix is packed into panels of 3 vectors of ranks (the last panel 1–3 vectors, zero-padded), each
// panel K rows of its width, so the inner loop reads it contiguously. Rows past the end of the tall matrix repeat
// its last row (their sums are never stored) in the first kernel and carry a zero Khatri–Rao row in the second.

#ifdef NFX_HAS_X86

// The second kernel's sums run over every row of the call (hundreds of thousands): its panels are added into
// Float64 totals every FLUSH_BLOCKS blocks, so that a Float32 fit does not lose digits to one long running sum.
enum { BLOCK_ROWS = 3, PREFETCH_BLOCKS = 8, FLUSH_BLOCKS = 64 };

// Offset (in entries of a K-column tall matrix of `rows` rows) of the block PREFETCH_BLOCKS blocks after the one
// at `row`, or 0 near the end, where there is nothing ahead to fetch.
static inline ptrdiff_t ahead_offset(ptrdiff_t row, ptrdiff_t rows, ptrdiff_t K) {
    ptrdiff_t offset = (row + PREFETCH_BLOCKS * BLOCK_ROWS) * K;
    return offset + BLOCK_ROWS * K <= rows * K ? offset : 0;
}

#define AVX2_KERNELS(T, SUFFIX, VEC, LANES, LOAD, STORE, BROADCAST, FMADD, ZERO)                                   \
    enum { PANEL_##SUFFIX = 3 * LANES };                                                                           \
                                                                                                                   \
    /* The rank rounded up to whole vectors, and the width of the panel that starts at rank `start`. */            \
    static inline ptrdiff_t padded_rank_##SUFFIX(ptrdiff_t R) { return (R + LANES - 1) / LANES * LANES; }          \
    static inline ptrdiff_t panel_width_##SUFFIX(ptrdiff_t padded, ptrdiff_t start) {                              \
        return padded - start < PANEL_##SUFFIX ? padded - start : PANEL_##SUFFIX;                                  \
    }                                                                                                              \
                                                                                                                   \
    /* Panels of `source` (K × R, row-major), zero-padded to whole vectors. Returns the padded rank. */            \
    static ptrdiff_t pack_panels_##SUFFIX(const T *source, ptrdiff_t K, ptrdiff_t R, T *panels) {                  \
        ptrdiff_t padded = padded_rank_##SUFFIX(R);                                                                \
        for (ptrdiff_t start = 0; start < padded; start += PANEL_##SUFFIX) {                                       \
            ptrdiff_t width = panel_width_##SUFFIX(padded, start);                                                 \
            T *panel = panels + start * K;                                                                         \
            for (ptrdiff_t k = 0; k < K; k++)                                                                      \
                for (ptrdiff_t c = 0; c < width; c++)                                                              \
                    panel[k * width + c] = start + c < R ? source[k * R + start + c] : 0;                          \
        }                                                                                                          \
        return padded;                                                                                             \
    }                                                                                                              \
                                                                                                                   \
    /* `vectors` is a constant at every call, so the loops over it unroll and the arrays live in registers. */     \
    __attribute__((target("avx2,fma"), always_inline)) static inline void times_block_##SUFFIX(                    \
        const T *x, const T *ahead, const T *panel, ptrdiff_t K, const int vectors, T out[][PANEL_##SUFFIX]) {     \
        VEC sum[BLOCK_ROWS][3];                                                                                    \
        for (int q = 0; q < BLOCK_ROWS; q++)                                                                       \
            for (int v = 0; v < vectors; v++) sum[q][v] = ZERO();                                                  \
        for (ptrdiff_t k = 0; k < K; k++) {                                                                        \
            _mm_prefetch((const char *)(ahead + k * BLOCK_ROWS), _MM_HINT_T1);                                     \
            VEC w[3];                                                                                              \
            for (int v = 0; v < vectors; v++) w[v] = LOAD(panel + (k * vectors + v) * LANES);                      \
            for (int q = 0; q < BLOCK_ROWS; q++) {                                                                 \
                VEC xq = BROADCAST(x + q * K + k);                                                                 \
                for (int v = 0; v < vectors; v++) sum[q][v] = FMADD(xq, w[v], sum[q][v]);                          \
            }                                                                                                      \
        }                                                                                                          \
        for (int q = 0; q < BLOCK_ROWS; q++)                                                                       \
            for (int v = 0; v < vectors; v++) STORE(out[q] + v * LANES, sum[q][v]);                                \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target("avx2,fma"))) static void times_small_avx2_##SUFFIX(const T *X, ptrdiff_t rows,          \
                                                                             ptrdiff_t K, const T *W, ptrdiff_t R, \
                                                                             T *Y) {                               \
        T *panels = malloc((size_t)(padded_rank_##SUFFIX(R) * K) * sizeof(T) + sizeof(T));                         \
        ptrdiff_t padded = pack_panels_##SUFFIX(W, K, R, panels);                                                  \
        T *last = malloc((size_t)(BLOCK_ROWS * K) * sizeof(T) + sizeof(T));                                        \
        T out[BLOCK_ROWS][PANEL_##SUFFIX];                                                                         \
        for (ptrdiff_t row = 0; row < rows; row += BLOCK_ROWS) {                                                   \
            int count = rows - row < BLOCK_ROWS ? (int)(rows - row) : BLOCK_ROWS;                                  \
            const T *x = X + row * K;                                                                              \
            if (count < BLOCK_ROWS) {                                                                              \
                for (int q = 0; q < BLOCK_ROWS; q++) memcpy(last + q * K, X + (row + (q < count ? q : count - 1)) * K, \
                                                            (size_t)K * sizeof(T));                                \
                x = last;                                                                                          \
            }                                                                                                      \
            const T *ahead = X + ahead_offset(row, rows, K);                                                       \
            for (ptrdiff_t start = 0; start < padded; start += PANEL_##SUFFIX) {                                   \
                ptrdiff_t width = panel_width_##SUFFIX(padded, start);                                             \
                const T *panel = panels + start * K;                                                               \
                switch (width / LANES) {                                                                           \
                case 3: times_block_##SUFFIX(x, ahead, panel, K, 3, out); break;                                   \
                case 2: times_block_##SUFFIX(x, ahead, panel, K, 2, out); break;                                   \
                default: times_block_##SUFFIX(x, ahead, panel, K, 1, out); break;                                  \
                }                                                                                                  \
                ptrdiff_t valid = R - start < width ? R - start : width;                                           \
                for (int q = 0; q < count; q++) memcpy(Y + (row + q) * R + start, out[q], (size_t)valid * sizeof(T)); \
            }                                                                                                      \
        }                                                                                                          \
        free(last);                                                                                                \
        free(panels);                                                                                              \
    }                                                                                                              \
                                                                                                                   \
    /* BLOCK_ROWS rows' Khatri–Rao products (held in registers) times their X entries, added into a panel of M     \
       one row k at a time. */                                                                                     \
    __attribute__((target("avx2,fma"), always_inline)) static inline void khatri_rao_block_##SUFFIX(               \
        const T *x, const T *ahead, const T *products, ptrdiff_t stride, T *panel, ptrdiff_t K, const int vectors) { \
        VEC p[BLOCK_ROWS][3];                                                                                      \
        for (int q = 0; q < BLOCK_ROWS; q++)                                                                       \
            for (int v = 0; v < vectors; v++) p[q][v] = LOAD(products + q * stride + v * LANES);                   \
        for (ptrdiff_t k = 0; k < K; k++) {                                                                        \
            _mm_prefetch((const char *)(ahead + k * BLOCK_ROWS), _MM_HINT_T1);                                     \
            T *m = panel + k * vectors * LANES;                                                                    \
            VEC sum[3];                                                                                            \
            for (int v = 0; v < vectors; v++) sum[v] = LOAD(m + v * LANES);                                        \
            for (int q = 0; q < BLOCK_ROWS; q++) {                                                                 \
                VEC xq = BROADCAST(x + q * K + k);                                                                 \
                for (int v = 0; v < vectors; v++) sum[v] = FMADD(xq, p[q][v], sum[v]);                             \
            }                                                                                                      \
            for (int v = 0; v < vectors; v++) STORE(m + v * LANES, sum[v]);                                        \
        }                                                                                                          \
    }                                                                                                              \
                                                                                                                   \
    __attribute__((target("avx2,fma"))) static void khatri_rao_avx2_##SUFFIX(                                      \
        const T *X, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t K, const T *A, const T *B, ptrdiff_t J,             \
        ptrdiff_t R, T *M) {                                                                                       \
        ptrdiff_t padded = padded_rank_##SUFFIX(R);                                                                \
        T *panels = calloc((size_t)(padded * K) + 1, sizeof(T));                                                   \
        T *products = calloc((size_t)(BLOCK_ROWS * padded) + 1, sizeof(T));                                        \
        T *last = calloc((size_t)(BLOCK_ROWS * K) + 1, sizeof(T));                                                 \
        double *totals = calloc((size_t)(padded * K) + 1, sizeof(double));                                         \
        for (ptrdiff_t row = 0; row < rows; row += BLOCK_ROWS) {                                                   \
            int count = rows - row < BLOCK_ROWS ? (int)(rows - row) : BLOCK_ROWS;                                  \
            const T *x = X + row * K;                                                                              \
            if (row > 0 && (row / BLOCK_ROWS) % FLUSH_BLOCKS == 0) {                                               \
                for (ptrdiff_t i = 0; i < padded * K; i++) totals[i] += panels[i];                                 \
                memset(panels, 0, (size_t)(padded * K) * sizeof(T));                                               \
            }                                                                                                      \
            if (count < BLOCK_ROWS) {                                                                              \
                memcpy(last, x, (size_t)(count * K) * sizeof(T));                                                  \
                x = last;                                                                                          \
            }                                                                                                      \
            for (int q = 0; q < BLOCK_ROWS; q++) {                                                                 \
                T *target = products + q * padded;                                                                 \
                if (q >= count) {                                                                                  \
                    memset(target, 0, (size_t)padded * sizeof(T));                                                 \
                    continue;                                                                                      \
                }                                                                                                  \
                ptrdiff_t global = first + row + q;                                                                \
                const T *a = A + (global / J) * R, *b = B + (global % J) * R;                                      \
                for (ptrdiff_t r = 0; r < R; r++) target[r] = a[r] * b[r];                                         \
            }                                                                                                      \
            const T *ahead = X + ahead_offset(row, rows, K);                                                       \
            for (ptrdiff_t start = 0; start < padded; start += PANEL_##SUFFIX) {                                   \
                ptrdiff_t width = panel_width_##SUFFIX(padded, start);                                             \
                T *panel = panels + start * K;                                                                     \
                const T *shifted = products + start;                                                               \
                switch (width / LANES) {                                                                           \
                case 3: khatri_rao_block_##SUFFIX(x, ahead, shifted, padded, panel, K, 3); break;                  \
                case 2: khatri_rao_block_##SUFFIX(x, ahead, shifted, padded, panel, K, 2); break;                  \
                default: khatri_rao_block_##SUFFIX(x, ahead, shifted, padded, panel, K, 1); break;                 \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
        for (ptrdiff_t i = 0; i < padded * K; i++) totals[i] += panels[i];                                         \
        for (ptrdiff_t start = 0; start < padded; start += PANEL_##SUFFIX) {                                       \
            ptrdiff_t width = panel_width_##SUFFIX(padded, start);                                                 \
            ptrdiff_t valid = R - start < width ? R - start : width;                                               \
            const double *panel = totals + start * K;                                                              \
            for (ptrdiff_t k = 0; k < K; k++)                                                                      \
                for (ptrdiff_t c = 0; c < valid; c++) M[k * R + start + c] += (T)panel[k * width + c];             \
        }                                                                                                          \
        free(totals);                                                                                              \
        free(last);                                                                                                \
        free(products);                                                                                            \
        free(panels);                                                                                              \
    }

AVX2_KERNELS(double, d, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd,
             _mm256_setzero_pd)
AVX2_KERNELS(float, s, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_broadcast_ss, _mm256_fmadd_ps,
             _mm256_setzero_ps)
#endif

// ---------------------------------------------------------------------------------------------------------------
// Entry points.

#ifdef NFX_HAS_X86
#define DISPATCH(VECTOR, PORTABLE, ...)                                                                            \
    do {                                                                                                           \
        if (nfx_vector_kernels_enabled()) VECTOR(__VA_ARGS__); else PORTABLE(__VA_ARGS__);                         \
    } while (0)
#else
#define DISPATCH(VECTOR, PORTABLE, ...) PORTABLE(__VA_ARGS__)
#endif

void nfx_times_small_d(const double *X, ptrdiff_t rows, ptrdiff_t K, const double *W, ptrdiff_t R,
                       double *Y) {
    if (rows <= 0 || R <= 0) return;
    DISPATCH(times_small_avx2_d, times_small_portable_d, X, rows, K, W, R, Y);
}

void nfx_times_small_s(const float *X, ptrdiff_t rows, ptrdiff_t K, const float *W, ptrdiff_t R,
                       float *Y) {
    if (rows <= 0 || R <= 0) return;
    DISPATCH(times_small_avx2_s, times_small_portable_s, X, rows, K, W, R, Y);
}

void nfx_transpose_times_khatri_rao_d(const double *X, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t K,
                                      const double *A, const double *B, ptrdiff_t J, ptrdiff_t R, double *M) {
    if (rows <= 0 || R <= 0 || K <= 0) return;
    DISPATCH(khatri_rao_avx2_d, khatri_rao_portable_d, X, first, rows, K, A, B, J, R, M);
}

void nfx_transpose_times_khatri_rao_s(const float *X, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t K,
                                      const float *A, const float *B, ptrdiff_t J, ptrdiff_t R, float *M) {
    if (rows <= 0 || R <= 0 || K <= 0) return;
    DISPATCH(khatri_rao_avx2_s, khatri_rao_portable_s, X, first, rows, K, A, B, J, R, M);
}
