/*
 * sqlcfg.h - process-wide SQLite settings for the long-running servers (hub, gateway),
 * and the small helpers every SQLite user here shares.
 */
#ifndef STATELINE_SQLCFG_H
#define STATELINE_SQLCFG_H

#include <stddef.h>

/* Apply them: call before the process opens its first SQLite connection (SQLite takes
 * process-wide settings only before it initialises).  Now: no memory statistics
 * (SQLITE_CONFIG_MEMSTATUS off), which SQLite otherwise keeps under one global mutex on
 * every allocation; nothing in stateline reads them (sqlite3_memory_used, soft heap
 * limits).  0 applied; 1 SQLite was already initialised (nothing changed; harmless, the
 * defaults stay). */
int sl_sqlite_setup(void);

/* Copy text column i of the current row of s into dst (cap bytes, always terminated,
 * cut to fit); a NULL column gives "". */
struct sqlite3_stmt;
void sl_sqlite_text(struct sqlite3_stmt *s, int i, char *dst, size_t cap);

#endif
