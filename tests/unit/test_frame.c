/*
 * test_frame.c - the length-prefixed framing (frame.h): whole frames, frames split at
 * every byte, empty frames, the maximum and one past it, many frames in one buffer, and
 * writing a frame in place with begin/end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stateline/buf.h"
#include "stateline/frame.h"

static void test_whole_frame(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    sl_frame_write(&b, "DQ.WASP00000.CA.TXT", 19);
    assert_int_equal(sl_buf_used(&b), 4 + 19);
    /* the header is big-endian */
    const uint8_t hdr[4] = {0, 0, 0, 19};
    assert_memory_equal(sl_buf_head(&b), hdr, 4);
    const uint8_t *p = NULL;
    uint32_t len = 0;
    assert_int_equal(sl_frame_peek(&b, SL_FRAME_DEFAULT_MAX, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, 19);
    assert_memory_equal(p, "DQ.WASP00000.CA.TXT", 19);
    sl_buf_consume(&b, SL_FRAME_HDR + len);
    assert_int_equal(sl_frame_peek(&b, SL_FRAME_DEFAULT_MAX, &p, &len), SL_FRAME_AGAIN);
    sl_buf_free(&b);
}

static void test_big_endian_large_length(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    const uint8_t hdr[4] = {0x01, 0x02, 0x03, 0x04};
    sl_buf_append(&b, hdr, 4);
    const uint8_t *p;
    uint32_t len = 0;
    assert_int_equal(sl_frame_peek(&b, 0x01020304u, &p, &len), SL_FRAME_AGAIN);
    assert_int_equal(sl_frame_peek(&b, 0x01020303u, &p, &len), SL_FRAME_TOO_BIG);
    assert_int_equal(len, 0x01020304u);
    sl_buf_free(&b);
}

/* Feed a two-frame stream one byte at a time: AGAIN until each frame's last byte. */
static void test_split_at_every_byte(void **state)
{
    (void)state;
    struct sl_buf wire = SL_BUF_INIT;
    const char *msgs[] = {"KQ.WASP00000.OR.TXT\nOLN/A1.", "", "RQ.CA0000000.WA.TXT"};
    for (int i = 0; i < 3; i++)
        sl_frame_write(&wire, msgs[i], (uint32_t)strlen(msgs[i]));
    size_t total = sl_buf_used(&wire);

    for (size_t split = 0; split <= total; split++) {
        /* first `split` bytes, then the rest byte by byte */
        struct sl_buf in = SL_BUF_INIT;
        size_t fed = 0;
        int got = 0;
        sl_buf_append(&in, sl_buf_head(&wire), split);
        fed = split;
        for (;;) {
            const uint8_t *p;
            uint32_t len;
            enum sl_frame_status st = sl_frame_peek(&in, 64, &p, &len);
            if (st == SL_FRAME_OK) {
                assert_int_equal(len, strlen(msgs[got]));
                assert_memory_equal(p, msgs[got], len);
                sl_buf_consume(&in, SL_FRAME_HDR + len);
                got++;
                continue;
            }
            assert_int_equal(st, SL_FRAME_AGAIN);
            if (fed == total)
                break;
            sl_buf_append(&in, sl_buf_head(&wire) + fed, 1);
            fed++;
        }
        assert_int_equal(got, 3);
        assert_int_equal(sl_buf_used(&in), 0);
        sl_buf_free(&in);
    }
    sl_buf_free(&wire);
}

