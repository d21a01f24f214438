/*
 * http_db.c - the oversight desk's accounts and sessions in DATA/gateway.db, and
 * `stateline gateway users`.
 *
 *   http_user(name TEXT PRIMARY KEY, role TEXT, pwhash TEXT, totp TEXT (base32),
 *             last_step INTEGER, failures INTEGER, locked_until INTEGER, created INTEGER)
 *   http_session(token_hash TEXT PRIMARY KEY  -- hex SHA-256 of the cookie value: a copy
 *                                                of the file does not give live sessions
 *                user TEXT, role TEXT, csrf TEXT, created INTEGER, expires INTEGER)
 *
 *   http_account_event(id INTEGER PRIMARY KEY, time INTEGER, actor TEXT, action TEXT,
 *                      name TEXT, role TEXT)
 *       account changes made by `stateline gateway users` (which cannot append to the audit
 *       log: the running gateway holds it); the desk turns each row into an admin audit
 *       entry and deletes it, at start and at each log-on (http_db_account_events).
 *
 * Times are unix seconds.  Five failed log-ons in a row lock an account for five minutes.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"
#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/sqlcfg.h"

static const char *const role_names[HR_COUNT] = {"official", "reviewer", "author",
                                                  "approver", "auditor", "admin"};

const char *http_role_name(int r)
{
    return r >= 0 && r < HR_COUNT ? role_names[r] : "?";
}

int http_role_parse(const char *s)
{
    for (int i = 0; i < HR_COUNT; i++)
        if (!strcmp(s, role_names[i]))
            return i;
    return -1;
}

int http_role_needs_totp(int r)
{
    return r == HR_REVIEWER || r == HR_AUTHOR || r == HR_APPROVER || r == HR_ADMIN;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS http_user(name TEXT PRIMARY KEY, role TEXT NOT NULL, "
    "pwhash TEXT NOT NULL, totp TEXT NOT NULL, last_step INTEGER NOT NULL DEFAULT 0, "
    "failures INTEGER NOT NULL DEFAULT 0, locked_until INTEGER NOT NULL DEFAULT 0, "
    "created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS http_session(token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, "
    "role TEXT NOT NULL, csrf TEXT NOT NULL, created INTEGER NOT NULL, "
    "expires INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS http_account_event(id INTEGER PRIMARY KEY, "
    "time INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, name TEXT NOT NULL, "
    "role TEXT NOT NULL);";

sqlite3 *http_db_open(const char *data_dir, char *err, size_t errlen)
{
    char path[SL_GW_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/gateway.db", data_dir);
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", data_dir, strerror(errno));
        return NULL;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    /* secure_delete: this connection rewrites rows of gateway.db too (gw_queue.c) */
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA secure_delete=ON;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

