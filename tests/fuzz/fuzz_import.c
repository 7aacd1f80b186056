/* tests/fuzz/fuzz_import.c — libFuzzer target: arbitrary bytes as a Hugging Face config.json,
 * through the JSON parser and tfx import's checks into recipe text (in memory, no files). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *config = json_loadb((const char *)data, size, 0, &jerr);
    if (!config)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out) {
        tfx_error err;
        /* Half the inputs with a --name, to reach the quoting of command-line text too. */
        const char *name = size % 2 ? "fuzz\n\"name\"" : NULL;
        tfx_import_recipe("fuzz/config.json", config, name, TFX_SOURCE_DIR "/recipes", out, &err);
        fclose(out);
    }
    free(text);
    json_decref(config);
    return 0;
}
