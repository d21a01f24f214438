/*
 * icount.c - the fixed workload of the instruction-count regression gate
 * (bench/icount-check, CTest perf/icount, docs/performance.md).
 *
 * It runs the hot paths of the switch and the gateway in-process, with no socket, no
 * clock and no randomness, so that `valgrind --tool=callgrind` counts the same number of
 * instructions on every run of the same build:
 *
 *   1. the hub (src/hub/hub_route.c, driven as tests/fuzz/fuzz_hub.c drives it): 10,000
 *      queries and their replies.  A WA terminal line sends
 *      "DQ.WATEST000.CA.<ctl>.TXT LF OLN/A1234567", the hub parses it, runs the S-4 checks
 *      against the directory snapshot, routes it to CA's answering line and writes the
 *      output header into that line's buffer; the CA line then sends the DR
 *      "DR.CATEST000.WATEST000.<ctl>.TXT LF <200 bytes>", routed back by requester ORI.
 *      Each DQ is remembered as outstanding (with its MID/) and the DR, which does not
 *      echo the id, is matched to it by requester ORI + control field; none may be left.
 *      Every delivered frame is read back from the line buffers with sl_frame_peek.
 *   2. 10,000 policy decisions (sl_policy_decide) over the generated 100-rule policy of
 *      `stateline policy bench` (the same rule mix: 80% one ORI, 15% a parent agency, 5%
 *      type, key and fields), on 64 fixed requests.
 *   3. 10,000 audit entry encodings (sl_audit_encode) of gateway DECISION entries with a
 *      typical set of fields.  The leaf hash is left out on purpose: OpenSSL picks its
 *      SHA-256 code by CPU feature, which would make the count depend on the machine.
 *
 * Set-up (the directory in SQLite :memory:, compiling the policy) is counted too; it is a
 * small fixed part of the total.  Output, one line: "icount ok hub=<frames> policy=<p/h/f>
 * audit=<bytes>"; the figures are a checksum of the work, and the exit status is 1 when
 * the hub did not deliver every frame (so the gate cannot pass on a workload that
 * silently stopped doing its work).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/audit.h"
#include "stateline/buf.h"
#include "stateline/core.h"
#include "stateline/dir.h"
#include "stateline/frame.h"
#include "stateline/policy.h"

#define ROUND_TRIPS 10000
#define DECISIONS 10000
#define ENCODINGS 10000

/* ---- the hub, without sockets ------------------------------------------------------- */

static void put_ori(struct sl_dir *d, const char *ori, const char *member, const char *type)
{
    struct sl_ori o;
    char err[256];
    memset(&o, 0, sizeof o);
    sl_strlcpy(o.ori, ori, sizeof o.ori);
    sl_strlcpy(o.member, member, sizeof o.member);
    sl_strlcpy(o.name, "Benchmark agency", sizeof o.name);
    sl_strlcpy(o.type, type, sizeof o.type);
    sl_strlcpy(o.cats, "ACDZ", sizeof o.cats);
    o.status = 'A';
    if (sl_dir_put(d, NULL, &o, err, sizeof err) != 0) {
        fprintf(stderr, "icount: directory: %s\n", err);
        exit(1);
    }
}

static struct hub_line *add_line(struct sl_hub *hub, const char *member, enum sl_line_role role)
{
    struct hub_line *l = sl_xcalloc(1, sizeof *l);
    l->hub = hub;
    l->c = sl_xcalloc(1, sizeof *l->c);
    l->c->fd = -1;
    l->c->state = SL_CONN_OPEN;
    sl_strlcpy(l->c->peer.member, member, sizeof l->c->peer.member);
    l->c->peer.role = role;
    sl_strlcpy(l->addr, "icount", sizeof l->addr);
    l->open = 1;
    l->slot = hub->nslots++;
    l->gen = ++hub->gen_counter;
    hub->slots[l->slot] = l;
    if (role == SL_ROLE_ANSWER) {
        struct hub_member *m = hub_member_find(&hub->members, member);
        if (!m) {
            fprintf(stderr, "icount: no member %s\n", member);
            exit(1);
        }
        m->answer = l;
        l->bound = 1;
    }
    return l;
}

