/*
 * gw_apply.c - putting a policy text in force: the one path of `stateline policy apply`
 * and of a draft approved on the oversight desk (docs/review.md §4).
 *
 * 1. The text is compiled exactly as `policy check` does; any error: nothing changes.
 *    A text for another state is refused.
 * 2. Who applied it (author, approver(s), legal basis, a note) is recorded in gateway.db
 *    table policy_apply under the text's hash; the texts before and after go into table
 *    policy_text (schema in gw_queue.c), for the rule history's diff.
 * 3. The text replaces the gateway's policy file atomically (temporary file in the same
 *    folder, fsync, rename, fsync of the folder): the gateway never reads half a file.
 * 4. The running gateway's poll (policy_poll_ms, 250 ms) sees the new inode, compiles it,
 *    swaps it in, and writes the policy-change audit entry with what step 2 recorded.
 *
 * A refused text (another state's rules, or errors) is recorded too, in table admin_event:
 * the gateway writes it as an admin entry `policy-apply-refused` (P-33: every attempted
 * cross-state rule change is rejected and logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_int.h"
#include "stateline/buf.h"
#include "stateline/core.h"
#include "stateline/policy.h"

int sl_gw_write_atomic(const char *path, const char *text, size_t len, char *err,
                       size_t errlen)
{
    char tmp[SL_GW_PATH_MAX + 40], dir[SL_GW_PATH_MAX + 1];
    snprintf(tmp, sizeof tmp, "%s.apply-%ld.tmp", path, (long)getpid());
    sl_strlcpy(dir, path, sizeof dir);
    char *dn = dirname(dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    (void)sl_fsync_dir(dn); /* the rename durable; the file is already in place */
    return 0;
}

