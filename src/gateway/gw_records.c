/*
 * gw_records.c - look-ups for a permitted query, redaction on the records, and the reply
 * body (docs/gateway.md §3).
 *
 * Which look-up answers which query (fields as the hub delivered them):
 *   DQ, DQG   OLN/  -> one driver;  NAM/ DOB/ [SEX/] -> the drivers with that name, DOB, sex
 *   KQ        as DQ, each driver with its history
 *   DNQ       NAM/  -> a list (DNR)
 *   RQ, RQG   LIC/ [LIY/ LIT/] -> vehicles with that plate;  VIN/ -> by VIN
 *   RNQ       NAM/  -> vehicles of the owners with that name (RNR)
 *   RPQ       LIC/ with * and ? -> a list (RPR), only when the config opts in
 * Non-record answers: NOT ON FILE (with what was searched), FILE NOT AVAILABLE (the store
 * cannot be opened or is not a store), TEMPORARILY UNAVAILABLE (a look-up failed: busy,
 * I/O), QUERY NOT USABLE (a name or DOB that cannot be searched, with the reason).
 *
 * The policy's redactions are applied to each record (sl_store_*_redact) right after the
 * look-up and before any reply text is built.  This file includes store.h and never
 * policy.h (see gw_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gw_int.h"
#include "gw_text.h"
#include "stateline/audit.h"
#include "stateline/core.h"
#include "stateline/store.h"

struct gw_records {
    const struct sl_gw_config *cfg;
    struct sl_store *st;
    /* The store warm-up (store_warm) on a thread of its own, reading through its own
     * connection; it shares nothing with the look-ups but the OS page cache. */
    pthread_t warm_thread;
    int warm_running;      /* the thread was started and is not joined yet */
    atomic_int warm_stop;   /* set by gw_records_close: end the warm-up early */
    int64_t warm_logged_ns; /* progress lines at most every 2 s */
    int64_t retry_after_ms; /* do not try to reopen a missing store more often */
    int in_read;            /* a read transaction is open (until gw_records_idle) */
    struct sl_driver drivers[64];
    struct sl_vehicle vehicles[64];
    struct sl_history hist[64];
};

uint32_t gw_audit_classes(unsigned s)
{
    /* The audit log's classes are the policy's, bit for bit (a test in test_audit_entry
     * checks it); only bits it knows are passed on. */
    return s & SL_AUDIT_CLASS_ALL;
}

/* "identity, photo": what a loop of snprintf(out + l, len - l, "%s%s", l ? ", " : "",
 * name) wrote, truncated the same way, without printf (a fifth of a redacted reply's
 * text cost went here). */
void gw_class_names(unsigned bits, char *out, size_t len)
{
    size_t l = 0;
    out[0] = 0;
    for (int c = 0; c < SL_DC_COUNT && l < len; c++) {
        if (!(bits & SL_DC_BIT(c)))
            continue;
        const char *n = sl_policy_dc_name(c);
        const char *part[2] = {l ? ", " : "", n ? n : "?"};
        for (int k = 0; k < 2; k++) {
            size_t pl = strlen(part[k]);
            if (l < len) {
                size_t room = len - 1 - l, cp = pl < room ? pl : room;
                memcpy(out + l, part[k], cp);
                out[l + cp] = 0;
            }
            l += pl;
        }
    }
}

static void warm_progress(void *ctx, const char *what, int64_t done, int64_t total)
{
    struct gw_records *r = ctx;
    int64_t now = sl_now_ns();
    if (now - r->warm_logged_ns < 2000000000LL)
        return;
    r->warm_logged_ns = now;
    if (total > 0)
        SL_INFO("gateway", "records warm-up: %.0f%% of %.0f MB read", 100.0 * (double)done /
                (double)total, (double)total / 1e6);
    else
        SL_INFO("gateway", "records warm-up: %.0f MB of indexes read (now %s)",
                (double)done / 1e6, what);
}

