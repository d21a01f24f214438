/*
 * sqlcfg.h - process-wide SQLite settings for the long-running servers (hub, gateway).
 */
#ifndef STATELINE_SQLCFG_H
#define STATELINE_SQLCFG_H

/* Apply them: call before the process opens its first SQLite connection (SQLite takes
 * process-wide settings only before it initialises).  Now: no memory statistics
 * (SQLITE_CONFIG_MEMSTATUS off), which SQLite otherwise keeps under one global mutex on
 * every allocation; nothing in stateline reads them (sqlite3_memory_used, soft heap
 * limits).  0 applied; 1 SQLite was already initialised (nothing changed; harmless, the
 * defaults stay). */
int sl_sqlite_setup(void);

#endif
