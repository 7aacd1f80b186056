/* core/host.h — the table of services the core hands to plugins (tfx_host), and the
 * counters the core keeps through it (FLOPs done by matrix kernels). */
#ifndef TFX_CORE_HOST_H
#define TFX_CORE_HOST_H

#include <stdint.h>

#include "tfx/host.h"

/* The process-wide host table: kernels through OpenBLAS, declaration hooks into core/model.c. */
const tfx_host *tfx_host_table(void);

/* Floating-point operations done by linear/gemm since the last reset (2·M·N·K each). */
uint64_t tfx_host_flops(void);
void tfx_host_flops_reset(void);

#endif
