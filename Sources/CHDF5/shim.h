#ifndef NFX_CHDF5_SHIM_H
#define NFX_CHDF5_SHIM_H
// Debian's serial HDF5 1.10. Its H5T_NATIVE_*, H5P_* and H5F_ACC_* names are macros that call H5open() and read
// library globals: Swift imports neither, so each one used by HDF5Kit gets a static inline accessor here.
#include <hdf5.h>
#include <string.h>

static inline hid_t nfx_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t nfx_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t nfx_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t nfx_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t nfx_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t nfx_H5E_DEFAULT(void) { return H5E_DEFAULT; }

static inline unsigned nfx_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned nfx_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned nfx_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned nfx_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

static inline hid_t nfx_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t nfx_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t nfx_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t nfx_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t nfx_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t nfx_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t nfx_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t nfx_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t nfx_H5T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t nfx_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t nfx_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t nfx_H5T_VARIABLE(void) { return H5T_VARIABLE; }

// Stops HDF5 printing its diagnostic stack to stderr; HDF5Kit reports errors itself.
static inline void nfx_silence_hdf5_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// The innermost (most specific) message on HDF5's error stack, e.g. "truncated file: eof = 1024, ...".
typedef struct { char text[512]; } nfx_error_text;
static inline herr_t nfx_collect_error(unsigned n, const H5E_error2_t *entry, void *data) {
    (void)n;
    nfx_error_text *out = (nfx_error_text *)data;
    if (entry->desc != NULL && entry->desc[0] != '\0') {
        strncpy(out->text, entry->desc, sizeof(out->text) - 1);
        out->text[sizeof(out->text) - 1] = '\0';
    }
    return 0;
}
static inline nfx_error_text nfx_innermost_error(void) {
    nfx_error_text out;
    out.text[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, nfx_collect_error, &out);
    H5Eclear2(H5E_DEFAULT);
    return out;
}

/// 1 when `name` in `group` is a hard link (soft and external links are not followed by listings: they can loop).
static inline int nfx_is_hard_link(hid_t group, const char *name) {
    H5L_info_t info;
    if (H5Lget_info(group, name, &info, H5P_DEFAULT) < 0) return 0;
    return info.type == H5L_TYPE_HARD;
}

/// The object's address in the file: the same object reached by two hard links has one address.
static inline haddr_t nfx_object_address(hid_t object) {
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0) return HADDR_UNDEF;
    return info.addr;
}

/// A file-access property list for reading without HDF5's file locks, which fail on NFS/Lustre and on files
/// another program has open for writing, and which a reader does not need.
static inline hid_t nfx_read_access_properties(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    return fapl;
}

/// Closing a file closes every object still open in it, so that a closed file is really closed (and can be
/// renamed, or reopened with other settings) even if a dataset handle is still referenced somewhere.
static inline hid_t nfx_create_access_properties(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    return fapl;
}

static inline int nfx_attribute_count(hid_t object) {
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
    return (int)info.num_attrs;
}
#endif
