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
#endif
