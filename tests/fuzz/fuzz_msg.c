/*
 * fuzz_msg.c - libFuzzer target for the Nlets text codec (src/msg).
 *
 * For any input:
 *   1. sl_msg_parse, and when it succeeds sl_msg_check; then sl_msg_format must succeed,
 *      and parsing what it wrote must give the same message and the same check result;
 *   2. the parsed message, put in an output header with a requester whose values come
 *      from the input (so every byte value reaches the VRQ encoder), must format, parse
 *      back to the same header and body;
 *   3. sl_msg_parse_output on the raw input; when it succeeds, formatting the result and
 *      parsing again must give the same header and body;
 *   4. the ER body for any error is printable ASCII and LF only;
 *   5. sl_msg_parse_delivered agrees with sl_msg_parse_output (the MID too), and its
 *      message checks.
 * A reply's MID/ echo and the output header's MID/ line take part in every round trip.
 * A broken invariant is __builtin_trap().
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stateline/buf.h"
#include "stateline/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c))                                                                         \
            __builtin_trap();                                                             \
    } while (0)

static void same_msg(const struct sl_msg *a, const struct sl_msg *b)
{
    CHECK(strcmp(a->key, b->key) == 0);
    CHECK(strcmp(a->ori, b->ori) == 0);
    CHECK(a->ndest == b->ndest);
    for (int i = 0; i < a->ndest; i++)
        CHECK(strcmp(a->dest[i], b->dest[i]) == 0);
    CHECK(strcmp(a->ctl, b->ctl) == 0);
    CHECK(a->mid == b->mid);
    CHECK(a->text_len == b->text_len);
    CHECK(memcmp(a->text, b->text, a->text_len) == 0);
    CHECK(a->nfields == b->nfields);
    for (int i = 0; i < a->nfields; i++) {
        CHECK(memcmp(a->fields[i].pfx, b->fields[i].pfx, 4) == 0);
        CHECK(a->fields[i].len == b->fields[i].len);
        CHECK(memcmp(a->fields[i].val, b->fields[i].val, a->fields[i].len) == 0);
    }
}

static void same_hdr(const struct sl_outhdr *a, const struct sl_outhdr *b)
{
    CHECK(strcmp(a->key, b->key) == 0);
    CHECK(strcmp(a->ori, b->ori) == 0);
    CHECK(a->rx_time == b->rx_time && a->tx_time == b->tx_time);
    CHECK(a->rx_seq == b->rx_seq && a->tx_seq == b->tx_seq);
    CHECK(strcmp(a->dest, b->dest) == 0);
    CHECK(strcmp(a->ctl, b->ctl) == 0);
    CHECK(a->has_req == b->has_req);
    CHECK(a->mid == b->mid);
    if (a->has_req) {
        CHECK(strcmp(a->req.ori, b->req.ori) == 0);
        CHECK(strcmp(a->req.member, b->req.member) == 0);
        CHECK(strcmp(a->req.type, b->req.type) == 0);
        CHECK(strcmp(a->req.cats, b->req.cats) == 0);
        CHECK(strcmp(a->req.parent, b->req.parent) == 0);
        CHECK(strcmp(a->req.tags, b->req.tags) == 0);
        CHECK(strcmp(a->req.state, b->req.state) == 0);
    }
}

/* Fill dst (cap bytes) with non-NUL bytes from the input, cycling. */
static void fill(char *dst, size_t cap, const uint8_t *d, size_t n, size_t off)
{
    size_t o = 0;
    for (size_t i = 0; n && o + 1 < cap && i < cap; i++) {
        uint8_t c = d[(off + i) % n];
        if (c)
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}

static void er_printable(const struct sl_msg_err *e, const char *key, const uint8_t *d,
                         size_t n)
{
    struct sl_buf b = SL_BUF_INIT;
    sl_msg_format_er_body(e, key, (const char *)d, n, &b);
    for (size_t i = b.off; i < b.len; i++)
        CHECK(b.data[i] == '\n' || (b.data[i] >= 0x20 && b.data[i] < 0x7f));
    sl_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct sl_msg m, m2;
    struct sl_msg_err e, e2;
    memset(&m, 0, sizeof m);
    memset(&m2, 0, sizeof m2);

    /* 1. input form */
    int r = sl_msg_parse(in, size, &m, &e);
    if (r == 0) {
        int c1 = sl_msg_check(&m, &e) == 0 ? SL_ER_NONE : (int)e.code;
        struct sl_buf b = SL_BUF_INIT;
        CHECK(sl_msg_format(&m, &b) == 0);
        CHECK(sl_msg_parse((const char *)sl_buf_head(&b), sl_buf_used(&b), &m2, &e2) == 0);
        same_msg(&m, &m2);
        int c2 = sl_msg_check(&m2, &e2) == 0 ? SL_ER_NONE : (int)e2.code;
        CHECK(c1 == c2);
        if (c1 != SL_ER_NONE)
            CHECK(strcmp(e.detail, e2.detail) == 0);
        sl_buf_free(&b);
        sl_msg_clear(&m2);

        /* 2. output form built from it */
        struct sl_outhdr h, h2;
        memset(&h, 0, sizeof h);
        memcpy(h.key, m.key, sizeof h.key);
        memcpy(h.ori, m.ori, sizeof h.ori);
        memcpy(h.dest, m.dest[0], sizeof h.dest);
        memcpy(h.ctl, m.ctl, sizeof h.ctl);
        h.rx_time = (int64_t)(size * 7919u % 1000000u) * 60;
        h.tx_time = h.rx_time + 60;
        h.rx_seq = (unsigned)size * 31u % 100000u;
        h.tx_seq = (unsigned)size % 100000u;
        h.has_req = size & 1;
        h.mid = m.mid ? m.mid : (size & 2 ? (uint64_t)size * 2654435761u : 0);
        memcpy(h.req.ori, m.ori, sizeof h.req.ori);
        memcpy(h.req.state, m.ori, 2);
        fill(h.req.member, sizeof h.req.member, data, size, 1);
        fill(h.req.type, sizeof h.req.type, data, size, 3);
        fill(h.req.cats, sizeof h.req.cats, data, size, 5);
        fill(h.req.parent, sizeof h.req.parent, data, size, 7);
        fill(h.req.tags, sizeof h.req.tags, data, size, 11);
        struct sl_buf o = SL_BUF_INIT;
        CHECK(sl_msg_format_output(&h, m.text, m.text_len, &o) == 0);
        const char *body;
        size_t blen;
        CHECK(sl_msg_parse_output((const char *)sl_buf_head(&o), sl_buf_used(&o), &h2, &body,
                                  &blen, &e2) == 0);
        same_hdr(&h, &h2);
        CHECK(blen == m.text_len && memcmp(body, m.text, blen) == 0);
        sl_buf_free(&o);
        if (c1 != SL_ER_NONE)
            er_printable(&e, m.key, data, size);
    } else {
        CHECK(e.code != SL_ER_NONE);
        er_printable(&e, m.key[0] ? m.key : NULL, data, size);
    }
    sl_msg_clear(&m);

    /* 3. output form on raw input */
    struct sl_outhdr h, h2;
    const char *body, *body2;
    size_t blen, blen2;
    if (sl_msg_parse_output(in, size, &h, &body, &blen, &e) == 0) {
        CHECK(body >= in && body + blen == in + size);
        struct sl_buf o = SL_BUF_INIT;
        CHECK(sl_msg_format_output(&h, body, blen, &o) == 0);
        CHECK(sl_msg_parse_output((const char *)sl_buf_head(&o), sl_buf_used(&o), &h2, &body2,
                                  &blen2, &e2) == 0);
        same_hdr(&h, &h2);
        CHECK(blen == blen2 && memcmp(body, body2, blen) == 0);
        sl_buf_free(&o);
    }

    /* 5. a receiver's view: must agree with sl_msg_parse_output, check must not crash */
    struct sl_outhdr h3;
    if (sl_msg_parse_delivered(in, size, &h3, &m, &e) == 0) {
        CHECK(sl_msg_parse_output(in, size, &h, &body, &blen, &e2) == 0);
        same_hdr(&h, &h3);
        CHECK(m.ndest == 1 && strcmp(m.dest[0], h3.dest) == 0);
        CHECK(m.mid == h3.mid);
        (void)sl_msg_check(&m, &e);
    }
    sl_msg_clear(&m);
    return 0;
}
