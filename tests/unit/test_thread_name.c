/*
 * test_thread_name.c - sl_thread_name (core.h): the name shows in /proc for that thread
 * only, the thread keeps the process's priority, and a name longer than the kernel's 15
 * characters is cut, not refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "stateline/core.h"

struct seen {
    const char *name;
    char comm[32];
    int nice;
};

static void *named_thread(void *arg)
{
    struct seen *s = arg;
    sl_thread_name(s->name);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
    FILE *fp = fopen(path, "r");
    if (fp) {
        if (!fgets(s->comm, sizeof s->comm, fp))
            s->comm[0] = 0;
        fclose(fp);
        s->comm[strcspn(s->comm, "\n")] = 0;
    }
    errno = 0;
    s->nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    return NULL;
}

static void run(struct seen *s)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, named_thread, s), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_names(void **state)
{
    (void)state;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    assert_true(base != -1 || errno == 0);
    struct seen a = {.name = "sl-audit-sync"};
    run(&a);
    assert_string_equal(a.comm, "sl-audit-sync");
    assert_int_equal(a.nice, base);
    struct seen b = {.name = "sl-archive"};
    run(&b);
    assert_string_equal(b.comm, "sl-archive");
    assert_int_equal(b.nice, base);
    struct seen longname = {.name = "sl-a-name-longer-than-fifteen"};
    run(&longname);
    assert_string_equal(longname.comm, "sl-a-name-longe");
    /* the calling thread, and so the process's name, is untouched */
    char comm[32] = "";
    FILE *fp = fopen("/proc/self/comm", "r");
    assert_non_null(fp);
    assert_non_null(fgets(comm, sizeof comm, fp));
    fclose(fp);
    assert_null(strstr(comm, "sl-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
