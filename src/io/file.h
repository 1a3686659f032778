/* Opening files a stranger gave us, for reading.
 *
 * Every reader in the library (models, external data, images, tensors,
 * labels, architecture JSON) opens through here, so that a FIFO, a device
 * or a socket named as a file can never block the open or the read, and a
 * directory is reported as a directory rather than as an empty file.
 *
 *     FILE *f; uint64_t size;
 *     if (cv_file_open_read(path, "an ONNX model", &f, &size, err) != CV_OK) return err->status;
 */
#ifndef CV_FILE_H
#define CV_FILE_H

#include "cnnviz_io.h"
#include <stdint.h>
#include <stdio.h>

/* Open path read-only without blocking (O_NONBLOCK), refuse anything that
 * is not a regular file, then hand back a blocking FILE* and the file's
 * size. what names the file's role in messages ("a PNG or JPEG image").
 * Symbolic links are followed: containment checks are the caller's. */
cv_status cv_file_open_read(const char *path, const char *what, FILE **out, uint64_t *size, cv_error *err);

/* The same for a descriptor the caller opened (with O_NONBLOCK, e.g. by
 * openat): checks it and wraps it; the descriptor is owned by *out, or
 * closed on failure. path is only used in messages. */
cv_status cv_file_open_fd(int fd, const char *path, const char *what, FILE **out, uint64_t *size,
                          cv_error *err);

/* cv_file_read_all (whole file, size-capped) is public: cnnviz_io.h. */


/* "12.0 MiB", "512 bytes": a limit or size for messages. */
char *cv_bytes_str(size_t bytes, char *buf, size_t len);

#endif
