/*
 * dir_int.h - what the files of src/dir share and nobody else sees.
 */
#ifndef STATELINE_DIR_INT_H
#define STATELINE_DIR_INT_H

#include <sqlite3.h>
#include "stateline/dir.h"

/* Prepared once in sl_dir_open, finalized in sl_dir_close: the hot calls (put, get) are
 * run thousands of times by an import or the generator. */
enum {
    ST_GET,
    ST_PUT,
    ST_DEL,
    ST_MEMBER_GET,
    ST_MEMBER_PUT,
    ST_COUNT,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST__N
};

struct sl_dir {
    sqlite3 *db;
    sqlite3_stmt *st[ST__N];
    char path[256];
};

/* Write an error message into err (if any); returns -1. */
int sl_dir__fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
