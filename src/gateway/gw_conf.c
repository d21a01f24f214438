/*
 * gw_conf.c - the gateway's configuration file (INI, inih), docs/gateway.md §1.
 *
 *   [gateway]
 *   state = WA                 two letters: the member line this gateway answers for
 *   ori = WAOLN0000            the ORI replies come from (in the directory, member WA)
 *   hub = 127.0.0.1:5151
 *   tls = yes                  | no: plain TCP on loopback with the line's token
 *   cert = certs/WA-answer.crt key = certs/WA-answer.key ca = certs/ca.crt
 *   tokens = certs/tokens      plain lines only
 *   records = wa.db            `stateline gen population`
 *   policy = wa.policy         or nothing and: default = permit | forbid
 *   outage = deny-external     | deny-all: when no policy is in force
 *   audit = audit              audit log folder;  audit_key = audit.key
 *   data = data                gateway.db: inbox and review queue
 *   answer = DQ DNQ KQ RQ RNQ  (+ RPQ to opt in; DQG/RQG follow DQ/RQ)
 *   layout = text              | standard
 *   standard_for = CA NYSP00000   requesters (members or ORIs) given the standard layout
 *   name = WASHINGTON          the state's name in reply titles (default from the code)
 *   policy_poll_ms = 250, reconnect_max_ms = 5000, list_cap = 20
 *   store_mmap = auto          | a size (2G, 512M, 0): the store's mmap window
 *   store_cache = 64           MiB of SQLite page cache for the store
 *   store_warm = indexes       | all | no: read the store into the OS page cache at start
 *   store_warm_wait = no       | yes: warm before dialling the hub (else in the background)
 *   http_listen = 127.0.0.1:8443   the oversight desk (src/http); http_tls = yes | no
 *   http_cert, http_key        the desk's server certificate;  http_session_minutes = 30
 *   audit_pub = audit.pub      the log's verifier key (default: audit_key with .pub)
 *   review_poll_ms = 200       how often gateway.db is looked at for review decisions
 *   two_person = all | RULE... holds whose approval needs two different reviewers
 *   reviewer_links = alice=WASP00000 bob=WAKCS0000   a reviewer's own ORIs (no self-approval)
 *   holidays = 2026-11-26 2026-12-25   not business days (notice due dates)
 *   retention_days = 365       done reviews and sent notices are deleted after (0 = kept)
 *
 * Relative paths are relative to the folder of the file.
 */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_int.h"
#include "stateline/core.h"
#include "stateline/dir.h"
#include "stateline/store.h"

struct conf_ctx {
    struct sl_gw_config *cfg;
    char dir[SL_GW_PATH_MAX];
    int has_default;
    char err[600];
    int bad;
};

static const struct {
    const char *code, *name;
} state_names[] = {
    {"AL", "ALABAMA"}, {"AK", "ALASKA"}, {"AZ", "ARIZONA"}, {"AR", "ARKANSAS"},
    {"CA", "CALIFORNIA"}, {"CO", "COLORADO"}, {"CT", "CONNECTICUT"}, {"DE", "DELAWARE"},
    {"DC", "DISTRICT OF COLUMBIA"}, {"FL", "FLORIDA"}, {"GA", "GEORGIA"}, {"HI", "HAWAII"},
    {"ID", "IDAHO"}, {"IL", "ILLINOIS"}, {"IN", "INDIANA"}, {"IA", "IOWA"}, {"KS", "KANSAS"},
    {"KY", "KENTUCKY"}, {"LA", "LOUISIANA"}, {"ME", "MAINE"}, {"MD", "MARYLAND"},
    {"MA", "MASSACHUSETTS"}, {"MI", "MICHIGAN"}, {"MN", "MINNESOTA"}, {"MS", "MISSISSIPPI"},
    {"MO", "MISSOURI"}, {"MT", "MONTANA"}, {"NE", "NEBRASKA"}, {"NV", "NEVADA"},
    {"NH", "NEW HAMPSHIRE"}, {"NJ", "NEW JERSEY"}, {"NM", "NEW MEXICO"}, {"NY", "NEW YORK"},
    {"NC", "NORTH CAROLINA"}, {"ND", "NORTH DAKOTA"}, {"OH", "OHIO"}, {"OK", "OKLAHOMA"},
    {"OR", "OREGON"}, {"PA", "PENNSYLVANIA"}, {"RI", "RHODE ISLAND"},
    {"SC", "SOUTH CAROLINA"}, {"SD", "SOUTH DAKOTA"}, {"TN", "TENNESSEE"}, {"TX", "TEXAS"},
    {"UT", "UTAH"}, {"VT", "VERMONT"}, {"VA", "VIRGINIA"}, {"WA", "WASHINGTON"},
    {"WV", "WEST VIRGINIA"}, {"WI", "WISCONSIN"}, {"WY", "WYOMING"}, {"PR", "PUERTO RICO"},
    {"GU", "GUAM"}, {"VI", "VIRGIN ISLANDS"},
};