static void test_zero_length(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    sl_frame_write(&b, NULL, 0);
    assert_int_equal(sl_buf_used(&b), 4);
    const uint8_t *p = NULL;
    uint32_t len = 99;
    assert_int_equal(sl_frame_peek(&b, 0, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, 0);
    assert_non_null(p);
    sl_buf_consume(&b, SL_FRAME_HDR);
    assert_int_equal(sl_buf_used(&b), 0);
    sl_buf_free(&b);
}

static void test_exactly_max_and_one_more(void **state)
{
    (void)state;
    const uint32_t max = 1000;
    uint8_t *payload = malloc(max + 1);
    for (uint32_t i = 0; i <= max; i++)
        payload[i] = (uint8_t)(i * 7);
    struct sl_buf b = SL_BUF_INIT;
    sl_frame_write(&b, payload, max);
    const uint8_t *p;
    uint32_t len;
    assert_int_equal(sl_frame_peek(&b, max, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, max);
    assert_memory_equal(p, payload, max);
    sl_buf_consume(&b, SL_FRAME_HDR + len);

    /* max + 1 is refused from the header alone, without waiting for the payload */
    const uint8_t hdr[4] = {0, 0, 0x03, 0xe9}; /* 1001 */
    sl_buf_append(&b, hdr, 4);
    len = 0;
    assert_int_equal(sl_frame_peek(&b, max, &p, &len), SL_FRAME_TOO_BIG);
    assert_int_equal(len, max + 1);
    /* and still refused once the payload is there */
    sl_buf_append(&b, payload, max + 1);
    assert_int_equal(sl_frame_peek(&b, max, &p, &len), SL_FRAME_TOO_BIG);
    /* the largest length a header can carry */
    sl_buf_reset(&b);
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    sl_buf_append(&b, huge, 4);
    assert_int_equal(sl_frame_peek(&b, SL_FRAME_DEFAULT_MAX, &p, &len), SL_FRAME_TOO_BIG);
    assert_int_equal(len, 0xffffffffu);
    sl_buf_free(&b);
    free(payload);
}

static void test_partial_header(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    const uint8_t hdr[3] = {0xff, 0xff, 0xff};
    const uint8_t *p;
    uint32_t len;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sl_frame_peek(&b, 10, &p, &len), SL_FRAME_AGAIN);
        sl_buf_append(&b, hdr + i, 1);
    }
    /* three bytes of a header that will be too big: still AGAIN, not a verdict */
    assert_int_equal(sl_frame_peek(&b, 10, &p, &len), SL_FRAME_AGAIN);
    sl_buf_free(&b);
}

static void test_many_frames_one_buffer(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    char msg[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(msg, sizeof msg, "frame %d", i);
        sl_frame_write(&b, msg, (uint32_t)(i % 17 == 0 ? 0 : n));
    }
    for (int i = 0; i < 10000; i++) {
        const uint8_t *p;
        uint32_t len;
        assert_int_equal(sl_frame_peek(&b, 64, &p, &len), SL_FRAME_OK);
        if (i % 17 == 0) {
            assert_int_equal(len, 0);
        } else {
            int n = snprintf(msg, sizeof msg, "frame %d", i);
            assert_int_equal(len, n);
            assert_memory_equal(p, msg, len);
        }
        sl_buf_consume(&b, SL_FRAME_HDR + len);
    }
    const uint8_t *p;
    uint32_t len;
    assert_int_equal(sl_frame_peek(&b, 64, &p, &len), SL_FRAME_AGAIN);
    assert_int_equal(sl_buf_used(&b), 0);
    sl_buf_free(&b);
}

static void test_begin_end(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    /* some consumed bytes in front, so offsets are relative to the read position */
    sl_buf_append(&b, "xxxxxxxx", 8);
    sl_buf_consume(&b, 3);
    sl_frame_write(&b, "first", 5);
    size_t at = sl_frame_begin(&b);
    sl_buf_append_str(&b, "DR.CA0000000.WASP00000.TXT\n");
    /* enough to force the buffer to grow (and move) in the middle of the frame */
    for (int i = 0; i < 1000; i++)
        sl_buf_printf(&b, "NAM/DOE,JOHN %04d.", i);
    sl_frame_end(&b, at);
    size_t expect = sl_buf_used(&b) - at - SL_FRAME_HDR;
    sl_frame_write(&b, "last", 4);

    sl_buf_consume(&b, 5); /* the five x */
    const uint8_t *p;
    uint32_t len;
    assert_int_equal(sl_frame_peek(&b, SL_FRAME_DEFAULT_MAX, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, 5);
    sl_buf_consume(&b, SL_FRAME_HDR + len);
    assert_int_equal(sl_frame_peek(&b, SL_FRAME_DEFAULT_MAX, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, expect);
    assert_memory_equal(p, "DR.CA0000000.WASP00000.TXT\nNAM/DOE,JOHN 0000.", 44);
    assert_memory_equal(p + len - 18, "NAM/DOE,JOHN 0999.", 18);
    sl_buf_consume(&b, SL_FRAME_HDR + len);
    assert_int_equal(sl_frame_peek(&b, SL_FRAME_DEFAULT_MAX, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "last", 4);

    /* an empty begin/end frame is a keep-alive */
    sl_buf_reset(&b);
    at = sl_frame_begin(&b);
    sl_frame_end(&b, at);
    assert_int_equal(sl_frame_peek(&b, 0, &p, &len), SL_FRAME_OK);
    assert_int_equal(len, 0);
    sl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_frame),
        cmocka_unit_test(test_big_endian_large_length),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_exactly_max_and_one_more),
        cmocka_unit_test(test_partial_header),
        cmocka_unit_test(test_many_frames_one_buffer),
        cmocka_unit_test(test_begin_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
