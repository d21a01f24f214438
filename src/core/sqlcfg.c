/*
 * sqlcfg.c - process-wide SQLite settings (see sqlcfg.h).
 *
 * Why MEMSTATUS off: Debian's SQLite is built with SQLITE_OMIT_LOOKASIDE, so every row a
 * statement reads allocates and frees its text columns with malloc, and with memory
 * statistics on each of those goes through sqlite3_mutex_enter/leave on the global memory
 * mutex.  Measured under callgrind on a 2,000-driver store (1,000 DQ-by-OLN look-ups,
 * docs/performance.md "End to end"): 23,500 -> 18,900 instructions per look-up.  The
 * same holds for the gateway's inbox and personal-data rows and for the hub's archive
 * and directory.
 */
#include "stateline/sqlcfg.h"

#include <sqlite3.h>

#include "stateline/core.h"

int sl_sqlite_setup(void)
{
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? 0 : 1;
}

void sl_sqlite_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    sl_strlcpy(dst, t ? (const char *)t : "", cap);
}
