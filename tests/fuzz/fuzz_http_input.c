/*
 * fuzz_http_input.c - libFuzzer target: the oversight desk's own parsers of what a browser
 * sends (src/http/http_parse.c): the input as a form body / query string and as a Cookie
 * header, looked up under several names, decoded, and its fields as dates and months;
 * also base32 (TOTP secrets typed by people).  Checks the promises of http.h: a value
 * found is NUL-terminated, fits, and holds no NUL or control character.
 * Seeds: tests/fuzz/corpus/http_input/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *v, int n, size_t cap)
{
    if (n < 0)
        return;
    if ((size_t)n >= cap || strlen(v) != (size_t)n)
        abort();
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == 0x7f || (c < 0x20 && c != '\t' && c != '\r' && c != '\n'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"user", "password", "code", "csrf", "from", "to",
                                        "month", "a", "", "sl_session"};
    const char *s = (const char *)data;
    char out[96], small[4];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int n = sl_http_form_get(s, size, names[i], out, sizeof out);
        check_value(out, n, sizeof out);
        if (n >= 0) {
            int64_t a, b;
            if (sl_http_parse_date(out, &a) == 0 && a < 0)
                abort();
            if (sl_http_parse_month(out, &a, &b) == 0 && !(a < b))
                abort();
        }
        n = sl_http_form_get(s, size, names[i], small, sizeof small);
        check_value(small, n, sizeof small);
        n = sl_http_cookie_get(s, size, names[i], out, sizeof out);
        if (n >= 0 && (strlen(out) != (size_t)n || memchr(out, ';', (size_t)n)))
            abort();
    }
    int n = sl_http_urldecode(s, size, out, sizeof out, 1);
    check_value(out, n, sizeof out);
    char *z = malloc(size + 1);
    memcpy(z, data, size);
    z[size] = 0;
    uint8_t key[64];
    (void)sl_http_base32_decode(z, key, sizeof key);
    int64_t a, b;
    (void)sl_http_parse_date(z, &a);
    (void)sl_http_parse_month(z, &a, &b);
    free(z);
    return 0;
}
