/*
 * fuzz_hub.c - libFuzzer target for what the hub does with one message (src/hub/hub_route.c):
 * the S-4 checks, routing, the output header, ER and SM bodies.
 *
 * A hub without sockets: an in-memory directory with a few ORIs of WA, CA and OR, three
 * open lines (a WA terminal, the CA and OR answering lines) whose `out` buffers collect
 * what the hub would send.  Each input is one frame from the WA terminal line.
 * Invariants, checked with __builtin_trap():
 *   - a non-empty input always gets an answer or a delivery (never silence);
 *   - every frame the hub writes, on any line, parses back as an output message
 *     (sl_msg_parse_output);
 *   - whatever goes back to the sender is an ER, SM, NLR/NFR (archive) or merged DR/RR/KR
 *     (multi-state) from NL0000000, or an AM/SM the sender addressed to its own ORIs;
 * Regional queries are processed as the loop does at the end of an iteration; the
 * multi-state table is small and never answered, so it fills and refuses (SM .04.).
 *   - anything delivered to another line comes from an ORI of WA, and carries a switch
 *     message id (MID/) exactly when it is a query to an answering line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "stateline/core.h"
#include "stateline/dir.h"
#include "stateline/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c))                                                                         \
            __builtin_trap();                                                             \
    } while (0)

#define NLINES 3

static void put(struct sl_dir *d, const char *ori, const char *member, const char *type,
                const char *cats, char status)
{
    struct sl_ori o;
    char err[256];
    memset(&o, 0, sizeof o);
    sl_strlcpy(o.ori, ori, sizeof o.ori);
    sl_strlcpy(o.member, member, sizeof o.member);
    sl_strlcpy(o.name, "Fuzz agency", sizeof o.name);
    sl_strlcpy(o.type, type, sizeof o.type);
    sl_strlcpy(o.cats, cats, sizeof o.cats);
    o.status = status;
    sl_strlcpy(o.tags, "task-force", sizeof o.tags);
    if (sl_dir_put(d, NULL, &o, err, sizeof err) != 0)
        abort();
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
    sl_strlcpy(l->addr, "fuzz", sizeof l->addr);
    l->open = 1;
    l->slot = hub->nslots++;
    l->gen = ++hub->gen_counter;
    hub->slots[l->slot] = l;
    if (role == SL_ROLE_ANSWER) {
        struct hub_member *m = hub_member_find(&hub->members, member);
        if (!m)
            abort();
        m->answer = l;
        l->bound = 1;
    }
    return l;
}

static struct sl_hub *make_hub(void)
{
    struct sl_hub *hub = sl_xcalloc(1, sizeof *hub);
    struct sl_dir *d = NULL;
    char err[256];
    if (sl_dir_open(":memory:", 1, &d, err, sizeof err) != 0)
        abort();
    put(d, "WATEST000", "WA", "PD", "ACDZ", 'A');
    put(d, "WANODMV00", "WA", "PD", "ACZ", 'A');
    put(d, "WAINACT00", "WA", "SO", "ACDZ", 'I');
    put(d, "CATEST000", "CA", "NJ", "ADZ", 'A');
    put(d, "ORTEST000", "OR", "PD", "ACDZ", 'A');
    if (sl_dir_snapshot(d, &hub->snap) != 0)
        abort();
    sl_dir_close(d);
    hub->cfg.out_cap = 1 << 20;
    hub->cfg.max_frame = 1 << 20;
    sl_strlcpy(hub->cfg.ori, SL_SWITCH_ORI, sizeof hub->cfg.ori);
    hub->cfg.nmembers = 1; /* OR takes AM only: the .02. path */
    sl_strlcpy(hub->cfg.members[0].code, "OR", sizeof hub->cfg.members[0].code);
    hub->cfg.members[0].ntakes = 1;
    sl_strlcpy(hub->cfg.members[0].takes[0], "AM", 4);
    hub->cfg.nregions = 1; /* a region of the two answering members */
    sl_strlcpy(hub->cfg.regions[0].code, "H1", sizeof hub->cfg.regions[0].code);
    hub->cfg.regions[0].nstates = 2;
    sl_strlcpy(hub->cfg.regions[0].states[0], "CA", SL_MEMBER_MAX);
    sl_strlcpy(hub->cfg.regions[0].states[1], "OR", SL_MEMBER_MAX);
    hub->cfg.queue_cap = 0; /* no store-and-forward database: kept = refused */
    hub->cfg.msq_max = 8;   /* multi-state collections never answered fill up: SM .04. */
    hub->cfg.msq_timeout_s = 60;
    hub->loop = sl_loop_create(64);
    if (!hub->loop)
        abort();
    hub_msq_init(hub);
    hub_keys_init(hub);
    hub_members_build(hub, &hub->cfg, hub->snap, &hub->members);
    hub->reqmap = sl_xcalloc(16, sizeof *hub->reqmap);
    hub->reqmap_mask = 15;
    hub->cap_slots = NLINES;
    hub->slots = sl_xcalloc(NLINES, sizeof *hub->slots);
    hub->free_slots = sl_xcalloc(NLINES, sizeof(uint32_t));
    sl_buf_init(&hub->scratch);
    add_line(hub, "WA", SL_ROLE_TERMINAL);
    add_line(hub, "CA", SL_ROLE_ANSWER);
    add_line(hub, "OR", SL_ROLE_ANSWER);
    return hub;
}

