/*
 * cmd_gateway.c - `stateline gateway`: a state's node (docs/gateway.md).
 *
 *   stateline gateway --config gateway.conf
 *   stateline gateway check --config gateway.conf
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/cli.h"
#include "stateline/core.h"
#include "stateline/gateway.h"
#include "stateline/http.h"

static const char usage[] =
    "usage: stateline gateway --config FILE          run a state's gateway\n"
    "       stateline gateway check --config FILE    check a configuration and exit\n"
    "       stateline gateway users --config FILE ...   accounts of the oversight desk\n"
    "                                                (`stateline gateway users --help`)\n"
    "\n"
    "The gateway is a state's answering line on the hub: it answers DQ, DNQ, KQ, RQ, RNQ\n"
    "(RPQ when the configuration opts in; DQG/RQG like DQ/RQ) from the state's records,\n"
    "after one decision by the state's policy: forbid -> a denial naming the rule, hold ->\n"
    "\"held for review\" and the review queue, permit -> the records with the policy's\n"
    "redactions and marks.  Every query's audit entries are on disk before its reply\n"
    "leaves.  A changed policy file is in force within a second; one that does not check\n"
    "is refused and the old one stays.  The line is redialled with back-off when lost.\n"
    "\n"
    "At start it prints which policy is in force (file, state, rules, hash) or the\n"
    "configured default.  SIGTERM/SIGINT: replies in hand are sent (up to 5 s), then exit.\n"
    "Logs go to stderr (STATELINE_LOG=debug for more).  The configuration is described in\n"
    "examples/gateway.conf and docs/gateway.md.\n";

static int run(int argc, char **argv)
{
    int check = 0;
    const char *config = NULL;
    if (argc > 1 && !strcmp(argv[1], "users"))
        return sl_http_users_cmd(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "check") && i == 1)
            check = 1;
        else {
            fprintf(stderr, "stateline gateway: unexpected '%s'\n%s", argv[i], usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!config) {
        fprintf(stderr, "stateline gateway: --config FILE is required\n%s", usage);
        return SL_EXIT_USAGE;
    }
    char err[1024];
    struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
    if (sl_gw_config_load(config, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "stateline gateway: %s\n", err);
        free(cfg);
        return SL_EXIT_FAIL;
    }
    if (check) {
        printf("%s: ok (state %s, ori %s, hub %s)\n", config, cfg->state, cfg->ori, cfg->hub);
        free(cfg);
        return SL_EXIT_OK;
    }
    int rc = sl_gw_run(cfg);
    free(cfg);
    return rc ? SL_EXIT_FAIL : SL_EXIT_OK;
}

const struct sl_cli_cmd sl_cmd_gateway = {"gateway", "a state's node: answer DMV queries "
                                          "under the state's policy, with an audit log",
                                          run, usage};
