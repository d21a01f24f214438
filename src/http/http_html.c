/*
 * http_html.c - the oversight desk's HTML: one plain layout, tables first, charts as
 * inline SVG drawn here (each with a text title and the numbers in a table next to it,
 * for screen readers and for people who read numbers).  No JavaScript, nothing fetched
 * from elsewhere; the one style sheet is /style.css (http_css below).  Colours are chosen
 * for contrast (>= 4.5:1 for text) and the result words are always written out, so
 * nothing depends on colour alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

const char http_css[] =
    "*{box-sizing:border-box}"
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "color:#1a1a1a;background:#fff}"
    "a{color:#0b4f9c}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f2a900;"
    "outline-offset:2px}"
    ".skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}"
    "header{background:#12355b;color:#fff;padding:8px 16px;display:flex;flex-wrap:wrap;"
    "gap:12px;align-items:center}"
    "header a{color:#fff}header nav a{margin-right:14px}header .who{margin-left:auto}"
    "header form{display:inline}"
    "main{max-width:1200px;margin:0 auto;padding:8px 16px 40px}"
    "h1{font-size:1.6em;margin:.6em 0 .2em}h2{font-size:1.25em;margin:1.4em 0 .4em;"
    "border-bottom:1px solid #ccc}"
    "caption{text-align:left;font-weight:600;padding:2px 0}"
    "table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #bbb;padding:4px 8px;"
    "text-align:left;vertical-align:top}th{background:#eef2f7}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".scroll{overflow-x:auto;max-width:100%}"
    ".released{background:#d9f2d9}.redacted{background:#fff1c2}.held{background:#dde7ff}"
    ".denied{background:#f9d6d5}"
    ".grid{font-size:14px}.grid th,.grid td{padding:3px 4px}"
    ".grid td{text-align:center;font-weight:600}"
    ".grid td small{display:block;font-weight:400;color:#333;font-size:12px;"
    "overflow-wrap:anywhere}"
    ".error{color:#8b0000;font-weight:600}.ok{color:#1b5e20;font-weight:600}"
    ".charts{display:flex;flex-wrap:wrap;gap:24px}.charts figure{margin:0;flex:1 1 520px;"
    "max-width:100%}"
    "svg{max-width:100%;height:auto}figcaption{font-weight:600}"
    "code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f3f3f3}"
    "pre{padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}"
    "form.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-end}"
    "label{display:flex;flex-direction:column;font-weight:600}"
    "input,select,button{font:inherit;padding:4px 6px}"
    "button{background:#12355b;color:#fff;border:0;padding:6px 14px;cursor:pointer}"
    ".rule{border-left:4px solid #12355b;padding:4px 12px;margin:10px 0}"
    ".rule .eff{font-weight:700}.muted{color:#4a4a4a}"
    /* the review desk's forms (http_desk.c) */
    "label.check{display:inline-flex;flex-direction:row;align-items:center;gap:6px;"
    "font-weight:400;margin:4px 18px 4px 0}"
    "fieldset{border:1px solid #bbb;margin:.6em 0;max-width:40em}"
    "textarea{font:inherit;width:100%;max-width:40em}button.deny{background:#8b1a1a}"
    "pre.letter{max-width:48em;word-break:normal}"
    /* table.stack: on a phone each row becomes a block, each cell labelled (data-label) */
    "@media (max-width:640px){table.stack tr:first-child{display:none}"
    "table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}"
    "table.stack tr{border:1px solid #bbb;margin:0 0 10px}table.stack td{border:0;"
    "border-bottom:1px solid #e3e3e3}table.stack td::before{content:attr(data-label);"
    "display:block;font-size:13px;font-weight:600;color:#333}}"
    /* rule drafts (http_drafts.c) */
    "table.src{font-size:14px;width:100%}table.src td{padding:0 6px}table.src pre{margin:0;"
    "background:none;padding:0;white-space:pre-wrap}tr.flag td{background:#fff1c2}"
    "tr.diag-e td{background:#f9d6d5;color:#6b0000}tr.diag-w td{background:#fff8e0}"
    "tr.diag-e p,tr.diag-w p{margin:0 0 4px;font-weight:600}textarea.policy{font:14px/1.4 "
    "ui-monospace,Menlo,Consolas,monospace;width:100%;max-width:100%;min-width:0}"
    "ins{background:#d9f2d9;text-decoration:none}del{background:#f9d6d5}"
    ".diff pre span,.diff pre ins,.diff pre del{display:block;min-height:1.2em}"
    "figure.diff{margin:8px 0}.diff pre{white-space:pre-wrap}td.diff{background:#fff1c2;font-weight:700}"
    "tr.changed th{background:#fde2b8}dl.kv{display:grid;grid-template-columns:max-content 1fr;"
    "gap:2px 14px}dl.kv dt{font-weight:600}dl.kv dd{margin:0}code.hash{overflow-wrap:anywhere}"
    "@media (max-width:640px){body{font-size:15px}header nav a{display:inline-block;"
    "margin:2px 10px 2px 0}}";