/* Owned by the caller: free with free_hub. */
static struct sl_hub *make_hub(void)
{
    struct sl_hub *hub = sl_xcalloc(1, sizeof *hub);
    struct sl_dir *d = NULL;
    char err[256];
    if (sl_dir_open(":memory:", 1, &d, err, sizeof err) != 0) {
        fprintf(stderr, "icount: %s\n", err);
        exit(1);
    }
    put_ori(d, "WATEST000", "WA", "PD");
    put_ori(d, "CATEST000", "CA", "NJ");
    if (sl_dir_snapshot(d, &hub->snap) != 0)
        exit(1);
    sl_dir_close(d);
    hub->cfg.out_cap = 1 << 22;
    hub->cfg.max_frame = 1 << 20;
    sl_strlcpy(hub->cfg.ori, SL_SWITCH_ORI, sizeof hub->cfg.ori);
    hub_keys_init(hub);
    hub_members_build(hub, &hub->cfg, hub->snap, &hub->members);
    hub->reqmap = sl_xcalloc(16, sizeof *hub->reqmap);
    hub->reqmap_mask = 15;
    hub->cap_slots = 2;
    hub->slots = sl_xcalloc(2, sizeof *hub->slots);
    hub->free_slots = sl_xcalloc(2, sizeof(uint32_t));
    sl_buf_init(&hub->scratch);
    add_line(hub, "WA", SL_ROLE_TERMINAL);
    add_line(hub, "CA", SL_ROLE_ANSWER);
    return hub;
}

static void free_hub(struct sl_hub *hub)
{
    for (uint32_t i = 0; i < hub->nslots; i++) {
        sl_buf_free(&hub->slots[i]->c->in);
        sl_buf_free(&hub->slots[i]->c->out);
        free(hub->slots[i]->c);
        free(hub->slots[i]);
    }
    hub_members_free(&hub->members);
    sl_dir_snap_free(hub->snap);
    sl_buf_free(&hub->scratch);
    free(hub->reqmap);
    free(hub->slots);
    free(hub->free_slots);
    free(hub);
}

/* Take every frame out of a line's output; returns how many had the key `key`. */
static int drain(struct hub_line *l, const char *key)
{
    int n = 0;
    struct sl_buf *out = &l->c->out;
    for (;;) {
        const uint8_t *p;
        uint32_t len;
        if (sl_frame_peek(out, 1u << 24, &p, &len) != SL_FRAME_OK)
            break;
        /* The output form starts with the key: "DQ." / "DR." (an ER would not count). */
        if (len > 3 && memcmp(p, key, 2) == 0 && p[2] == '.')
            n++;
        sl_buf_consume(out, SL_FRAME_HDR + len);
    }
    l->pending = 0;
    return n;
}

/* Nine decimal digits of v at p. */
static void put_digits(char *p, int v)
{
    for (int d = 8; d >= 0; d--) {
        p[d] = (char)('0' + v % 10);
        v /= 10;
    }
}

static uint64_t run_hub(void)
{
    struct sl_hub *hub = make_hub();
    struct hub_line *wa = hub->slots[0], *ca = hub->slots[1];
    char dr_text[201];
    memset(dr_text, 'X', 200);
    for (int i = 0; i < 200; i += 40)
        dr_text[i] = '\n';
    dr_text[200] = '\0';
    /* The messages are written once and only their control digits change, so that the
     * count is the hub's, not the C library's formatting. */
    char dq[64], dr[512];
    int dq_len = snprintf(dq, sizeof dq, "DQ.WATEST000.CA.B000000000.TXT\nOLN/A1234567");
    int dr_len = snprintf(dr, sizeof dr, "DR.CATEST000.WATEST000.B000000000.TXT\n%s", dr_text);
    uint64_t delivered = 0;
    hub->now_s = 1764168000; /* fixed: stamps in the output header do not vary */
    for (int i = 0; i < ROUND_TRIPS; i++) {
        put_digits(dq + 17, i);
        put_digits(dr + 24, i);
        hub_process_frame(hub, wa, (const uint8_t *)dq, (uint32_t)dq_len);
        delivered += (uint64_t)drain(ca, "DQ");
        hub_process_frame(hub, ca, (const uint8_t *)dr, (uint32_t)dr_len);
        delivered += (uint64_t)drain(wa, "DR");
        hub->npending = 0;
    }
    /* every DR answered its DQ: nothing is left outstanding on CA's line (else the gate
     * would measure a table that only grows) */
    struct hub_member *cm = hub_member_find(&hub->members, "CA");
    if (!cm || hub_out_count(cm) != 0)
        delivered = 0;
    free_hub(hub);
    return delivered;
}

