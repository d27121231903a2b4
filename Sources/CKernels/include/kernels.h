#ifndef NFX_KERNELS_H
#define NFX_KERNELS_H

#include <stddef.h>

/// Correlation of one channel with up to four filters of one dictionary, added into their outputs:
/// output_i[s] += sum_{tap < taps} filter_i[tap] * signal[s + tap] for s < positions (i < count ≤ 4).
/// On x86-64 CPUs with AVX2 and FMA (checked once at run time) eight positions of all four filters are
/// accumulated in registers at a time; elsewhere a portable loop computes the same sums in the same order.
void nfx_correlate_filters(const double *signal, const double *const filters[4], double *const outputs[4],
                           int count, ptrdiff_t taps, ptrdiff_t positions);

#endif