static void sha256_hex(const char *p, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(p, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void keep_text(sqlite3 *db, const char *hash, const char *text, size_t len)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO policy_text(hash, text, first_us)"
                           " VALUES(?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, sl_wall_us());
    sqlite3_step(s);
    sqlite3_finalize(s);
}

/* Who is acting: the author given, else the system user running the tool. */
static void actor_of(const struct sl_gw_change *who, char *out, size_t len)
{
    if (who->author && who->author[0])
        snprintf(out, len, "%.63s", who->author);
    else
        snprintf(out, len, "policy apply (uid %ld)", (long)getuid());
}

/* A tool's connection to the gateway's gateway.db, its tables made if need be; NULL
 * with err ("path: why"). */
static sqlite3 *open_gwdb(const struct sl_gw_config *cfg, char *err, size_t errlen)
{
    char path[SL_GW_PATH_MAX + 16], serr[300];
    snprintf(path, sizeof path, "%s/gateway.db", cfg->data_dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    if (gw_queue_schema_apply(db, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "%s: %s", path, serr);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

int sl_gw_admin_event(const struct sl_gw_config *cfg, const char *actor, const char *action,
                      const char *text, int failed, char *err, size_t errlen)
{
    sqlite3 *db = open_gwdb(cfg, err, errlen);
    if (!db)
        return -1;
    sqlite3_stmt *s = NULL;
    int ok = sqlite3_prepare_v2(db, "INSERT INTO admin_event(at_us, actor, action, text,"
                                " failed) VALUES(?, ?, ?, ?, ?)", -1, &s, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(s, 1, sl_wall_us());
        sqlite3_bind_text(s, 2, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, failed != 0);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    if (!ok)
        snprintf(err, errlen, "%s/gateway.db: %s", cfg->data_dir, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return ok ? 0 : -1;
}

/* A refused apply, for the audit log.  Best effort: a gateway.db that cannot be written
 * is logged, and the refusal stands either way. */
static void record_refusal(const struct sl_gw_config *cfg, const struct sl_gw_change *who,
                           const char *text)
{
    char actor[80], err[SL_GW_PATH_MAX + 320];
    actor_of(who, actor, sizeof actor);
    if (sl_gw_admin_event(cfg, actor, "policy-apply-refused", text, 1, err, sizeof err) != 0)
        SL_WARN("gateway", "%s: the refusal could not be recorded for the audit log", err);
}

/* Record who applies the text (and keep the texts); the file is written after this. */
static int record(const struct sl_gw_config *cfg, const struct sl_gw_change *who,
                  const char *hash, const char *text, size_t len, char *err, size_t errlen)
{
    sqlite3 *db = open_gwdb(cfg, err, errlen);
    if (!db)
        return -1;
    int rc = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s/gateway.db: %s", cfg->data_dir, sqlite3_errmsg(db));
        rc = -1;
    }
    if (rc == 0) {
        size_t blen;
        char *before = cfg->policy[0] ? sl_read_file(cfg->policy, &blen) : NULL;
        if (before) {
            char bh[65];
            sha256_hex(before, blen, bh);
            keep_text(db, bh, before, blen);
            free(before);
        }
        keep_text(db, hash, text, len);
        sqlite3_stmt *s;
        rc = -1;
        if (sqlite3_prepare_v2(db, "INSERT INTO policy_apply(at_us, author, file, hash,"
                               " approver, basis, note) VALUES(?, ?, ?, ?, ?, ?, ?)", -1, &s,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, sl_wall_us());
            sqlite3_bind_text(s, 2, who->author, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, who->file ? who->file : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 5, who->approver ? who->approver : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 6, who->basis ? who->basis : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 7, who->note ? who->note : "", -1, SQLITE_STATIC);
            rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(s);
        }
        if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = -1;
        if (rc != 0) {
            snprintf(err, errlen, "%s/gateway.db: %s", cfg->data_dir, sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    sqlite3_close(db);
    return rc;
}

int sl_gw_policy_apply(const struct sl_gw_config *cfg, const char *text, size_t len,
                       const struct sl_gw_change *who, const struct sl_policy_opts *opts,
                       struct sl_policy_diags *dg, char hash[65], char *err, size_t errlen)
{
    hash[0] = 0;
    if (!cfg->policy[0]) {
        snprintf(err, errlen, "the gateway has no policy file (it runs on `default =`): set "
                 "`policy = FILE` in its configuration and restart it once");
        return -1;
    }
    struct sl_policy *p = NULL;
    const char *name = who->file && who->file[0] ? who->file : "draft";
    char why[400];
    if (sl_policy_compile(text, len, name, opts, &p, dg) != 0 || !p) {
        snprintf(err, errlen, "the policy does not check (%d error%s): NOT applied; the "
                 "policy in force stays", dg->nerrors, dg->nerrors == 1 ? "" : "s");
        snprintf(why, sizeof why, "%.120s: does not check (%d error%s); the policy in force "
                 "stays", name, dg->nerrors, dg->nerrors == 1 ? "" : "s");
        record_refusal(cfg, who, why);
        return -1;
    }
    if (strcmp(sl_policy_state(p), cfg->state) != 0) {
        snprintf(err, errlen, "the policy is for state %s, the gateway answers for %s: NOT "
                 "applied", sl_policy_state(p), cfg->state);
        snprintf(why, sizeof why, "%.120s: rules for state %s, and this gateway answers for "
                 "%s: refused (sha256 %.64s)", name, sl_policy_state(p), cfg->state,
                 sl_policy_hash(p));
        record_refusal(cfg, who, why);
        sl_policy_unref(p);
        return -1;
    }
    sl_strlcpy(hash, sl_policy_hash(p), 65);
    sl_policy_unref(p);
    /* Who applied it, before the file changes: the gateway names them in its
     * policy-change entry when it takes this text (matched by hash).  Failing to record
     * it for a draft approval is an error (the approval must be in the log); the CLI
     * goes on with a warning, as before (who->must_record = 0). */
    char rerr[SL_GW_PATH_MAX + 400];
    if (record(cfg, who, hash, text, len, rerr, sizeof rerr) != 0) {
        if (who->must_record) {
            snprintf(err, errlen, "%s: NOT applied", rerr);
            return -1;
        }
        SL_WARN("gateway", "%s (the policy-change entry will name the file, not the author)",
                rerr);
    }
    if (sl_gw_write_atomic(cfg->policy, text, len, err, errlen) != 0)
        return -1;
    return 0;
}
