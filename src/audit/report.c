/*
 * report.c - the transparency report computed from the audit log (A-4, P-23).
 *
 * Unit of counting, so that every figure is a plain sum of log entries:
 *   - entries: every entry whose time falls in [from, to) (UTC), by event type;
 *   - queries: entries of type "query" (one per query received), by parent agency, ORION
 *     type, requester state, message key, reason code and purpose code;
 *   - outcomes: entries whose outcome is released, denied, held, redacted, noticed or
 *     timed-out (the gateway writes one such entry each time a query reaches one of
 *     these: a denial, a hold, a release, a review's result, a notice sent), overall and by
 *     the same dimensions;
 *   - data classes released / withheld: per class, over entries with those fields;
 *   - a monthly series of entries, queries and each outcome.
 * A switch's log (docs/audit-format.md §11) has no query entries, so none of the figures
 * above moves; its own tables count its hub-route entries (one per message it read; the
 * "continued" parts of a message with more than 32 legs are not counted): by outcome
 * (routed, rejected, queued, not queued), by the sending member, by key, by ER number,
 * and the frames it wrote, by receiving member (legs and hub-deliver entries).
 * Nothing personal is read: the report uses only the entries' coded fields.
 *
 * The result is a jansson object (format in docs/audit-format.md §9); the CLI prints it
 * as JSON, CSV or text.
 */
#include <stdio.h>
#include <string.h>
#include <stdarg.h>

#include <jansson.h>

#include "stateline/audit.h"
#include "stateline/core.h"
#include "audit/internal.h"

static const int report_outcomes[] = {SL_AUDIT_OUT_RELEASED, SL_AUDIT_OUT_DENIED,
                                      SL_AUDIT_OUT_HELD,     SL_AUDIT_OUT_REDACTED,
                                      SL_AUDIT_OUT_NOTICED,  SL_AUDIT_OUT_TIMED_OUT};
static const int hub_outcomes[] = {SL_AUDIT_OUT_ROUTED, SL_AUDIT_OUT_REJECTED,
                                   SL_AUDIT_OUT_QUEUED, SL_AUDIT_OUT_NOT_QUEUED};

struct dim {
    const char *name;
    size_t off; /* struct sl_audit_str in the entry */
};
static const struct dim dims[] = {
    {"by_parent_agency", offsetof(struct sl_audit_entry, parent)},
    {"by_agency_type", offsetof(struct sl_audit_entry, agency_type)},
    {"by_requester_state", offsetof(struct sl_audit_entry, req_state)},
    {"by_key", offsetof(struct sl_audit_entry, key)},
    {"by_reason", offsetof(struct sl_audit_entry, reason)},
    {"by_purpose", offsetof(struct sl_audit_entry, purpose)},
};
#define NDIMS (sizeof dims / sizeof dims[0])

struct rep {
    int64_t from_us, to_us;
    json_t *root;
    uint64_t bad;
};

