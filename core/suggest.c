/* core/suggest.c — "did you mean": the candidate nearest a misspelt word by edit distance
 * (optimal string alignment: insertions, deletions, substitutions, adjacent swaps), and the
 * one wording of the suggestion. */
#include <stdlib.h>
#include <string.h>

#include "recipe.h"
#include "text.h"

#define MAX_WORD 64

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Edit distance of a and b, both shorter than MAX_WORD. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t d[MAX_WORD + 1][MAX_WORD + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[la][lb];
}

const char *tfx_suggest(const char *word, const char *const *candidates, size_t n)
{
    size_t lw = strlen(word);
    if (lw == 0 || lw >= MAX_WORD)
        return NULL;
    size_t limit = lw / 3 > 1 ? lw / 3 : 1;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t lc = strlen(candidates[i]);
        if (lc >= MAX_WORD || strcmp(candidates[i], word) == 0)
            continue;
        size_t d = distance(word, lw, candidates[i], lc);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

const char *tfx_did_you_mean(char *buf, size_t cap, const char *word, const char *const *candidates,
                             size_t n)
{
    const char *hint = tfx_suggest(word, candidates, n);
    if (!hint || tfx_text(buf, cap, " (did you mean '%s'?)", hint) < 0)
        tfx_text(buf, cap, "%s", "");
    return buf;
}
