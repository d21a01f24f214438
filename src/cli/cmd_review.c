/*
 * cmd_review.c - `stateline review`: the state's review desk and notices to the person
 * (docs/review.md).
 *
 *   stateline review --config gw.conf list [--all] [--json]
 *   stateline review --config gw.conf show ID [--json]
 *   stateline review --config gw.conf approve ID --reviewer NAME [--redact c,..] --reason ".."
 *   stateline review --config gw.conf deny ID --reviewer NAME --reason ".."
 *   stateline review --config gw.conf notices [--due|--overdue|--all] [--json]
 *   stateline review --config gw.conf notices send [--outbox DIR] [--sender TEXT]
 *
 * Everything goes through the gateway's gateway.db (gw_desk.c); the running gateway sends
 * the replies and writes the audit entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/buf.h"
#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/gateway.h"
#include "stateline/policy.h"

static const char usage[] =
    "usage: stateline review --config GATEWAY.CONF <command> ...\n"
    "\n"
    "  list [--all] [--json]            requests held for review (--all: every request ever\n"
    "                                   held, with its outcome)\n"
    "  show ID [--json]                 all a reviewer needs about one request (WA-R12 or 12)\n"
    "  approve ID --reviewer NAME [--redact CLASS,...] --reason \"...\"\n"
    "                                   release it (with the policy's redactions and yours)\n"
    "  deny ID --reviewer NAME --reason \"...\"\n"
    "                                   refuse it; the requester gets a denial\n"
    "  notices [--due|--overdue|--all] [--json]\n"
    "                                   notices to the person: unsent (default), unsent and\n"
    "                                   not yet overdue, overdue, or all\n"
    "  notices send [--outbox DIR] [--sender TEXT]\n"
    "                                   write each unsent notice as a letter (.txt and .html)\n"
    "                                   into DIR (default DATA/outbox, mode 0700), mark sent\n"
    "\n"
    "A reviewer cannot approve their own request: their name is the request's ATN/, or\n"
    "reviewer_links in the gateway configuration ties them to the requesting ORI.  Where\n"
    "the configuration's two_person names the holding rule (or says all), approval needs\n"
    "two different reviewers.  The running gateway sends the reply within review_poll_ms\n"
    "and writes the review entry to the audit log.  Classes for --redact: identity, photo,\n"
    "ssn, address, dob, description, license, history, vehicle, owner, owner-address.\n"
    "See docs/review.md.\n";

static int parse_classes(const char *s, uint32_t *mask)
{
    char buf[400];
    sl_strlcpy(buf, s, sizeof buf);
    *mask = 0;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
         t = strtok_r(NULL, ", ", &save)) {
        int c = sl_policy_dc_lookup(t);
        if (c < 0) {
            fprintf(stderr, "stateline review: --redact: unknown data class '%s' (identity, "
                    "photo, ssn, address, dob, description, license, history, vehicle, "
                    "owner, owner-address)\n", t);
            return -1;
        }
        *mask |= SL_DC_BIT(c);
    }
    return 0;
}

static int run(int argc, char **argv)
{
    const char *config = NULL, *reviewer = NULL, *reason = NULL, *redact = NULL;
    const char *outbox = NULL, *sender = NULL;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0, json = 0, all = 0, which = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(a, "--reviewer") && i + 1 < argc)
            reviewer = argv[++i];
        else if (!strcmp(a, "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strcmp(a, "--redact") && i + 1 < argc)
            redact = argv[++i];
        else if (!strcmp(a, "--outbox") && i + 1 < argc)
            outbox = argv[++i];
        else if (!strcmp(a, "--sender") && i + 1 < argc)
            sender = argv[++i];
        else if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--all"))
            all = 1, which = 3;
        else if (!strcmp(a, "--due"))
            which = 1;
        else if (!strcmp(a, "--overdue"))
            which = 2;
        else if (a[0] == '-' || npos == 3) {
            fprintf(stderr, "stateline review: unexpected '%s'\n%s", a, usage);
            return SL_EXIT_USAGE;
        } else
            pos[npos++] = a;
    }
    if (!config || !npos) {
        fprintf(stderr, "stateline review: %s\n%s",
                !config ? "--config GATEWAY.CONF is required" : "no command", usage);
        return SL_EXIT_USAGE;
    }
    const char *cmd = pos[0];
    int is_decide = !strcmp(cmd, "approve") || !strcmp(cmd, "deny");
    if ((is_decide || !strcmp(cmd, "show")) && npos != 2) {
        fprintf(stderr, "stateline review %s: one review number is required (WA-R12)\n", cmd);
        return SL_EXIT_USAGE;
    }
    if (!is_decide && (reviewer || reason || redact)) {
        fprintf(stderr, "stateline review %s: --reviewer, --reason and --redact belong to "
                "approve and deny\n", cmd);
        return SL_EXIT_USAGE;
    }
    if (!strcmp(cmd, "deny") && redact) {
        fprintf(stderr, "stateline review deny: --redact belongs to approve\n");
        return SL_EXIT_USAGE;
    }
    uint32_t extra = 0;
    if (redact && parse_classes(redact, &extra) != 0)
        return SL_EXIT_USAGE;

    char err[1024];
    struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
    if (sl_gw_config_load(config, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "stateline review: %s\n", err);
        free(cfg);
        return SL_EXIT_FAIL;
    }
    struct sl_gw_desk *d = sl_gw_desk_open(cfg, err, sizeof err);
    if (!d) {
        fprintf(stderr, "stateline review: %s\n", err);
        free(cfg);
        return SL_EXIT_FAIL;
    }
    struct sl_buf out = SL_BUF_INIT;
    int rc = SL_EXIT_OK;
    err[0] = 0;
    if (!strcmp(cmd, "list") && npos == 1) {
        if (sl_gw_desk_list(d, all, json, &out) != 0)
            rc = SL_EXIT_FAIL;
    } else if (!strcmp(cmd, "show")) {
        if (sl_gw_desk_show(d, pos[1], json, &out, err, sizeof err) != 0)
            rc = SL_EXIT_FAIL;
    } else if (is_decide) {
        int r = sl_gw_desk_decide(d, pos[1], !strcmp(cmd, "approve"), reviewer, extra, reason,
                                  &out, err, sizeof err);
        if (r < 0)
            rc = SL_EXIT_FAIL;
    } else if (!strcmp(cmd, "notices") && npos == 1) {
        if (sl_gw_desk_notices(d, which, json, sl_wall_us() / 1000000, &out) != 0)
            rc = SL_EXIT_FAIL;
    } else if (!strcmp(cmd, "notices") && npos == 2 && !strcmp(pos[1], "send")) {
        char box[SL_GW_PATH_MAX + 16], from[200];
        if (!outbox)
            snprintf(box, sizeof box, "%s/outbox", cfg->data_dir);
        else
            sl_strlcpy(box, outbox, sizeof box);
        snprintf(from, sizeof from, "%s", sender ? sender : "Driver and vehicle records office");
        int n = 0;
        if (sl_gw_desk_send(d, box, from, &out, &n, err, sizeof err) != 0)
            rc = SL_EXIT_FAIL;
        sl_buf_printf(&out, "%d letter%s written\n", n, n == 1 ? "" : "s");
    } else {
        fprintf(stderr, "stateline review: unknown command '%s%s%s'\n%s", cmd,
                npos > 1 ? " " : "", npos > 1 ? pos[1] : "", usage);
        rc = SL_EXIT_USAGE;
    }
    if (sl_buf_used(&out))
        fwrite(sl_buf_head(&out), 1, sl_buf_used(&out), stdout);
    if (err[0])
        fprintf(stderr, "stateline review %s: %s\n", cmd, err);
    sl_buf_free(&out);
    sl_gw_desk_close(d);
    free(cfg);
    return rc;
}

const struct sl_cli_cmd sl_cmd_review = {
    "review",
    "the review desk: held requests (list, show, approve, deny) and notices to the person",
    run,
    usage,
};
