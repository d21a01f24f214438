/*
 * test_buf.c - the byte buffer (src/core/buf.c): append, consume and the move to the front,
 * printf, and sl_read_file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "stateline/buf.h"

static void test_append_consume(void **state)
{
    (void)state;
    struct sl_buf b = SL_BUF_INIT;
    char chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)('a' + i % 26);
    size_t total = 0, eaten = 0;
    /* append and consume in steps, so off passes half the capacity many times; what is
     * left must always be the stream's next bytes */
    for (int round = 0; round < 200; round++) {
        sl_buf_append(&b, chunk, sizeof chunk);
        total += sizeof chunk;
        size_t eat = (size_t)(round * 37 % 1400);
        if (eat > sl_buf_used(&b))
            eat = sl_buf_used(&b);
        sl_buf_consume(&b, eat);
        eaten += eat;
        assert_int_equal(sl_buf_used(&b), total - eaten);
        if (sl_buf_used(&b))
            assert_int_equal(sl_buf_head(&b)[0], 'a' + (int)(eaten % sizeof chunk % 26));
    }
    sl_buf_consume(&b, sl_buf_used(&b));
    assert_int_equal(sl_buf_used(&b), 0);
    sl_buf_printf(&b, "%s-%d", "x", 42);
    assert_int_equal(sl_buf_used(&b), 4);
    assert_memory_equal(sl_buf_head(&b), "x-42", 4);
    sl_buf_free(&b);
    assert_null(b.data);
}

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sl-test-buf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* more than one read's worth, with a NUL inside: the length counts every byte */
    static char data[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i % 251);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    close(fd);
    size_t len = 0;
    char *text = sl_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(text, data, sizeof data);
    assert_int_equal(text[len], '\0');
    free(text);
    /* empty file: "" of length 0 */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    close(fd);
    text = sl_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);
    unlink(path);
    /* missing: NULL, errno says why */
    errno = 0;
    assert_null(sl_read_file(path, &len));
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_consume),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
