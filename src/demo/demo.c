/*
 * demo.c - `stateline demo` from start to end: set up the folder, start the network, run
 * the traffic, tally each gateway's audit log, verify every log, print the tables (text,
 * or one JSON object with --json, docs/demo.md §5), stop (or stay).
 *
 * Output: with --json, stdout holds only the JSON object and the progress goes to stderr;
 * without, everything goes to stdout.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <jansson.h>

#include "demo/demo_int.h"
#include "stateline/audit.h"
#include "stateline/core.h"

struct state_result {
    struct sl_demo_tally t;
    int tally_ok;
    char tally_err[256];
    struct sl_audit_verify_result v;
    int64_t problems;      /* -1: could not verify */
    char verify_err[256];
    int reviewed;          /* the review step ran (not with --stay) */
    struct demo_review rv;
    char review_err[256];
    int agree;             /* log cells == reply cells, log total == sent, report == log */
    json_t *diffs;         /* array of strings */
};

static void verify_report(int64_t index, const char *text, void *arg)
{
    json_t *d = arg;
    char line[300];
    demo_fmt(line, sizeof line, "audit verify: entry %lld: %s", (long long)index, text);
    if (json_array_size(d) < 20)
        json_array_append_new(d, json_string(line));
}

/* The switch's own log, DIR/hub-audit, verified with DIR/hub-audit.pub.  Returns the
 * number of problems, -1 when it cannot be read (err). */
static int64_t check_hub_log(struct demo *dm, struct sl_audit_verify_result *v, json_t *diffs,
                             char *err, size_t errlen)
{
    char dir[DEMO_PATH + 16], pub[DEMO_PATH + 16], key[1024] = "";
    demo_fmt(dir, sizeof dir, "%s/hub-audit", dm->dir);
    demo_fmt(pub, sizeof pub, "%s/hub-audit.pub", dm->dir);
    struct sl_audit_verifier ver;
    memset(&ver, 0, sizeof ver);
    FILE *f = fopen(pub, "r");
    int have = f && fgets(key, sizeof key, f) && sl_audit_verifier_parse(&ver, key, err, errlen) == 0;
    if (f)
        fclose(f);
    if (!have) {
        demo_fmt(err, errlen, "no verifier key %s", pub);
        return -1;
    }
    int64_t n = sl_audit_verify_dir(dir, &ver, verify_report, diffs, v, err, errlen);
    sl_audit_verifier_free(&ver);
    return n;
}

