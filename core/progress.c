/* core/progress.c — draws "label  42%  (3.1 s)" (or a training step's line) on stderr, in
 * place, when it is a terminal; does nothing otherwise, so logs and pipes stay clean. */
#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"

void tfx_progress_start(tfx_progress *p, const char *label)
{
    p->label = label;
    p->enabled = isatty(STDERR_FILENO) == 1;
    p->started = tfx_now();
    p->last_shown = 0;
}

void tfx_progress_update(tfx_progress *p, uint64_t done, uint64_t total)
{
    if (!p->enabled || total == 0)
        return;
    double now = tfx_now();
    if (now - p->last_shown < 0.1 && done < total)
        return;
    p->last_shown = now;
    /* Straight to the terminal: its own \r and escape sequence are the point, and the label is
     * tfx's, not a name from a file (stderr would escape them). */
    dprintf(STDERR_FILENO, "\r  %s %3.0f%%  (%.1f s)", p->label, 100.0 * (double)done / (double)total,
            now - p->started);
}

void tfx_progress_steps(tfx_progress *p, int64_t step, int64_t steps, int64_t done, double loss,
                        double tokens_per_s)
{
    if (!p->enabled)
        return;
    double now = tfx_now(), spent = now - p->started;
    if (now - p->last_shown < 0.1 && step < steps)
        return;
    p->last_shown = now;
    double left = done > 0 ? spent / (double)done * (double)(steps - step) : 0;
    dprintf(STDERR_FILENO, "\r\033[K  %s step %" PRId64 "/%" PRId64 "  loss %.4f  %.0f tokens/s  %.1f s, %.1f s to go",
            p->label, step, steps, loss, tokens_per_s, spent, left);
}

void tfx_progress_end(tfx_progress *p)
{
    if (p->enabled)
        dprintf(STDERR_FILENO, "\r\033[K");
}

void tfx_progress_callback(void *progress, uint64_t done, uint64_t total)
{
    tfx_progress_update(progress, done, total);
}
