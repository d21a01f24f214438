/*
 * gen_certs.c - `stateline gen certs`: the CA, the hub's certificate, an answering-line
 * and a terminal-line certificate per member, a desk (HTTPS server) certificate per member,
 * and the tokens file of plain loopback lines
 * (files and subjects: include/stateline/certs.h; docs/protocol.md §3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/certs.h"
#include "stateline/cli.h"
#include "stateline/core.h"

#define MAX_MEMBERS 256

static const char usage[] =
    "usage: stateline gen certs --out DIR [--members WA,CA,...|--all] [--hub-host HOST]\n"
    "                           [--days N] [--force]\n"
    "\n"
    "Make the credentials of a test or demo network with EC P-256 keys:\n"
    "  ca.crt ca.key                   the network CA\n"
    "  hub.crt hub.key                 the switch: CN=NL OU=hub, SAN localhost, 127.0.0.1,\n"
    "                                  ::1 and HOST\n"
    "  M-answer.crt M-answer.key       member M's answering line (CN=M OU=answer)\n"
    "  M-terminal.crt M-terminal.key   member M's terminal line (CN=M OU=terminal)\n"
    "  M-desk.crt M-desk.key           member M's oversight desk, an HTTPS server\n"
    "                                  certificate (CN=M OU=desk, serverAuth, the hub's SANs)\n"
    "  tokens                          'M ROLE TOKEN' per line, for plain loopback lines\n"
    "Private keys and tokens are mode 0600.  Valid existing files are kept.\n"
    "\n"
    "options:\n"
    "  --out DIR          where to write (created if missing)\n"
    "  --members LIST     comma-separated member codes (e.g. WA,CA,OR)\n"
    "  --all              every member: the 50 states, DC, PR, GU, VI, CN (Canada) and the\n"
    "                     federal lines DJ DH TR DI DD (the default)\n"
    "  --hub-host HOST    another DNS name or IP address for the hub's certificate\n"
    "  --days N           validity of new certificates (default 825)\n"
    "  --force            make everything again, tokens included\n";

static int run(int argc, char **argv)
{
    struct sl_certs_opts o = {.days = 825};
    const char *members_arg = NULL;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--out") == 0 && v) {
            o.out_dir = v;
            i++;
        } else if (strcmp(a, "--members") == 0 && v) {
            members_arg = v;
            i++;
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if (strcmp(a, "--hub-host") == 0 && v) {
            o.hub_host = v;
            i++;
        } else if (strcmp(a, "--days") == 0 && v) {
            char *end;
            long d = strtol(v, &end, 10);
            if (*end || d < 1 || d > 36500) {
                fprintf(stderr, "stateline gen certs: --days wants 1 to 36500, not '%s'\n", v);
                return SL_EXIT_USAGE;
            }
            o.days = (int)d;
            i++;
        } else if (strcmp(a, "--force") == 0) {
            o.force = 1;
        } else {
            fprintf(stderr, "stateline gen certs: unknown or incomplete option '%s'\n%s", a,
                    usage);
            return SL_EXIT_USAGE;
        }
    }
    if (!o.out_dir) {
        fprintf(stderr, "stateline gen certs: --out DIR is required\n%s", usage);
        return SL_EXIT_USAGE;
    }
    if (all && members_arg) {
        fprintf(stderr, "stateline gen certs: --members and --all exclude each other\n");
        return SL_EXIT_USAGE;
    }

    const char *list[MAX_MEMBERS];
    char *copy = NULL;
    if (members_arg) {
        copy = sl_xstrdup(members_arg);
        size_t n = 0;
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            int dup = 0;
            for (size_t j = 0; j < n; j++)
                dup |= strcmp(list[j], tok) == 0;
            if (dup)
                continue;
            if (n == MAX_MEMBERS) {
                fprintf(stderr, "stateline gen certs: more than %d members\n", MAX_MEMBERS);
                free(copy);
                return SL_EXIT_USAGE;
            }
            list[n++] = tok;
        }
        if (n == 0) {
            fprintf(stderr, "stateline gen certs: --members is empty\n");
            free(copy);
            return SL_EXIT_USAGE;
        }
        o.members = list;
        o.nmembers = n;
    } else {
        o.members = sl_certs_all_members(&o.nmembers);
    }

    char err[512];
    int rc = sl_certs_generate(&o, stdout, err, sizeof err);
    free(copy);
    if (rc < 0) {
        fprintf(stderr, "stateline gen certs: %s\n", err);
        return SL_EXIT_FAIL;
    }
    return SL_EXIT_OK;
}

const struct sl_cli_cmd sl_gen_certs = {
    "certs", "a CA, the hub's and every member line's certificate, and plain-line tokens", run,
    usage};