/* Check and empty one line's output; returns the number of frames. */
static int drain(struct hub_line *l, int is_sender)
{
    int n = 0;
    struct sl_buf *out = &l->c->out;
    for (;;) {
        const uint8_t *p;
        uint32_t len;
        enum sl_frame_status st = sl_frame_peek(out, 1u << 24, &p, &len);
        if (st == SL_FRAME_AGAIN)
            break;
        CHECK(st == SL_FRAME_OK);
        struct sl_outhdr h;
        const char *body;
        size_t body_len;
        struct sl_msg_err e;
        CHECK(sl_msg_parse_output((const char *)p, len, &h, &body, &body_len, &e) == 0);
        if (is_sender) {
            /* errors and status, archive answers, merged multi-state replies */
            static const char *const sw[] = {"ER", "SM", "NLR", "NFR", "DR", "RR", "KR"};
            int from_switch = 0;
            for (size_t k = 0; k < sizeof sw / sizeof sw[0]; k++)
                from_switch |= strcmp(h.ori, SL_SWITCH_ORI) == 0 && strcmp(h.key, sw[k]) == 0;
            int to_itself = strncmp(h.ori, "WA", 2) == 0 && strncmp(h.dest, "WA", 2) == 0;
            CHECK(from_switch || to_itself);
        } else {
            CHECK(strncmp(h.ori, "WA", 2) == 0);
            /* a query to an answering line carries a switch message id, nothing else */
            const struct sl_key_info *ki = sl_key_lookup(h.key);
            CHECK((h.mid != 0) == (ki && ki->reply && h.has_req));
        }
        sl_buf_consume(out, SL_FRAME_HDR + len);
        n++;
    }
    CHECK(sl_buf_used(out) == 0);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sl_hub *hub; /* built once: the directory and lines do not change */
    if (!hub)
        hub = make_hub();
    if (size > (1u << 20))
        return 0;
    hub->now_s = 1764168000; /* fixed: the stamps do not matter here */
    struct hub_line *wa = hub->slots[0];
    hub_process_frame(hub, wa, data, (uint32_t)size);
    hub_process_deferred(hub); /* regional queries wait for the end of the iteration */
    int frames = 0;
    for (uint32_t i = 0; i < hub->nslots; i++) {
        frames += drain(hub->slots[i], i == 0);
        hub->slots[i]->pending = 0;
    }
    /* nobody answers here: forget what the answering lines were given, so that the
     * outstanding tables never fill and every input reaches the delivery path */
    for (uint32_t i = 0; i <= hub->members.mask; i++)
        hub_out_free(&hub->members.tab[i]);
    hub->npending = 0;
    CHECK(size == 0 || frames > 0);
    return 0;
}
