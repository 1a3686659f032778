/* Reader for the PyTorch golden records (tests/fixtures/conv_ops_torch.py). */
#include "ref.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_i32(FILE *f, int *v) { return fread(v, sizeof *v, 1, f) == 1; }

void ref_golden_free(ref_record *r, int n)
{
    for (int k = 0; r && k < n; k++)
        for (int t = 0; t < r[k].n_tensors; t++)
            free(r[k].t[t].data);
    free(r);
}

int ref_golden_load(const char *path, const char *op, ref_record **out, char *why, size_t why_len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "%s: cannot open (regenerate with tests/fixtures/conv_ops_torch.py)", path);
        return -1;
    }
    char magic[8];
    int count = 0, n = 0;
    ref_record *recs = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "CVGOLD1", 8) != 0 || !read_i32(f, &count) || count < 0 ||
        count > 10000)
        goto corrupt;
    recs = calloc((size_t)count + 1, sizeof *recs);
    if (!recs)
        goto corrupt;
    for (int k = 0; k < count; k++) {
        ref_record r;
        memset(&r, 0, sizeof r);
        if (fread(r.op, 1, 16, f) != 16 || !read_i32(f, &r.n_params) || r.n_params < 0 || r.n_params > 32 ||
            fread(r.params, sizeof(float), (size_t)r.n_params, f) != (size_t)r.n_params ||
            !read_i32(f, &r.n_tensors) || r.n_tensors < 0 || r.n_tensors > 8)
            goto corrupt;
        r.op[15] = 0;
        int keep = strcmp(r.op, op) == 0;
        for (int t = 0; t < r.n_tensors; t++) {
            ref_tensor *rt = &r.t[t];
            int dims[8];
            if (!read_i32(f, &rt->ndim) || rt->ndim < 0 || rt->ndim > 8 ||
                fread(dims, sizeof(int), (size_t)rt->ndim, f) != (size_t)rt->ndim)
                goto corrupt_rec;
            rt->numel = 1;
            for (int d = 0; d < rt->ndim; d++) {
                if (dims[d] < 0 || dims[d] > (1 << 24))
                    goto corrupt_rec;
                rt->d[d] = dims[d];
                rt->numel *= (size_t)dims[d];
            }
            if (rt->numel > ((size_t)1 << 26) || !(rt->data = malloc((rt->numel ? rt->numel : 1) * sizeof(float))) ||
                fread(rt->data, sizeof(float), rt->numel, f) != rt->numel)
                goto corrupt_rec;
        }
        if (keep) {
            recs[n++] = r;
        } else {
            for (int t = 0; t < r.n_tensors; t++)
                free(r.t[t].data);
        }
        continue;
    corrupt_rec:
        for (int t = 0; t < r.n_tensors; t++)
            free(r.t[t].data);
        goto corrupt;
    }
    fclose(f);
    *out = recs;
    return n;
corrupt:
    snprintf(why, why_len, "%s: truncated or corrupt golden file", path);
    ref_golden_free(recs, n);
    fclose(f);
    return -1;
}
