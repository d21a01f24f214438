/*
 * hub.h - `stateline hub`, the message switch (docs/protocol.md, docs/operations.md).
 *
 * One process, one loop thread.  The hub accepts member lines (mutual TLS, or plain TCP
 * with a token on loopback only), checks every message it reads against the ORI directory
 * and the key table (S-4), answers failures with ER / SM from the switch's ORI, and routes
 * the rest to the answering line of each destination with the Nlets-style output header
 * and, on queries, the verified requester.  Part 2: regions (DQ/RQ to a region as DQG/RQG
 * at lower priority), multi-state queries to NL with one merged reply, store-and-forward
 * for down destinations (SM .02., durable, in order), operator line states, AM/AML, and
 * the message archive with NLQ/NFQ (docs/protocol.md §5-§10).  Every query delivered to
 * an answering line carries a switch message id (MID/) and is remembered until answered:
 * when the line drops it is kept again (SM .02.) and delivered when the line returns, and
 * a second answer to the same id is dropped (docs/protocol.md Part III §7).
 *
 * Configuration (INI, read with inih; examples/hub.conf documents every key):
 *
 *     [hub]
 *     listen = 127.0.0.1:7400       host:port; port 0 = ephemeral (the log says which)
 *     tls = yes                     no: plain TCP, only with plain = yes on loopback
 *     plain = no
 *     cert = hub.pem / key = hub.key / ca = ca.pem       TLS material
 *     tokens = tokens               "member role hex-token" lines, for plain lines
 *     directory = directory.db      from `stateline gen directory`
 *     ctl = hub.sock                Unix control socket (`stateline hub ctl`)
 *     ori = NL0000000               the switch's ORI, the only originator of ER
 *     max_frame = 1m                largest frame accepted
 *     out_cap = 4m                  output bytes held per line before refusing traffic
 *     requester_map = 65536         size of the requester-ORI -> line map
 *     handshake_timeout = 10        seconds a new line has to authenticate
 *     shutdown_timeout = 5          seconds SIGTERM waits for queued output
 *     queue = queue.db              store-and-forward queue and line states (SQLite)
 *     queue_cap = 100000            messages kept per down destination
 *     archive = archive.db          the message archive (RAND); "none": no archive
 *     archive_retention_days = 365
 *     archive_queue = 65536         messages waiting for the archive's writer
 *     archive_sync_full = no
 *     msq_timeout = 60              seconds a multi-state query waits for the states
 *     answer_wait = 900             seconds the hub waits for a state to answer a query it
 *                                   delivered before it stops tracking it (0 = forever)
 *     msq_max = 4096                multi-state queries collecting at once
 *     audit_dir = audit             the hub's own audit log (docs/audit-format.md §11);
 *                                   unset: no log (the default)
 *     audit_key = audit.key         its note signer key (`stateline audit keygen`)
 *     audit_checkpoint_ms = 1000    sign a checkpoint at most this long after new entries
 *     audit_checkpoint_every = 0    ... or after this many new entries (0 = by time only)
 *     [member WA]
 *     takes = DQ DNQ KQ RQ RNQ RPQ AM
 *     [region H1]                   the region table (without [region] sections: ours,
 *     states = CA OR WA AK HI GU     sl_hub_default_regions, docs/protocol.md §6)
 *
 * Relative paths are relative to the directory of the configuration file.
 */
#ifndef STATELINE_HUB_H
#define STATELINE_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "stateline/buf.h"
#include "stateline/conn.h"

#define SL_HUB_PATH_MAX 512
#define SL_HUB_MAX_MEMBER_CONF 128
#define SL_HUB_MAX_TAKES 32

/* One [member XX] section. */
struct sl_hub_member_conf {
    char code[SL_MEMBER_MAX];
    int ntakes;
    char takes[SL_HUB_MAX_TAKES][4]; /* message keys this member's answering line accepts */
};

#define SL_HUB_MAX_REGIONS 16
#define SL_HUB_REGION_STATES 16

/* One region: a 2-character code (letter + digit) and its members. */
struct sl_hub_region_conf {
    char code[3];
    int nstates;
    char states[SL_HUB_REGION_STATES][SL_MEMBER_MAX];
};

struct sl_hub_config {
    char path[SL_HUB_PATH_MAX]; /* the file it was read from */
    char listen[128];
    int tls;
    int plain;
    char cert[SL_HUB_PATH_MAX];
    char key[SL_HUB_PATH_MAX];
    char ca[SL_HUB_PATH_MAX];
    char tokens[SL_HUB_PATH_MAX];
    char directory[SL_HUB_PATH_MAX];
    char ctl[SL_HUB_PATH_MAX];
    char ori[16];
    uint32_t max_frame;
    size_t out_cap;
    uint32_t requester_map;
    int handshake_timeout_s;
    int shutdown_timeout_s;
    int nmembers;
    struct sl_hub_member_conf members[SL_HUB_MAX_MEMBER_CONF];
    /* part 2 */
    char queue[SL_HUB_PATH_MAX];   /* store-and-forward database */
    uint32_t queue_cap;            /* messages kept per destination */
    char archive[SL_HUB_PATH_MAX]; /* "" = no archive */
    int archive_retention_days;
    uint32_t archive_queue;
    int archive_sync_full;
    int msq_timeout_s;
    int answer_wait_s;             /* stop tracking an unanswered delivered query (0 = never) */
    uint32_t msq_max;
    int nregions;
    struct sl_hub_region_conf regions[SL_HUB_MAX_REGIONS];
    /* the hub's audit log (hub_audit.c); audit_dir "" = off */
    char audit_dir[SL_HUB_PATH_MAX];
    char audit_key[SL_HUB_PATH_MAX];
    int64_t audit_checkpoint_ms;
    uint64_t audit_checkpoint_every;
};

/* Read and validate a configuration file into *cfg (caller-owned storage, no heap).
 * 0, or -1 with err naming the file, line and problem. */
int sl_hub_config_load(const char *path, struct sl_hub_config *cfg, char *err, size_t errlen);

/* Default keys taken by a member's answering line when the configuration says nothing:
 * states and territories ('S') take the DMV keys and AM, everyone else AM only. */
const char *sl_hub_default_takes(char member_kind);
/* Our region table (Nlets publishes only that Wisconsin is in E1): "A1 CT ME MA NH RI VT NY"
 * one string per region, NULL-terminated.  Used when the configuration has no [region]. */
extern const char *const sl_hub_default_regions[];

struct sl_hub;

/* Build a hub from a configuration file: load the directory snapshot, open the listener
 * and the control socket.  *out is owned by the caller (sl_hub_free). */
int sl_hub_new(const char *config_path, struct sl_hub **out, char *err, size_t errlen);
/* Serve until SIGTERM/SIGINT; returns the process exit status (0 after a clean stop). */
int sl_hub_run(struct sl_hub *hub);
void sl_hub_free(struct sl_hub *hub);

/* Control client: send one command ("stats", "lines", "reload", "line WA down") to the
 * control socket and append the JSON reply to out.  0, or -1 with err. */
int sl_hub_ctl_request(const char *socket_path, const char *command, struct sl_buf *out,
                       int timeout_ms, char *err, size_t errlen);

#endif