void html_escape(struct sl_buf *b, const char *s)
{
    if (!s)
        return;
    for (; *s; s++) {
        switch (*s) {
        case '<': sl_buf_append_str(b, "&lt;"); break;
        case '>': sl_buf_append_str(b, "&gt;"); break;
        case '&': sl_buf_append_str(b, "&amp;"); break;
        case '"': sl_buf_append_str(b, "&quot;"); break;
        case '\'': sl_buf_append_str(b, "&#39;"); break;
        default: sl_buf_append(b, s, 1);
        }
    }
}

static void esc_num(struct sl_buf *b, json_int_t n)
{
    sl_buf_printf(b, "%" JSON_INTEGER_FORMAT, n);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "2026-11" -> "26-11" under a month's bar; anything shorter is shown whole. */
static const char *month_label(const char *month)
{
    return strlen(month) > 2 ? month + 2 : month;
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

void html_begin(struct sl_buf *b, const struct sl_gw_config *cfg, const char *title,
                const struct http_session *s, const char *csrf)
{
    sl_buf_append_str(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                         "<link rel=\"stylesheet\" href=\"/style.css\"><title>");
    html_escape(b, title);
    sl_buf_append_str(b, " - ");
    html_escape(b, cfg->state_name);
    sl_buf_append_str(b, " records oversight</title></head><body>\n"
                         "<a class=\"skip\" href=\"#main\">Skip to content</a>\n<header>"
                         "<strong>");
    html_escape(b, cfg->state_name);
    sl_buf_append_str(b, " &middot; who reads our driver records</strong>\n"
                         "<nav aria-label=\"pages\"><a href=\"/\">Public figures</a>");
    if (s) {
        sl_buf_append_str(b, "<a href=\"/briefing\">Briefing</a><a href=\"/figures\">"
                             "Figures</a><a href=\"/decisions\">Decisions</a>"
                             "<a href=\"/health\">The log's health</a>");
        if (s->role == HR_REVIEWER || s->role == HR_ADMIN)
            sl_buf_append_str(b, "<a href=\"/review\">Review desk</a>");
        /* rule drafts (http_drafts.c): the history for all, drafts for their roles */
        if (s->role == HR_AUTHOR || s->role == HR_APPROVER || s->role == HR_AUDITOR ||
            s->role == HR_ADMIN)
            sl_buf_append_str(b, "<a href=\"/drafts\">Rule drafts</a>");
        sl_buf_append_str(b, "<a href=\"/rules/history\">Rule history</a>");
    }
    sl_buf_append_str(b, "</nav><span class=\"who\">");
    if (s) {
        html_escape(b, s->user);
        sl_buf_printf(b, " (%s) <form method=\"post\" action=\"/logout\">"
                         "<input type=\"hidden\" name=\"csrf\" value=\"", http_role_name(s->role));
        html_escape(b, csrf);
        sl_buf_append_str(b, "\"><button type=\"submit\">Log off</button></form>");
    } else {
        sl_buf_append_str(b, "<a href=\"/login\">Log on</a>");
    }
    sl_buf_append_str(b, "</span></header>\n<main id=\"main\">\n");
}

void html_end(struct sl_buf *b)
{
    sl_buf_append_str(b, "</main>\n<footer><main><p class=\"muted\">stateline: every figure "
                         "here is a count of entries of the state's signed audit log; anyone "
                         "with the log can recompute it (<code>stateline report</code>)."
                         "</p></main></footer></body></html>\n");
}

void html_login(struct sl_buf *b, const char *msg)
{
    sl_buf_append_str(b, "<h1>Log on</h1>\n");
    if (msg) {
        sl_buf_append_str(b, "<p class=\"error\" role=\"alert\">");
        html_escape(b, msg);
        sl_buf_append_str(b, "</p>\n");
    }
    sl_buf_append_str(
        b, "<form method=\"post\" action=\"/login\">\n"
           "<p><label for=\"user\">Account</label><input id=\"user\" name=\"user\" "
           "autocomplete=\"username\" required></p>\n"
           "<p><label for=\"password\">Password</label><input id=\"password\" name=\"password\" "
           "type=\"password\" autocomplete=\"current-password\" required></p>\n"
           "<p><label for=\"code\">Code from your authenticator app (6 digits; required "
           "for reviewers, rule authors, approvers and administrators)</label>"
           "<input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{6}\" "
           "autocomplete=\"one-time-code\"></p>\n"
           "<p><button type=\"submit\">Log on</button></p></form>\n"
           "<p class=\"muted\">Every log-on and every failed log-on is written to the audit "
           "log. The public figures need no log-on.</p>\n");
}

/* The report's "(none)" parent agency is every agency without one: the states' and the
 * local agencies.  Say so where a reader sees it. */
static const char *parent_label(const char *k)
{
    return strcmp(k, "(none)") ? k : "state and local (no parent agency)";
}

/* ---- charts ---- */

static const char *const palette[] = {"#12355b", "#2e7d32", "#b8860b", "#c62828", "#1565c0",
                                      "#6a1b9a", "#00695c", "#5d4037"};

struct bar_item {
    json_int_t v;
    const char *k;
};

/* Largest first; equal counts by name, so the order does not depend on qsort. */
static int cmp_count(const void *a, const void *b)
{
    const struct bar_item *x = a, *y = b;
    if (x->v != y->v)
        return y->v > x->v ? 1 : -1;
    return strcmp(x->k, y->k);
}

void svg_bars(struct sl_buf *b, const char *title, json_t *obj, int max)
{
    size_t n = json_object_size(obj);
    struct bar_item *it = calloc(n ? n : 1, sizeof *it);
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(obj, k, v) {
        it[i].v = json_integer_value(v);
        it[i].k = k;
        i++;
    }
    qsort(it, n, sizeof *it, cmp_count);
    if ((int)n > max)
        n = (size_t)max;
    json_int_t top = n ? it[0].v : 0;
    int h = 24 * (int)n + 10, w = 640, lw = 230;
    int parent = strstr(title, "parent agency") != NULL;
    for (i = 0; parent && i < n; i++)
        it[i].k = parent_label(it[i].k);
    sl_buf_append_str(b, "<figure><figcaption>");
    html_escape(b, title);
    sl_buf_printf(b, "</figcaption>\n<svg role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                     "height=\"%d\" aria-label=\"", w, h < 40 ? 40 : h, w, h < 40 ? 40 : h);
    html_escape(b, title);
    sl_buf_append_str(b, "\">");
    if (!n)
        sl_buf_append_str(b, "<text x=\"4\" y=\"24\" font-size=\"14\">no entries in the period"
                             "</text>");
    for (i = 0; i < n; i++) {
        int y = 5 + 24 * (int)i;
        int bw = top ? (int)((double)it[i].v / (double)top * (w - lw - 80)) : 0;
        sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">",
                      lw - 6, y + 15);
        html_escape(b, it[i].k);
        sl_buf_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" "
                         "fill=\"#12355b\"><title>", lw, y + 1, bw < 1 ? 1 : bw);
        html_escape(b, it[i].k);
        sl_buf_printf(b, ": %" JSON_INTEGER_FORMAT "</title></rect><text x=\"%d\" y=\"%d\" "
                         "font-size=\"13\">%" JSON_INTEGER_FORMAT "</text>",
                      it[i].v, lw + bw + 6, y + 15, it[i].v);
    }
    sl_buf_append_str(b, "</svg></figure>\n");
    free(it);
}

