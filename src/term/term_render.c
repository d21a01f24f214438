/*
 * term_render.c - a delivered message (output header + text) for a person, or as JSON
 * (formats in stateline/term.h).  Times are printed in UTC, as the switch stamps them.
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "stateline/term.h"
#include "stateline/msg.h"

static void fmt_time(int64_t t, const char *fmt, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(out, n, fmt, &tm) == 0)
        snprintf(out, n, "%s", "-");
}

/* The key's meaning in words, for the first line. */
static const char *key_words(const char *key)
{
    static const struct { const char *k, *w; } words[] = {
        {"DR", "driver licence reply"}, {"DNR", "driver name-search reply"},
        {"KR", "driver history reply"}, {"RR", "registration reply"},
        {"RNR", "registration owner-name reply"}, {"RPR", "partial-plate reply"},
        {"ER", "ERROR from the switch"}, {"SM", "status message"},
        {"AM", "administrative message"}, {"AML", "administrative message (LE only)"},
        {"DQ", "driver licence query"}, {"DQG", "regional driver licence query"},
        {"DNQ", "driver name query"}, {"KQ", "driver history query"},
        {"RQ", "registration query"}, {"RQG", "regional registration query"},
        {"RNQ", "registration owner-name query"}, {"RPQ", "partial-plate query"},
        {"NLR", "archive search hits"}, {"NFR", "archived message"},
        {"NLQ", "archive search"}, {"NFQ", "archive fetch"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(words[i].k, key) == 0)
            return words[i].w;
    return "message";
}

void sl_term_print_human(FILE *f, const struct sl_outhdr *h, const char *body, size_t len)
{
    char rx[40], tx[40];
    fmt_time(h->rx_time, "%Y-%m-%d %H:%M:%S UTC", rx, sizeof rx);
    fmt_time(h->tx_time, "%Y-%m-%d %H:%M:%S UTC", tx, sizeof tx);
    fprintf(f, "%s (%s) from %s to %s", h->key, key_words(h->key), h->ori, h->dest);
    if (h->ctl[0])
        fprintf(f, ", control field %s", h->ctl);
    fprintf(f, "\n  received by the switch %s, input no. %05u\n", rx, h->rx_seq);
    fprintf(f, "  sent to this line      %s, output no. %05u\n", tx, h->tx_seq);
    if (h->has_req) {
        const struct sl_requester *q = &h->req;
        fprintf(f, "  requester (verified by the switch): %s, member %s, type %s, categories %s",
                q->ori, q->member, q->type[0] ? q->type : "-", q->cats[0] ? q->cats : "-");
        if (q->parent[0])
            fprintf(f, ", parent %s", q->parent);
        if (q->tags[0])
            fprintf(f, ", tags %s", q->tags);
        fputc('\n', f);
    }
    fputs("  ----\n", f);
    /* The text, one indented line per line; CR and DEL (Nlets line controls) dropped. */
    fputs("  ", f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == '\n') {
            fputs("\n  ", f);
        } else if (c == '\r' || c == 0x7f) {
            continue;
        } else if (c < 0x20 && c != '\t') {
            fprintf(f, "\\x%02x", c);
        } else {
            fputc(c, f);
        }
    }
    fputs("\n\n", f);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* The text as sent, minus NUL bytes (JSON strings may hold any other code point, and
 * jansson refuses invalid UTF-8: bytes >= 0x80 are replaced by U+FFFD). */
static json_t *text_json(const char *body, size_t len)
{
    struct sl_buf t = SL_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c == 0)
            continue;
        if (c >= 0x80)
            sl_buf_append_str(&t, "\xEF\xBF\xBD");
        else
            sl_buf_append(&t, &c, 1);
    }
    json_t *j = sl_buf_used(&t) ? json_stringn((const char *)sl_buf_head(&t), sl_buf_used(&t))
                                : json_string("");
    sl_buf_free(&t);
    return j;
}

/* Append o compactly to out and release it. */
static void dump(json_t *o, struct sl_buf *out)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    sl_buf_append_str(out, s);
    free(s);
    json_decref(o);
}

void sl_term_json(const struct sl_outhdr *h, const char *body, size_t len, struct sl_buf *out)
{
    char rx[32], tx[32];
    fmt_time(h->rx_time, "%Y-%m-%dT%H:%M:%SZ", rx, sizeof rx);
    fmt_time(h->tx_time, "%Y-%m-%dT%H:%M:%SZ", tx, sizeof tx);
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(h->key));
    json_object_set_new(o, "from", json_string(h->ori));
    json_object_set_new(o, "to", json_string(h->dest));
    json_object_set_new(o, "control", str_or_null(h->ctl));
    json_object_set_new(o, "received", h->rx_time > 0 ? json_string(rx) : json_null());
    json_object_set_new(o, "received_seq", json_integer(h->rx_seq));
    json_object_set_new(o, "sent", h->tx_time > 0 ? json_string(tx) : json_null());
    json_object_set_new(o, "sent_seq", json_integer(h->tx_seq));
    if (h->has_req) {
        const struct sl_requester *q = &h->req;
        json_t *r = json_object();
        json_object_set_new(r, "ori", json_string(q->ori));
        json_object_set_new(r, "member", json_string(q->member));
        json_object_set_new(r, "type", str_or_null(q->type));
        json_object_set_new(r, "categories", json_string(q->cats));
        json_object_set_new(r, "state", str_or_null(q->state));
        json_object_set_new(r, "parent", str_or_null(q->parent));
        json_t *tags = json_array();
        const char *p = q->tags;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            if (n)
                json_array_append_new(tags, json_stringn(p, n));
            p += n;
        }
        json_object_set_new(r, "tags", tags);
        json_object_set_new(o, "requester", r);
    }
    json_object_set_new(o, "text", text_json(body, len));
    dump(o, out);
}

void sl_term_json_unparsed(const char *bytes, size_t len, const char *why, struct sl_buf *out)
{
    json_t *o = json_object();
    json_object_set_new(o, "unparsed", json_true());
    json_object_set_new(o, "error", json_string(why && *why ? why : "not in the output form"));
    json_object_set_new(o, "text", text_json(bytes, len));
    dump(o, out);
}
