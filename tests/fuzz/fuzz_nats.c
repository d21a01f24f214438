/*
 * fuzz_nats.c - libFuzzer target for the NATS protocol reader of the benchmark's peer
 * (src/bench/nats.c, bench_nats_next): what nats-server sends is input like any other.
 *
 * Input layout: byte 0 seeds the chunk sizes, the rest is the byte stream the server sent.
 * The stream is fed in chunks of 1..16 bytes; after each chunk every whole message is
 * taken out, as the generator and the responder do.  Each read runs on an exact-size copy
 * of the live bytes, so ASan catches any read past them.
 *
 * Checked: a message's subject, reply subject and payload lie inside the live bytes, and
 * its `consume` covers them and no more than is there; "need more" only leaves bytes
 * unconsumed; an error stops the line, as the callers do; every PING gets a PONG.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_int.h"

static void check_inside(const void *p, size_t n, const uint8_t *lo, size_t len)
{
    if (n == 0)
        return;
    const uint8_t *q = p;
    if (q < lo || q + n > lo + len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++;
    size--;
    struct nats_line n;
    memset(&n, 0, sizeof n);
    n.fd = -1;
    size_t fed = 0;
    int dead = 0;
    while (fed < size && !dead) {
        size_t chunk = 1 + (seed = seed * 1103515245u + 12345u) % 16;
        if (chunk > size - fed)
            chunk = size - fed;
        sl_buf_append(&n.in, data + fed, chunk);
        fed += chunk;
        for (;;) {
            /* read from an exact-size copy */
            size_t used = sl_buf_used(&n.in);
            uint8_t *copy = malloc(used ? used : 1);
            if (used)
                memcpy(copy, sl_buf_head(&n.in), used);
            struct nats_line t;
            memset(&t, 0, sizeof t);
            t.fd = -1;
            t.in.data = copy;
            t.in.len = t.in.cap = used;
            struct nats_msg m;
            int st = bench_nats_next(&t, &m);
            size_t left = sl_buf_used(&t.in);
            /* lines it skipped (PONG, +OK, INFO) were consumed from the copy */
            size_t skipped = used - left;
            if (st == 1) {
                const uint8_t *lo = sl_buf_head(&t.in);
                check_inside(m.subject, m.subject_len, lo, left);
                check_inside(m.reply, m.reply_len, lo, left);
                check_inside(m.payload, m.len, lo, left);
                if (m.consume > left || (const uint8_t *)m.payload + m.len + 2 > lo + m.consume)
                    abort();
                skipped += m.consume;
            }
            if (sl_buf_used(&t.out))
                sl_buf_append(&n.out, sl_buf_head(&t.out), sl_buf_used(&t.out));
            sl_buf_free(&t.out);
            free(copy);
            if (skipped)
                sl_buf_consume(&n.in, skipped);
            if (st < 0)
                dead = 1;
            if (st != 1)
                break;
        }
    }
    /* Every PONG we wrote answers a PING. */
    size_t out = sl_buf_used(&n.out);
    if (out % 6 != 0)
        abort();
    for (size_t i = 0; i < out; i += 6)
        if (memcmp(n.out.data + n.out.off + i, "PONG\r\n", 6) != 0)
            abort();
    sl_buf_free(&n.in);
    sl_buf_free(&n.out);
    return 0;
}