void svg_months(struct sl_buf *b, const char *title, json_t *rows, const char *const *series,
                const char *const *labels, int nseries)
{
    size_t n = json_array_size(rows);
    json_int_t top = 0;
    for (size_t i = 0; i < n; i++) {
        json_int_t sum = 0;
        for (int s = 0; s < nseries; s++)
            sum += num(json_array_get(rows, i), series[s]);
        if (sum > top)
            top = sum;
    }
    int w = 640, h = 260, left = 50, bottom = 40, plot = h - bottom - 30;
    int cw = n ? (w - left - 10) / (int)n : 0;
    if (cw > 60)
        cw = 60;
    sl_buf_append_str(b, "<figure><figcaption>");
    html_escape(b, title);
    sl_buf_printf(b, "</figcaption>\n<svg role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                     "height=\"%d\" aria-label=\"", w, h, w, h);
    html_escape(b, title);
    sl_buf_append_str(b, " (numbers in the table below)\">");
    sl_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", left,
                  h - bottom, w - 5, h - bottom);
    sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">%"
                     JSON_INTEGER_FORMAT "</text>", left - 4, h - bottom - plot + 4, top);
    sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">0</text>",
                  left - 4, h - bottom + 4);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        int x = left + 4 + cw * (int)i, y = h - bottom;
        for (int s = 0; s < nseries; s++) {
            json_int_t v = num(row, series[s]);
            int bh = top ? (int)((double)v / (double)top * plot) : 0;
            if (!bh)
                continue;
            y -= bh;
            sl_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                             "<title>%s %s: %" JSON_INTEGER_FORMAT "</title></rect>",
                          x, y, cw > 6 ? cw - 4 : 2, bh, palette[s % 8], str(row, "month"),
                          labels[s], v);
        }
        sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s"
                         "</text>", x + cw / 2 - 2, h - bottom + 14, month_label(str(row, "month")));
    }
    int lx = left;
    for (int s = 0; s < nseries; s++) {
        sl_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                         "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>",
                      lx, h - 16, palette[s % 8], lx + 16, h - 6, labels[s]);
        lx += 20 + 8 * (int)strlen(labels[s]);
    }
    sl_buf_append_str(b, "</svg></figure>\n");
}

