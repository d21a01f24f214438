/*
 * fuzz_http_multipart.c - libFuzzer target: the multipart/form-data reader of the rule
 * drafts' upload form (sl_http_multipart_get, src/http/http_drafts.c).  Input: the
 * boundary on the first line, the body after it.  Checks the promise of http.h: a value
 * found lies inside the body.  Seeds: tests/fuzz/corpus/http_multipart/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    if (!nl || nl - s > 100)
        return 0;
    char boundary[101];
    memcpy(boundary, s, (size_t)(nl - s));
    boundary[nl - s] = 0;
    size_t blen = size - (size_t)(nl - s) - 1;
    /* a copy of exactly the body, so that any read past it is caught */
    char *body = malloc(blen ? blen : 1);
    memcpy(body, nl + 1, blen);
    static const char *const names[] = {"csrf", "name", "file", "id", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = NULL;
        size_t n = 0;
        int r = sl_http_multipart_get(body, blen, boundary, names[i], &v, &n);
        if (r < -1 || r > 1)
            abort();
        if (r == 1 && (v < body || v + n > body + blen))
            abort();
    }
    free(body);
    return 0;
}
