/* core/files.h — every file tfx opens: inputs opened without blocking, required to be regular
 * files and remembered; outputs written atomically and never over an input; mapped inputs. */
#ifndef TFX_CORE_FILES_H
#define TFX_CORE_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* ---- inputs -------------------------------------------------------------------------------- */

/* Open `path` for reading: O_NONBLOCK so that a FIFO cannot hang the open, then anything but a
 * regular file is refused, then the descriptor blocks again. `where` names what gave the path
 * (an option such as "--checkpoint", or the "file:line:col" of an `extends:` key), or is NULL
 * for a path given as a command's argument; errors begin with it. The file's device and inode
 * are remembered: no output of this process may be written over it. Returns a descriptor
 * (O_CLOEXEC) that the caller closes, or -1 with err set:
 *   "[where: ]cannot read 'PATH': No such file or directory"
 *   "[where: ]'PATH' is not a regular file (a FIFO)" */
int tfx_input_open(const char *path, const char *where, tfx_error *err);

/* tfx_input_open as a stdio stream ("rb"); NULL with err set. */
FILE *tfx_input_fopen(const char *path, const char *where, tfx_error *err);

/* Forget every remembered input (frees the list; for the end of main and for tests). */
void tfx_inputs_forget(void);

/* ---- outputs ------------------------------------------------------------------------------- */

/* A file being written. Write through `f`; then exactly one of commit or abort. */
typedef struct tfx_output {
    FILE *f;
    char *path;                   /* the target (a symlink's own target when it is one) */
    char *tmp;                    /* the temporary file beside it; NULL when written in place */
    int slot;                     /* its entry in the table a SIGINT/SIGTERM cleans up */
} tfx_output;

/* Start writing `path` (named by option `where`, e.g. "--logits"): refused when it is the same
 * file as an input read so far, or a directory. A regular or absent target is written to a
 * temporary file in the same directory (removed, alone, on abort or on SIGINT/SIGTERM) and
 * renamed over it by commit, so the target is either its old self or whole. Anything else
 * (/dev/null, a terminal, a FIFO that has a reader) is written in place and never removed.
 * Returns 0 or -1. */
int tfx_output_open(tfx_output *o, const char *path, const char *where, tfx_error *err);

/* What tfx_output_open would refuse before writing anything (the target is an input read so
 * far, or a directory), for a command to say so before it does its work. Returns 0 or -1. */
int tfx_output_check(const char *path, const char *where, tfx_error *err);

/* Flush, sync and close, then rename the temporary file over the target. On failure the
 * temporary file is removed and err says "cannot write 'PATH': why". Returns 0 or -1. */
int tfx_output_commit(tfx_output *o, tfx_error *err);

/* Give up: close, and remove the temporary file (never the target). Safe on a zeroed o. */
void tfx_output_abort(tfx_output *o);

/* ---- mappings ------------------------------------------------------------------------------ */

/* While watched, a SIGBUS on a page of [addr, addr + len) (the file was truncated under tfx)
 * ends the process with exit status 1 and "tfx: PATH: the file shrank while tfx was reading
 * it (changed under its mapping)" on stderr, instead of a crash. Returns 0, or -1 when the
 * table is full or memory is short (the mapping then works, unwatched). */
int tfx_map_watch(const void *addr, size_t len, const char *path);
void tfx_map_unwatch(const void *addr);

#endif
