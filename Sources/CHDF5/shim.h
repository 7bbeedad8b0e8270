// HDF5's constants are macros Swift cannot import (they call H5open() or cast to hid_t);
// these inline functions hand their values over, and keep the error stack off stderr.
#include <hdf5.h>
#include <string.h>

static inline hid_t chdf5_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_all(void) { return H5S_ALL; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }

/// Turns off HDF5's automatic printing of its error stack (to stderr) for this thread's default stack.
static inline void chdf5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t chdf5_walk_innermost(unsigned n, const H5E_error2_t *e, void *buffer) {
    (void)n;
    if (e->desc && e->desc[0]) { strncpy((char *)buffer, e->desc, 255); ((char *)buffer)[255] = 0; }
    return 0;
}

/// The description of the innermost (most specific) error on the default stack, then clears it.
static inline void chdf5_last_error(char buffer[256]) {
    buffer[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, chdf5_walk_innermost, buffer);
    H5Eclear2(H5E_DEFAULT);
}