/* "What share of federal queries was released?" in one sentence, from the report's
 * queries_by_agency_type and outcomes_by_agency_type.  Federal = agency type FE or JF (as
 * the briefing's chart).  A query's final outcome is counted once (released, redacted,
 * denied or timed-out; a hold is counted besides, and its review's result is the final
 * one), so the rest have none yet: held now, or not answered. */
static void federal_summary(struct sl_buf *b, json_t *r)
{
    static const char *const fed[] = {"FE", "JF"};
    json_t *q = json_object_get(r, "queries_by_agency_type"),
           *o = json_object_get(r, "outcomes_by_agency_type");
    json_int_t n = 0, rel = 0, red = 0, den = 0, tmo = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *t = json_object_get(o, fed[i]);
        n += num(q, fed[i]);
        rel += num(t, "released");
        red += num(t, "redacted");
        den += num(t, "denied");
        tmo += num(t, "timed-out");
    }
    json_int_t all = num(r, "queries"), rest = n - rel - red - den - tmo;
    sl_buf_append_str(b, "<p class=\"federal\"><strong>Federal agencies</strong> (agency type "
                         "FE or JF): ");
    if (!n) {
        sl_buf_append_str(b, "no queries in this period.</p>\n");
        return;
    }
    sl_buf_printf(b, "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " queries (%.1f%%). "
                     "Released in full %" JSON_INTEGER_FORMAT ", with parts withheld %"
                     JSON_INTEGER_FORMAT ", denied %" JSON_INTEGER_FORMAT ", timed out "
                     "unreviewed %" JSON_INTEGER_FORMAT ", no result yet %" JSON_INTEGER_FORMAT
                     ": <strong>%.1f%% released</strong> in full or in part.</p>\n",
                  n, all, all ? 100.0 * (double)n / (double)all : 0.0, rel, red, den, tmo,
                  rest > 0 ? rest : 0, 100.0 * (double)(rel + red) / (double)n);
}

static void table_obj(struct sl_buf *b, const char *caption, const char *col, json_t *obj)
{
    sl_buf_append_str(b, "<div class=\"scroll\"><table><caption>");
    html_escape(b, caption);
    sl_buf_append_str(b, "</caption><tr><th scope=\"col\">");
    html_escape(b, col);
    sl_buf_append_str(b, "</th><th scope=\"col\">count</th></tr>\n");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        sl_buf_append_str(b, "<tr><td>");
        html_escape(b, strcmp(col, "parent agency") ? k : parent_label(k));
        sl_buf_append_str(b, "</td><td class=\"n\">");
        esc_num(b, json_integer_value(v));
        sl_buf_append_str(b, "</td></tr>\n");
    }
    if (!json_object_size(obj))
        sl_buf_append_str(b, "<tr><td colspan=\"2\">none</td></tr>\n");
    sl_buf_append_str(b, "</table></div>\n");
}

static void table_months(struct sl_buf *b, json_t *rows, const char *const *series,
                         const char *const *labels, int nseries)
{
    sl_buf_append_str(b, "<div class=\"scroll\"><table><tr><th scope=\"col\">month</th>");
    for (int s = 0; s < nseries; s++)
        sl_buf_printf(b, "<th scope=\"col\">%s</th>", labels[s]);
    sl_buf_append_str(b, "</tr>\n");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        sl_buf_printf(b, "<tr><th scope=\"row\">%s</th>", str(row, "month"));
        for (int s = 0; s < nseries; s++) {
            sl_buf_append_str(b, "<td class=\"n\">");
            esc_num(b, num(row, series[s]));
            sl_buf_append_str(b, "</td>");
        }
        sl_buf_append_str(b, "</tr>\n");
    }
    sl_buf_append_str(b, "</table></div>\n");
}

/* outcomes by parent agency: parent -> {outcome: n}, as a table */
static void table_nested(struct sl_buf *b, const char *caption, json_t *obj)
{
    static const char *const outs[] = {"released", "redacted", "held", "denied", "timed-out",
                                       "noticed"};
    sl_buf_append_str(b, "<div class=\"scroll\"><table><caption>");
    html_escape(b, caption);
    sl_buf_append_str(b, "</caption><tr><th scope=\"col\">parent agency</th>");
    for (size_t i = 0; i < 6; i++)
        sl_buf_printf(b, "<th scope=\"col\">%s</th>", outs[i]);
    sl_buf_append_str(b, "</tr>\n");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        sl_buf_append_str(b, "<tr><th scope=\"row\">");
        html_escape(b, parent_label(k));
        sl_buf_append_str(b, "</th>");
        for (size_t i = 0; i < 6; i++) {
            sl_buf_append_str(b, "<td class=\"n\">");
            esc_num(b, num(v, outs[i]));
            sl_buf_append_str(b, "</td>");
        }
        sl_buf_append_str(b, "</tr>\n");
    }
    sl_buf_append_str(b, "</table></div>\n");
}

