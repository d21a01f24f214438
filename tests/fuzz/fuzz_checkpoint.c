/*
 * fuzz_checkpoint.c - the signed-note checkpoint parser and the history splitter.
 * Oracles: a parsed note's text length lies inside the input; a verified signature by a
 * key nobody else has never appears in random input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int each(const char *note, size_t len, void *arg)
{
    struct sl_audit_checkpoint c;
    (void)arg;
    if (sl_audit_checkpoint_parse(note, len, &c, NULL, 0) == 0 && c.text_len > len)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A fixed verifier key (its signer key is not in this program). */
    static const char vkey[] =
        "fuzz.example/audit+3be39ff6+AdcUl+oYJ/Ey4HE3tY+l+Ylo2mS91HBSAiED6nxqloRL";
    struct sl_audit_checkpoint c;
    char err[200];
    if (sl_audit_checkpoint_parse((const char *)data, size, &c, err, sizeof err) == 0) {
        if (c.text_len > size || c.nsig < 1 || c.nsig > 16)
            abort();
        struct sl_audit_verifier v;
        if (sl_audit_verifier_parse(&v, vkey, err, sizeof err) == 0) {
            if (sl_audit_checkpoint_verify((const char *)data, &c, &v) == 0)
                abort();
            sl_audit_verifier_free(&v);
        }
    }
    size_t bad;
    sl_audit_checkpoints_split((const char *)data, size, each, NULL, &bad, err, sizeof err);
    return 0;
}