static void diff(json_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diff(json_t *d, const char *fmt, ...)
{
    char line[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    json_array_append_new(d, json_string(line));
}

static void check_state(struct demo *dm, int d, struct state_result *r)
{
    const char *code = sl_demo_states()[d].code;
    char audit[DEMO_PATH + 16], pub[DEMO_PATH + 16];
    demo_fmt(audit, sizeof audit, "%s/%s/audit", dm->dir, code);
    demo_fmt(pub, sizeof pub, "%s/%s/audit.pub", dm->dir, code);
    r->diffs = json_array();
    r->tally_ok = sl_demo_tally_log(audit, code, dm->tr.from_us, dm->tr.to_us, &r->t, r->tally_err, sizeof r->tally_err) == 0;
    if (!r->tally_ok)
        diff(r->diffs, "the audit log could not be read: %s", r->tally_err);

    /* verify, with the gateway's public key */
    struct sl_audit_verifier v;
    memset(&v, 0, sizeof v);
    char key[1024] = "";
    FILE *f = fopen(pub, "r");
    int have_key = 0;
    if (f) {
        have_key = fgets(key, sizeof key, f) != NULL &&
                   sl_audit_verifier_parse(&v, key, r->verify_err, sizeof r->verify_err) == 0;
        fclose(f);
    }
    r->problems = sl_audit_verify_dir(audit, have_key ? &v : NULL, verify_report, r->diffs,
                                      &r->v, r->verify_err, sizeof r->verify_err);
    if (have_key)
        sl_audit_verifier_free(&v);
    if (!have_key)
        diff(r->diffs, "no verifier key %s: signatures not checked", pub);
    if (r->problems < 0)
        diff(r->diffs, "audit verify could not read the log: %s", r->verify_err);

    /* the three counts side by side */
    const struct demo_traffic *t = &dm->tr;
    uint64_t sent = 0;
    for (int c = 0; c < SL_DEMO_NCLASS; c++) {
        sent += t->sent_cell[d][c];
        uint64_t lc = 0;
        for (int o = 0; o < SL_DEMO_NOUT; o++) {
            lc += r->t.cell[c][o];
            if (r->t.cell[c][o] != t->cell[d][c][o])
                diff(r->diffs, "%s, %s: the log says %llu, the replies %llu",
                     sl_demo_class_info(c)->name, sl_demo_outcome_name(o),
                     (unsigned long long)r->t.cell[c][o],
                     (unsigned long long)t->cell[d][c][o]);
        }
        if (lc != t->sent_cell[d][c])
            diff(r->diffs, "%s: %llu sent, %llu outcomes in the log",
                 sl_demo_class_info(c)->name, (unsigned long long)t->sent_cell[d][c],
                 (unsigned long long)lc);
    }
    if (r->t.queries != sent)
        diff(r->diffs, "%llu queries sent, %llu query entries in the log",
             (unsigned long long)sent, (unsigned long long)r->t.queries);
    uint64_t rel = 0, nof = 0, red = 0, held = 0, den = 0;
    for (int c = 0; c < SL_DEMO_NCLASS; c++) {
        rel += r->t.cell[c][SL_DEMO_RELEASED];
        nof += r->t.cell[c][SL_DEMO_NOT_ON_FILE];
        red += r->t.cell[c][SL_DEMO_REDACTED];
        held += r->t.cell[c][SL_DEMO_HELD];
        den += r->t.cell[c][SL_DEMO_DENIED];
    }
    if (r->t.report_queries != r->t.queries || r->t.report_released != rel + nof ||
        r->t.report_redacted != red || r->t.report_held != held || r->t.report_denied != den)
        diff(r->diffs, "stateline report counts queries %llu, released %llu, redacted %llu, "
             "held %llu, denied %llu; the class table %llu, %llu (+ %llu not on file), %llu, "
             "%llu, %llu", (unsigned long long)r->t.report_queries,
             (unsigned long long)r->t.report_released, (unsigned long long)r->t.report_redacted,
             (unsigned long long)r->t.report_held, (unsigned long long)r->t.report_denied,
             (unsigned long long)r->t.queries, (unsigned long long)rel,
             (unsigned long long)nof, (unsigned long long)red, (unsigned long long)held,
             (unsigned long long)den);
    r->agree = json_array_size(r->diffs) == 0;
}

static json_t *cells_json(const uint64_t cell[SL_DEMO_NOUT])
{
    json_t *o = json_object();
    uint64_t tot = 0;
    for (int k = 0; k < SL_DEMO_NOUT; k++) {
        json_object_set_new(o, sl_demo_outcome_id(k), json_integer((json_int_t)cell[k]));
        tot += cell[k];
    }
    json_object_set_new(o, "total", json_integer((json_int_t)tot));
    return o;
}

static json_t *table_json(const uint64_t cell[SL_DEMO_NCLASS][SL_DEMO_NOUT])
{
    json_t *by = json_object();
    uint64_t tot[SL_DEMO_NOUT] = {0};
    for (int c = 0; c < SL_DEMO_NCLASS; c++) {
        json_object_set_new(by, sl_demo_class_info(c)->id, cells_json(cell[c]));
        for (int k = 0; k < SL_DEMO_NOUT; k++)
            tot[k] += cell[c][k];
    }
    json_t *o = json_object();
    json_object_set_new(o, "by_class", by);
    json_object_set_new(o, "totals", cells_json(tot));
    return o;
}

static void print_state_text(struct demo *dm, int d, struct state_result *r)
{
    FILE *f = stdout;
    const struct sl_demo_state *s = &sl_demo_states()[d];
    char lower[3] = {(char)(s->code[0] - 'A' + 'a'), (char)(s->code[1] - 'A' + 'a'), 0};
    fprintf(f, "\n%s %s (policy %s/policies/%s.policy; figures from %s/%s/audit)\n", s->code,
            s->name, dm->dir, lower, dm->dir, s->code);
    fprintf(f, "  %-20s %6s %9s %9s %6s %7s %12s %16s %6s\n", "requester", "sent", "released",
            "redacted", "held", "denied", "not on file", "no answer/error", "total");
    uint64_t tot[SL_DEMO_NOUT + 2] = {0};
    for (int c = 0; c < SL_DEMO_NCLASS; c++) {
        uint64_t row = 0;
        fprintf(f, "  %-20s %6llu", sl_demo_class_info(c)->name,
                (unsigned long long)dm->tr.sent_cell[d][c]);
        tot[0] += dm->tr.sent_cell[d][c];
        static const int w[SL_DEMO_NOUT] = {9, 9, 6, 7, 12, 16};
        for (int k = 0; k < SL_DEMO_NOUT; k++) {
            fprintf(f, " %*llu", w[k], (unsigned long long)r->t.cell[c][k]);
            row += r->t.cell[c][k];
            tot[1 + k] += r->t.cell[c][k];
        }
        fprintf(f, " %6llu\n", (unsigned long long)row);
        tot[SL_DEMO_NOUT + 1] += row;
    }
    fprintf(f, "  %-20s %6llu %9llu %9llu %6llu %7llu %12llu %16llu %6llu\n", "all",
            (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)tot[2],
            (unsigned long long)tot[3], (unsigned long long)tot[4], (unsigned long long)tot[5],
            (unsigned long long)tot[6], (unsigned long long)tot[7]);
    fprintf(f, "  notices created during the traffic %llu, holds pending review %llu; stateline report: %llu "
            "queries, released %llu, redacted %llu, held %llu, denied %llu\n",
            (unsigned long long)r->t.notices_created, (unsigned long long)r->t.holds_pending,
            (unsigned long long)r->t.report_queries, (unsigned long long)r->t.report_released,
            (unsigned long long)r->t.report_redacted, (unsigned long long)r->t.report_held,
            (unsigned long long)r->t.report_denied);
    if (r->reviewed)
        fprintf(f, "  review desk, after the traffic: demo-reviewer approved %d and denied %d held "
                "request(s)%s; %d notice(s) to the person%s%s\n",
                r->rv.approved, r->rv.denied,
                r->rv.unsent ? " (some replies had not left after 10 s)" : "", r->rv.notices,
                r->rv.letters ? ", letters in " : "", r->rv.letters ? r->rv.outbox : "");
    if (r->agree)
        fprintf(f, "  the log, the report and the %llu replies received agree in every cell\n",
                (unsigned long long)tot[0]);
    else {
        fprintf(f, "  DIFFERENCES:\n");
        size_t i;
        json_t *v;
        json_array_foreach(r->diffs, i, v) fprintf(f, "    %s\n", json_string_value(v));
    }
    if (r->problems == 0)
        fprintf(f, "  %s: log intact (%llu entries, %llu signed checkpoints verified)\n",
                s->code, (unsigned long long)r->v.entries, (unsigned long long)r->v.checkpoints);
    else
        fprintf(f, "  %s: LOG NOT INTACT (%lld problems; stateline audit verify %s/%s/audit)\n",
                s->code, (long long)r->problems, dm->dir, s->code);
}

static void print_stay(struct demo *dm, json_t *j)
{
    int d = 0; /* Washington */
    const char *oln = dm->tr.example_oln[d][0] ? dm->tr.example_oln[d] : "<OLN>";
    const char *ori = dm->tr.example_ori[d][0] ? dm->tr.example_ori[d] : "WASP00000";
    char q1[4 * DEMO_PATH], q2[4 * DEMO_PATH], stop[2 * DEMO_PATH];
    demo_fmt(q1, sizeof q1,
             "%s query --hub 127.0.0.1:%d --certs %s/certs --line WA --as %s dq --to WA "
             "--oln %s",
             dm->self, dm->hub_port, dm->dir, ori, oln);
    demo_fmt(q2, sizeof q2,
             "%s query --hub 127.0.0.1:%d --certs %s/certs --line DH --as %s dq --to WA "
             "--oln %s",
             dm->self, dm->hub_port, dm->dir,
             dm->tr.example_ero[0] ? dm->tr.example_ero : "<a DHS/ICE/ERO ORI>", oln);
    demo_fmt(stop, sizeof stop, "%s demo stop --dir %s", dm->self, dm->dir);
    time_t now = time(NULL);
    struct tm tm;
    char today[16];
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    if (j) {
        json_t *s = json_object();
        json_object_set_new(s, "hub", json_sprintf("127.0.0.1:%d", dm->hub_port));
        json_object_set_new(s, "query", json_string(q1));
        json_object_set_new(s, "query_as_ice_ero", json_string(q2));
        json_object_set_new(s, "review_desk",
                            json_sprintf("%s review --config %s/NY/gateway.conf list", dm->self,
                                         dm->dir));
        json_object_set_new(s, "stop", json_string(stop));
        json_t *desks = json_object();
        for (int k = 0; k < SL_DEMO_NSTATES; k++)
            if (dm->desk_port[k] > 0)
                json_object_set_new(desks, sl_demo_states()[k].code,
                                    json_sprintf("https://127.0.0.1:%d/", dm->desk_port[k]));
        json_object_set_new(s, "desks", desks);
        json_object_set_new(s, "accounts_file", json_sprintf("%s/accounts.txt", dm->dir));
        json_object_set_new(s, "ca_certificate", json_sprintf("%s/certs/ca.crt", dm->dir));
        json_object_set_new(s, "desk_code",
                            json_sprintf("%s gateway users --config %s/WA/gateway.conf code "
                                         "wa-reviewer", dm->self, dm->dir));
        json_object_set_new(s, "pids_file", json_sprintf("%s/demo.pids", dm->dir));
        json_object_set_new(j, "stay", s);
        return;
    }
    printf("\nThe network stays up (--stay).  Query it by hand, e.g. Washington's records from a "
           "Washington police terminal:\n\n  %s\n\n"
           "or the same as an ICE ERO office (Washington's policy denies it):\n\n  %s\n\n"
           "A state's transparency report from its audit log:\n\n"
           "  %s report --log %s/WA/audit --from %s --to %s\n\n"
           "Edit %s/policies/wa.policy and the WA gateway puts it in force within a second.\n\n"
           "Requests a policy held (New York's court-order rule, for one) wait at the review "
           "desk:\n\n  %s review --config %s/NY/gateway.conf list\n"
           "  %s review --config %s/NY/gateway.conf approve <ID> --reviewer YOUR-NAME "
           "--reason \"...\"\n\n"
           "or in the browser, at the state's oversight desk (below).\n\n",
           q1, q2, dm->self, dm->dir, today, today, dm->dir, dm->self, dm->dir, dm->self,
           dm->dir);
    printf("Each state's oversight desk (briefing, figures, decisions, review desk, rule "
           "drafts, the log's health):\n\n");
    for (int k = 0; k < SL_DEMO_NSTATES; k++)
        if (dm->desk_port[k] > 0)
            printf("  %s %-14s https://127.0.0.1:%d/\n", sl_demo_states()[k].code,
                   sl_demo_states()[k].name, dm->desk_port[k]);
    printf("\nLog on with a demo account from %s/accounts.txt (one per role per state, with "
           "its password),\nand the code of the moment, e.g. for Washington's reviewer:\n\n"
           "  %s gateway users --config %s/WA/gateway.conf code wa-reviewer\n\n"
           "The desks' certificates are signed by the demo's own CA: the browser warns once "
           "(or import\n%s/certs/ca.crt as a trusted authority).\n\n"
           "Stop everything with:\n\n  %s\n",
           dm->dir, dm->self, dm->dir, dm->dir, stop);
}

int sl_demo_run(const struct sl_demo_opts *o, const char *self_exe)
{
    struct demo *dm = sl_xcalloc(1, sizeof *dm);
    dm->o = o;
    dm->self = self_exe;
    dm->say = o->json ? stderr : stdout;
    dm->sfd = -1;
    char err[1024] = "";
    int rc = 1;
    json_t *j = NULL;
    struct state_result *res = sl_xcalloc(SL_DEMO_NSTATES, sizeof *res);

    /* the folder, made absolute so the children and the printed commands agree */
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "stateline demo: cannot create %s: %s\n", o->dir, strerror(errno));
        goto done;
    }
    if (!realpath(o->dir, dm->dir)) {
        fprintf(stderr, "stateline demo: %s: %s\n", o->dir, strerror(errno));
        goto done;
    }
    /* the hub's control socket DIR/hub.sock must fit a Unix socket address */
    if (strlen(dm->dir) + strlen("/hub.sock") >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "stateline demo: the folder's path %s is too long for the hub's control "
                "socket (a Unix socket path holds %zu bytes): choose a shorter --dir\n", dm->dir,
                sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        goto done;
    }
    if (demo_find_policies(o->policies, self_exe, dm->policies_src, sizeof dm->policies_src) != 0)
        dm->policies_src[0] = 0; /* needed only when the folder has no copies yet */

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &dm->oldmask);
    dm->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

    fprintf(dm->say, "stateline demo: everything goes in %s\n", dm->dir);
    if (demo_check_not_running(dm, err, sizeof err) != 0)
        goto fail;
    int64_t t_setup = sl_now_ms();
    if (demo_setup(dm, err, sizeof err) != 0)
        goto fail;
    fprintf(dm->say, "set-up: %.1f s\n", (double)(sl_now_ms() - t_setup) / 1000.0);
    if (demo_start(dm, err, sizeof err) != 0)
        goto fail;
    /* the oversight desks: accounts, and the address of each */
    if (demo_desk_accounts(dm, err, sizeof err) != 0)
        goto fail;
    fprintf(dm->say, "oversight desks:");
    for (int d = 0; d < SL_DEMO_NSTATES; d++) {
        dm->desk_port[d] = demo_desk_port(dm->gw[d].log);
        if (dm->desk_port[d] > 0)
            fprintf(dm->say, " %s https://127.0.0.1:%d/", sl_demo_states()[d].code,
                    dm->desk_port[d]);
        else
            fprintf(dm->say, " %s (not started: see %s)", sl_demo_states()[d].code,
                    dm->gw[d].log);
    }
    fprintf(dm->say, "\n");
    if (demo_traffic(dm, err, sizeof err) != 0)
        goto fail;

    /* the review desk: a demo reviewer decides what the policies held, so that the
     * replies after review and the notices they owe are seen; with --stay the holds are
     * left for a person (`stateline review`) */
    if (!o->stay) {
        fprintf(dm->say, "review desk: deciding the held requests as demo-reviewer\n");
        for (int d = 0; d < SL_DEMO_NSTATES; d++) {
            res[d].reviewed = demo_review(dm, d, &res[d].rv, res[d].review_err,
                                          sizeof res[d].review_err) == 0;
            if (!res[d].reviewed)
                fprintf(stderr, "stateline demo: review desk of %s: %s\n",
                        sl_demo_states()[d].code, res[d].review_err);
        }
    }

    /* the logs: without --stay, stop the gateways first so each closes its log with a
     * final signed checkpoint; with --stay, wait for the next checkpoint (1 s) */
    if (!o->stay)
        demo_stop_all(dm);
    else
        usleep(1500 * 1000);
    int all_agree = 1, all_intact = 1;
    for (int d = 0; d < SL_DEMO_NSTATES; d++) {
        check_state(dm, d, &res[d]);
        all_agree &= res[d].agree;
        all_intact &= res[d].problems == 0;
    }
    struct sl_audit_verify_result hub_v;
    memset(&hub_v, 0, sizeof hub_v);
    char hub_err[256] = "";
    json_t *hub_diffs = json_array();
    int64_t hub_problems = check_hub_log(dm, &hub_v, hub_diffs, hub_err, sizeof hub_err);
    all_intact &= hub_problems == 0;

    if (o->json) {
        j = json_object();
        json_object_set_new(j, "dir", json_string(dm->dir));
        json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
        json_object_set_new(j, "drivers_per_state", json_integer((json_int_t)o->drivers));
        json_object_set_new(j, "rate", json_real(o->rate));
        json_object_set_new(j, "min_per_class", json_integer(o->min_per_cell));
        json_object_set_new(j, "queries_planned", json_integer((json_int_t)dm->tr.planned));
        json_object_set_new(j, "queries_sent", json_integer((json_int_t)dm->tr.sent));
        json_object_set_new(j, "answers_matched", json_integer((json_int_t)dm->tr.answered));
        json_object_set_new(j, "answers_unmatched", json_integer((json_int_t)dm->tr.unmatched));
        json_object_set_new(j, "seconds", json_real(dm->tr.seconds));
        json_object_set_new(j, "terminal_lines", json_integer(dm->tr.lines));
        json_t *fields = json_object();
        json_object_set_new(fields, "rsn", json_integer((json_int_t)dm->tr.with_rsn));
        json_object_set_new(fields, "pur", json_integer((json_int_t)dm->tr.with_pur));
        json_object_set_new(fields, "cas", json_integer((json_int_t)dm->tr.with_cas));
        json_object_set_new(fields, "lgp", json_integer((json_int_t)dm->tr.with_lgp));
        json_object_set_new(fields, "meant_to_miss", json_integer((json_int_t)dm->tr.meant_to_miss));
        json_object_set_new(j, "queries_with", fields);
        json_t *cls = json_array();
        for (int c = 0; c < SL_DEMO_NCLASS; c++) {
            const struct sl_demo_class_info *ci = sl_demo_class_info(c);
            json_array_append_new(cls, json_pack("{s:s,s:s,s:f,s:s}", "id", ci->id, "name",
                                                 ci->name, "share", ci->share, "basis",
                                                 ci->basis));
        }
        json_object_set_new(j, "classes", cls);
        json_t *states = json_object();
        for (int d = 0; d < SL_DEMO_NSTATES; d++) {
            struct state_result *r = &res[d];
            json_t *s = json_object();
            uint64_t sent = 0;
            json_t *sbc = json_object();
            for (int c = 0; c < SL_DEMO_NCLASS; c++) {
                sent += dm->tr.sent_cell[d][c];
                json_object_set_new(sbc, sl_demo_class_info(c)->id,
                                    json_integer((json_int_t)dm->tr.sent_cell[d][c]));
            }
            json_object_set_new(s, "sent", json_integer((json_int_t)sent));
            json_object_set_new(s, "sent_by_class", sbc);
            json_t *log = table_json((const uint64_t(*)[SL_DEMO_NOUT])r->t.cell);
            json_object_set_new(log, "queries", json_integer((json_int_t)r->t.queries));
            json_object_set_new(s, "log", log);
            json_object_set_new(s, "replies",
                                table_json((const uint64_t(*)[SL_DEMO_NOUT])dm->tr.cell[d]));
            json_object_set_new(
                s, "report",
                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "queries",
                          (json_int_t)r->t.report_queries, "released",
                          (json_int_t)r->t.report_released, "redacted",
                          (json_int_t)r->t.report_redacted, "held", (json_int_t)r->t.report_held,
                          "denied", (json_int_t)r->t.report_denied, "noticed",
                          (json_int_t)r->t.report_noticed, "timed_out",
                          (json_int_t)r->t.report_timed_out));
            json_object_set_new(s, "notices_created",
                                json_integer((json_int_t)r->t.notices_created));
            json_object_set_new(s, "holds_pending", json_integer((json_int_t)r->t.holds_pending));
            if (r->reviewed)
                json_object_set_new(
                    s, "review_desk",
                    json_pack("{s:i,s:i,s:i,s:b,s:i,s:i,s:s}", "approved", r->rv.approved,
                              "denied", r->rv.denied, "refused", r->rv.refused, "all_sent",
                              !r->rv.unsent, "notices", r->rv.notices, "letters",
                              r->rv.letters, "outbox", r->rv.outbox));
            json_object_set_new(s, "agree", json_boolean(r->agree));
            json_object_set_new(s, "differences", json_incref(r->diffs));
            json_object_set_new(s, "log_intact", json_boolean(r->problems == 0));
            json_object_set_new(s, "verify",
                                json_pack("{s:I,s:I,s:I}", "entries", (json_int_t)r->v.entries,
                                          "checkpoints", (json_int_t)r->v.checkpoints,
                                          "problems", (json_int_t)r->problems));
            json_object_set_new(states, sl_demo_states()[d].code, s);
        }
        json_object_set_new(j, "states", states);
        json_object_set_new(j, "hub_log",
                            json_pack("{s:s,s:b,s:I,s:I,s:I,s:o}", "dir", "hub-audit", "intact",
                                      hub_problems == 0, "entries", (json_int_t)hub_v.entries,
                                      "checkpoints", (json_int_t)hub_v.checkpoints, "problems",
                                      (json_int_t)hub_problems, "differences",
                                      json_incref(hub_diffs)));
        json_object_set_new(j, "all_agree", json_boolean(all_agree));
        json_object_set_new(j, "all_logs_intact", json_boolean(all_intact));
        if (o->stay)
            print_stay(dm, j);
        json_dumpf(j, stdout, JSON_INDENT(1));
        fputc('\n', stdout);
    } else {
        printf("\nQueries by requester class and outcome, per state (counted from each "
               "gateway's audit log;\n'sent' is what the traffic generator sent; it checked "
               "every cell against the replies it received):\n");
        for (int d = 0; d < SL_DEMO_NSTATES; d++)
            print_state_text(dm, d, &res[d]);
        if (hub_problems == 0)
            printf("\nThe switch's own log %s/hub-audit: %llu entries (what it routed: headers "
                   "and routing decisions, no bodies), %llu checkpoints, verifies with "
                   "hub-audit.pub.\n", dm->dir, (unsigned long long)hub_v.entries,
                   (unsigned long long)hub_v.checkpoints);
        else
            printf("\nThe switch's own log %s/hub-audit: LOG NOT INTACT (%lld problems%s%s; "
                   "stateline audit verify %s/hub-audit --key %s/hub-audit.pub)\n", dm->dir,
                   (long long)hub_problems, hub_err[0] ? ": " : "", hub_err, dm->dir, dm->dir);
        printf("\n%llu queries in %.1f s on %d terminal lines; %s; %s.\n",
               (unsigned long long)dm->tr.sent, dm->tr.seconds, dm->tr.lines,
               all_agree ? "every total adds up" : "SOME TOTALS DIFFER (see above)",
               all_intact ? "every audit log verifies" : "SOME LOG DOES NOT VERIFY");
        if (o->stay)
            print_stay(dm, NULL);
    }
    fflush(stdout);
    json_decref(hub_diffs);
    rc = all_agree && all_intact ? 0 : 1;
    if (o->stay) {
        demo_write_pids(dm);
        /* the children run on: forget them (they are in their own sessions) */
        for (int d = 0; d < SL_DEMO_NSTATES; d++)
            dm->gw[d].pid = 0;
        dm->hub.pid = 0;
    }
    goto done;

fail:
    fprintf(stderr, "stateline demo: %s\n", err);
    if (dm->interrupted)
        fprintf(stderr, "stateline demo: stopping everything it started\n");
    rc = 1;
done:
    demo_stop_all(dm); /* no-op for children already stopped or left running */
    for (int d = 0; d < SL_DEMO_NSTATES; d++)
        json_decref(res[d].diffs);
    free(res);
    json_decref(j);
    if (dm->sfd >= 0) {
        /* A SIGINT/SIGTERM that stopped the run is still pending: unblocking it ends the
         * process by that signal, now that nothing is left running (the exit status a
         * shell expects after Ctrl-C). */
        close(dm->sfd);
        sigprocmask(SIG_SETMASK, &dm->oldmask, NULL);
    }
    free(dm);
    return rc;
}