static const char *const out_series[] = {"released", "redacted", "held", "denied",
                                         "timed-out"};

/* ---- pages ---- */

void html_briefing(struct sl_buf *b, json_t *j)
{
    json_t *p = json_object_get(j, "policy");
    sl_buf_append_str(b, "<h1>Briefing: who can read ");
    html_escape(b, str(j, "state_name"));
    sl_buf_append_str(b, " driver and vehicle records</h1>\n");
    if (!json_is_true(json_object_get(p, "in_force"))) {
        sl_buf_append_str(b, "<p class=\"error\">");
        html_escape(b, str(p, "note"));
        sl_buf_append_str(b, "</p>\n");
    } else {
        sl_buf_append_str(b, "<p>");
        html_escape(b, str(p, "title"));
        sl_buf_append_str(b, "</p><p class=\"muted\">Rules in force (policy sha256 <code>");
        html_escape(b, str(p, "sha256"));
        sl_buf_append_str(b, "</code>). When no rule applies, a query is <strong>");
        sl_buf_append_str(b, !strcmp(str(p, "default"), "permit") ? "answered" : "denied");
        sl_buf_append_str(b, "</strong> (the policy's default).</p>\n");
    }
    /* the grid first: it answers the question */
    json_t *g = json_object_get(j, "who_can_see_what");
    sl_buf_append_str(b, "<h2 id=\"grid\">Who can see what</h2>\n<div class=\"scroll\">"
                         "<table class=\"grid\"><tr><th scope=\"col\">requester</th>");
    size_t i, k;
    json_t *c, *row;
    json_array_foreach(json_object_get(g, "columns"), i, c) {
        sl_buf_append_str(b, "<th scope=\"col\">");
        html_escape(b, json_string_value(c));
        sl_buf_append_str(b, "</th>");
    }
    sl_buf_append_str(b, "</tr>\n");
    json_array_foreach(json_object_get(g, "rows"), i, row) {
        sl_buf_append_str(b, "<tr><th scope=\"row\">");
        html_escape(b, str(row, "label"));
        sl_buf_append_str(b, "</th>");
        json_array_foreach(json_object_get(row, "cells"), k, c) {
            const char *res = str(c, "result");
            sl_buf_printf(b, "<td class=\"%s\">%s<small>", res[0] ? res : "denied",
                          res[0] ? res : "error");
            size_t r;
            json_t *id;
            json_array_foreach(json_object_get(c, "rules"), r, id) {
                if (r)
                    sl_buf_append_str(b, ", ");
                html_escape(b, json_string_value(id));
            }
            if (json_is_true(json_object_get(c, "by_default")))
                sl_buf_append_str(b, "(default)");
            sl_buf_append_str(b, "</small></td>");
        }
        sl_buf_append_str(b, "</tr>\n");
    }
    sl_buf_append_str(b, "</table></div>\n<p class=\"muted\">How: ");
    html_escape(b, str(g, "method"));
    sl_buf_append_str(b, ". Under each word: the rule(s) that decided. Requests used: ");
    json_array_foreach(json_object_get(g, "requests"), i, c) {
        if (i)
            sl_buf_append_str(b, "; ");
        html_escape(b, str(c, "class"));
        sl_buf_append_str(b, " <code>");
        html_escape(b, str(c, "request"));
        sl_buf_append_str(b, "</code>");
    }
    sl_buf_append_str(b, ". Requesters: ");
    json_array_foreach(json_object_get(g, "rows"), i, row) {
        if (i)
            sl_buf_append_str(b, "; ");
        html_escape(b, str(row, "label"));
        sl_buf_append_str(b, " = ORI ");
        html_escape(b, str(row, "ori"));
        sl_buf_append_str(b, ", type ");
        html_escape(b, str(row, "type"));
        if (str(row, "parent")[0]) {
            sl_buf_append_str(b, ", parent ");
            html_escape(b, str(row, "parent"));
        }
        if (str(row, "tags")[0]) {
            sl_buf_append_str(b, ", tags ");
            html_escape(b, str(row, "tags"));
        }
    }
    sl_buf_append_str(b, ".</p>\n<h2 id=\"rules\">The rules in plain language</h2>\n");
    json_array_foreach(json_object_get(p, "rules"), i, row) {
        /* id="rule-ID": the decisions page links each rule id here */
        sl_buf_append_str(b, "<div class=\"rule\" id=\"rule-");
        html_escape(b, str(row, "id"));
        sl_buf_append_str(b, "\"><p><span class=\"eff\">");
        html_escape(b, str(row, "in_words"));
        sl_buf_append_str(b, "</span> &mdash; when <code>");
        html_escape(b, str(row, "when"));
        sl_buf_append_str(b, "</code></p><p>Why: ");
        html_escape(b, str(row, "reason"));
        sl_buf_append_str(b, "</p><p class=\"muted\">rule <code>");
        html_escape(b, str(row, "id"));
        sl_buf_printf(b, "</code>, line %d", (int)num(row, "line"));
        if (str(row, "mark")[0]) {
            sl_buf_append_str(b, "; every reply carries: ");
            html_escape(b, str(row, "mark"));
        }
        sl_buf_append_str(b, "</p></div>\n");
    }
    json_t *m = json_object_get(j, "last_12_months");
    sl_buf_append_str(b, "<h2 id=\"year\">The last 12 months</h2>\n<div class=\"charts\">");
    static const char *const q[] = {"queries", "federal"};
    static const char *const ql[] = {"all queries", "federal"};
    svg_bars(b, "Queries by parent agency (top 12)",
             json_object_get(m, "queries_by_parent_agency"), 12);
    svg_months(b, "Outcomes by month", json_object_get(m, "monthly"), out_series, out_series, 5);
    static const char *const fed[] = {"federal"};
    svg_months(b, "Federal queries by month", json_object_get(m, "monthly"), fed, fed, 1);
    static const char *const dh[] = {"denied", "held"};
    svg_months(b, "Denials and holds by month", json_object_get(m, "monthly"), dh, dh, 2);
    sl_buf_append_str(b, "</div>\n");
    static const char *const all[] = {"queries", "federal", "released", "redacted", "held",
                                      "denied", "timed-out"};
    table_months(b, json_object_get(m, "monthly"), all, all, 7);
    (void)q;
    (void)ql;
    sl_buf_append_str(b, "<p class=\"muted\">Federal = requester agency type FE or JF. "
                         "Outcomes are counted once per query (released, released with "
                         "parts withheld = redacted, held for review, denied, timed out).</p>");
    sl_buf_append_str(b, "<h2 id=\"history\">Rule history</h2>\n<div class=\"scroll\"><table>"
                         "<tr><th scope=\"col\">when</th><th scope=\"col\">changed by</th>"
                         "<th scope=\"col\">approved by</th><th scope=\"col\">before (sha256)"
                         "</th><th scope=\"col\">after (sha256)</th><th scope=\"col\">what"
                         "</th></tr>\n");
    json_array_foreach(json_object_get(j, "rule_history"), i, row) {
        sl_buf_append_str(b, "<tr><td>");
        html_escape(b, str(row, "time"));
        sl_buf_append_str(b, "</td><td>");
        html_escape(b, str(row, "author"));
        sl_buf_append_str(b, "</td><td>");
        html_escape(b, str(row, "approver")[0] ? str(row, "approver") : "(none recorded)");
        sl_buf_append_str(b, "</td><td><code>");
        sl_buf_printf(b, "%.12s", str(row, "before"));
        sl_buf_append_str(b, "</code></td><td><code>");
        sl_buf_printf(b, "%.12s", str(row, "after"));
        sl_buf_append_str(b, "</code></td><td>");
        html_escape(b, str(row, "text"));
        sl_buf_append_str(b, "</td></tr>\n");
    }
    if (!json_array_size(json_object_get(j, "rule_history")))
        sl_buf_append_str(b, "<tr><td colspan=\"6\">no change since the log began</td></tr>\n");
    sl_buf_append_str(b, "</table></div>\n<p><a href=\"/rules/history\">Each change with its "
                         "legal basis and the text that changed</a></p>\n");
}

