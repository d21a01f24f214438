/*
 * hub_conf.c - the hub's INI configuration (format in include/stateline/hub.h and
 * examples/hub.conf), read with inih.
 *
 * Every value is checked here so that a bad file is refused before anything starts and,
 * on SIGHUP, before anything of the running configuration is replaced.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "stateline/core.h"
#include "stateline/hub.h"
#include "stateline/msg.h"

struct conf_ctx {
    struct sl_hub_config *cfg;
    char dir[SL_HUB_PATH_MAX]; /* directory of the config file, for relative paths */
    char err[256];
    int bad;
};

/* "4096", "64k", "4m", "1 MiB": bytes.  Suffixes are binary (k = 1024). */
static int parse_size(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno)
        return -1;
    while (*end == ' ')
        end++;
    uint64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'k': mul = 1024; end++; break;
    case 'm': mul = 1024 * 1024; end++; break;
    case 'g': mul = 1024ull * 1024 * 1024; end++; break;
    default: return -1;
    }
    if (mul > 1 && (!strcasecmp(end, "") || !strcasecmp(end, "b") || !strcasecmp(end, "ib")))
        end += strlen(end);
    if (*end)
        return -1;
    if (n > UINT64_MAX / mul)
        return -1;
    *out = n * mul;
    return 0;
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

static void set_path(struct conf_ctx *x, char *dst, const char *v)
{
    sl_conf_path(dst, SL_HUB_PATH_MAX, x->dir, v);
}

static int member_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n >= SL_MEMBER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int set_takes(struct sl_hub_member_conf *m, const char *v, char *err, size_t errlen)
{
    char tmp[512];
    sl_strlcpy(tmp, v, sizeof tmp);
    m->ntakes = 0;
    for (char *save = NULL, *tok = strtok_r(tmp, " ,\t", &save); tok;
         tok = strtok_r(NULL, " ,\t", &save)) {
        const struct sl_key_info *ki = sl_key_lookup(tok);
        if (!ki) {
            snprintf(err, errlen, "unknown message key '%s'", tok);
            return -1;
        }
        if (ki->switch_only) {
            snprintf(err, errlen, "'%s' is sent only by the switch", tok);
            return -1;
        }
        if (m->ntakes == SL_HUB_MAX_TAKES) {
            snprintf(err, errlen, "more than %d keys", SL_HUB_MAX_TAKES);
            return -1;
        }
        sl_strlcpy(m->takes[m->ntakes++], ki->key, 4);
    }
    return 0;
}

static int region_code_ok(const char *s)
{
    return strlen(s) == 2 && sl_msg_dest_kind(s, 2) == SL_DEST_REGION;
}

/* "states = WA OR ID": the members of one region.  A state may be in one region only
 * (a region query must reach each state once, and a state knows which region it is in). */
