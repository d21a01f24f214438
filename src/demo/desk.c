/*
 * desk.c - the demo's oversight desks (docs/demo.md §7): each state's gateway serves its
 * desk over HTTPS with the state's desk certificate (certs/XX-desk.crt, serverAuth, SAN
 * 127.0.0.1 and localhost, from sl_certs_generate); this file makes the demo accounts
 * and finds the addresses.
 *
 * DIR/accounts.txt (mode 0600), rewritten at each run, one account a line:
 *
 *     # comments
 *     WA wa-reviewer reviewer <password> <TOTP secret, base32>
 *
 * Accounts: one per role per state, named <xx>-<role>, plus <xx>-reviewer2 and
 * <xx>-approver2 (two-person rules).  An account listed in the file
 * that still exists in the state's gateway.db is kept (its password is only in the file:
 * the database has its scrypt hash); a missing one is made with a new random password.
 * The current TOTP code of an account: `stateline gateway users --config
 * DIR/XX/gateway.conf code NAME` (or any authenticator app given the secret).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo_int.h"
#include "stateline/core.h"
#include "stateline/gateway.h"
#include "stateline/http.h"

/* One account per role, and a second reviewer and a second approver: the policy's
 * two-person review and a draft that loosens access each need two different people. */
static const struct {
    const char *name, *role;
} roles[] = {{"official", "official"}, {"reviewer", "reviewer"}, {"reviewer2", "reviewer"},
             {"author", "author"},     {"approver", "approver"}, {"approver2", "approver"},
             {"auditor", "auditor"},   {"admin", "admin"}};
#define NROLES (sizeof roles / sizeof roles[0])

struct acct {
    char state[4], name[40], role[16], pw[40], secret[64];
};

/* A password a person can type: 20 characters of a-z and 2-9 (about 100 bits). */
static int new_password(char *out, size_t cap)
{
    static const char alpha[] = "abcdefghijkmnpqrstuvwxyz23456789";
    unsigned char r[20];
    if (cap < sizeof r + 1 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    for (size_t i = 0; i < sizeof r; i++)
        out[i] = alpha[r[i] % 32];
    out[sizeof r] = 0;
    return 0;
}

static int read_accounts(const char *path, struct acct *a, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[400];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct acct *x = &a[n];
        if (sscanf(line, "%3s %39s %15s %39s %63s", x->state, x->name, x->role, x->pw,
                   x->secret) == 5)
            n++;
    }
    fclose(f);
    return n;
}

int demo_desk_accounts(struct demo *dm, char *err, size_t errlen)
{
    char path[DEMO_PATH + 32];
    demo_fmt(path, sizeof path, "%s/accounts.txt", dm->dir);
    enum { MAX = SL_DEMO_NSTATES * NROLES };
    struct acct old[MAX], now[MAX];
    int nold = read_accounts(path, old, MAX), n = 0, made = 0;
    struct sl_gw_config *cfg = sl_xmalloc(sizeof *cfg);
    int rc = -1;
    for (int d = 0; d < SL_DEMO_NSTATES; d++) {
        const char *code = sl_demo_states()[d].code;
        char conf[DEMO_PATH + 32], e[600];
        demo_fmt(conf, sizeof conf, "%s/%s/gateway.conf", dm->dir, code);
        if (sl_gw_config_load(conf, cfg, e, sizeof e) != 0) {
            demo_fmt(err, errlen, "%s", e);
            goto out;
        }
        for (size_t r = 0; r < NROLES; r++) {
            struct acct *x = &now[n++];
            memset(x, 0, sizeof *x);
            demo_fmt(x->state, sizeof x->state, "%s", code);
            demo_fmt(x->name, sizeof x->name, "%c%c-%s", code[0] | 0x20, code[1] | 0x20,
                     roles[r].name);
            demo_fmt(x->role, sizeof x->role, "%s", roles[r].role);
            int kept = 0;
            for (int i = 0; i < nold && !kept; i++) {
                char c[7];
                if (strcmp(old[i].name, x->name) || strcmp(old[i].role, x->role))
                    continue;
                /* still an account of this gateway (the code needs the stored secret) */
                if (sl_http_user_code(cfg, x->name, 0, c, NULL, e, sizeof e) == 0) {
                    demo_fmt(x->pw, sizeof x->pw, "%s", old[i].pw);
                    demo_fmt(x->secret, sizeof x->secret, "%s", old[i].secret);
                    kept = 1;
                }
            }
            if (kept)
                continue;
            if (new_password(x->pw, sizeof x->pw) != 0 ||
                sl_http_user_add(cfg, x->name, x->role, x->pw, 1, x->secret, sizeof x->secret,
                                 e, sizeof e) != 0) {
                demo_fmt(err, errlen, "demo account %s: %s", x->name, e[0] ? e : "no random");
                goto out;
            }
            made++;
        }
    }
    /* the file: written whole to a temporary name, then renamed (0600: it has passwords) */
    char tmp[DEMO_PATH + 48];
    demo_fmt(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        demo_fmt(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    fprintf(f, "# stateline demo: the oversight desks' demo accounts (rewritten by each run;\n"
               "# kept while they exist).  Log on at the state's desk address (printed by the\n"
               "# demo, and in XX/gateway.log: \"oversight desk on 127.0.0.1 port N\") with the\n"
               "# account, its password and the code of the moment:\n"
               "#   %s gateway users --config %s/XX/gateway.conf code ACCOUNT\n"
               "# or give the secret to an authenticator app.  Roles: docs/http-api.md.\n"
               "# state account role password totp-secret\n",
            dm->self, dm->dir);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s %s %s %s %s\n", now[i].state, now[i].name, now[i].role, now[i].pw,
                now[i].secret);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        demo_fmt(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        demo_fmt(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    fprintf(dm->say, "desk accounts: %s (%d made, %d kept; one per role per state, two reviewers and two approvers)\n", path,
            made, n - made);
    rc = 0;
out:
    free(cfg);
    return rc;
}

/* The port in the last "oversight desk on 127.0.0.1 port N" line of a gateway's log. */
int demo_desk_port(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return -1;
    char line[600];
    int port = -1;
    static const char pat[] = "oversight desk on 127.0.0.1 port ";
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, pat);
        if (p)
            port = atoi(p + strlen(pat));
    }
    fclose(f);
    return port;
}