static void incr(json_t *obj, const char *key, size_t keylen)
{
    char k[260];
    if (keylen == 0) {
        snprintf(k, sizeof k, "(none)");
    } else {
        size_t n = keylen < sizeof k - 1 ? keylen : sizeof k - 1;
        memcpy(k, key, n);
        k[n] = 0;
    }
    json_t *v = json_object_get(obj, k);
    json_object_set_new(obj, k, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void incr_s(json_t *obj, const char *key) { incr(obj, key, strlen(key)); }

static json_t *sub(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}

static int is_in(int v, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == v)
            return 1;
    return 0;
}

static int rep_entry(uint64_t index, const uint8_t *buf, size_t len, void *arg)
{
    struct rep *r = arg;
    (void)index;
    if (len < 18)
        return 0;
    int64_t t = sl__audit_entry_time(buf);
    if (t < r->from_us || t >= r->to_us)
        return 0;
    struct sl_audit_entry e;
    if (sl_audit_decode(buf, len, &e, NULL, 0) < 0) {
        r->bad++;
        return 0;
    }
    json_t *root = r->root;
    json_object_set_new(root, "entries",
                        json_integer(json_integer_value(json_object_get(root, "entries")) + 1));
    incr_s(sub(root, "by_event"), sl_audit_type_name(e.type));
    char month[8];
    sl__audit_period(e.time_us, month);
    json_t *m = sub(sub(root, "monthly_map"), month);
    incr_s(m, "entries");
    if (e.type == SL_AUDIT_QUERY) {
        json_object_set_new(root, "queries",
                            json_integer(json_integer_value(json_object_get(root, "queries")) + 1));
        incr_s(m, "queries");
        for (size_t d = 0; d < NDIMS; d++) {
            const struct sl_audit_str *s = (const void *)((const char *)&e + dims[d].off);
            char name[64];
            snprintf(name, sizeof name, "queries_%s", dims[d].name);
            incr(sub(root, name), s->p, s->len);
        }
    }
    int part = e.type == SL_AUDIT_HUB_ROUTE && (e.present & SL_AF_BIT(SL_AF_TEXT)) &&
               e.text.len == 9 && !memcmp(e.text.p, "continued", 9);
    if (e.type == SL_AUDIT_HUB_ROUTE && !part) {
        json_object_set_new(
            root, "hub_messages",
            json_integer(json_integer_value(json_object_get(root, "hub_messages")) + 1));
        incr(sub(root, "hub_messages_by_member"), e.member.p, e.member.len);
        incr(sub(root, "hub_messages_by_key"), e.key.p, e.key.len);
        if (e.present & SL_AF_BIT(SL_AF_ERROR)) {
            char n[8];
            snprintf(n, sizeof n, ".%02u.", (unsigned)e.error);
            incr_s(sub(root, "hub_errors"), n);
        }
    }
    if (e.type == SL_AUDIT_HUB_DELIVER)
        incr(sub(root, "hub_frames_by_member"), e.member.p, e.member.len);
    for (int i = 0; i < e.legs.n && (e.present & SL_AF_BIT(SL_AF_LEGS)); i++) {
        /* "DQ>CA/a#17": a frame written to CA's line */
        const char *gt = memchr(e.legs.item[i].p, '>', e.legs.item[i].len);
        const char *sl = gt ? memchr(gt, '/', e.legs.item[i].len - (size_t)(gt - e.legs.item[i].p)) : NULL;
        if (gt && sl)
            incr(sub(root, "hub_frames_by_member"), gt + 1, (size_t)(sl - gt - 1));
    }
    if ((e.present & SL_AF_BIT(SL_AF_OUTCOME)) && !part) {
        const char *on = sl_audit_outcome_name(e.outcome);
        if (is_in(e.outcome, report_outcomes, sizeof report_outcomes / sizeof report_outcomes[0])) {
            incr_s(sub(root, "outcomes"), on);
            incr_s(m, on);
            for (size_t d = 0; d < NDIMS; d++) {
                const struct sl_audit_str *s = (const void *)((const char *)&e + dims[d].off);
                char name[64], k[260];
                snprintf(name, sizeof name, "outcomes_%s", dims[d].name);
                if (s->len) {
                    memcpy(k, s->p, s->len);
                    k[s->len] = 0;
                } else {
                    snprintf(k, sizeof k, "(none)");
                }
                incr_s(sub(sub(root, name), k), on);
            }
        } else if (is_in(e.outcome, hub_outcomes, sizeof hub_outcomes / sizeof hub_outcomes[0])) {
            incr_s(sub(root, "hub_outcomes"), on);
        }
    }
    for (int b = 0; b < SL_AUDIT_CLASS_COUNT; b++) {
        if ((e.present & SL_AF_BIT(SL_AF_RELEASED)) && (e.released & (1u << b)))
            incr_s(sub(root, "data_classes_released"), sl_audit_class_name(b));
        if ((e.present & SL_AF_BIT(SL_AF_WITHHELD)) && (e.withheld & (1u << b)))
            incr_s(sub(root, "data_classes_withheld"), sl_audit_class_name(b));
    }
    return 0;
}

json_t *sl_audit_report(const char *dir, int64_t from_us, int64_t to_us, char *err, size_t errlen)
{
    struct rep r = {from_us, to_us, json_object(), 0};
    json_object_set_new(r.root, "entries", json_integer(0));
    json_object_set_new(r.root, "queries", json_integer(0));
    sub(r.root, "by_event");
    for (size_t d = 0; d < NDIMS; d++) {
        char name[64];
        snprintf(name, sizeof name, "queries_%s", dims[d].name);
        sub(r.root, name);
        snprintf(name, sizeof name, "outcomes_%s", dims[d].name);
        sub(r.root, name);
    }
    sub(r.root, "outcomes");
    sub(r.root, "hub_outcomes");
    json_object_set_new(r.root, "hub_messages", json_integer(0));
    sub(r.root, "hub_messages_by_member");
    sub(r.root, "hub_messages_by_key");
    sub(r.root, "hub_errors");
    sub(r.root, "hub_frames_by_member");
    sub(r.root, "data_classes_released");
    sub(r.root, "data_classes_withheld");
    sub(r.root, "monthly_map");
    struct sl_audit_reader_cb cb = {rep_entry, NULL, &r};
    if (sl_audit_read_dir(dir, &cb, err, errlen) < 0) {
        json_decref(r.root);
        return NULL;
    }
    /* The monthly map becomes an ordered array (months sort as text). */
    json_t *mm = json_object_get(r.root, "monthly_map");
    json_t *series = json_array();
    const char *k;
    json_t *v;
    const char **keys = sl_xcalloc(json_object_size(mm) + 1, sizeof *keys);
    size_t nk = 0;
    json_object_foreach(mm, k, v) keys[nk++] = k;
    for (size_t i = 1; i < nk; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < nk; i++) {
        json_t *row = json_object();
        json_t *src = json_object_get(mm, keys[i]);
        json_object_set_new(row, "month", json_string(keys[i]));
        json_object_set_new(row, "entries", json_integer(json_integer_value(json_object_get(src, "entries"))));
        json_object_set_new(row, "queries", json_integer(json_integer_value(json_object_get(src, "queries"))));
        for (size_t o = 0; o < sizeof report_outcomes / sizeof report_outcomes[0]; o++) {
            const char *on = sl_audit_outcome_name(report_outcomes[o]);
            json_object_set_new(row, on, json_integer(json_integer_value(json_object_get(src, on))));
        }
        json_array_append_new(series, row);
    }
    free(keys);
    json_object_del(r.root, "monthly_map");
    json_object_set_new(r.root, "monthly", series);
    json_object_set_new(r.root, "undecodable_entries", json_integer((json_int_t)r.bad));
    return r.root;
}