static void set_region(struct conf_ctx *x, const char *code, const char *v, char *why,
                       size_t whylen)
{
    struct sl_hub_config *c = x->cfg;
    struct sl_hub_region_conf *r = NULL;
    for (int i = 0; i < c->nregions; i++)
        if (!strcmp(c->regions[i].code, code))
            r = &c->regions[i];
    if (!r) {
        if (c->nregions == SL_HUB_MAX_REGIONS) {
            snprintf(why, whylen, "more than %d regions", SL_HUB_MAX_REGIONS);
            return;
        }
        r = &c->regions[c->nregions++];
        memset(r, 0, sizeof *r);
        sl_strlcpy(r->code, code, sizeof r->code);
    }
    char tmp[512];
    sl_strlcpy(tmp, v, sizeof tmp);
    r->nstates = 0;
    for (char *save = NULL, *t = strtok_r(tmp, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        if (!member_code_ok(t) || strlen(t) != 2 || sl_msg_dest_kind(t, 2) != SL_DEST_STATE) {
            snprintf(why, whylen, "'%s' is not a 2-letter member code", t);
            return;
        }
        for (int i = 0; i < c->nregions; i++)
            for (int j = 0; j < c->regions[i].nstates; j++)
                if (!strcmp(c->regions[i].states[j], t)) {
                    snprintf(why, whylen, "%s is already in region %s", t, c->regions[i].code);
                    return;
                }
        if (r->nstates == SL_HUB_REGION_STATES) {
            snprintf(why, whylen, "more than %d members", SL_HUB_REGION_STATES);
            return;
        }
        sl_strlcpy(r->states[r->nstates++], t, SL_MEMBER_MAX);
    }
    if (!r->nstates)
        snprintf(why, whylen, "a region needs at least one member");
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct conf_ctx *x = user;
    struct sl_hub_config *c = x->cfg;
    char why[160] = "";
    uint64_t sz;
    long n;

    if (x->bad)
        return 0;
    if (!strcasecmp(section, "hub")) {
        if (!strcmp(name, "listen")) {
            if (strlen(value) >= sizeof c->listen)
                snprintf(why, sizeof why, "too long");
            else
                sl_strlcpy(c->listen, value, sizeof c->listen);
        } else if (!strcmp(name, "tls")) {
            if (sl_conf_yesno(value, &c->tls))
                snprintf(why, sizeof why, "expected yes or no");
        } else if (!strcmp(name, "plain")) {
            if (sl_conf_yesno(value, &c->plain))
                snprintf(why, sizeof why, "expected yes or no");
        } else if (!strcmp(name, "cert")) {
            set_path(x, c->cert, value);
        } else if (!strcmp(name, "key")) {
            set_path(x, c->key, value);
        } else if (!strcmp(name, "ca")) {
            set_path(x, c->ca, value);
        } else if (!strcmp(name, "tokens")) {
            set_path(x, c->tokens, value);
        } else if (!strcmp(name, "directory")) {
            set_path(x, c->directory, value);
        } else if (!strcmp(name, "ctl")) {
            set_path(x, c->ctl, value);
        } else if (!strcmp(name, "ori")) {
            if (strlen(value) != SL_ORI_LEN)
                snprintf(why, sizeof why, "an ORI has 9 characters");
            else
                sl_strlcpy(c->ori, value, sizeof c->ori);
        } else if (!strcmp(name, "max_frame")) {
            if (parse_size(value, &sz) || sz < 256 || sz > 64u * 1024 * 1024)
                snprintf(why, sizeof why, "expected a size from 256 to 64m");
            else
                c->max_frame = (uint32_t)sz;
        } else if (!strcmp(name, "out_cap")) {
            if (parse_size(value, &sz) || sz < 4096 || sz > 1024ull * 1024 * 1024)
                snprintf(why, sizeof why, "expected a size from 4k to 1g");
            else
                c->out_cap = (size_t)sz;
        } else if (!strcmp(name, "requester_map")) {
            if (parse_int(value, 16, 1 << 24, &n))
                snprintf(why, sizeof why, "expected a number from 16 to 16777216");
            else
                c->requester_map = (uint32_t)n;
        } else if (!strcmp(name, "handshake_timeout")) {
            if (parse_int(value, 1, 3600, &n))
                snprintf(why, sizeof why, "expected seconds from 1 to 3600");
            else
                c->handshake_timeout_s = (int)n;
        } else if (!strcmp(name, "queue")) {
            set_path(x, c->queue, value);
        } else if (!strcmp(name, "queue_cap")) {
            if (parse_int(value, 1, 100000000, &n))
                snprintf(why, sizeof why, "expected a number from 1 to 100000000");
            else
                c->queue_cap = (uint32_t)n;
        } else if (!strcmp(name, "archive")) {
            if (!strcasecmp(value, "none") || !value[0])
                c->archive[0] = '\0';
            else
                set_path(x, c->archive, value);
        } else if (!strcmp(name, "archive_retention_days")) {
            if (parse_int(value, 1, 36500, &n))
                snprintf(why, sizeof why, "expected days from 1 to 36500");
            else
                c->archive_retention_days = (int)n;
        } else if (!strcmp(name, "archive_queue")) {
            if (parse_int(value, 16, 1 << 24, &n))
                snprintf(why, sizeof why, "expected a number from 16 to 16777216");
            else
                c->archive_queue = (uint32_t)n;
        } else if (!strcmp(name, "archive_sync_full")) {
            if (sl_conf_yesno(value, &c->archive_sync_full))
                snprintf(why, sizeof why, "expected yes or no");
        } else if (!strcmp(name, "msq_timeout")) {
            if (parse_int(value, 1, 3600, &n))
                snprintf(why, sizeof why, "expected seconds from 1 to 3600");
            else
                c->msq_timeout_s = (int)n;
        } else if (!strcmp(name, "answer_wait")) {
            if (parse_int(value, 0, 7 * 86400, &n))
                snprintf(why, sizeof why, "expected seconds from 0 (no limit) to 604800");
            else
                c->answer_wait_s = (int)n;
        } else if (!strcmp(name, "msq_max")) {
            if (parse_int(value, 1, 1 << 20, &n))
                snprintf(why, sizeof why, "expected a number from 1 to 1048576");
            else
                c->msq_max = (uint32_t)n;
        } else if (!strcmp(name, "audit_dir") || !strcmp(name, "audit")) {
            /* "audit" as in the gateway's configuration */
            if (!strcasecmp(value, "none") || !value[0])
                c->audit_dir[0] = '\0';
            else
                set_path(x, c->audit_dir, value);
        } else if (!strcmp(name, "audit_key")) {
            set_path(x, c->audit_key, value);
        } else if (!strcmp(name, "audit_checkpoint_ms")) {
            if (parse_int(value, 10, 3600000, &n))
                snprintf(why, sizeof why, "expected milliseconds from 10 to 3600000");
            else
                c->audit_checkpoint_ms = n;
        } else if (!strcmp(name, "audit_checkpoint_every")) {
            if (parse_int(value, 0, 1000000000, &n))
                snprintf(why, sizeof why, "expected a number of entries from 0 to 1000000000");
            else
                c->audit_checkpoint_every = (uint64_t)n;
        } else if (!strcmp(name, "shutdown_timeout")) {
            if (parse_int(value, 0, 3600, &n))
                snprintf(why, sizeof why, "expected seconds from 0 to 3600");
            else
                c->shutdown_timeout_s = (int)n;
        } else {
            snprintf(why, sizeof why, "unknown setting");
        }
    } else if (!strncasecmp(section, "member ", 7)) {
        const char *code = section + 7;
        while (*code == ' ')
            code++;
        if (!member_code_ok(code)) {
            snprintf(why, sizeof why, "bad member code '%s' (2-7 upper-case letters or digits)",
                     code);
        } else {
            struct sl_hub_member_conf *m = NULL;
            for (int i = 0; i < c->nmembers; i++)
                if (!strcmp(c->members[i].code, code))
                    m = &c->members[i];
            if (!m) {
                if (c->nmembers == SL_HUB_MAX_MEMBER_CONF) {
                    snprintf(why, sizeof why, "too many [member] sections");
                } else {
                    m = &c->members[c->nmembers++];
                    memset(m, 0, sizeof *m);
                    sl_strlcpy(m->code, code, sizeof m->code);
                }
            }
            if (m) {
                if (!strcmp(name, "takes"))
                    set_takes(m, value, why, sizeof why);
                else
                    snprintf(why, sizeof why, "unknown setting");
            }
        }
    } else if (!strncasecmp(section, "region ", 7)) {
        const char *code = section + 7;
        while (*code == ' ')
            code++;
        if (!region_code_ok(code))
            snprintf(why, sizeof why, "bad region code '%s' (a letter and a digit, like E1)",
                     code);
        else if (strcmp(name, "states"))
            snprintf(why, sizeof why, "unknown setting");
        else
            set_region(x, code, value, why, sizeof why);
    } else {
        snprintf(why, sizeof why, "unknown section [%s]", section);
    }
    if (why[0]) {
        snprintf(x->err, sizeof x->err, "[%s] %s = %s: %s", section, name, value, why);
        x->bad = 1;
        return 0;
    }
    return 1;
}

const char *sl_hub_default_takes(char member_kind)
{
    return member_kind == 'S' ? "DQ DNQ KQ RQ RNQ RPQ AM AML" : "AM AML";
}

/* Ours (docs/protocol.md §6): Nlets has 8 regions of 6-7 states and publishes only
 * that Wisconsin is in E1.  Neighbours together, territories with the nearest mainland
 * region, so a regional query covers the states a stolen car or a driver most likely
 * crossed. */
const char *const sl_hub_default_regions[] = {
    "A1 CT ME MA NH RI VT NY", /* New England and New York */
    "B1 NJ PA DE MD DC VA WV", /* Mid-Atlantic */
    "C1 NC SC GA FL PR VI",    /* South Atlantic and the Caribbean territories */
    "D1 AL MS TN KY OH IN MI", /* East South Central and the eastern Great Lakes */
    "E1 WI IL MN IA MO ND SD", /* Upper Midwest (Wisconsin: E1, as Nlets has it) */
    "F1 AR LA OK TX NM KS NE", /* South Central and the southern Plains */
    "G1 AZ CO UT NV WY MT ID", /* Mountain */
    "H1 CA OR WA AK HI GU",    /* Pacific */
    NULL,
};

int sl_hub_config_load(const char *path, struct sl_hub_config *cfg, char *err, size_t errlen)
{
    struct conf_ctx x;
    memset(cfg, 0, sizeof *cfg);
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    sl_strlcpy(cfg->path, path, sizeof cfg->path);
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(x.dir, sizeof x.dir, "%.*s", (int)(slash - path), path);
    if (slash == path)
        sl_strlcpy(x.dir, "/", sizeof x.dir);

    cfg->tls = 1;
    cfg->max_frame = 1024 * 1024;
    cfg->out_cap = 4 * 1024 * 1024;
    cfg->requester_map = 65536;
    cfg->handshake_timeout_s = 10;
    cfg->shutdown_timeout_s = 5;
    sl_strlcpy(cfg->ori, SL_SWITCH_ORI, sizeof cfg->ori);
    cfg->queue_cap = 100000;
    cfg->archive_retention_days = 365;
    cfg->archive_queue = 65536;
    cfg->msq_timeout_s = 60;
    cfg->answer_wait_s = 900;
    cfg->msq_max = 4096;
    cfg->audit_checkpoint_ms = 1000;
    {
        /* defaults relative to the file's folder, like every other path */
        char tmp[SL_HUB_PATH_MAX + 16];
        snprintf(tmp, sizeof tmp, "%s%squeue.db", x.dir, x.dir[0] ? "/" : "");
        sl_strlcpy(cfg->queue, tmp, sizeof cfg->queue);
        snprintf(tmp, sizeof tmp, "%s%sarchive.db", x.dir, x.dir[0] ? "/" : "");
        sl_strlcpy(cfg->archive, tmp, sizeof cfg->archive);
    }

    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = ini_parse_file(f, on_value, &x);
    fclose(f);
    if (x.bad) {
        snprintf(err, errlen, "%s: %s", path, x.err);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: line %d: not INI syntax", path, rc);
        return -1;
    }

    if (!cfg->listen[0]) {
        snprintf(err, errlen, "%s: [hub] listen is missing (host:port)", path);
        return -1;
    }
    struct sockaddr_storage ss;
    unsigned sslen;
    if (sl_parse_hostport(cfg->listen, &ss, &sslen)) {
        snprintf(err, errlen, "%s: [hub] listen = %s: not a host:port", path, cfg->listen);
        return -1;
    }
    if (!cfg->directory[0]) {
        snprintf(err, errlen, "%s: [hub] directory is missing (`stateline gen directory`)",
                 path);
        return -1;
    }
    if (cfg->tls) {
        if (!cfg->cert[0] || !cfg->key[0] || !cfg->ca[0]) {
            snprintf(err, errlen, "%s: tls = yes needs cert, key and ca in [hub]", path);
            return -1;
        }
    } else {
        /* S-1: plain TCP exists for tests and the demo only, never on a network. */
        if (!cfg->plain) {
            snprintf(err, errlen,
                     "%s: tls = no is refused unless plain = yes is also set (plain TCP is "
                     "for tests and demos on loopback only)",
                     path);
            return -1;
        }
        if (!sl_addr_is_loopback(&ss)) {
            snprintf(err, errlen,
                     "%s: plain TCP is allowed only on a loopback address, not on %s; set "
                     "tls = yes or listen on 127.0.0.1",
                     path, cfg->listen);
            return -1;
        }
        if (!cfg->tokens[0]) {
            snprintf(err, errlen, "%s: plain lines authenticate with tokens: set tokens = ",
                     path);
            return -1;
        }
    }
    if (!cfg->nregions) {
        for (int i = 0; sl_hub_default_regions[i]; i++) {
            char why[160] = "";
            char code[3] = {sl_hub_default_regions[i][0], sl_hub_default_regions[i][1], 0};
            set_region(&x, code, sl_hub_default_regions[i] + 3, why, sizeof why);
        }
    }
    if (!cfg->queue[0]) {
        snprintf(err, errlen, "%s: [hub] queue is empty (the store-and-forward database)",
                 path);
        return -1;
    }
    if (cfg->audit_dir[0] && !cfg->audit_key[0]) {
        snprintf(err, errlen,
                 "%s: [hub] audit_dir is set but audit_key is not (the log's signer key, "
                 "`stateline audit keygen`)",
                 path);
        return -1;
    }
    if ((cfg->requester_map & (cfg->requester_map - 1)) != 0) {
        /* round up to a power of two: the map masks its hash */
        uint32_t p = 16;
        while (p < cfg->requester_map)
            p <<= 1;
        cfg->requester_map = p;
    }
    return 0;
}
