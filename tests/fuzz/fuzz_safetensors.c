/* tests/fuzz/fuzz_safetensors.c — libFuzzer target: arbitrary bytes as a safetensors file;
 * every tensor the header admits is then read in full, as floats and as integers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "safetensors.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(path, sizeof path, "/tmp/tfx-fuzz-st-%d.safetensors", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    tfx_error err;
    tfx_st_file *st = tfx_st_open(path, &err);
    if (!st)
        return 0;
    for (size_t i = 0; i < st->n; i++) {
        const tfx_st_tensor *t = &st->tensors[i];
        int64_t n = t->numel < 4096 ? t->numel : 4096;
        float *x = malloc((size_t)n * sizeof(float) + 1);
        int64_t *y = malloc((size_t)n * sizeof(int64_t) + 1);
        if (x && y) {
            tfx_st_read_f32(t, 0, n, x, &err);
            tfx_st_read_i64(t, t->numel - n, n, y, &err);
        }
        free(x);
        free(y);
    }
    tfx_st_close(st);
    return 0;
}
