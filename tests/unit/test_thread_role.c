/*
 * test_thread_role.c - sl_thread_role (core.h): the name shows in /proc for that thread
 * only, a background thread's nice value is 10 above the process's, a foreground one's
 * unchanged, and a name longer than the kernel's 15 characters is cut, not refused.
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
    int background;
    char comm[32];
    int nice;
};

static void *role_thread(void *arg)
{
    struct seen *s = arg;
    sl_thread_role(s->name, s->background);
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
    assert_int_equal(pthread_create(&t, NULL, role_thread, s), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_roles(void **state)
{
    (void)state;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    assert_true(base != -1 || errno == 0);
    struct seen fg = {.name = "sl-audit-sync", .background = 0};
    run(&fg);
    assert_string_equal(fg.comm, "sl-audit-sync");
    assert_int_equal(fg.nice, base);
    struct seen bg = {.name = "sl-archive", .background = 1};
    run(&bg);
    assert_string_equal(bg.comm, "sl-archive");
    assert_int_equal(bg.nice, base + 10 > 19 ? 19 : base + 10);
    struct seen longname = {.name = "sl-a-name-longer-than-fifteen", .background = 0};
    run(&longname);
    assert_string_equal(longname.comm, "sl-a-name-longe");
    /* the calling thread (and so the process's name) is untouched */
    errno = 0;
    assert_int_equal(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), base);
    char comm[32] = "";
    FILE *fp = fopen("/proc/self/comm", "r");
    assert_non_null(fp);
    assert_non_null(fgets(comm, sizeof comm, fp));
    fclose(fp);
    assert_null(strstr(comm, "sl-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_roles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