static void option(struct sl_buf *b, const char *v, const char *cur)
{
    sl_buf_printf(b, "<option value=\"%s\"%s>%s</option>", v, !strcmp(v, cur) ? " selected" : "",
                  v[0] ? v : "all");
}

void html_figures(struct sl_buf *b, json_t *j, const struct http_filter *f)
{
    json_t *r = json_object_get(j, "report"), *fl = json_object_get(j, "filtered");
    sl_buf_append_str(b, "<h1>Figures</h1>\n<form class=\"filters\" method=\"get\" "
                         "action=\"/figures\">");
    sl_buf_printf(b, "<label for=\"from\">from<input id=\"from\" name=\"from\" type=\"date\" "
                     "value=\"%s\"></label>", f->from);
    sl_buf_printf(b, "<label for=\"to\">to<input id=\"to\" name=\"to\" type=\"date\" "
                     "value=\"%s\"></label>", f->to);
    sl_buf_append_str(b, "<label for=\"agency\">parent agency (prefix)<input id=\"agency\" "
                         "name=\"agency\" placeholder=\"DHS/ICE\" value=\"");
    html_escape(b, f->agency);
    sl_buf_append_str(b, "\"></label><label for=\"key\">key<select id=\"key\" name=\"key\">");
    static const char *const keys[] = {"", "DQ", "DQG", "DNQ", "KQ", "RQ", "RQG", "RNQ", "RPQ"};
    for (size_t i = 0; i < 9; i++)
        option(b, keys[i], f->key);
    sl_buf_append_str(b, "</select></label><label for=\"outcome\">outcome<select id=\"outcome\" "
                         "name=\"outcome\">");
    static const char *const outs[] = {"", "released", "redacted", "held", "denied",
                                       "timed-out", "noticed"};
    const char *cur = f->outcome ? sl_audit_outcome_name(f->outcome) : "";
    for (size_t i = 0; i < 7; i++)
        option(b, outs[i], cur);
    sl_buf_append_str(b, "</select></label><button type=\"submit\">Show</button></form>\n");
    struct sl_buf q;
    sl_buf_init(&q);
    sl_buf_printf(&q, "from=%s&amp;to=%s", f->from, f->to);
    sl_buf_append(&q, "", 1);
    sl_buf_printf(b, "<p>Download the transparency report for %s to %s: <a href=\"/figures.csv?"
                     "%s\">CSV</a> &middot; <a href=\"/figures.json?%s\">JSON</a> (the same as "
                     "<code>stateline report --from %s --to %s</code>)</p>\n", f->from, f->to,
                  (char *)sl_buf_head(&q), (char *)sl_buf_head(&q), f->from, f->to);
    sl_buf_free(&q);
    if (f->agency[0] || f->key[0] || f->outcome) {
        sl_buf_append_str(b, "<h2>Entries matching the filter</h2>\n<p>");
        sl_buf_printf(b, "%" JSON_INTEGER_FORMAT " %s.</p><div class=\"charts\">",
                      num(fl, "queries"), f->outcome ? "entries with that outcome" : "queries");
        svg_months(b, "Outcomes by month (filtered)", json_object_get(fl, "monthly"),
                   out_series, out_series, 5);
        svg_bars(b, "By parent agency (filtered)", json_object_get(fl, "queries_by_parent_agency"),
                 12);
        sl_buf_append_str(b, "</div>\n");
        table_obj(b, "Outcomes (filtered)", "outcome", json_object_get(fl, "outcomes"));
        table_nested(b, "Outcomes by parent agency (filtered)",
                     json_object_get(fl, "outcomes_by_parent_agency"));
    }
    sl_buf_printf(b, "<h2>Transparency report, %s to %s</h2>\n<p>", f->from, f->to);
    sl_buf_printf(b, "%" JSON_INTEGER_FORMAT " queries received; %" JSON_INTEGER_FORMAT
                     " log entries in the period.</p>\n<div class=\"charts\">",
                  num(r, "queries"), num(r, "entries"));
    federal_summary(b, r);
    svg_bars(b, "Outcomes", json_object_get(r, "outcomes"), 8);
    svg_bars(b, "Queries by parent agency (top 12)",
             json_object_get(r, "queries_by_parent_agency"), 12);
    if (!(f->agency[0] || f->key[0] || f->outcome)) /* the scan then equals the report,
                                                       with the empty months filled */
        svg_months(b, "Outcomes by month", json_object_get(fl, "monthly"), out_series,
                   out_series, 5);
    sl_buf_append_str(b, "</div>\n");
    table_obj(b, "Outcomes", "outcome", json_object_get(r, "outcomes"));
    table_nested(b, "Outcomes by parent agency", json_object_get(r, "outcomes_by_parent_agency"));
    table_obj(b, "Queries by parent agency", "parent agency",
              json_object_get(r, "queries_by_parent_agency"));
    table_obj(b, "Queries by agency type", "type", json_object_get(r, "queries_by_agency_type"));
    table_obj(b, "Queries by requester state", "state",
              json_object_get(r, "queries_by_requester_state"));
    table_obj(b, "Queries by key", "key", json_object_get(r, "queries_by_key"));
    table_obj(b, "Queries by reason", "reason", json_object_get(r, "queries_by_reason"));
    table_obj(b, "Data classes released", "class", json_object_get(r, "data_classes_released"));
    table_obj(b, "Data classes withheld", "class", json_object_get(r, "data_classes_withheld"));
    table_obj(b, "Log entries by event", "event", json_object_get(r, "by_event"));
}

