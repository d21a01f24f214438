/*
 * fuzz_store_query.c - the store's parsers of dispatcher-typed text: NCIC names, DOBs,
 * canonical OLN/plate forms and partial-plate patterns.  Input: any bytes; the first
 * byte picks nothing, every parser sees the whole NUL-terminated input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    struct sl_name nm;
    char err[160], out[64], key[72];
    if (sl_store_name_parse(s, &nm, err, sizeof err) == 0) {
        if (nm.n < 2 || nm.n > SL_NAME_MAX_PARTS)
            abort();
        for (int i = 0; i < nm.n; i++)
            if (!nm.part[i][0] || strlen(nm.part[i]) >= sizeof nm.part[i])
                abort();
        sl_store_pair_key(nm.part[0], nm.part[1], key, sizeof key);
    }
    int32_t dobs[2];
    int n;
    if (sl_store_dob_parse(s, dobs, &n) == 0 && (n < 1 || n > 2))
        abort();
    sl_store_canon(s, out, sizeof out);
    sl_store_name_norm(s, out, sizeof out);
    sl_store_partial_plate_check(s, err, sizeof err);
    free(s);
    return 0;
}
