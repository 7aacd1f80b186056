/* core/progress.h — a one-line progress indicator on stderr for long steps (initialising or
 * loading gigabytes, generating), shown only when stderr is a terminal. */
#ifndef TFX_CORE_PROGRESS_H
#define TFX_CORE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tfx_progress {
    const char *label;
    bool enabled;                 /* stderr is a terminal */
    double started, last_shown;   /* seconds */
} tfx_progress;

/* Begin a step called `label`; quiet unless stderr is a terminal. */
void tfx_progress_start(tfx_progress *p, const char *label);
/* done of total units finished; redraws at most ten times a second. */
void tfx_progress_update(tfx_progress *p, uint64_t done, uint64_t total);
/* A training run's line: step of steps, the loss, tokens/s, seconds elapsed and, from the
 * `done` steps taken since start, seconds to go; redraws at most ten times a second. */
void tfx_progress_steps(tfx_progress *p, int64_t step, int64_t steps, int64_t done, double loss,
                        double tokens_per_s);
/* Clear the line. */
void tfx_progress_end(tfx_progress *p);

/* The callback form, for modules that report progress without knowing how it is shown. */
typedef void (*tfx_progress_fn)(void *ctx, uint64_t done, uint64_t total);
void tfx_progress_callback(void *progress, uint64_t done, uint64_t total);

#endif
