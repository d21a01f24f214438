/*
 * cmd_hub.c - `stateline hub`: run the switch, or talk to a running one.
 *
 *   stateline hub --config hub.conf
 *   stateline hub check --config hub.conf
 *   stateline hub ctl --socket PATH stats|lines|reload
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/hub.h"

static const char usage[] =
    "usage: stateline hub --config FILE          run the switch\n"
    "       stateline hub check --config FILE    check a configuration and exit\n"
    "       stateline hub ctl --socket PATH stats|lines|reload|queue\n"
    "       stateline hub ctl --socket PATH line MEMBER up|down|removed\n"
    "\n"
    "The switch accepts member lines (mutual TLS; plain TCP with tokens on loopback only\n"
    "when the configuration says plain = yes), checks every message against the ORI\n"
    "directory, answers errors with ER from NL0000000 and routes the rest.\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop (queued output is flushed, then exit 0); SIGHUP reloads\n"
    "the configuration and the directory without dropping lines (a bad configuration is\n"
    "refused and the running one stays).\n"
    "\n"
    "ctl commands print one JSON object: stats (totals), lines (one entry per line),\n"
    "reload (same as SIGHUP; says whether it worked), queue (members that are not up\n"
    "or have kept messages), line MEMBER up|down|removed (a member's service state:\n"
    "down keeps its messages and sends SM .02., removed refuses them with SM .04.;\n"
    "persisted; every line is told with an SM).\n"
    "\n"
    "Logs go to stderr; STATELINE_LOG=debug shows every refusal.  The configuration is\n"
    "described in examples/hub.conf and docs/operations.md.\n";

static int run_ctl(int argc, char **argv)
{
    const char *sock = NULL;
    char cmdbuf[200] = "";
    const char *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
            sock = argv[++i];
        } else if (argv[i][0] != '-' && strlen(cmdbuf) + strlen(argv[i]) + 2 < sizeof cmdbuf) {
            /* "line WA down": the words of one command */
            if (cmdbuf[0])
                strcat(cmdbuf, " ");
            strcat(cmdbuf, argv[i]);
            cmd = cmdbuf;
        } else {
            fprintf(stderr, "stateline hub ctl: unexpected '%s'\n%s", argv[i], usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!sock || !cmd) {
        fprintf(stderr, "stateline hub ctl: need --socket PATH and a command\n%s", usage);
        return SL_EXIT_USAGE;
    }
    struct sl_buf out = SL_BUF_INIT;
    char err[512];
    if (sl_hub_ctl_request(sock, cmd, &out, 10000, err, sizeof err) != 0) {
        fprintf(stderr, "stateline hub ctl: %s\n", err);
        sl_buf_free(&out);
        return SL_EXIT_FAIL;
    }
    fwrite(sl_buf_head(&out), 1, sl_buf_used(&out), stdout);
    int failed = sl_buf_used(&out) == 0 ||
                 memmem(sl_buf_head(&out), sl_buf_used(&out), "\"error\"", 7) != NULL;
    sl_buf_free(&out);
    return failed ? SL_EXIT_FAIL : SL_EXIT_OK;
}

static int run(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "ctl"))
        return run_ctl(argc - 1, argv + 1);
    int check = 0;
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "check") && i == 1)
            check = 1;
        else {
            fprintf(stderr, "stateline hub: unexpected '%s'\n%s", argv[i], usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!config) {
        fprintf(stderr, "stateline hub: --config FILE is required\n%s", usage);
        return SL_EXIT_USAGE;
    }
    char err[512];
    if (check) {
        struct sl_hub_config *cfg = sl_xmalloc(sizeof *cfg);
        int rc = sl_hub_config_load(config, cfg, err, sizeof err);
        free(cfg);
        if (rc != 0) {
            fprintf(stderr, "stateline hub: %s\n", err);
            return SL_EXIT_FAIL;
        }
        printf("%s: ok\n", config);
        return SL_EXIT_OK;
    }
    struct sl_hub *hub = NULL;
    if (sl_hub_new(config, &hub, err, sizeof err) != 0) {
        SL_ERROR("hub", "not starting: %s", err);
        return SL_EXIT_FAIL;
    }
    int rc = sl_hub_run(hub);
    sl_hub_free(hub);
    return rc;
}

const struct sl_cli_cmd sl_cmd_hub = {"hub", "run the message switch, or control a running one",
                                      run, usage};