/* ---- policy decisions ----------------------------------------------------------------- */

static const char *const states[] = {"WA", "OR", "CA", "ID", "NV", "AZ", "TX", "NY", "IL", "MN"};
static const char *const types[] = {"PD", "SO", "SA", "LE", "FE", "JA",
                                    "JC", "JG", "JJ", "JF", "CJ", "NJ"};
static const char *const keys[] = {"DQ", "DNQ", "KQ", "RQ", "RNQ", "RPQ"};

/* The rule mix of `stateline policy bench` (gen_policy in src/cli/cmd_policy.c), written
 * here so that a change to the benchmark's generator does not move the gate's baseline.
 * Owned by the caller (free). */
static char *policy_text(int n, size_t *len)
{
    struct sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "state WA\ndefault permit\n");
    for (int i = 0; i < n; i++) {
        int k = i % 20;
        if (k < 16) {
            const char *eff = i % 3 == 0 ? "forbid" : "permit";
            sl_buf_printf(&b, "rule r%d \"generated\" %s when requester.ori = %s%07d and key in "
                              "(DQ, KQ, RQ)\n", i, eff, states[i % 10], i);
            if (eff[0] == 'p')
                sl_buf_append_str(&b, "  redact photo\n");
        } else if (k < 19) {
            sl_buf_printf(&b, "rule r%d \"generated\" hold when requester.parent under "
                              "\"FED/AG%d\" and RSN absent\n  deadline 72h, then forbid\n", i, i);
        } else {
            sl_buf_printf(&b, "rule r%d \"generated\" permit when requester.type = %s and key = "
                              "%s and PUR in (C, F) and not in-state\n  redact ssn\n",
                          i, types[(i / 20) % 12], keys[(i / 240) % 6]);
        }
    }
    *len = sl_buf_used(&b);
    sl_buf_append(&b, "", 1);
    return (char *)b.data;
}

#define NREQ 64

struct req {
    struct sl_requester q;
    struct sl_policy_request r;
};

/* Fixed requests that reach every kind of rule: an ORI rule, a parent rule, the type rule,
 * and no rule at all. */
static void make_requests(struct req *v, int nrules)
{
    static const char *const vals[] = {"C", "F", "E", "N"};
    for (int i = 0; i < NREQ; i++) {
        struct req *b = &v[i];
        memset(b, 0, sizeof *b);
        int rule = (i * 37) % nrules;
        if (i % 2 == 0)
            snprintf(b->q.ori, sizeof b->q.ori, "%s%07d", states[rule % 10], rule);
        else
            snprintf(b->q.ori, sizeof b->q.ori, "%s%07d", states[i % 10], 5000000 + i);
        memcpy(b->q.state, b->q.ori, 2);
        memcpy(b->q.member, b->q.ori, 2);
        sl_strlcpy(b->q.type, types[i % 12], sizeof b->q.type);
        memcpy(b->q.cats, "DZ", 3);
        if (i % 4 == 1)
            snprintf(b->q.parent, sizeof b->q.parent, "FED/AG%d/UNIT", 16 + 20 * (i % 5));
        b->r.requester = &b->q;
        b->r.requester_known = 1;
        sl_strlcpy(b->r.key, keys[i % 6], sizeof b->r.key);
        b->r.via = SL_VIA_DIRECT;
        b->r.nfields = 2;
        memcpy(b->r.fields[0].pfx, "OLN", 4);
        b->r.fields[0].val = "WDL12345678";
        b->r.fields[0].len = 11;
        memcpy(b->r.fields[1].pfx, i % 3 ? "PUR" : "RSN", 4);
        b->r.fields[1].val = vals[i % 4];
        b->r.fields[1].len = 1;
        b->r.has_time = 1;
        b->r.local = (struct sl_policy_time){2026, 11, 26, i % 24, 0, 4};
    }
}

