#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpng's classic read API, wrapped so its longjmp never crosses Swift frames. The simplified
   API (png_image) cannot return stored samples untouched: it applies gAMA, composites alpha onto
   a background and turns the tRNS gray value into transparent (= 0). Detector counts must come
   through as stored, so this reader asks for no gamma, background or tRNS transform at all. */

static void atomtrack_png_error(png_structp png, png_const_charp text) {
    char *msg = (char *)png_get_error_ptr(png);
    if (msg) { snprintf(msg, 256, "%s", text); }
    png_longjmp(png, 1);
}

static void atomtrack_png_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

/* Reads `path` into `out` (want_h rows of want_w * channels samples, 8-bit, or 16-bit in host
   byte order): gray → 1 channel, colour and palette → 3 (RGB), any alpha channel dropped,
   1/2/4-bit gray scaled to 0...255. Returns 0, or 1 with a message in `msg` (256 bytes). */
static inline int atomtrack_png_read_stored(const char *path, void *out, size_t out_size, uint32_t want_w,
                                            uint32_t want_h, int want_channels, int want_16, char *msg) {
    size_t row_bytes = (size_t)want_w * (size_t)want_channels * (want_16 ? 2 : 1);
    msg[0] = 0;
    if (want_h == 0 || row_bytes == 0 || out_size / row_bytes < want_h) { snprintf(msg, 256, "buffer too small"); return 1; }
    FILE *fp = fopen(path, "rb");
    if (!fp) { snprintf(msg, 256, "cannot open file"); return 1; }
    png_bytep *rows = (png_bytep *)malloc(want_h * sizeof(png_bytep));
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, atomtrack_png_error, atomtrack_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!rows || !png || !info) {
        snprintf(msg, 256, "out of memory");
        png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
        free(rows); fclose(fp);
        return 1;
    }
    for (uint32_t y = 0; y < want_h; y++) rows[y] = (png_bytep)out + (size_t)y * row_bytes;
    /* Nothing set after setjmp is used after a longjmp, so no volatile is needed. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows); fclose(fp);
        return 1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (w != want_w || h != want_h) png_error(png, "image size differs from its header read earlier");
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* Drop any alpha channel (also the one a palette's tRNS expands to), keeping the values as stored. */
    png_set_strip_alpha(png);
    if (depth == 16) {
        const uint16_t one = 1;
        if (*(const uint8_t *)&one == 1) png_set_swap(png);  /* PNG is big-endian; hand out host order */
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if ((int)png_get_channels(png, info) != want_channels || png_get_rowbytes(png, info) != row_bytes)
        png_error(png, "unexpected sample layout after transforms");
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows); fclose(fp);
    return 0;
}
