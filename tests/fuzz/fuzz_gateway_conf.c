/*
 * fuzz_gateway_conf.c - libFuzzer target: any text as a gateway configuration
 * (sl_gw_config_parse), then the layout choice for a few requesters.
 * Seeds: tests/fuzz/corpus/gateway_conf/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "stateline/core.h"
#include "stateline/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
    char err[1024];
    if (sl_gw_config_parse((const char *)data, size, "/etc/stateline/gw.conf", cfg, err,
                           sizeof err) == 0) {
        (void)sl_gw_layout_for(cfg, "CASP00000", "CA");
        (void)sl_gw_layout_for(cfg, "WA0010200", "");
    }
    free(cfg);
    return 0;
}