static void run_policy(long counts[3])
{
    size_t len;
    char *text = policy_text(100, &len);
    struct sl_policy *p = NULL;
    struct sl_policy_opts opts = {0};
    opts.no_analysis = 1;
    if (sl_policy_compile(text, len, "icount", &opts, &p, NULL) != 0) {
        fprintf(stderr, "icount: the generated policy did not compile\n");
        exit(1);
    }
    free(text);
    struct req *reqs = sl_xmalloc(NREQ * sizeof *reqs);
    make_requests(reqs, 100);
    struct sl_policy_decision d;
    for (int i = 0; i < DECISIONS; i++) {
        sl_policy_decide(p, &reqs[i % NREQ].r, &d);
        counts[d.effect]++;
    }
    free(reqs);
    sl_policy_unref(p);
}

/* ---- audit entry encodings -------------------------------------------------------------- */

static uint64_t run_audit(void)
{
    uint8_t *out = sl_xmalloc(SL_AUDIT_MAX_ENTRY);
    uint8_t hash[32];
    memset(hash, 0xA5, sizeof hash);
    char ref[] = "WA-000000000", ctl[] = "B000000000", err[160];
    uint64_t bytes = 0;
    for (int i = 0; i < ENCODINGS; i++) {
        struct sl_audit_entry e;
        sl_audit_entry_init(&e, SL_AUDIT_DECISION, 1764168000000000LL + i * 1000LL);
        e.seq = (uint64_t)i;
        put_digits(ref + 3, i);
        put_digits(ctl + 1, i);
        sl_audit_set_str(&e, SL_AF_REF, ref);
        sl_audit_set_str(&e, SL_AF_ORI, "CADMV0000");
        sl_audit_set_str(&e, SL_AF_MEMBER, "CA");
        sl_audit_set_str(&e, SL_AF_AGENCY_TYPE, "PD");
        sl_audit_set_str(&e, SL_AF_REQ_STATE, "CA");
        sl_audit_set_str(&e, SL_AF_USER, "officer-1234");
        sl_audit_set_str(&e, SL_AF_KEY, "DQ");
        sl_audit_add_item(&e, SL_AF_DEST, "WADOL0000");
        sl_audit_set_str(&e, SL_AF_CONTROL, ctl);
        sl_audit_add_item(&e, SL_AF_SEARCH, "OLN");
        sl_audit_set_str(&e, SL_AF_PURPOSE, "C");
        sl_audit_set_int(&e, SL_AF_EFFECT, SL_AUDIT_EFF_PERMIT);
        sl_audit_set_int(&e, SL_AF_OUTCOME, SL_AUDIT_OUT_REDACTED);
        sl_audit_add_item(&e, SL_AF_RULES, "r17");
        sl_audit_set_hash(&e, SL_AF_POLICY_HASH, hash);
        sl_audit_set_int(&e, SL_AF_RELEASED, SL_AUDIT_CLASS_ALL & ~SL_AUDIT_CLASS_DOB);
        sl_audit_set_int(&e, SL_AF_WITHHELD, SL_AUDIT_CLASS_DOB);
        int n = sl_audit_encode(&e, out, SL_AUDIT_MAX_ENTRY, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "icount: audit encoding: %s\n", err);
            exit(1);
        }
        bytes += (uint64_t)n;
    }
    free(out);
    return bytes;
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: stateline-icount (no arguments; see bench/icount-check)\n");
        return 2;
    }
    uint64_t frames = run_hub();
    long counts[3] = {0, 0, 0};
    run_policy(counts);
    uint64_t bytes = run_audit();
    printf("icount %s hub=%llu policy=%ld/%ld/%ld audit=%llu\n",
           frames == 2 * ROUND_TRIPS ? "ok" : "INCOMPLETE", (unsigned long long)frames,
           counts[0], counts[1], counts[2], (unsigned long long)bytes);
    return frames == 2 * ROUND_TRIPS ? 0 : 1;
}