int http_db_user(sqlite3 *db, const char *name, struct http_user *u)
{
    sqlite3_stmt *st;
    memset(u, 0, sizeof *u);
    if (sqlite3_prepare_v2(db, "SELECT name, role, pwhash, totp, last_step, failures, "
                           "locked_until FROM http_user WHERE name = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
    if (rc == SQLITE_ROW) {
        char role[32];
        sl_sqlite_text(st, 0, u->name, sizeof u->name);
        sl_sqlite_text(st, 1, role, sizeof role);
        u->role = http_role_parse(role);
        sl_sqlite_text(st, 2, u->pwhash, sizeof u->pwhash);
        sl_sqlite_text(st, 3, u->totp, sizeof u->totp);
        u->last_step = sqlite3_column_int64(st, 4);
        u->failures = sqlite3_column_int(st, 5);
        u->locked_until = sqlite3_column_int64(st, 6);
        if (u->role < 0)
            ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

int http_db_user_logon_result(sqlite3 *db, const char *name, int ok, int64_t step,
                              int64_t locked_until)
{
    sqlite3_stmt *st;
    const char *sql = ok ? "UPDATE http_user SET failures = 0, locked_until = 0, "
                           "last_step = max(last_step, ?) WHERE name = ?"
                         : "UPDATE http_user SET failures = failures + 1, "
                           "locked_until = ? WHERE name = ?";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, ok ? step : locked_until);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static void random_hex(char out[65])
{
    uint8_t r[32];
    if (RAND_bytes(r, sizeof r) != 1) {
        /* never continue with a guessable session or CSRF token */
        SL_ERROR("http", "RAND_bytes failed: stopping");
        abort();
    }
    sl_audit_hex(r, sizeof r, out);
}

static void token_hash(const char *token, char out[65])
{
    uint8_t h[32];
    unsigned int n = 0;
    EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL);
    sl_audit_hex(h, sizeof h, out);
}

int http_db_session_new(sqlite3 *db, const char *user, int role, int lifetime_s,
                        char token[65], char csrf[65])
{
    char th[65];
    random_hex(token);
    random_hex(csrf);
    token_hash(token, th);
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *st;
    /* expired sessions go on every new log-on: the table stays small */
    sqlite3_exec(db, "DELETE FROM http_session WHERE expires < strftime('%s','now')", NULL,
                 NULL, NULL);
    if (sqlite3_prepare_v2(db, "INSERT INTO http_session VALUES (?,?,?,?,?,?)", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, th, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, http_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, now + lifetime_s);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int http_db_session_get(sqlite3 *db, const char *token, int lifetime_s,
                        struct http_session *s)
{
    char th[65], role[32];
    token_hash(token, th);
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *st;
    /* idle expiry, and never more than 12 hours after the log-on */
    if (sqlite3_prepare_v2(db, "UPDATE http_session SET expires = min(?, created + 43200) "
                           "WHERE token_hash = ? AND expires >= ? "
                           "RETURNING user, role, csrf, expires", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, now + lifetime_s);
    sqlite3_bind_text(st, 2, th, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = sqlite3_step(st), ret = 1;
    if (rc == SQLITE_ROW) {
        sl_sqlite_text(st, 0, s->user, sizeof s->user);
        sl_sqlite_text(st, 1, role, sizeof role);
        s->role = http_role_parse(role);
        sl_sqlite_text(st, 2, s->csrf, sizeof s->csrf);
        s->expires = sqlite3_column_int64(st, 3);
        ret = s->role >= 0 ? 0 : -1;
        sqlite3_step(st);
    } else if (rc != SQLITE_DONE) {
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

int http_db_session_end(sqlite3 *db, const char *token)
{
    char th[65];
    token_hash(token, th);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM http_session WHERE token_hash = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, th, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

json_t *http_db_users_json(sqlite3 *db)
{
    json_t *a = json_array();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name, role, failures, locked_until FROM http_user "
                           "ORDER BY name", -1, &st, NULL) != SQLITE_OK)
        return a;
    int64_t now = (int64_t)time(NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char name[64], role[32];
        sl_sqlite_text(st, 0, name, sizeof name);
        sl_sqlite_text(st, 1, role, sizeof role);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:b, s:i, s:b}", "name", name, "role", role,
                         "totp_required", http_role_needs_totp(http_role_parse(role)),
                         "failures", sqlite3_column_int(st, 2), "locked",
                         sqlite3_column_int64(st, 3) > now));
    }
    sqlite3_finalize(st);
    return a;
}

int http_db_account_events(sqlite3 *db,
                           void (*fn)(int64_t time, const char *actor, const char *action,
                                      const char *name, const char *role, void *arg),
                           void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT time, actor, action, name, role FROM "
                           "http_account_event ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char actor[80], action[40], name[64], role[32];
        sl_sqlite_text(st, 1, actor, sizeof actor);
        sl_sqlite_text(st, 2, action, sizeof action);
        sl_sqlite_text(st, 3, name, sizeof name);
        sl_sqlite_text(st, 4, role, sizeof role);
        fn(sqlite3_column_int64(st, 0), actor, action, name, role, arg);
        n++;
    }
    sqlite3_finalize(st);
    /* the entries are queued for the loop thread before the rows go */
    if (sqlite3_exec(db, "DELETE FROM http_account_event; COMMIT", NULL, NULL, NULL) !=
        SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return n;
}

/* ---- `stateline gateway users` ---- */

static void account_event(sqlite3 *db, const char *action, const char *name, const char *role)
{
    const char *who = getenv("SUDO_USER");
    if (!who || !*who)
        who = getenv("USER");
    char actor[80];
    snprintf(actor, sizeof actor, "cli:%.60s", who && *who ? who : "?");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO http_account_event(time, actor, action, name, "
                           "role) VALUES (strftime('%s','now'),?,?,?,?)", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, role ? role : "", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        fprintf(stderr, "stateline gateway users: cannot record the change for the audit "
                        "log: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

/* Insert an account (the caller has checked name and role).  0, or -1 with err. */
static int user_insert(sqlite3 *db, const struct sl_gw_config *cfg, const char *name, int r,
                       const char *password, char *secret, size_t seclen, char *err,
                       size_t errlen)
{
    char ph[160];
    if (strlen(password) < 12) {
        snprintf(err, errlen, "a password of at least 12 characters is required");
        return -1;
    }
    if (sl_http_password_hash(password, ph, sizeof ph) != 0) {
        snprintf(err, errlen, "scrypt failed");
        return -1;
    }
    uint8_t key[20];
    if (RAND_bytes(key, sizeof key) != 1) {
        snprintf(err, errlen, "no random bytes for the TOTP secret");
        return -1;
    }
    sl_http_base32_encode(key, sizeof key, secret, seclen);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO http_user(name, role, pwhash, totp, created) "
                           "VALUES (?,?,?,?,strftime('%s','now'))", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, http_role_name(r), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ph, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, secret, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    if (!ok) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    account_event(db, "account-add", name, http_role_name(r));
    (void)cfg;
    return 0;
}

static int valid_name(const char *s);

int sl_http_user_add(const struct sl_gw_config *cfg, const char *name, const char *role,
                     const char *password, int replace, char *secret, size_t seclen,
                     char *err, size_t errlen)
{
    int r = http_role_parse(role);
    if (r < 0 || !valid_name(name)) {
        snprintf(err, errlen, r < 0 ? "role: one of official, reviewer, author, approver, "
                                      "auditor, admin"
                                    : "name: 1 to 63 characters a-z 0-9 . - _");
        return -1;
    }
    sqlite3 *db = http_db_open(cfg->data_dir, err, errlen);
    if (!db)
        return -1;
    int rc = -1;
    struct http_user u;
    int exists = http_db_user(db, name, &u);
    if (exists == 0 && !replace) {
        snprintf(err, errlen, "%s exists", name);
    } else if (exists < 0) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    } else {
        if (exists == 0) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(db, "DELETE FROM http_user WHERE name = ?", -1, &st,
                                   NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_finalize(st);
            }
            if (sqlite3_prepare_v2(db, "DELETE FROM http_session WHERE user = ?", -1, &st,
                                   NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_finalize(st);
            }
            account_event(db, "account-remove", name, http_role_name(u.role));
        }
        rc = user_insert(db, cfg, name, r, password, secret, seclen, err, errlen);
    }
    sqlite3_close(db);
    return rc;
}

int sl_http_user_code(const struct sl_gw_config *cfg, const char *name, int64_t now_s,
                      char code[7], int *valid_s, char *err, size_t errlen)
{
    sqlite3 *db = http_db_open(cfg->data_dir, err, errlen);
    if (!db)
        return -1;
    struct http_user u;
    int found = http_db_user(db, name, &u);
    sqlite3_close(db);
    if (found != 0) {
        snprintf(err, errlen, found == 1 ? "no account %s" : "cannot read the account %s",
                 name);
        return -1;
    }
    uint8_t key[64];
    int kl = sl_http_base32_decode(u.totp, key, sizeof key);
    if (kl <= 0) {
        snprintf(err, errlen, "the account %s has no usable TOTP secret", name);
        return -1;
    }
    snprintf(code, 7, "%06u", (unsigned)sl_http_totp(key, (size_t)kl, (uint64_t)(now_s / 30)));
    if (valid_s)
        *valid_s = (int)(30 - now_s % 30);
    return 0;
}

static const char users_usage[] =
    "usage: stateline gateway users --config FILE add NAME --role ROLE [--password-stdin]\n"
    "       stateline gateway users --config FILE passwd NAME [--password-stdin]\n"
    "       stateline gateway users --config FILE remove NAME\n"
    "       stateline gateway users --config FILE list\n"
    "       stateline gateway users --config FILE code NAME\n"
    "\n"
    "Accounts of the oversight desk (docs/http-api.md).  ROLE: official (read-only),\n"
    "reviewer, author (rule author), approver (rule approver), auditor, admin.  The\n"
    "password is read from the terminal, or one line from stdin with --password-stdin\n"
    "(at least 12 characters).  add prints the account's TOTP secret as an otpauth:// URI\n"
    "for an authenticator app; the code is required at log-on for reviewer, author,\n"
    "approver and admin (roles that can release data or change rules).\n"
    "code prints the account's current TOTP code (what its authenticator app shows now;\n"
    "a code is accepted once, and for 30 s either side): for test and demo accounts, or\n"
    "a person without their phone.  Whoever can run it can read gateway.db, and so the\n"
    "secret itself: it gives nothing they do not have already.\n";

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

static int read_password(int from_stdin, char *pw, size_t cap)
{
    if (!from_stdin && isatty(0)) {
        fprintf(stderr, "password: ");
        fflush(stderr);
    }
    if (!fgets(pw, (int)cap, stdin))
        return -1;
    pw[strcspn(pw, "\r\n")] = 0;
    return 0;
}

static void pct(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = 0;
}

int sl_http_users_cmd(int argc, char **argv)
{
    const char *config = NULL, *role = NULL, *verb = NULL, *name = NULL;
    int pw_stdin = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--role") && i + 1 < argc)
            role = argv[++i];
        else if (!strcmp(argv[i], "--password-stdin"))
            pw_stdin = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(users_usage, stdout);
            return SL_EXIT_OK;
        } else if (!verb)
            verb = argv[i];
        else if (!name)
            name = argv[i];
        else {
            fprintf(stderr, "stateline gateway users: unexpected '%s'\n%s", argv[i],
                    users_usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!config || !verb) {
        fprintf(stderr, "stateline gateway users: --config FILE and a command are "
                        "required\n%s", users_usage);
        return SL_EXIT_USAGE;
    }
    int needs_name = strcmp(verb, "list") != 0;
    if (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "remove") &&
        strcmp(verb, "passwd") && strcmp(verb, "code")) {
        fprintf(stderr, "stateline gateway users: unknown command '%s'\n%s", verb,
                users_usage);
        return SL_EXIT_USAGE;
    }
    if (needs_name && (!name || !valid_name(name))) {
        fprintf(stderr, "stateline gateway users %s: NAME is required: 1 to 63 characters "
                        "a-z 0-9 . - _\n", verb);
        return SL_EXIT_USAGE;
    }
    int r = -1;
    if (!strcmp(verb, "add") && (!role || (r = http_role_parse(role)) < 0)) {
        fprintf(stderr, "stateline gateway users add: --role is one of official, reviewer, "
                        "author, approver, auditor, admin\n");
        return SL_EXIT_USAGE;
    }
    char err[1024];
    struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
    int rc = SL_EXIT_FAIL;
    sqlite3 *db = NULL;
    if (sl_gw_config_load(config, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "stateline gateway users: %s\n", err);
        goto out;
    }
    db = http_db_open(cfg->data_dir, err, sizeof err);
    if (!db) {
        fprintf(stderr, "stateline gateway users: %s\n", err);
        goto out;
    }
    if (!strcmp(verb, "code")) {
        char code[7];
        int left = 0;
        if (sl_http_user_code(cfg, name, (int64_t)time(NULL), code, &left, err,
                              sizeof err) != 0) {
            fprintf(stderr, "stateline gateway users code: %s\n", err);
            goto out;
        }
        printf("%s\n", code);
        if (isatty(1))
            fprintf(stderr, "(the code of %s for the next %d s; it is accepted once)\n", name,
                    left);
        rc = SL_EXIT_OK;
        goto out;
    }
    if (!strcmp(verb, "list")) {
        json_t *a = http_db_users_json(db);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
            printf("%-24s %-9s %s%s\n", json_string_value(json_object_get(v, "name")),
                   json_string_value(json_object_get(v, "role")),
                   json_is_true(json_object_get(v, "totp_required")) ? "password+TOTP"
                                                                      : "password",
                   json_is_true(json_object_get(v, "locked")) ? "  LOCKED" : "");
        }
        json_decref(a);
        rc = SL_EXIT_OK;
        goto out;
    }
    if (!strcmp(verb, "remove")) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db, "DELETE FROM http_user WHERE name = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        if (ok && sqlite3_changes(db) == 1) {
            sqlite3_prepare_v2(db, "DELETE FROM http_session WHERE user = ?", -1, &st, NULL);
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_finalize(st);
            account_event(db, "account-remove", name, NULL);
            printf("removed %s (and its sessions)\n", name);
            rc = SL_EXIT_OK;
        } else {
            fprintf(stderr, "stateline gateway users remove: no account %s\n", name);
        }
        goto out;
    }
    struct http_user u;
    int exists = http_db_user(db, name, &u);
    if (!strcmp(verb, "add") && exists == 0) {
        fprintf(stderr, "stateline gateway users add: %s exists (remove it first, or "
                        "passwd)\n", name);
        goto out;
    }
    if (!strcmp(verb, "passwd") && exists != 0) {
        fprintf(stderr, "stateline gateway users passwd: no account %s\n", name);
        goto out;
    }
    char pw[256], ph[160];
    if (read_password(pw_stdin, pw, sizeof pw) != 0 || strlen(pw) < 12) {
        fprintf(stderr, "stateline gateway users: a password of at least 12 characters is "
                        "required (one line on stdin)\n");
        rc = SL_EXIT_USAGE;
        goto out;
    }
    sqlite3_stmt *st;
    if (!strcmp(verb, "passwd")) {
        if (sl_http_password_hash(pw, ph, sizeof ph) != 0) {
            fprintf(stderr, "stateline gateway users: scrypt failed\n");
            goto out;
        }
        sqlite3_prepare_v2(db, "UPDATE http_user SET pwhash = ?, failures = 0, "
                           "locked_until = 0 WHERE name = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, ph, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SL_EXIT_OK : SL_EXIT_FAIL;
        sqlite3_finalize(st);
        account_event(db, "password-change", name, http_role_name(u.role));
        printf("password of %s changed\n", name);
        goto out;
    }
    char secret[64], issuer[64], label[160], lab[80];
    if (user_insert(db, cfg, name, r, pw, secret, sizeof secret, err, sizeof err) != 0) {
        fprintf(stderr, "stateline gateway users add: %s\n", err);
        goto out;
    }
    snprintf(lab, sizeof lab, "stateline %s", cfg->state);
    pct(lab, issuer, sizeof issuer);
    snprintf(lab, sizeof lab, "stateline %s:%s", cfg->state, name);
    pct(lab, label, sizeof label);
    printf("added %s (%s%s)\n", name, http_role_name(r),
           http_role_needs_totp(r) ? ", password and TOTP code at every log-on" : "");
    printf("otpauth://totp/%s?secret=%s&issuer=%s&algorithm=SHA1&digits=6&period=30\n",
           label, secret, issuer);
    rc = SL_EXIT_OK;
out:
    sqlite3_close(db);
    free(cfg);
    return rc;
}
