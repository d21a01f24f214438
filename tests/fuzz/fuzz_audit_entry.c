/*
 * fuzz_audit_entry.c - the strict entry decoder.  Oracle: whatever decodes must re-encode
 * to exactly the same bytes (the encoding is canonical), and render as JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stateline/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_audit_entry e;
    char err[200];
    if (sl_audit_decode(data, size, &e, err, sizeof err) != 0)
        return 0;
    static uint8_t out[SL_AUDIT_MAX_ENTRY];
    int n = sl_audit_encode(&e, out, sizeof out, err, sizeof err);
    if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
        abort();
    json_t *j = sl_audit_entry_json(&e);
    char *s = json_dumps(j, JSON_COMPACT);
    free(s);
    json_decref(j);
    return 0;
}