static void set_path(struct conf_ctx *x, char *dst, const char *v)
{
    sl_conf_path(dst, SL_GW_PATH_MAX, x->dir, v);
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_keys(const char *v, unsigned *out, char *why, size_t len)
{
    char buf[256];
    sl_strlcpy(buf, v, sizeof buf);
    unsigned k = 0;
    for (char *save = NULL, *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        if (!strcasecmp(t, "DQ") || !strcasecmp(t, "DQG"))
            k |= SL_GW_KEY_DQ;
        else if (!strcasecmp(t, "DNQ"))
            k |= SL_GW_KEY_DNQ;
        else if (!strcasecmp(t, "KQ"))
            k |= SL_GW_KEY_KQ;
        else if (!strcasecmp(t, "RQ") || !strcasecmp(t, "RQG"))
            k |= SL_GW_KEY_RQ;
        else if (!strcasecmp(t, "RNQ"))
            k |= SL_GW_KEY_RNQ;
        else if (!strcasecmp(t, "RPQ"))
            k |= SL_GW_KEY_RPQ;
        else {
            snprintf(why, len, "unknown key '%s' (DQ DNQ KQ RQ RNQ RPQ)", t);
            return -1;
        }
    }
    *out = k;
    return 0;
}

/* "alice=WASP00000 bob=WAKCS0000": name=ORI pairs, a name may appear more than once. */
static void parse_links(const char *value, struct sl_gw_config *c, char *why, size_t len)
{
    if (strlen(value) >= sizeof c->reviewer_links) {
        snprintf(why, len, "too long (at most %zu characters)", sizeof c->reviewer_links - 1);
        return;
    }
    char buf[sizeof c->reviewer_links];
    sl_strlcpy(buf, value, sizeof buf);
    for (char *save = NULL, *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        char *eq = strchr(t, '=');
        if (!eq || eq == t || strlen(eq + 1) != 9) {
            snprintf(why, len, "'%.40s' is not reviewer=ORI (a 9-character ORI)", t);
            return;
        }
    }
    sl_strlcpy(c->reviewer_links, value, sizeof c->reviewer_links);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* "2026-11-26 2026-12-25": dates, any order. */
static void parse_holidays(const char *value, struct sl_gw_config *c, char *why, size_t len)
{
    char buf[4096];
    if (strlen(value) >= sizeof buf) {
        snprintf(why, len, "too long");
        return;
    }
    sl_strlcpy(buf, value, sizeof buf);
    c->nholidays = 0;
    for (char *save = NULL, *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        int y, m, d, n = 0;
        if (sscanf(t, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || t[n] || strlen(t) != 10 ||
            y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) {
            snprintf(why, len, "'%.20s' is not a date YYYY-MM-DD", t);
            return;
        }
        if (c->nholidays == (int)(sizeof c->holidays / sizeof c->holidays[0])) {
            snprintf(why, len, "more than %zu holidays",
                     sizeof c->holidays / sizeof c->holidays[0]);
            return;
        }
        c->holidays[c->nholidays++] = y * 10000 + m * 100 + d;
    }
    qsort(c->holidays, (size_t)c->nholidays, sizeof c->holidays[0], cmp_i32);
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct conf_ctx *x = user;
    struct sl_gw_config *c = x->cfg;
    char why[200] = "";
    if (x->bad)
        return 0;
    if (strcasecmp(section, "gateway") != 0) {
        snprintf(why, sizeof why, "unknown section (only [gateway])");
    } else if (!strcmp(name, "state")) {
        if (strlen(value) != 2 || value[0] < 'A' || value[0] > 'Z' || value[1] < 'A' ||
            value[1] > 'Z')
            snprintf(why, sizeof why, "two upper-case letters, e.g. WA");
        else
            sl_strlcpy(c->state, value, sizeof c->state);
    } else if (!strcmp(name, "name")) {
        sl_strlcpy(c->state_name, value, sizeof c->state_name);
    } else if (!strcmp(name, "ori")) {
        if (!sl_ori_valid(value))
            snprintf(why, sizeof why, "9 upper-case letters and digits, e.g. WAOLN0000");
        else
            sl_strlcpy(c->ori, value, sizeof c->ori);
    } else if (!strcmp(name, "hub")) {
        sl_strlcpy(c->hub, value, sizeof c->hub);
    } else if (!strcmp(name, "tls")) {
        if (sl_conf_yesno(value, &c->tls))
            snprintf(why, sizeof why, "yes or no");
    } else if (!strcmp(name, "cert")) {
        set_path(x, c->cert, value);
    } else if (!strcmp(name, "key")) {
        set_path(x, c->key, value);
    } else if (!strcmp(name, "ca")) {
        set_path(x, c->ca, value);
    } else if (!strcmp(name, "tokens")) {
        set_path(x, c->tokens, value);
    } else if (!strcmp(name, "records")) {
        set_path(x, c->records, value);
    } else if (!strcmp(name, "policy")) {
        if (value[0])
            set_path(x, c->policy, value);
    } else if (!strcmp(name, "default")) {
        x->has_default = 1;
        if (!strcasecmp(value, "permit"))
            c->default_effect = GW_PERMIT;
        else if (!strcasecmp(value, "forbid"))
            c->default_effect = GW_FORBID;
        else
            snprintf(why, sizeof why, "permit or forbid");
    } else if (!strcmp(name, "outage")) {
        if (!strcasecmp(value, "deny-external"))
            c->outage = SL_GW_OUTAGE_DENY_EXTERNAL;
        else if (!strcasecmp(value, "deny-all"))
            c->outage = SL_GW_OUTAGE_DENY_ALL;
        else
            snprintf(why, sizeof why, "deny-external or deny-all");
    } else if (!strcmp(name, "audit")) {
        set_path(x, c->audit_dir, value);
    } else if (!strcmp(name, "audit_key")) {
        set_path(x, c->audit_key, value);
    } else if (!strcmp(name, "data")) {
        set_path(x, c->data_dir, value);
    } else if (!strcmp(name, "answer")) {
        parse_keys(value, &c->keys, why, sizeof why);
    } else if (!strcmp(name, "layout")) {
        if (!strcasecmp(value, "text"))
            c->layout = SL_GW_LAYOUT_TEXT;
        else if (!strcasecmp(value, "standard"))
            c->layout = SL_GW_LAYOUT_STANDARD;
        else
            snprintf(why, sizeof why, "text or standard");
    } else if (!strcmp(name, "standard_for")) {
        sl_strlcpy(c->standard_for, value, sizeof c->standard_for);
    } else if (!strcmp(name, "policy_poll_ms")) {
        if (parse_int(value, 10, 60000, &c->policy_poll_ms))
            snprintf(why, sizeof why, "milliseconds, 10 to 60000");
    } else if (!strcmp(name, "reconnect_max_ms")) {
        if (parse_int(value, 100, 600000, &c->reconnect_max_ms))
            snprintf(why, sizeof why, "milliseconds, 100 to 600000");
    } else if (!strcmp(name, "list_cap")) {
        if (parse_int(value, 1, 64, &c->list_cap))
            snprintf(why, sizeof why, "records in a list answer, 1 to 64");
    } else if (!strcmp(name, "store_mmap")) {
        if (!strcasecmp(value, "auto"))
            c->store_mmap = SL_STORE_MMAP_AUTO;
        else if (sl_store_size_parse(value, &c->store_mmap))
            snprintf(why, sizeof why, "auto, or a size such as 2G, 512M or 0 (no mmap)");
    } else if (!strcmp(name, "store_cache")) {
        if (parse_int(value, 1, 1048576, &c->store_cache_mib))
            snprintf(why, sizeof why, "MiB of page cache, 1 to 1048576");
    } else if (!strcmp(name, "store_warm")) {
        int w = sl_store_warm_parse(value);
        if (w < 0)
            snprintf(why, sizeof why, "indexes, all or no");
        else
            c->store_warm = w;
    } else if (!strcmp(name, "store_warm_wait")) {
        if (sl_conf_yesno(value, &c->store_warm_wait))
            snprintf(why, sizeof why, "yes or no");
    } else if (!strcmp(name, "http_listen")) {
        sl_strlcpy(c->http_listen, value, sizeof c->http_listen);
    } else if (!strcmp(name, "http_tls")) {
        if (sl_conf_yesno(value, &c->http_tls))
            snprintf(why, sizeof why, "yes or no");
    } else if (!strcmp(name, "http_cert")) {
        set_path(x, c->http_cert, value);
    } else if (!strcmp(name, "http_key")) {
        set_path(x, c->http_key, value);
    } else if (!strcmp(name, "http_session_minutes")) {
        int m = 0;
        if (parse_int(value, 1, 1440, &m))
            snprintf(why, sizeof why, "minutes, 1 to 1440");
        c->http_session_s = m * 60;
    } else if (!strcmp(name, "audit_pub")) {
        set_path(x, c->audit_pub, value);
    } else if (!strcmp(name, "retention_days")) {
        if (parse_int(value, 0, 36500, &c->retention_days))
            snprintf(why, sizeof why, "days, 0 (keep) to 36500");
    } else if (!strcmp(name, "review_poll_ms")) {
        if (parse_int(value, 10, 60000, &c->review_poll_ms))
            snprintf(why, sizeof why, "milliseconds, 10 to 60000");
    } else if (!strcmp(name, "two_person")) {
        if (strlen(value) >= sizeof c->two_person)
            snprintf(why, sizeof why, "too long (at most %zu characters)",
                     sizeof c->two_person - 1);
        else
            sl_strlcpy(c->two_person, value, sizeof c->two_person);
    } else if (!strcmp(name, "reviewer_links")) {
        parse_links(value, c, why, sizeof why);
    } else if (!strcmp(name, "holidays")) {
        parse_holidays(value, c, why, sizeof why);
    } else {
        snprintf(why, sizeof why, "unknown key");
    }
    if (why[0]) {
        snprintf(x->err, sizeof x->err, "[%s] %s = %s: %s", section, name, value, why);
        x->bad = 1;
        return 0;
    }
    return 1;
}

/* Shared by load and parse: defaults, then the INI text (file f, or text). */
static int parse_common(const char *path, FILE *f, const char *text, struct sl_gw_config *cfg,
                        struct conf_ctx *x, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    memset(x, 0, sizeof *x);
    x->cfg = cfg;
    sl_strlcpy(cfg->path, path, sizeof cfg->path);
    const char *slash = strrchr(path, '/');
    if (slash == path)
        sl_strlcpy(x->dir, "/", sizeof x->dir);
    else if (slash)
        snprintf(x->dir, sizeof x->dir, "%.*s", (int)(slash - path), path);
    cfg->tls = 1;
    cfg->keys = SL_GW_KEYS_DEFAULT;
    cfg->policy_poll_ms = 250;
    cfg->http_tls = 1;
    cfg->http_session_s = 1800;
    cfg->reconnect_min_ms = 100;
    cfg->reconnect_max_ms = 5000;
    cfg->list_cap = SL_STORE_LIST_CAP;
    cfg->store_mmap = SL_STORE_MMAP_AUTO;
    cfg->store_cache_mib = SL_STORE_CACHE_DEFAULT_KIB / 1024;
    cfg->store_warm = SL_STORE_WARM_INDEXES;
    cfg->review_poll_ms = 200;
    cfg->retention_days = 365;
    cfg->default_effect = -1;
    int rc = f ? ini_parse_file(f, on_value, x) : ini_parse_string(text, on_value, x);
    if (x->bad) {
        snprintf(err, errlen, "%s: %s", path, x->err);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: line %d: not INI syntax", path, rc);
        return -1;
    }
    return 0;
}

static int check_config(const char *path, struct sl_gw_config *cfg, struct conf_ctx *x,
                        char *err, size_t errlen);

int sl_gw_config_load(const char *path, struct sl_gw_config *cfg, char *err, size_t errlen)
{
    struct conf_ctx x;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = parse_common(path, f, NULL, cfg, &x, err, errlen);
    fclose(f);
    return rc ? rc : check_config(path, cfg, &x, err, errlen);
}

int sl_gw_config_parse(const char *text, size_t len, const char *path,
                       struct sl_gw_config *cfg, char *err, size_t errlen)
{
    struct conf_ctx x;
    char *copy = sl_xstrndup(text, len);
    int rc = parse_common(path, NULL, copy, cfg, &x, err, errlen);
    free(copy);
    return rc ? rc : check_config(path, cfg, &x, err, errlen);
}

static int check_config(const char *path, struct sl_gw_config *cfg, struct conf_ctx *xp,
                        char *err, size_t errlen)
{
    struct conf_ctx x = *xp;
#define NEED(cond, ...)                                                                  \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            int n_ = snprintf(err, errlen, "%s: ", path);                                \
            if (n_ > 0 && (size_t)n_ < errlen)                                           \
                snprintf(err + n_, errlen - (size_t)n_, __VA_ARGS__);                    \
            return -1;                                                                   \
        }                                                                                \
    } while (0)
    NEED(cfg->state[0], "[gateway] state is missing (the member code, e.g. WA)");
    NEED(cfg->ori[0], "[gateway] ori is missing (the ORI replies come from, e.g. %sOLN0000)",
         cfg->state);
    NEED(strncmp(cfg->ori, cfg->state, 2) == 0,
         "[gateway] ori = %s does not belong to state %s (a member sends only its own ORIs)",
         cfg->ori, cfg->state);
    NEED(cfg->hub[0], "[gateway] hub is missing (host:port of the switch)");
    if (cfg->tls)
        NEED(cfg->cert[0] && cfg->key[0] && cfg->ca[0],
             "tls = yes needs cert, key and ca (`stateline gen certs`: certs/%s-answer.crt)",
             cfg->state);
    else
        NEED(cfg->tokens[0], "tls = no needs tokens (the file with the line's token)");
    NEED(cfg->records[0], "[gateway] records is missing (`stateline gen population`)");
    NEED(cfg->policy[0] || x.has_default,
         "neither policy (a policy file) nor default = permit|forbid is set: say which "
         "decides");
    NEED(!(cfg->policy[0] && x.has_default),
         "both policy and default are set: the policy file has its own default");
    NEED(cfg->audit_dir[0], "[gateway] audit is missing (the audit log folder)");
    NEED(cfg->audit_key[0], "[gateway] audit_key is missing (`stateline audit keygen`)");
    if (!cfg->data_dir[0]) {
        if (x.dir[0])
            snprintf(cfg->data_dir, sizeof cfg->data_dir, "%.*s/data",
                     (int)(sizeof cfg->data_dir / 2), x.dir);
        else
            sl_strlcpy(cfg->data_dir, "data", sizeof cfg->data_dir);
    }
    if (cfg->http_listen[0] && cfg->http_tls)
        NEED(cfg->http_cert[0] && cfg->http_key[0],
             "http_listen with http_tls = yes needs http_cert and http_key: a server "
             "certificate (serverAuth) for the desk's host name, PEM (the answering line's "
             "certificate is for client use only)");
    if (!cfg->audit_pub[0]) {
        size_t n = strlen(cfg->audit_key);
        if (n > 4 && !strcmp(cfg->audit_key + n - 4, ".key"))
            snprintf(cfg->audit_pub, sizeof cfg->audit_pub, "%.*s.pub", (int)(n - 4),
                     cfg->audit_key);
        else
            snprintf(cfg->audit_pub, sizeof cfg->audit_pub, "%.*s.pub",
                     (int)(sizeof cfg->audit_pub - 5), cfg->audit_key);
    }
    if (!cfg->state_name[0]) {
        sl_strlcpy(cfg->state_name, cfg->state, sizeof cfg->state_name);
        for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
            if (!strcmp(state_names[i].code, cfg->state))
                sl_strlcpy(cfg->state_name, state_names[i].name, sizeof cfg->state_name);
    }
#undef NEED
    return 0;
}

enum sl_gw_layout sl_gw_layout_for(const struct sl_gw_config *cfg, const char *ori,
                                   const char *member)
{
    char buf[sizeof cfg->standard_for];
    sl_strlcpy(buf, cfg->standard_for, sizeof buf);
    for (char *save = NULL, *t = strtok_r(buf, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        if ((ori && !strcmp(t, ori)) || (member && member[0] && !strcmp(t, member)))
            return SL_GW_LAYOUT_STANDARD;
    }
    return cfg->layout;
}
