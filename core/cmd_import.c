/* core/cmd_import.c — `tfx import config.json`: a Hugging Face config becomes a self-contained
 * recipe: the family's shipped recipe (with its checkpoint map) and the config's sizes over it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "files.h"
#include "recipe.h"
#include "recipe_emit.h"

static const char usage[] =
    "usage: tfx import CONFIG.json [--name NAME] > recipe.yaml\n"
    "\n"
    "Write a self-contained recipe (no extends:) for a Hugging Face config.json: the shipped\n"
    "recipe of its family, with its checkpoint name map, and the config's sizes over it.\n"
    "Families: gpt2, gpt_neo, llama, bloom, bart, bert. A model_type or option a recipe\n"
    "cannot express yet is an error naming it.\n";

/* How one config key sets one recipe key. */
typedef enum value_kind { V_INT, V_FLOAT, V_BOOL, V_ACT } value_kind;

typedef struct key_map {
    const char *config, *recipe;
    value_kind kind;
} key_map;

typedef struct family {
    const char *model_type, *recipe;
    key_map keys[16];
} family;

static const family families[] = {
    {"gpt2", "gpt2.yaml", {{"vocab_size", "vocab", V_INT}, {"n_embd", "d_model", V_INT},
        {"n_head", "heads", V_INT}, {"n_layer", "layers", V_INT}, {"n_positions", "context", V_INT},
        {"layer_norm_epsilon", "norm.eps", V_FLOAT}, {"n_inner", "ffn.width", V_INT},
        {"activation_function", "ffn.activation", V_ACT}, {"tie_word_embeddings", "tie_embeddings", V_BOOL}}},
    {"gpt_neo", "gpt-neo.yaml", {{"vocab_size", "vocab", V_INT}, {"hidden_size", "d_model", V_INT},
        {"num_heads", "heads", V_INT}, {"num_layers", "layers", V_INT},
        {"max_position_embeddings", "context", V_INT}, {"layer_norm_epsilon", "norm.eps", V_FLOAT},
        {"intermediate_size", "ffn.width", V_INT}, {"activation_function", "ffn.activation", V_ACT},
        {"tie_word_embeddings", "tie_embeddings", V_BOOL}}},
    {"llama", "llama-2-7b.yaml", {{"vocab_size", "vocab", V_INT}, {"hidden_size", "d_model", V_INT},
        {"num_attention_heads", "heads", V_INT}, {"num_key_value_heads", "kv_heads", V_INT},
        {"head_dim", "head_dim", V_INT}, {"num_hidden_layers", "layers", V_INT},
        {"max_position_embeddings", "context", V_INT}, {"intermediate_size", "ffn.width", V_INT},
        {"rms_norm_eps", "norm.eps", V_FLOAT}, {"rope_theta", "position.theta", V_FLOAT},
        {"attention_bias", "attention.bias.qkv", V_BOOL}, {"attention_bias", "attention.bias.out", V_BOOL},
        {"mlp_bias", "ffn.bias", V_BOOL}, {"hidden_act", "ffn.activation", V_ACT},
        {"tie_word_embeddings", "tie_embeddings", V_BOOL}}},
    {"bloom", "bloom-560m.yaml", {{"vocab_size", "vocab", V_INT}, {"hidden_size", "d_model", V_INT},
        {"n_embed", "d_model", V_INT}, {"n_head", "heads", V_INT}, {"n_layer", "layers", V_INT},
        {"layer_norm_epsilon", "norm.eps", V_FLOAT}, {"tie_word_embeddings", "tie_embeddings", V_BOOL}}},
    {"bart", "bart-base.yaml", {{"vocab_size", "vocab", V_INT}, {"d_model", "d_model", V_INT},
        {"encoder_attention_heads", "heads", V_INT}, {"encoder_layers", "encoder.layers", V_INT},
        {"decoder_layers", "decoder.layers", V_INT}, {"max_position_embeddings", "context", V_INT},
        {"encoder_ffn_dim", "ffn.width", V_INT}, {"activation_function", "ffn.activation", V_ACT},
        {"scale_embedding", "embed_scale", V_BOOL}, {"tie_word_embeddings", "tie_embeddings", V_BOOL}}},
    {"bert", "bert-base-uncased.yaml", {{"vocab_size", "vocab", V_INT}, {"hidden_size", "d_model", V_INT},
        {"num_attention_heads", "heads", V_INT}, {"num_hidden_layers", "layers", V_INT},
        {"max_position_embeddings", "context", V_INT}, {"intermediate_size", "ffn.width", V_INT},
        {"type_vocab_size", "token_types", V_INT}, {"layer_norm_eps", "norm.eps", V_FLOAT},
        {"hidden_act", "ffn.activation", V_ACT}}},
};

