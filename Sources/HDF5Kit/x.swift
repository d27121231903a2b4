import CHDF5
func _probe() -> Int64 { nfx_H5T_NATIVE_DOUBLE() }
