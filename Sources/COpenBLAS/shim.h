#ifndef NFX_COPENBLAS_SHIM_H
#define NFX_COPENBLAS_SHIM_H
// CBLAS from Debian's OpenBLAS and LAPACKE from the reference LAPACKE package (Debian builds OpenBLAS without it).
#include <cblas.h>
#include <lapacke.h>

// OpenBLAS' thread controls are declared in its cblas.h; these wrappers keep the names stable if that changes.
static inline void nfx_openblas_set_num_threads(int n) { openblas_set_num_threads(n); }
static inline int nfx_openblas_get_num_threads(void) { return openblas_get_num_threads(); }
static inline const char *nfx_openblas_get_config(void) { return openblas_get_config(); }
static inline const char *nfx_openblas_get_corename(void) { return openblas_get_corename(); }

// Stops OpenBLAS' worker threads; the next multi-threaded call starts them again (blas_thread_init). Idle
// workers spin on sched_yield for about 2^28 cycles after start-up and after every threaded call, on a core a
// single-threaded caller wants for its own threads. The pthread build (Debian's default) exports the function:
// its fork handler calls it. The OpenMP build exports it too but only frees buffers there; a serial build may
// not have it, hence the weak reference. It must not run while another thread is inside a BLAS call.
extern int blas_thread_shutdown_(void) __attribute__((weak));
static inline void nfx_openblas_stop_worker_threads(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}
#endif