void html_public(struct sl_buf *b, json_t *j)
{
    sl_buf_append_str(b, "<h1>");
    html_escape(b, str(j, "state_name"));
    sl_buf_append_str(b, ": queries of driver and vehicle records, ");
    html_escape(b, str(j, "month"));
    sl_buf_append_str(b, "</h1>\n<form class=\"filters\" method=\"get\" action=\"/\">"
                         "<label for=\"month\">month<input id=\"month\" name=\"month\" "
                         "type=\"month\" value=\"");
    html_escape(b, str(j, "month"));
    sl_buf_append_str(b, "\"></label><button type=\"submit\">Show</button></form>\n<p>");
    sl_buf_printf(b, "%" JSON_INTEGER_FORMAT " queries received this month. Counts only: no "
                     "names, numbers or addresses are shown here. Same data as JSON: "
                     "<a href=\"/api/public?month=%s\">/api/public</a>.</p>\n<div class=\"charts\">",
                  num(j, "queries"), str(j, "month"));
    federal_summary(b, j);
    svg_bars(b, "What happened to the queries", json_object_get(j, "outcomes"), 8);
    svg_bars(b, "Who asked (parent agency, top 12)",
             json_object_get(j, "queries_by_parent_agency"), 12);
    sl_buf_append_str(b, "</div>\n");
    table_obj(b, "Outcomes", "outcome", json_object_get(j, "outcomes"));
    table_nested(b, "Outcomes by parent agency", json_object_get(j, "outcomes_by_parent_agency"));
    table_obj(b, "Queries by agency type", "type", json_object_get(j, "queries_by_agency_type"));
    table_obj(b, "Queries by requester state", "state",
              json_object_get(j, "queries_by_requester_state"));
    table_obj(b, "Queries by key", "key", json_object_get(j, "queries_by_key"));
    table_obj(b, "Queries by reason code (RSN/, Nlets codes)", "reason",
              json_object_get(j, "queries_by_reason"));
    table_obj(b, "Queries by purpose code (PUR/, III codes)", "purpose",
              json_object_get(j, "queries_by_purpose"));
    table_obj(b, "Data classes withheld", "class", json_object_get(j, "data_classes_withheld"));
}

