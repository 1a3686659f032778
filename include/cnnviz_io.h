/* cnnviz file formats: images (PNG/JPEG in; PNG and JPEG out), NumPy .npy,
 * class labels, and how an image becomes a model's input (preprocessing).
 *
 * Images are 8-bit, interleaved (HWC), rows top to bottom, channels RGB.
 * Writers write to a temporary name beside the target and rename it, so a
 * killed or failed write never leaves a file that looks complete.
 */
#ifndef CNNVIZ_IO_H
#define CNNVIZ_IO_H

#include "cnnviz.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest image side and pixel count accepted by the loaders and by
 * cv_image_alloc; checked from the file header, before any allocation. */
#define CV_IMAGE_MAX_SIDE 16384
#define CV_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
/* Most scans a JPEG may have. Every scan of a progressive JPEG is a pass
 * over the whole image however few bytes it holds, so a 1 MB file of 1000
 * scans would cost a minute of CPU; real progressive files have about 10. */
#define CV_IMAGE_MAX_JPEG_SCANS 100

typedef struct {
    int w, h;
    int c;          /* 3 (RGB) from the loaders; 1, 3 or 4 accepted by the writers */
    uint8_t *px;    /* h * w * c bytes */
} cv_image;

/* Load PNG or JPEG (grey, grey+alpha, RGB, RGBA, palette, 16-bit; JPEG
 * grey, RGB, CMYK) as 8-bit RGB, chosen by the file's first bytes. Alpha
 * is dropped. The file is opened without blocking and must be a regular
 * file (a FIFO, device or directory is CV_ERR_IO naming what it is).
 *
 * Refused, from the header and before any pixel memory is allocated
 * (CV_ERR_LIMIT, the message names the file, the size in pixels and the
 * bytes needed against the limit): sizes over CV_IMAGE_MAX_SIDE /
 * CV_IMAGE_MAX_PIXELS, and decodes needing more than max_bytes: the RGB
 * pixels (w * h * 3) plus the decoder's own rows and, for progressive or
 * multi-scan JPEGs, libjpeg's coefficient buffer (2 bytes per pixel per
 * component). max_bytes 0 means the memory available now
 * (cv_memory_limit(0)); cv_image_load is cv_image_load_limited(.., 0, ..).
 * JPEGs with more than CV_IMAGE_MAX_JPEG_SCANS scans are CV_ERR_LIMIT.
 *
 * Truncated files are errors (CV_ERR_FORMAT), including a JPEG whose data
 * ends early with an end marker appended ("JPEG data ends early (the file
 * is truncated)"; libjpeg itself only warns and pads with grey). Damaged
 * but decodable JPEG data (extraneous bytes before a marker, as many
 * cameras write; a bad Huffman code; a lost restart marker) is accepted,
 * as image viewers do. PNG ancillary chunks other than tRNS (text, ICC
 * profiles, ...) are skipped unread, so their size costs no memory. */
CV_API cv_status cv_image_load_limited(cv_image *img, const char *path, size_t max_bytes, cv_error *err);
CV_API cv_status cv_image_load(cv_image *img, const char *path, cv_error *err);
CV_API cv_status cv_image_alloc(cv_image *img, int w, int h, int c, cv_error *err);
CV_API void cv_image_free(cv_image *img);
CV_API cv_status cv_image_save_png(const cv_image *img, const char *path, cv_error *err);
CV_API cv_status cv_image_save_jpeg(const cv_image *img, const char *path, int quality, cv_error *err);
/* Bilinear resize, half-pixel centres (as OpenCV INTER_LINEAR / PyTorch
 * align_corners=False), no antialiasing. out is allocated. */
CV_API cv_status cv_image_resize(cv_image *out, const cv_image *in, int w, int h, cv_error *err);
/* Antialiased resize: a bilinear (triangle) filter widened by the shrink
 * factor, as PIL and torchvision's antialias=True; plain bilinear when
 * enlarging. What most training pipelines did, so the default for inputs. */
