#ifndef NFX_KERNELS_H
#define NFX_KERNELS_H

#include <stddef.h>

/// Whether the AVX2/FMA paths run: on x86-64 CPUs that have both (checked once), unless the portable loops were
/// requested. The two paths agree to rounding (FMA rounds once where the portable loops round twice).
int nfx_vector_kernels_enabled(void);
/// Nonzero: every kernel runs its portable loop, so that tests exercise it on any CPU. Not to be changed while
/// kernels run on other threads.
void nfx_use_portable_kernels(int portable);

/// Correlation of one channel with up to four filters of one dictionary, added into their outputs:
/// output_i[s] += sum_{tap < taps} filter_i[tap] * signal[s + tap] for s < positions (i < count ≤ 4).
/// On x86-64 CPUs with AVX2 and FMA (checked once at run time) eight positions of all four filters are
/// accumulated in registers at a time; elsewhere a portable loop computes the same sums in the same order.
void nfx_correlate_filters(const double *signal, const double *const filters[4], double *const outputs[4],
                           int count, ptrdiff_t taps, ptrdiff_t positions);

/// Y = X·W for a tall X (rows × K) and a small W (K × R); Y is rows × R. All row-major.
/// The CP fits' first pass (see TensorDecomposition's CPState); AVX2/FMA where the CPU has them.
void nfx_times_small_d(const double *X, ptrdiff_t rows, ptrdiff_t K, const double *W, ptrdiff_t R,
                       double *Y);
void nfx_times_small_s(const float *X, ptrdiff_t rows, ptrdiff_t K, const float *W, ptrdiff_t R,
                       float *Y);

/// M += Xᵀ·(A ⊙ B) over rows first..<first+rows of the (I·J) × K unfolding: X points at row `first` (row stride
/// K), A is I × R, B is J × R, and row ij of the Khatri–Rao product is A[i, :] ∘ B[j, :] with i = ij / J,
/// j = ij % J; M is K × R. All row-major. The CP fits' second pass, without forming A ⊙ B.
void nfx_transpose_times_khatri_rao_d(const double *X, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t K,
                                      const double *A, const double *B, ptrdiff_t J, ptrdiff_t R, double *M);
void nfx_transpose_times_khatri_rao_s(const float *X, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t K,
                                      const float *A, const float *B, ptrdiff_t J, ptrdiff_t R, float *M);

/// The executables' allocator setting (a process-wide choice, so no library target makes it): blocks up to 64 MiB
/// come from the heap and up to 256 MiB of freed memory stays there for reuse, instead of fresh zeroed pages for
/// every large block. Peak memory is unchanged: freed blocks are reused, and beyond 256 MiB handed back.
void nfx_reuse_freed_blocks(void);

#endif
