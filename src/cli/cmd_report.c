/*
 * cmd_report.c - `stateline report`: the transparency report computed from the audit log
 * (A-4, P-23), as text for people, CSV for spreadsheets, JSON for programs.
 *
 * CSV: header "table,key,count", one row per figure; nested tables are flattened as
 * "<outcome>_by_<dimension>" (e.g. "denied_by_parent_agency,DHS/ICE/ERO,412"); the monthly
 * series as "monthly_<figure>,<YYYY-MM>,<count>".  Keys are quoted when they hold a comma
 * or a quote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "stateline/audit.h"
#include "stateline/cli.h"
#include "stateline/core.h"

/* Strict YYYY-MM-DD -> seconds at 00:00 UTC; -1 if not a real date. */
static int64_t parse_date(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return (int64_t)timegm(&tm);
}

static void csv_key(const char *k)
{
    if (strpbrk(k, ",\"\n")) {
        putchar('"');
        for (const char *p = k; *p; p++) {
            if (*p == '"')
                putchar('"');
            putchar(*p);
        }
        putchar('"');
    } else {
        fputs(k, stdout);
    }
}

static void csv_table(const char *table, json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        printf("%s,", table);
        csv_key(k);
        printf(",%" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
    }
}

static void print_csv(json_t *r)
{
    printf("table,key,count\n");
    printf("total,entries,%" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(r, "entries")));
    printf("total,queries,%" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(r, "queries")));
    if (json_integer_value(json_object_get(r, "hub_messages")) > 0) /* a switch's log */
        printf("total,hub_messages,%" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(r, "hub_messages")));
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v)
    {
        if (!json_is_object(v))
            continue;
        if (strncmp(k, "outcomes_by_", 12) == 0) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                const char *o;
                json_t *n;
                json_object_foreach(v2, o, n)
                {
                    printf("%s_%s,", o, k + 9);
                    csv_key(k2);
                    printf(",%" JSON_INTEGER_FORMAT "\n", json_integer_value(n));
                }
            }
        } else {
            csv_table(k, v);
        }
    }
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "monthly"), i, row)
    {
        const char *month = json_string_value(json_object_get(row, "month"));
        json_object_foreach(row, k, v)
        {
            if (strcmp(k, "month") != 0)
                printf("monthly_%s,%s,%" JSON_INTEGER_FORMAT "\n", k, month, json_integer_value(v));
        }
    }
}

static void text_table(const char *title, json_t *obj)
{
    if (!obj || json_object_size(obj) == 0)
        return;
    printf("\n%s\n", title);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) printf("  %-32s %12" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
}

static void print_text(json_t *r, const char *from, const char *to)
{
    printf("Transparency report, %s to %s (UTC), computed from the audit log\n", from, to);
    printf("No personal data: counts of coded fields only.\n\n");
    printf("  %-32s %12" JSON_INTEGER_FORMAT "\n", "entries in the period", json_integer_value(json_object_get(r, "entries")));
    printf("  %-32s %12" JSON_INTEGER_FORMAT "\n", "queries received", json_integer_value(json_object_get(r, "queries")));
    text_table("Outcomes (released, denied, held, redacted, noticed, timed out)",
               json_object_get(r, "outcomes"));
    text_table("Queries by requesting parent agency", json_object_get(r, "queries_by_parent_agency"));
    text_table("Queries by agency type (ORION)", json_object_get(r, "queries_by_agency_type"));
    text_table("Queries by requester state", json_object_get(r, "queries_by_requester_state"));
    text_table("Queries by message key", json_object_get(r, "queries_by_key"));
    text_table("Queries by reason code", json_object_get(r, "queries_by_reason"));
    text_table("Queries by purpose code", json_object_get(r, "queries_by_purpose"));
    json_t *obp = json_object_get(r, "outcomes_by_parent_agency");
    if (json_object_size(obp)) {
        printf("\nOutcomes by requesting parent agency\n");
        printf("  %-24s %9s %9s %9s %9s %9s %9s\n", "parent agency", "released", "denied",
               "held", "redacted", "noticed", "timed-out");
        const char *k;
        json_t *v;
        json_object_foreach(obp, k, v)
        {
            printf("  %-24s", k);
            const char *os[] = {"released", "denied", "held", "redacted", "noticed", "timed-out"};
            for (int i = 0; i < 6; i++)
                printf(" %9" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(v, os[i])));
            printf("\n");
        }
    }
    text_table("Data classes released (count of entries releasing each)",
               json_object_get(r, "data_classes_released"));
    text_table("Data classes withheld", json_object_get(r, "data_classes_withheld"));
    if (json_integer_value(json_object_get(r, "hub_messages")) > 0) {
        printf("\nThe switch (a hub's log): %" JSON_INTEGER_FORMAT " messages read from lines\n",
               json_integer_value(json_object_get(r, "hub_messages")));
        text_table("Hub routing outcomes", json_object_get(r, "hub_outcomes"));
        text_table("Hub messages by sending member", json_object_get(r, "hub_messages_by_member"));
        text_table("Hub messages by key", json_object_get(r, "hub_messages_by_key"));
        text_table("Hub ER sent, by error number", json_object_get(r, "hub_errors"));
        text_table("Hub frames written, by receiving member",
                   json_object_get(r, "hub_frames_by_member"));
    }
    text_table("Entries by event type", json_object_get(r, "by_event"));
    json_t *m = json_object_get(r, "monthly");
    if (json_array_size(m)) {
        printf("\nMonthly\n  %-8s %9s %9s %9s %9s %9s %9s %9s %9s\n", "month", "entries", "queries",
               "released", "denied", "held", "redacted", "noticed", "timed-out");
        size_t i;
        json_t *row;
        json_array_foreach(m, i, row)
        {
            printf("  %-8s", json_string_value(json_object_get(row, "month")));
            const char *cols[] = {"entries", "queries", "released", "denied", "held",
                                  "redacted", "noticed", "timed-out"};
            for (int c = 0; c < 8; c++)
                printf(" %9" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(row, cols[c])));
            printf("\n");
        }
    }
}