CV_API cv_status cv_image_resize_antialias(cv_image *out, const cv_image *in, int w, int h, cv_error *err);
/* How a photo meets a model's input shape when their aspects differ. */
typedef enum {
    CV_FIT_SQUASH = 0, /* stretch the whole photo to the input (the original tool) */
    CV_FIT_CROP,       /* the centre part with the input's aspect: torchvision's Resize + CenterCrop */
    CV_FIT_PAD         /* the whole photo, centred, bands of pad_rgb around it (letterbox) */
} cv_fit;
/* in brought to the aspect w:h at its own resolution (so a later resize to
 * w x h distorts nothing, and overlays drawn on out sit where the model
 * looked): CV_FIT_SQUASH copies in; CROP keeps the centre; PAD adds bands
 * of pad_rgb (pass the colour the model's preprocessing maps to 0, so the
 * bands are neutral). out is allocated. */
CV_API cv_status cv_image_fit(cv_image *out, const cv_image *in, int w, int h, cv_fit fit, const uint8_t pad_rgb[3],
                              cv_error *err);
/* "squash", "crop", "pad" -> *fit; -1 on an unknown name. */
CV_API int cv_fit_from_name(const char *name, cv_fit *fit);
/* The same on float planes: in is h x w x c (HWC), out oh x ow x c. */
CV_API void cv_resize_bilinear_f32(float *out, int oh, int ow, const float *in, int h, int w, int c);

/* Write len bytes to path the same way (a new temporary file beside it,
 * created exclusively, renamed into place when complete): for text outputs
 * such as CSV files and listings. */
CV_API cv_status cv_file_write(const char *path, const void *data, size_t len, cv_error *err);
/* Read a whole file into a malloc'ed buffer (free() it), NUL-terminated one
 * byte past *len for text. Refuses, without blocking or allocating, what is
 * not a regular file (a FIFO, a device, a directory: CV_ERR_IO), an empty
 * file (CV_ERR_FORMAT) and one over cap bytes (CV_ERR_LIMIT). what names
 * the file's role in messages ("a labels file"). */
CV_API cv_status cv_file_read_all(const char *path, const char *what, size_t cap, uint8_t **buf, size_t *len,
                                  cv_error *err);

/* ---- NumPy .npy ------------------------------------------------------------ */

/* Read a little-endian float32 or float64 (converted) C-order array,
 * format version 1, 2 or 3. *data is malloc'ed (free() it), never NULL on
 * success, NULL on failure. The file must be a regular file (a FIFO or a
 * directory is CV_ERR_IO, without blocking) whose size matches the shape
 * exactly, so the header alone cannot make the reader allocate more than
 * the file holds. What it allocates (4 bytes a value, after a header of
 * at most 100000 bytes) must fit max_bytes, else CV_ERR_LIMIT naming the
 * shape and both sizes: this bounds a large or sparse file. max_bytes 0
 * means the memory available now (cv_memory_limit(0)); cv_npy_read is
 * cv_npy_read_limited(.., 0, ..). Either way at most 4 GiB
 * (CV_MAX_TENSOR_BYTES). */
CV_API cv_status cv_npy_read_limited(const char *path, cv_shape *shape, float **data, size_t max_bytes, cv_error *err);
CV_API cv_status cv_npy_read(const char *path, cv_shape *shape, float **data, cv_error *err);
CV_API cv_status cv_npy_write_f32(const char *path, const cv_shape *shape, const float *data, cv_error *err);
CV_API cv_status cv_npy_write_f64(const char *path, const cv_shape *shape, const double *data, cv_error *err);
/* int32 ("<i4"): class indices and other counts (the readers take floats only) */
CV_API cv_status cv_npy_write_i32(const char *path, const cv_shape *shape, const int32_t *data, cv_error *err);
/* (writers: version 1.0, header padded so the data starts at a multiple of
 * 64 bytes, written atomically like the images) */

/* ---- preprocessing ------------------------------------------------------- */

/* How 0..255 RGB pixels become model input values, per channel c in the
 * order fed to the model:  v = (pixel * scale - mean[c]) / std[c]. */