static void *warm_main(void *arg)
{
    struct gw_records *r = arg;
    sl_thread_name("sl-store-warm");
    struct sl_store_warm_stats ws;
    char err[256] = "";
    r->warm_logged_ns = sl_now_ns();
    int rc = sl_store_warm_file(r->cfg->records, r->cfg->store_warm, &r->warm_stop,
                                warm_progress, r, &ws, err, sizeof err);
    if (rc < 0)
        SL_WARN("gateway", "records warm-up (%s) failed after %.1f s: %s (look-ups read "
                "from disk until the pages are in memory)", sl_store_warm_name(r->cfg->store_warm),
                ws.seconds, err);
    else
        SL_INFO("gateway", "records warm-up (%s%s) %s: %.1f MB, %d indexes in %.1f s",
                sl_store_warm_name(r->cfg->store_warm), ws.fallback ? ", no dbstat: all" : "",
                rc == 1 ? "stopped" : "done", (double)ws.bytes / 1e6, ws.n_btrees, ws.seconds);
    return NULL;
}

/* Start the warm-up (store_warm) once the store has opened: on a thread, or here and
 * now when store_warm_wait asks that the gateway dial its hub only once it is done. */
static void warm_start(struct gw_records *r, int wait)
{
    if (r->cfg->store_warm == SL_STORE_WARM_NO || r->warm_running)
        return;
    SL_INFO("gateway", "records warm-up (%s) of %s %s", sl_store_warm_name(r->cfg->store_warm),
            r->cfg->records, wait ? "before dialling the hub" : "in the background");
    if (wait) {
        warm_main(r);
        return;
    }
    /* The thread takes no signals: the event loop's signalfd reads them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&r->warm_thread, NULL, warm_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        SL_WARN("gateway", "records warm-up: no thread (%s); going on without it", strerror(rc));
        return;
    }
    r->warm_running = 1;
}

/* at_start: called from gw_records_open, before the hub is dialled (a warm-up may then
 * wait); later, from a query, it never blocks the loop. */
static int try_open(struct gw_records *r, int at_start)
{
    char err[256];
    if (r->st)
        return 0;
    int64_t now = sl_now_ms();
    if (now < r->retry_after_ms)
        return -1;
    struct sl_store_opts so;
    sl_store_opts_default(&so);
    so.mmap_bytes = r->cfg->store_mmap;
    so.cache_kib = (int64_t)r->cfg->store_cache_mib * 1024;
    r->st = sl_store_open_opts(r->cfg->records, 1, &so, err, sizeof err);
    if (!r->st) {
        r->retry_after_ms = now + 1000;
        SL_ERROR("gateway", "records store %s: %s (answering FILE NOT AVAILABLE)",
                 r->cfg->records, err);
        return -1;
    }
    if (strcmp(sl_store_state(r->st), r->cfg->state) != 0) {
        SL_ERROR("gateway", "records store %s holds state %s, not %s (answering FILE NOT "
                 "AVAILABLE)", r->cfg->records, sl_store_state(r->st), r->cfg->state);
        sl_store_close(r->st);
        r->st = NULL;
        r->retry_after_ms = now + 1000;
        return -1;
    }
    warm_start(r, at_start && r->cfg->store_warm_wait);
    return 0;
}

struct gw_records *gw_records_open(const struct sl_gw_config *cfg)
{
    struct gw_records *r = sl_xcalloc(1, sizeof *r);
    r->cfg = cfg;
    if (try_open(r, 1) == 0) {
        SL_INFO("gateway", "records %s: state %s, %lld drivers, %lld vehicles", cfg->records,
                sl_store_state(r->st), (long long)sl_store_count_drivers(r->st),
                (long long)sl_store_count_vehicles(r->st));
        SL_INFO("gateway", "records %s: %.1f MB, mmap %.1f MB (SQLite allows %.1f MB), page "
                "cache %d MiB", cfg->records, (double)sl_store_file_size(r->st) / 1e6,
                (double)sl_store_mmap_size(r->st) / 1e6, (double)sl_store_mmap_limit() / 1e6,
                cfg->store_cache_mib);
        if ((cfg->keys & SL_GW_KEY_RPQ) && !sl_store_has_partial_plate(r->st))
            SL_WARN("gateway", "answer has RPQ but %s has no partial-plate index: RPQ gets "
                    "a refusal (generate without --no-partial-plate-index)", cfg->records);
    }
    return r;
}

void gw_records_idle(struct gw_records *r)
{
    if (r && r->in_read) {
        sl_store_read_end(r->st);
        r->in_read = 0;
    }
}

void gw_records_close(struct gw_records *r)
{
    if (!r)
        return;
    if (r->warm_running) {
        atomic_store(&r->warm_stop, 1);
        pthread_join(r->warm_thread, NULL);
    }
    gw_records_idle(r);
    if (r->st)
        sl_store_close(r->st);
    free(r);
}

/* A field's value as a C string (values are not NUL-terminated in the message). */
static int fval(const struct sl_msg *m, const char *pfx, char *out, size_t len)
{
    const struct sl_field *f = sl_msg_field(m, pfx);
    if (!f) {
        out[0] = 0;
        return 0;
    }
    size_t n = f->len < len - 1 ? f->len : len - 1;
    memcpy(out, f->val, n);
    out[n] = 0;
    return 1;
}

static void searched(struct sl_buf *o, const struct sl_msg *m)
{
    static const char *const keys[] = {"OLN", "NAM", "DOB", "SEX", "LIC", "LIY", "LIT",
                                       "VIN", NULL};
    sl_buf_append_str(o, "SEARCHED:");
    for (int i = 0; keys[i]; i++) {
        const struct sl_field *f = sl_msg_field(m, keys[i]);
        if (f) { /* " %s/%.*s" */
            gw_cat_c(o, ' ');
            gw_cat(o, keys[i]);
            gw_cat_c(o, '/');
            gw_cat_prec(o, f->val, f->len);
        }
    }
    sl_buf_append_str(o, "\n");
}

/* The personal-data record of the release entry (docs/audit-format.md): written with
 * gw_text.h's appends, the bytes printf's "%sOLN=%s;NAM=%s,%s %s;DOB=%d" wrote. */
static void personal_driver(struct gw_release *rel, const struct sl_driver *d)
{
    struct sl_buf *b = &rel->personal;
    if (sl_buf_used(b))
        gw_cat_c(b, '|');
    gw_cat_n(b, "OLN=", 4);
    gw_cat(b, d->oln);
    gw_cat_n(b, ";NAM=", 5);
    gw_cat(b, d->last);
    gw_cat_c(b, ',');
    gw_cat(b, d->first);
    gw_cat_c(b, ' ');
    gw_cat(b, d->middle);
    gw_cat_n(b, ";DOB=", 5);
    gw_cat_i64(b, d->dob);
}

/* "%sLIC=%s;VIN=%s" and ";OWN=%s,%s;OLN=%s" per owner (up to two). */
static void personal_vehicle(struct gw_release *rel, const struct sl_vehicle *v)
{
    struct sl_buf *b = &rel->personal;
    if (sl_buf_used(b))
        gw_cat_c(b, '|');
    gw_cat_n(b, "LIC=", 4);
    gw_cat(b, v->plate);
    gw_cat_n(b, ";VIN=", 5);
    gw_cat(b, v->vin);
    for (int i = 0; i < v->n_owners && i < 2; i++) {
        gw_cat_n(b, ";OWN=", 5);
        gw_cat(b, v->owner[i].last);
        gw_cat_c(b, ',');
        gw_cat(b, v->owner[i].first);
        gw_cat_n(b, ";OLN=", 5);
        gw_cat(b, v->owner[i].oln);
    }
}

/* The driver look-up of DQ/DQG/KQ: 1.. found (count in *n), 0 none, -1 error, -2 unusable. */
static int find_drivers(struct gw_records *r, const struct sl_msg *m, int cap, int *total,
                        char *why, size_t whylen)
{
    char oln[32], nam[64], dob[16], sex[4];
    *total = 0;
    if (fval(m, "OLN", oln, sizeof oln)) {
        int rc = sl_store_driver_by_oln(r->st, oln, &r->drivers[0]);
        *total = rc == 1;
        return rc;
    }
    if (!fval(m, "NAM", nam, sizeof nam)) {
        snprintf(why, whylen, "NEEDS OLN/ OR NAM/ WITH DOB/");
        return -2;
    }
    fval(m, "DOB", dob, sizeof dob);
    fval(m, "SEX", sex, sizeof sex);
    struct sl_name nm;
    if (sl_store_name_parse(nam, &nm, why, whylen) != 0)
        return -2;
    int32_t dd[2];
    int nd;
    if (!dob[0] || sl_store_dob_parse(dob, dd, &nd) != 0) {
        snprintf(why, whylen, "DOB/%s IS NOT A COMPLETE DATE (MMDDYY OR CCYYMMDD)", dob);
        return -2;
    }
    char sx = sex[0] == 'M' || sex[0] == 'F' ? sex[0] : 0;
    return sl_store_driver_by_name_dob_sex(r->st, nam, dob, sx, r->drivers, cap, total);
}

static void key_unusable(struct sl_buf *o, const char *why, struct gw_release *rel)
{
    sl_buf_printf(o, "QUERY NOT USABLE: %s\n", why);
    rel->outcome = GW_OUT_UNUSABLE;
}

/* Append the "withheld" line, the marks and the image line. */
static void trailer(struct sl_buf *o, const struct sl_gw_config *cfg,
                    const struct gw_verdict *v, enum sl_gw_layout lay)
{
    if (v->withheld) {
        char names[200];
        gw_class_names(v->withheld, names, sizeof names);
        if (lay == SL_GW_LAYOUT_STANDARD)
            sl_buf_printf(o, "WITHHELD-CLASSES: %s\nWITHHELD-UNDER: %s POLICY %s\n", names,
                          cfg->state, v->withheld_by[0] ? v->withheld_by : "");
        else { /* "WITHHELD UNDER %s POLICY: %s\n" */
            gw_cat_n(o, "WITHHELD UNDER ", 15);
            gw_cat(o, cfg->state);
            gw_cat_n(o, " POLICY: ", 9);
            gw_cat(o, v->withheld_by[0] ? v->withheld_by : names);
            gw_cat_c(o, '\n');
        }
    }
    for (int i = 0; i < v->nmarks; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= strcmp(v->marks[i], v->marks[j]) == 0;
        if (!dup)
            sl_buf_printf(o, "%s%s\n", lay == SL_GW_LAYOUT_STANDARD ? "DISSEMINATION: "
                                                                   : "MARK: ", v->marks[i]);
    }
}

static void image_line(struct sl_buf *o, const struct sl_msg *m, const struct gw_verdict *v,
                       enum sl_gw_layout lay)
{
    const struct sl_field *f = sl_msg_field(m, "IMQ");
    if (!f || f->len < 1 || f->val[0] != 'Y')
        return;
    const char *t = (v->withheld & SL_DC_BIT(SL_DC_PHOTO))
                        ? "WITHHELD"
                        : "AVAILABLE IN XML ONLY: THIS LEGACY TEXT REPLY CARRIES NO IMAGE";
    sl_buf_printf(o, "%s: %s\n", lay == SL_GW_LAYOUT_STANDARD ? "IMAGE" : "IMAGE", t);
}

static void answer_drivers(struct gw_records *r, const struct sl_gw_config *cfg,
                           const struct sl_msg *m, const struct gw_verdict *v,
                           enum sl_gw_layout lay, struct sl_buf *o, struct gw_release *rel,
                           int with_history)
{
    char why[200] = "";
    int total = 0, cap = cfg->list_cap < 64 ? cfg->list_cap : 64;
    int rc = find_drivers(r, m, cap, &total, why, sizeof why);
    if (rc == -2) {
        key_unusable(o, why, rel);
        return;
    }
    if (rc < 0) {
        rel->outcome = GW_OUT_UNAVAILABLE;
        return;
    }
    if (rc == 0) {
        sl_buf_append_str(o, "NOT ON FILE\n");
        searched(o, m);
        rel->outcome = GW_OUT_NOT_ON_FILE;
        return;
    }
    if (total > 1)
        sl_buf_printf(o, "%d RECORDS MATCH%s\n", total,
                      total > rc ? " (FIRST ONES LISTED)" : "");
    unsigned carried = SL_DC_BIT(SL_DC_IDENTITY) | SL_DC_BIT(SL_DC_DOB) | SL_DC_BIT(SL_DC_ADDRESS) | SL_DC_BIT(SL_DC_DESCRIPTION) |
                       SL_DC_BIT(SL_DC_LICENSE) | SL_DC_BIT(SL_DC_SSN);
    for (int i = 0; i < rc; i++) {
        struct sl_driver *d = &r->drivers[i];
        personal_driver(rel, d);
        int64_t id = d->id;
        sl_store_driver_redact(d, v->withheld);
        if (i)
            sl_buf_append_str(o, lay == SL_GW_LAYOUT_STANDARD ? "\n" : "----\n");
        sl_gw_format_driver(o, lay, cfg->state, cfg->state_name, d, v->withheld);
        if (with_history) {
            int htotal = 0;
            int hn = sl_store_history(r->st, id, r->hist, 64, &htotal);
            if (hn < 0) {
                rel->outcome = GW_OUT_UNAVAILABLE;
                return;
            }
            sl_store_history_redact(r->hist, hn, v->withheld);
            sl_gw_format_history(o, lay, r->hist, hn, htotal, v->withheld);
            carried |= SL_DC_BIT(SL_DC_HISTORY);
        }
    }
    image_line(o, m, v, lay);
    rel->nrecords = rc;
    rel->released = carried & ~v->withheld;
    rel->withheld = v->withheld & (carried | (sl_msg_field(m, "IMQ") ? SL_DC_BIT(SL_DC_PHOTO) : 0u));
    rel->outcome = GW_OUT_FOUND;
}

static void answer_driver_list(struct gw_records *r, const struct sl_gw_config *cfg,
                               const struct sl_msg *m, const struct gw_verdict *v,
                               enum sl_gw_layout lay, struct sl_buf *o, struct gw_release *rel)
{
    char nam[64], why[200];
    struct sl_name nm;
    fval(m, "NAM", nam, sizeof nam);
    if (sl_store_name_parse(nam, &nm, why, sizeof why) != 0) {
        key_unusable(o, why, rel);
        return;
    }
    int total = 0, cap = cfg->list_cap < 64 ? cfg->list_cap : 64;
    int rc = sl_store_driver_by_name(r->st, nam, r->drivers, cap, &total);
    if (rc == -2) {
        key_unusable(o, "NAME CANNOT BE SEARCHED", rel);
        return;
    }
    if (rc < 0) {
        rel->outcome = GW_OUT_UNAVAILABLE;
        return;
    }
    if (rc == 0) {
        sl_buf_append_str(o, "NOT ON FILE\n");
        searched(o, m);
        rel->outcome = GW_OUT_NOT_ON_FILE;
        return;
    }
    if (lay == SL_GW_LAYOUT_STANDARD)
        sl_buf_printf(o, "RESPONSE: DRIVER LIST\nJURISDICTION: %s\nRECORD-COUNT: %d\n"
                      "LISTED: %d\n", cfg->state, total, rc);
    else
        sl_buf_printf(o, "%s DRIVERS NAMED %s: %d ON FILE%s\n", cfg->state_name, nam, total,
                      total > rc ? ", FIRST ONES LISTED" : "");
    for (int i = 0; i < rc; i++) {
        personal_driver(rel, &r->drivers[i]);
        sl_store_driver_redact(&r->drivers[i], v->withheld);
        sl_gw_format_driver_item(o, lay, i + 1, &r->drivers[i], v->withheld);
    }
    unsigned carried = SL_DC_BIT(SL_DC_IDENTITY) | SL_DC_BIT(SL_DC_DOB) | SL_DC_BIT(SL_DC_LICENSE);
    rel->nrecords = rc;
    rel->released = carried & ~v->withheld;
    rel->withheld = carried & v->withheld;
    rel->outcome = GW_OUT_FOUND;
}

static void answer_vehicles(struct gw_records *r, const struct sl_gw_config *cfg,
                            const struct sl_msg *m, const struct gw_verdict *v,
                            enum sl_gw_layout lay, struct sl_buf *o, struct gw_release *rel,
                            const char *key)
{
    char a[64], b[16], c[8], why[200] = "";
    int total = 0, cap = cfg->list_cap < 64 ? cfg->list_cap : 64, rc, list = 0;
    if (!strcmp(key, "RNQ")) {
        struct sl_name nm;
        fval(m, "NAM", a, sizeof a);
        if (sl_store_name_parse(a, &nm, why, sizeof why) != 0) {
            key_unusable(o, why, rel);
            return;
        }
        rc = sl_store_vehicle_by_owner(r->st, a, r->vehicles, cap, &total);
        list = 1;
    } else if (!strcmp(key, "RPQ")) {
        if (!sl_store_has_partial_plate(r->st)) {
            sl_buf_printf(o, "%s DOES NOT ANSWER RPQ NOW: ITS RECORDS HAVE NO PARTIAL-PLATE "
                          "INDEX\n", cfg->state);
            rel->outcome = GW_OUT_NOT_ANSWERED;
            return;
        }
        fval(m, "LIC", a, sizeof a);
        rc = sl_store_vehicle_by_partial_plate(r->st, a, r->vehicles, cap, &total, why,
                                               sizeof why);
        list = 1;
    } else if (fval(m, "VIN", a, sizeof a)) {
        rc = sl_store_vehicle_by_vin(r->st, a, r->vehicles, cap, &total, NULL);
    } else if (fval(m, "LIC", a, sizeof a)) {
        fval(m, "LIY", b, sizeof b);
        fval(m, "LIT", c, sizeof c);
        int year = atoi(b);
        if (year > 0 && year < 100)
            year += 2000;
        rc = sl_store_vehicle_by_plate(r->st, a, year, c, r->vehicles, cap, &total);
    } else {
        key_unusable(o, "NEEDS LIC/ LIY/ LIT/ OR VIN/", rel);
        return;
    }
    if (rc == -2) {
        key_unusable(o, why[0] ? why : "THE VALUE CANNOT BE SEARCHED", rel);
        return;
    }
    if (rc < 0) {
        rel->outcome = GW_OUT_UNAVAILABLE;
        return;
    }
    if (rc == 0) {
        sl_buf_append_str(o, "NOT ON FILE\n");
        searched(o, m);
        rel->outcome = GW_OUT_NOT_ON_FILE;
        return;
    }
    if (list) {
        if (lay == SL_GW_LAYOUT_STANDARD)
            sl_buf_printf(o, "RESPONSE: REGISTRATION LIST\nJURISDICTION: %s\nRECORD-COUNT: %d\n"
                          "LISTED: %d\n", cfg->state, total, rc);
        else
            sl_buf_printf(o, "%s REGISTRATIONS: %d ON FILE%s\n", cfg->state_name, total,
                          total > rc ? ", FIRST ONES LISTED" : "");
    } else if (total > 1) {
        sl_buf_printf(o, "%d RECORDS MATCH%s\n", total, total > rc ? " (FIRST ONES LISTED)" : "");
    }
    for (int i = 0; i < rc; i++) {
        struct sl_vehicle *veh = &r->vehicles[i];
        personal_vehicle(rel, veh);
        sl_store_vehicle_redact(veh, v->withheld);
        if (list) {
            sl_gw_format_vehicle_item(o, lay, i + 1, veh, v->withheld);
            continue;
        }
        if (i)
            sl_buf_append_str(o, lay == SL_GW_LAYOUT_STANDARD ? "\n" : "----\n");
        sl_gw_format_vehicle(o, lay, cfg->state, cfg->state_name, veh, v->withheld);
        if (!strcmp(key, "RQ") || !strcmp(key, "RQG")) {
            /* The plate is on file but not with the year or type asked: say which differs
             * (the record shows the values on file). */
            int year_off = sl_msg_field(m, "LIY") && !(veh->match & SL_MATCH_YEAR);
            int type_off = sl_msg_field(m, "LIT") && !(veh->match & SL_MATCH_TYPE);
            if (year_off || type_off)
                sl_buf_printf(o, "NOTE: PLATE ON FILE, BUT %s FROM THE QUERY\n",
                              year_off && type_off ? "LIY AND LIT DIFFER"
                              : year_off           ? "LIY DIFFERS"
                                                   : "LIT DIFFERS");
        }
    }
    unsigned carried = SL_DC_BIT(SL_DC_VEHICLE) | SL_DC_BIT(SL_DC_OWNER) | (list ? 0u : SL_DC_BIT(SL_DC_OWNER_ADDRESS));
    rel->nrecords = rc;
    rel->released = carried & ~v->withheld;
    rel->withheld = carried & v->withheld;
    rel->outcome = GW_OUT_FOUND;
}

void gw_records_answer(struct gw_records *r, const struct sl_gw_config *cfg,
                       const struct sl_msg *m, const struct gw_verdict *v,
                       enum sl_gw_layout lay, struct sl_buf *o, struct gw_release *rel)
{
    const char *key = m->key;
    size_t start = sl_buf_used(o);
    rel->outcome = GW_OUT_UNAVAILABLE;
    if (!strcmp(key, "RPQ") && !(cfg->keys & SL_GW_KEY_RPQ)) {
        sl_buf_printf(o, "%s DOES NOT ANSWER PARTIAL PLATE QUERIES (RPQ) ON THIS SYSTEM\n",
                      cfg->state);
        rel->outcome = GW_OUT_NOT_ANSWERED;
        return;
    }
    if (try_open(r, 0) != 0) {
        sl_buf_append_str(o, "FILE NOT AVAILABLE\n");
        rel->outcome = GW_OUT_NOT_AVAILABLE;
        return;
    }
    /* The look-ups of one loop pass share one read transaction (gw_records_idle ends
     * it before the loop sleeps). */
    if (!r->in_read && sl_store_read_begin(r->st) == 0)
        r->in_read = 1;
    if (!strcmp(key, "DQ") || !strcmp(key, "DQG"))
        answer_drivers(r, cfg, m, v, lay, o, rel, 0);
    else if (!strcmp(key, "KQ"))
        answer_drivers(r, cfg, m, v, lay, o, rel, 1);
    else if (!strcmp(key, "DNQ"))
        answer_driver_list(r, cfg, m, v, lay, o, rel);
    else if (!strcmp(key, "RQ") || !strcmp(key, "RQG") || !strcmp(key, "RNQ") ||
             !strcmp(key, "RPQ"))
        answer_vehicles(r, cfg, m, v, lay, o, rel, key);
    else {
        sl_buf_printf(o, "%s DOES NOT ANSWER %s\n", cfg->state, key);
        rel->outcome = GW_OUT_NOT_ANSWERED;
        return;
    }
    if (rel->outcome == GW_OUT_UNAVAILABLE) {
        /* Whatever was written for this query goes: a half answer is no answer.  The
         * handle is reopened on the next query, in case the file was replaced. */
        o->len = o->off + start;
        sl_buf_reset(&rel->personal);
        sl_buf_append_str(o, "TEMPORARILY UNAVAILABLE\n");
        sl_store_close(r->st);
        r->st = NULL;
        r->in_read = 0;
        rel->released = rel->withheld = 0;
        return;
    }
    if (rel->outcome == GW_OUT_FOUND)
        trailer(o, cfg, v, lay);
}
