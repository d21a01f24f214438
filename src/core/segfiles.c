/*
 * segfiles.c - listing the numbered segment files of a log (see segfiles.h).
 */
#include "stateline/segfiles.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/core.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int sl_seg_list(const char *dir, uint32_t **nums)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t n = 0, cap = 16;
    uint32_t *v = sl_xmalloc(cap * sizeof *v);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name; /* "seg-" 8 digits ".log" */
        if (strlen(s) != 16 || strncmp(s, "seg-", 4) != 0 || strcmp(s + 12, ".log") != 0)
            continue;
        uint32_t x = 0;
        int ok = 1;
        for (int i = 4; i < 12; i++) {
            if (s[i] < '0' || s[i] > '9')
                ok = 0;
            x = x * 10 + (uint32_t)(s[i] - '0');
        }
        if (!ok || x == 0)
            continue;
        if (n == cap)
            v = sl_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = x;
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_u32);
    *nums = v;
    return (int)n;
}