static const char usage[] =
    "usage: stateline report --log DIR --from YYYY-MM-DD --to YYYY-MM-DD [--format text|csv|json]\n"
    "\n"
    "The transparency report for the days from --from to --to inclusive (UTC), computed\n"
    "from the audit log in DIR: entries by event type; queries by requesting parent agency,\n"
    "agency type, requester state, message key, reason and purpose code; outcomes\n"
    "(released, denied, held, redacted, noticed, timed out) overall and by the same\n"
    "dimensions; data classes released and withheld; a monthly series.  Denials are\n"
    "included.  No personal data is read or printed.  Every figure is a count of log\n"
    "entries, so the report can be re-derived by anyone holding the log\n"
    "(docs/audit-format.md §9).\n";

static int run(int argc, char **argv)
{
    const char *log = NULL, *from = NULL, *to = NULL, *format = "text";
    for (int i = 1; i < argc; i++) {
        const char **dst = strcmp(argv[i], "--log") == 0      ? &log
                           : strcmp(argv[i], "--from") == 0   ? &from
                           : strcmp(argv[i], "--to") == 0     ? &to
                           : strcmp(argv[i], "--format") == 0 ? &format
                                                              : NULL;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "stateline report: %s %s\n", argv[i],
                    dst ? "needs a value" : "is not an option");
            fputs(usage, stderr);
            return SL_EXIT_USAGE;
        }
        *dst = argv[++i];
    }
    if (!log || !from || !to) {
        fputs(usage, stderr);
        return SL_EXIT_USAGE;
    }
    int64_t f = parse_date(from), t = parse_date(to);
    if (f < 0 || t < 0) {
        fprintf(stderr, "stateline report: dates are YYYY-MM-DD (got '%s', '%s')\n", from, to);
        return SL_EXIT_USAGE;
    }
    if (t < f) {
        fprintf(stderr, "stateline report: --to is before --from\n");
        return SL_EXIT_USAGE;
    }
    if (strcmp(format, "text") && strcmp(format, "csv") && strcmp(format, "json")) {
        fprintf(stderr, "stateline report: --format is text, csv or json\n");
        return SL_EXIT_USAGE;
    }
    char err[300];
    json_t *r = sl_audit_report(log, f * 1000000, (t + 86400) * 1000000, err, sizeof err);
    if (!r) {
        fprintf(stderr, "stateline report: %s\n", err);
        return SL_EXIT_FAIL;
    }
    json_object_set_new(r, "from", json_string(from));
    json_object_set_new(r, "to", json_string(to));
    if (strcmp(format, "json") == 0) {
        char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s);
        free(s);
    } else if (strcmp(format, "csv") == 0) {
        print_csv(r);
    } else {
        print_text(r, from, to);
    }
    int bad = json_integer_value(json_object_get(r, "undecodable_entries")) > 0;
    if (bad)
        fprintf(stderr, "stateline report: some entries could not be decoded; run "
                        "`stateline audit verify %s`\n", log);
    json_decref(r);
    return bad ? SL_EXIT_FAIL : SL_EXIT_OK;
}

const struct sl_cli_cmd sl_cmd_report = {
    "report", "the transparency report (counts by agency, key, outcome ...) from the audit log",
    run, usage};