/* Keys that must agree with another because tfx has one value for both. */
static const struct { const char *model_type, *a, *b; } must_equal[] = {
    {"bart", "encoder_attention_heads", "decoder_attention_heads"},
    {"bart", "encoder_ffn_dim", "decoder_ffn_dim"},
};

typedef struct importer {
    const char *path;             /* the config file */
    json_t *config;
    tfx_recipe *recipe;
    char notes[64][160];          /* "d_model = n_embd (768)" comment lines */
    int n_notes;
    tfx_error *err;
} importer;

static const char *activation(const char *hf)
{
    static const char *const map[][2] = {{"gelu_new", "gelu_tanh"}, {"gelu_pytorch_tanh", "gelu_tanh"},
        {"gelu_fast", "gelu_tanh"}, {"gelu", "gelu"}, {"relu", "relu"}, {"silu", "silu"}, {"swish", "silu"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(hf, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* Set recipe key `key` to `value` and remember where it came from. */
static int set(importer *im, const char *key, const char *value, const char *from)
{
    char assign[8192];
    if ((size_t)snprintf(assign, sizeof assign, "%s=%s", key, value) >= sizeof assign)
        return tfx_fail(im->err, "%s: the value for '%s' is too long", im->path, key);
    if (tfx_recipe_set(im->recipe, assign, im->err))
        return -1;
    if (im->n_notes < 64)
        snprintf(im->notes[im->n_notes++], sizeof im->notes[0], "%s = %s (%s)", key, value, from);
    return 0;
}

static int apply_key(importer *im, const key_map *k)
{
    json_t *v = json_object_get(im->config, k->config);
    char text[64];
    if (!v || json_is_null(v))
        return 0;
    switch (k->kind) {
    case V_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return tfx_fail(im->err, "%s: '%s' must be a positive integer", im->path, k->config);
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        break;
    case V_FLOAT:
        if (!json_is_number(v))
            return tfx_fail(im->err, "%s: '%s' must be a number", im->path, k->config);
        snprintf(text, sizeof text, "%.9g", json_number_value(v));
        break;
    case V_BOOL:
        if (!json_is_boolean(v))
            return tfx_fail(im->err, "%s: '%s' must be true or false", im->path, k->config);
        snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
        break;
    case V_ACT: {
        const char *a = json_is_string(v) ? activation(json_string_value(v)) : NULL;
        if (!a)
            return tfx_fail(im->err, "%s: activation '%s' of '%s' is not expressible in a tfx recipe yet",
                            im->path, json_is_string(v) ? json_string_value(v) : "?", k->config);
        snprintf(text, sizeof text, "%s", a);
        break;
    }
    }
    return set(im, k->recipe, text, k->config);
}

/* What each family needs beyond one key to one key. */
static int apply_special(importer *im, const char *type)
{
    json_t *c = im->config;
    char text[64];
    if (strcmp(type, "gpt2") == 0) {
        /* gpt2.yaml states head_dim; keep it n_embd / n_head. */
        json_int_t d = json_integer_value(json_object_get(c, "n_embd"));
        json_int_t h = json_integer_value(json_object_get(c, "n_head"));
        if (h > 0 && d % h == 0) {
            snprintf(text, sizeof text, "%lld", (long long)(d / h));
            if (set(im, "head_dim", text, "n_embd / n_head"))
                return -1;
        }
    }
    if (strcmp(type, "gpt_neo") == 0) {
        json_t *layers = json_object_get(c, "attention_layers");
        json_t *window = json_object_get(c, "window_size");
        char pattern[4096] = "[";
        size_t i;
        json_t *kind;
        json_array_foreach(layers, i, kind) {
            int local = json_is_string(kind) && strcmp(json_string_value(kind), "local") == 0;
            snprintf(pattern + strlen(pattern), sizeof pattern - strlen(pattern), "%s%s", i ? ", " : "",
                     local ? "{plugin: local, window: W}" : "{}");
        }
        strcat(pattern, "]");
        if (json_array_size(layers) > 0) {
            /* W: the window size, substituted once the text is complete. */
            char final[4096] = "", *w;
            const char *rest = pattern;
            while ((w = strstr(rest, "W}"))) {
                snprintf(final + strlen(final), sizeof final - strlen(final), "%.*s%lld}",
                         (int)(w - rest), rest, (long long)json_integer_value(window));
                rest = w + 2;
            }
            strncat(final, rest, sizeof final - strlen(final) - 1);
            if (set(im, "attention.pattern", final, "attention_layers, window_size"))
                return -1;
        }
    }
    if (strcmp(type, "llama") == 0) {
        json_t *rope = json_object_get(c, "rope_parameters");
        json_t *scaling = json_object_get(c, "rope_scaling");
        const char *rope_type = json_string_value(json_object_get(rope, "rope_type"));
        if (!rope_type)
            rope_type = json_string_value(json_object_get(scaling, "rope_type"));
        if (rope_type && strcmp(rope_type, "default") != 0)
            return tfx_fail(im->err, "%s: rope_type '%s' is not expressible in a tfx recipe yet",
                            im->path, rope_type);
        json_t *theta = json_object_get(rope, "rope_theta");
        if (json_is_number(theta)) {
            snprintf(text, sizeof text, "%.9g", json_number_value(theta));
            if (set(im, "position.theta", text, "rope_parameters.rope_theta"))
                return -1;
        }
    }
    if (strcmp(type, "bloom") == 0 && set(im, "context", "2048", "ALiBi has no position limit; a default"))
        return -1;
    return 0;
}

static int check_agreements(importer *im, const char *type)
{
    for (size_t i = 0; i < sizeof must_equal / sizeof must_equal[0]; i++) {
        if (strcmp(type, must_equal[i].model_type) != 0)
            continue;
        json_t *a = json_object_get(im->config, must_equal[i].a), *b = json_object_get(im->config, must_equal[i].b);
        if (a && b && !json_equal(a, b))
            return tfx_fail(im->err, "%s: '%s' and '%s' differ; a tfx recipe has one value for both",
                            im->path, must_equal[i].a, must_equal[i].b);
    }
    return 0;
}

static const family *find_family(importer *im, const char **type)
{
    json_t *t = json_object_get(im->config, "model_type");
    *type = json_string_value(t);
    if (!*type) {
        tfx_fail(im->err, "%s: no 'model_type' string; is this a Hugging Face config.json?", im->path);
        return NULL;
    }
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i].model_type, *type) == 0)
            return &families[i];
    tfx_fail(im->err, "%s: model_type '%s' is not one tfx can import yet (gpt2, gpt_neo, llama, bloom, bart, bert)",
             im->path, *type);
    return NULL;
}

static int import(importer *im, const char *name)
{
    const char *type;
    char recipe_path[512];
    const family *fam = find_family(im, &type);
    if (!fam || check_agreements(im, type))
        return -1;
    if (!tfx_cli_shipped_recipe(fam->recipe, recipe_path, sizeof recipe_path))
        return tfx_fail(im->err, "cannot find the shipped recipe '%s' beside the tfx executable", fam->recipe);
    if (!(im->recipe = tfx_recipe_load(recipe_path, im->err)))
        return -1;
    for (size_t k = 0; k < sizeof fam->keys / sizeof fam->keys[0] && fam->keys[k].config; k++)
        if (apply_key(im, &fam->keys[k]))
            return -1;
    if (apply_special(im, type))
        return -1;
    char text[600];
    snprintf(text, sizeof text, "\"%s\"", name ? name : type);
    if (set(im, "name", text, name ? "--name" : "model_type"))
        return -1;
    snprintf(text, sizeof text, "\"imported from %.500s\"", im->path);
    if (set(im, "description", text, "the config's path"))
        return -1;
    printf("# Imported by `tfx import` from %s (model_type %s) over the shipped recipe %s.\n", im->path,
           type, fam->recipe);
    printf("# Self-contained: it extends nothing and carries the family's checkpoint name map.\n#\n");
    for (int i = 0; i < im->n_notes; i++)
        printf("#   %s\n", im->notes[i]);
    return tfx_recipe_emit(stdout, im->recipe->root) ? tfx_fail(im->err, "cannot write the recipe") : 0;
}

int tfx_cmd_import(int argc, char **argv)
{
    tfx_error err = {{0}};
    const char *path = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--name") == 0) {
            if (!(name = tfx_cli_value(argc, argv, &i, &err)))
                return tfx_cli_error(&err);
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return 2;
    }
    json_error_t jerr;
    importer im = {.path = path, .err = &err};
    int status = 0;
    FILE *config = tfx_input_fopen(path, NULL, &err);
    if (!config)
        status = -1;
    else if (!(im.config = json_loadf(config, 0, &jerr)))
        status = tfx_fail(&err, "%s: not valid JSON: %s (line %d)", path, jerr.text, jerr.line);
    else if (!json_is_object(im.config))
        status = tfx_fail(&err, "%s: expected a JSON object", path);
    else
        status = import(&im, name);
    if (config)
        fclose(config);
    tfx_recipe_free(im.recipe);
    json_decref(im.config);
    return status ? tfx_cli_error(&err) : 0;
}