typedef struct {
    char name[16];  /* "raw", "caffe", "tf", "torch", "unit" */
    int bgr;        /* feed channels in BGR order */
    float scale;    /* pixel multiplier: 1 (raw, caffe), 1/255 (unit, torch), 1/127.5 (tf) */
    float mean[3];
    float std[3];
} cv_preprocess;

/* Fill p from a preset name. */
CV_API cv_status cv_preprocess_preset(cv_preprocess *p, const char *name, cv_error *err);
/* Override mean or std with "a,b,c" (or one value for all channels), in the
 * preset's scaled range (after scale). */
CV_API cv_status cv_preprocess_set_mean(cv_preprocess *p, const char *csv, cv_error *err);
CV_API cv_status cv_preprocess_set_std(cv_preprocess *p, const char *csv, cv_error *err);
/* The preprocessing a model declares in its metadata: "preprocess" (a
 * preset name), optionally "mean" and "std" ("a,b,c") and "channel_order"
 * ("BGR"). A model that declares none gets an assumption, and *assumed
 * (optional) is set to 1 so a caller can say so: "raw" for Keras HDF5
 * files (Keras applications take 0..255 pixels), "torch" otherwise (the
 * torchvision convention most ONNX classifiers follow). Metadata that does
 * not parse is an error naming the model and the key. */
CV_API cv_status cv_preprocess_auto(cv_preprocess *p, const cv_model *m, int *assumed, cv_error *err);
/* ---- a model's sidecar --------------------------------------------------- */

/* "<model file>.cnnviz.json" beside a model: what the file itself does not
 * say, written once (cnnviz config) and read by cv_model_load, e.g.
 *
 *     {"cnnviz_model_config": 1, "preprocess": "raw", "channel_order": "BGR",
 *      "input_size": [224, 224], "labels": "Labels.txt"}
 *
 * Keys: preprocess (a preset name); channel_order "RGB"|"BGR", mean and std
 * (1 or 3 numbers), which refine a preset and need one; input_size
 * ([h, w] or one side: the size for a model whose input has none); labels
 * (a file name in the model's folder). Unknown keys are errors. Empty
 * fields ("", 0) are not declared. */
typedef struct {
    char preprocess[16];
    char channel_order[4];   /* "RGB", "BGR" or "" */
    int n_mean, n_std;       /* 0, 1 or 3 values */
    float mean[3], std[3];
    int height, width;       /* 0: not declared */
    char labels[256];
} cv_model_config;

/* "<model_path>.cnnviz.json", malloc'ed (NULL on NOMEM). */
CV_API char *cv_model_config_path(const char *model_path);
/* Read model_path's sidecar into c; *found 0 (and c empty) when it has
 * none. Size-capped, no symbolic links, every value checked. */
CV_API cv_status cv_model_config_read(cv_model_config *c, const char *model_path, int *found, cv_error *err);
/* Write c as model_path's sidecar (atomically, replacing one). */
CV_API cv_status cv_model_config_write(const cv_model_config *c, const char *model_path, cv_error *err);
/* The sidecar cv_model_load applied to m, or NULL. */
CV_API const char *cv_model_config_source(const cv_model *m);
/* The path of file `name` beside the model (in its folder) into out;
 * *exists 0 when there is none. A name with '/' or a symbolic link is
 * refused: what a model names must stay in the model's folder. what
 * names the file's role in messages. */
CV_API cv_status cv_path_beside_model(char *out, size_t cap, const char *model_path, const char *name, const char *what,
                                      int *exists, cv_error *err);
/* A name a sidecar may give for a file in the model's folder: no '/', not
 * "." or "..", short enough for cv_model_config.labels. */
CV_API int cv_model_config_file_name_ok(const char *name);

/* Image (already at the model's size) -> model input for one batch item.
 * channels: 1 (grey, ITU-R 601 luma), 3; nhwc: layout of out. */
CV_API void cv_preprocess_image(const cv_preprocess *p, const cv_image *img, int channels, int nhwc, float *out);
/* Value that pixel value `pixel` (0..255, all channels) becomes in channel c. */
CV_API float cv_preprocess_value(const cv_preprocess *p, float pixel, int c);

