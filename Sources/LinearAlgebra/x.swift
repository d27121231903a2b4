import COpenBLAS
func _probe() { nfx_openblas_set_num_threads(1); _ = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 85, 0, nil, 1) }