void html_health(struct sl_buf *b, json_t *j, const struct http_session *s)
{
    json_t *c = json_object_get(j, "checkpoint"), *v = json_object_get(j, "last_verification");
    sl_buf_append_str(b, "<h1>The log's health</h1>\n<h2>Latest signed checkpoint</h2>\n");
    if (json_is_object(c) && !json_object_get(c, "error")) {
        sl_buf_printf(b, "<p>The log holds <strong>%" JSON_INTEGER_FORMAT "</strong> entries "
                         "under this signed checkpoint (%" JSON_INTEGER_FORMAT " bytes in %d "
                         "segment files).</p>\n<pre>",
                      num(c, "size"), num(j, "bytes"), (int)num(j, "segments"));
        html_escape(b, str(c, "note"));
        sl_buf_append_str(b, "</pre>\n");
    } else {
        sl_buf_append_str(b, "<p class=\"error\">No readable checkpoint yet.</p>\n");
    }
    sl_buf_append_str(b, "<h2>Last verification</h2>\n");
    if (json_is_object(v)) {
        int ok = json_is_true(json_object_get(v, "ok"));
        sl_buf_printf(b, "<p class=\"%s\">%s</p><p>at %s by %s: %" JSON_INTEGER_FORMAT
                         " entries, %" JSON_INTEGER_FORMAT " checkpoints, %" JSON_INTEGER_FORMAT
                         " problems, %.2f s.</p>\n",
                      ok ? "ok" : "error", ok ? "The log verifies: every entry, the tree and "
                                                "every signed checkpoint check out."
                                              : "The log does NOT verify.",
                      str(v, "time"), str(v, "by"), num(v, "entries"), num(v, "checkpoints"),
                      num(v, "problems"), json_real_value(json_object_get(v, "seconds")));
        if (str(v, "first_problem")[0]) {
            sl_buf_append_str(b, "<p class=\"error\">First problem: ");
            html_escape(b, str(v, "first_problem"));
            sl_buf_append_str(b, "</p>\n");
        }
    } else {
        sl_buf_append_str(b, "<p>Not verified since the gateway started.</p>\n");
    }
    if (s && (s->role == HR_AUDITOR || s->role == HR_ADMIN)) {
        sl_buf_append_str(b, "<form method=\"post\" action=\"/health/verify\">"
                             "<input type=\"hidden\" name=\"csrf\" value=\"");
        html_escape(b, s->csrf);
        sl_buf_append_str(b, "\"><button type=\"submit\">Verify the whole log now</button>"
                             "</form>\n");
    }
    sl_buf_append_str(b, "<h2>Check it yourself</h2>\n<p>An outside auditor with a copy of the "
                         "log folder and the state's verifier key runs:</p>\n<pre>");
    size_t i;
    json_t *cmd;
    json_array_foreach(json_object_get(j, "auditor_commands"), i, cmd) {
        html_escape(b, json_string_value(cmd));
        sl_buf_append_str(b, "\n");
    }
    sl_buf_append_str(b, "</pre>\n<p>The verifier key (publish it; obtain it out of band):</p>"
                         "<pre>");
    html_escape(b, str(j, "verifier_key")[0] ? str(j, "verifier_key") : "(not found)");
    sl_buf_append_str(b, "</pre>\n<p>The first command recomputes every entry, the tree and "
                         "every checkpoint signature; the next two prove that a later log "
                         "extends the checkpoint you kept (docs/audit-format.md §10).</p>\n");
}