/* How an image is brought to a model's input size. */
typedef enum {
    CV_RESIZE_ANTIALIAS = 0, /* cv_image_resize_antialias: PIL / torchvision (the default) */
    CV_RESIZE_BILINEAR       /* cv_image_resize: OpenCV INTER_LINEAR */
} cv_resize_mode;

/* An image (any size) as one batch item of a model's input: resized to g's
 * height x width, converted to g's channels and preprocessed by p
 * (cv_preprocess_image), in g's layout. out: g->channels * g->height *
 * g->width floats, written only on success. For a batch, call it once per
 * item at out + item * that many. Typical use, with the model's own
 * geometry and preprocessing:
 *
 *     cv_input_geometry g;
 *     cv_preprocess p;
 *     cv_model_input_geometry(model, 0, 0, &g, &err);
 *     cv_preprocess_auto(&p, model, NULL, &err);
 *     float *x = malloc(sizeof(float) * g.channels * g.height * g.width);
 *     cv_input_from_image(x, &img, &g, &p, CV_RESIZE_ANTIALIAS, &err);
 *     cv_shape s = cv_input_shape(&g, 1);   // for cv_run_create
 */
CV_API cv_status cv_input_from_image(float *out, const cv_image *img, const cv_input_geometry *g, const cv_preprocess *p,
                                     cv_resize_mode mode, cv_error *err);

/* One input item (g's layout) back to a g->width x g->height RGB picture:
 * by p's inverse, pixel = (v std[c] + mean[c]) / scale, channels put back
 * in RGB order, rounded and clamped to 0..255, *clipped (optional) set to
 * how many values lay outside it (an input preprocessed otherwise than p
 * says); p NULL: every channel stretched alike from the finite values'
 * minimum and maximum to 0..255 (channel order as it is). A grey input
 * gives a grey picture. */
CV_API cv_status cv_image_from_input(cv_image *out, const float *x, const cv_input_geometry *g, const cv_preprocess *p,
                                     long *clipped, cv_error *err);

/* ---- class labels ---------------------------------------------------------- */

/* Class names, index = class. A labels file has one name per non-blank
 * line, of any length; a leading "12," "12:" "12 " index is dropped, as are
 * surrounding blanks. */
typedef struct {
    int n;
    char **names;   /* n names, pointing into text */
    char *text;     /* one buffer holding them all */
} cv_labels;

/* Read a labels file. The file and its index take at most max_bytes
 * (0 = the memory available now), refused before allocating (CV_ERR_LIMIT);
 * a file without any name is CV_ERR_FORMAT. */
CV_API cv_status cv_labels_read(cv_labels *out, const char *path, size_t max_bytes, cv_error *err);
/* From a comma-separated list (a model's "labels" metadata), same limit. */
CV_API cv_status cv_labels_parse_csv(cv_labels *out, const char *csv, size_t max_bytes, cv_error *err);
/* The class names a model comes with: its "labels" metadata when it has
 * one, else the first of labels.txt, Labels.txt, synset.txt, classes.txt
 * beside the model file that can be read. CV_OK with out->n == 0 when
 * there are none. When the metadata, or every such file found, cannot be
 * used, returns the (first) error with out->n == 0: a caller may go on
 * without names. Same limit as cv_labels_read. */
CV_API cv_status cv_labels_for_model(cv_labels *out, const cv_model *m, size_t max_bytes, cv_error *err);
CV_API void cv_labels_free(cv_labels *l);
/* The class a name stands for: a label matches when the name equals it or
 * one of its comma-separated synonyms ("tabby, tabby cat"), ignoring case;
 * the first such label wins. Otherwise -1 and CV_ERR_INVALID with a message
 * suggesting the five closest labels (a synonym containing the name as a
 * word, as a prefix, anywhere, or within edit distance 2, best first). */
CV_API int cv_labels_find(const cv_labels *l, const char *name, cv_error *err);

#ifdef __cplusplus
}
#endif
#endif
