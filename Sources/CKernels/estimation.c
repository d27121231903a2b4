#include "estimation.h"

#include <math.h>

void nfx_fft(double *real, double *imaginary, ptrdiff_t length, const double *cosines, const double *sines,
             const int32_t *reversal) {
    for (ptrdiff_t i = 0; i < length; i++) {
        const ptrdiff_t j = reversal[i];
        if (i < j) {
            const double r = real[i], m = imaginary[i];
            real[i] = real[j];
            imaginary[i] = imaginary[j];
            real[j] = r;
            imaginary[j] = m;
        }
    }
    for (ptrdiff_t size = 2; size <= length; size *= 2) {
        const ptrdiff_t half = size / 2, stride = length / size;
        for (ptrdiff_t start = 0; start < length; start += size) {
            for (ptrdiff_t k = 0; k < half; k++) {
                const double wr = cosines[k * stride], wi = sines[k * stride];
                const ptrdiff_t a = start + k, b = a + half;
                const double tr = real[b] * wr - imaginary[b] * wi;
                const double ti = real[b] * wi + imaginary[b] * wr;
                real[b] = real[a] - tr;
                imaginary[b] = imaginary[a] - ti;
                real[a] += tr;
                imaginary[a] += ti;
            }
        }
    }
}

/// The de-meaned, windowed segment of `length` frames at `start`.
static void prepare(const double *y, ptrdiff_t start, ptrdiff_t length, const double *window, double *target) {
    double sum = 0;
    for (ptrdiff_t i = 0; i < length; i++) sum += y[start + i];
    const double mean = sum / (double)length;
    for (ptrdiff_t i = 0; i < length; i++) target[i] = (y[start + i] - mean) * window[i];
}

ptrdiff_t nfx_welch_band_power(const double *y, ptrdiff_t n, ptrdiff_t length, const double *window,
                               const double *cosines, const double *sines, const int32_t *reversal,
                               ptrdiff_t first_bin, ptrdiff_t last_bin, double *work, double *power) {
    double *real = work, *imaginary = work + length;
    const ptrdiff_t step = length / 2;
    const ptrdiff_t segments = n >= length ? (n - length) / step + 1 : 0;
    for (ptrdiff_t k = first_bin; k <= last_bin; k++) power[k - first_bin] = 0;
    for (ptrdiff_t index = 0; index < segments; index += 2) {
        const int paired = index + 1 < segments;
        prepare(y, index * step, length, window, real);
        if (paired) {
            prepare(y, (index + 1) * step, length, window, imaginary);
        } else {
            for (ptrdiff_t i = 0; i < length; i++) imaginary[i] = 0;
        }
        nfx_fft(real, imaginary, length, cosines, sines, reversal);
        for (ptrdiff_t k = first_bin; k <= last_bin; k++) {
            if (paired) {
                // Two real segments a, b in one transform Z = FFT(a + ib): A_k = (Z_k + conj Z_{N−k}) / 2 and
                // B_k = (Z_k − conj Z_{N−k}) / 2i.
                const ptrdiff_t m = (length - k) % length;
                const double ar = (real[k] + real[m]) / 2, ai = (imaginary[k] - imaginary[m]) / 2;
                const double br = (imaginary[k] + imaginary[m]) / 2, bi = (real[m] - real[k]) / 2;
                power[k - first_bin] += ar * ar + ai * ai + br * br + bi * bi;
            } else {
                power[k - first_bin] += real[k] * real[k] + imaginary[k] * imaginary[k];
            }
        }
    }
    return segments;
}

void nfx_autocovariance(const double *x, ptrdiff_t n, ptrdiff_t lags, double *work, double *out) {
    double sum = 0;
    for (ptrdiff_t t = 0; t < n; t++) sum += x[t];
    const double mean = sum / (double)n;
    for (ptrdiff_t t = 0; t < n; t++) work[t] = x[t] - mean;
    for (ptrdiff_t lag = 0; lag <= lags; lag++) {
        // Four running sums, so that the products can be added four at a time.
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        ptrdiff_t t = lag;
        for (; t + 4 <= n; t += 4) {
            s0 += work[t] * work[t - lag];
            s1 += work[t + 1] * work[t + 1 - lag];
            s2 += work[t + 2] * work[t + 2 - lag];
            s3 += work[t + 3] * work[t + 3 - lag];
        }
        double total = (s0 + s1) + (s2 + s3);
        for (; t < n; t++) total += work[t] * work[t - lag];
        out[lag] = total / (double)n;
    }
}

/// The k-th smallest of values[0…count) (moved about in place).
static double select_kth(double *values, ptrdiff_t count, ptrdiff_t k) {
    ptrdiff_t low = 0, high = count - 1;
    while (low < high) {
        const double pivot = values[(low + high) / 2];
        ptrdiff_t i = low, j = high;
        while (i <= j) {
            while (values[i] < pivot) i++;
            while (values[j] > pivot) j--;
            if (i <= j) {
                const double swap = values[i];
                values[i] = values[j];
                values[j] = swap;
                i++;
                j--;
            }
        }
        if (k <= j) high = j; else if (k >= i) low = i; else break;
    }
    return values[k];
}

double nfx_percentile(const double *y, ptrdiff_t n, double fraction, double *work) {
    ptrdiff_t count = 0;
    for (ptrdiff_t t = 0; t < n; t++) if (!isnan(y[t])) work[count++] = y[t];
    if (count == 0) return NAN;
    const double position = fraction * (double)(count - 1);
    const ptrdiff_t lower = (ptrdiff_t)floor(position);
    const ptrdiff_t upper = lower + 1 < count ? lower + 1 : count - 1;
    const double low = select_kth(work, count, lower);
    // After selecting `lower`, everything above index `lower` is ≥ it: the next order statistic is their minimum.
    double high = low;
    if (upper != lower) {
        high = work[lower + 1];
        for (ptrdiff_t i = lower + 2; i < count; i++) if (work[i] < high) high = work[i];
    }
    return low + (position - (double)lower) * (high - low);
}
