#ifndef NFX_ESTIMATION_H
#define NFX_ESTIMATION_H

#include <stddef.h>
#include <stdint.h>

/// Parameter estimation of deconvolution (see Deconvolution's ParameterEstimation), in C because it had become
/// the larger half of a trace's time: σ from Welch's power spectrum, g from the autocovariance, the baseline from
/// a percentile.

/// In-place radix-2 complex FFT (decimation in time) of `length` values (a power of two), with the tables
/// described at nfx_welch_band_power.
void nfx_fft(double *real, double *imaginary, ptrdiff_t length, const double *cosines, const double *sines,
             const int32_t *reversal);

/// Welch's power summed over bins first_bin…last_bin and over segments of `length` frames (a power of two ≤ n) at
/// half overlap, each de-meaned and multiplied by `window`; returns the number of segments. Two segments share one
/// complex transform (as real and imaginary parts). `cosines` and `sines` hold e^(−2πik/length) for k < length/2,
/// `reversal` the bit-reversal permutation of 0…length − 1, `work` 2·length doubles of scratch.
ptrdiff_t nfx_welch_band_power(const double *y, ptrdiff_t n, ptrdiff_t length, const double *window,
                               const double *cosines, const double *sines, const int32_t *reversal,
                               ptrdiff_t first_bin, ptrdiff_t last_bin, double *work, double *power);

/// The biased autocovariance γ(0…lags) of x (n values, none NaN) after removing its mean:
/// γ(k) = Σ_{t ≥ k} (x_t − m)(x_{t−k} − m) / n. `work` holds n doubles of scratch.
void nfx_autocovariance(const double *x, ptrdiff_t n, ptrdiff_t lags, double *work, double *out);

/// NumPy's linear-interpolation percentile (`fraction` in [0, 1]) of the observed (non-NaN) values of y; NaN when
/// none is observed. `work` holds n doubles of scratch. Selection is Hoare's, with a middle pivot: deterministic.
double nfx_percentile(const double *y, ptrdiff_t n, double fraction, double *work);

#endif
