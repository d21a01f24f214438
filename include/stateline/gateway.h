/*
 * gateway.h - a state's node: `stateline gateway` (DESIGN §2-3, REQUIREMENTS G-1..G-4,
 * docs/gateway.md).
 *
 * The gateway is the state's answering line on the hub.  Every query the hub delivers
 * (output form with a VRQ/ verified-requester line, docs/protocol.md §5) goes
 * through one decision (the state's policy, policy.h) before any record is read; a
 * permitted query is looked up in the records store (store.h), the policy's redactions are
 * applied to the records, and the reply is built in the requester's layout.  Each query's
 * audit entries (audit.h) are durable before its reply is written to the hub line.
 *
 * Configuration: an INI file (examples/gateway.conf, docs/gateway.md §1) read by
 * sl_gw_config_load.  Relative paths are relative to the file's folder.
 *
 * This header deliberately includes neither store.h nor policy.h (their data-class enums
 * clash until they are unified): record structs are forward-declared, and class masks in
 * this header are store masks (enum sl_data_class bits of store.h).
 */
#ifndef STATELINE_GATEWAY_H
#define STATELINE_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include "stateline/buf.h"

#define SL_GW_PATH_MAX 1024

/* Keys the gateway may answer (bit set in sl_gw_config.keys). */
enum {
    SL_GW_KEY_DQ = 1u << 0,  /* DQ and DQG */
    SL_GW_KEY_DNQ = 1u << 1,
    SL_GW_KEY_KQ = 1u << 2,
    SL_GW_KEY_RQ = 1u << 3,  /* RQ and RQG */
    SL_GW_KEY_RNQ = 1u << 4,
    SL_GW_KEY_RPQ = 1u << 5, /* opt-in */
};
#define SL_GW_KEYS_DEFAULT 0x1fu /* everything but RPQ */

enum sl_gw_layout { SL_GW_LAYOUT_TEXT = 0, SL_GW_LAYOUT_STANDARD = 1 };

/* What the gateway does when no policy is in force (R-5, P-29). */
enum sl_gw_outage { SL_GW_OUTAGE_DENY_EXTERNAL = 0, SL_GW_OUTAGE_DENY_ALL = 1 };

struct sl_gw_config {
    char path[SL_GW_PATH_MAX];     /* the config file itself */
    char state[3];                 /* "WA" */
    char state_name[32];           /* "WASHINGTON" (from the code, or `name =`) */
    char ori[10];                  /* the ORI replies come from, e.g. WAOLN0000 */
    char hub[256];                 /* host:port */
    int tls;                       /* 1: mutual TLS (default) */
    char cert[SL_GW_PATH_MAX], key[SL_GW_PATH_MAX], ca[SL_GW_PATH_MAX];
    char tokens[SL_GW_PATH_MAX];   /* plain lines: the tokens file */
    char records[SL_GW_PATH_MAX];  /* the records store (SQLite) */
    char policy[SL_GW_PATH_MAX];   /* policy file, "" when the default below rules */
    int default_effect;            /* no policy file: 0 permit, 2 forbid (policy.h values) */
    enum sl_gw_outage outage;
    char audit_dir[SL_GW_PATH_MAX];
    char audit_key[SL_GW_PATH_MAX]; /* note signer key (`stateline audit keygen`) */
    char data_dir[SL_GW_PATH_MAX];  /* gateway.db: inbox and review queue */
    unsigned keys;                 /* SL_GW_KEY_* answered */
    enum sl_gw_layout layout;      /* default reply layout */
    char standard_for[512];        /* requesters (member codes or ORIs) given the standard */
    int policy_poll_ms;            /* how often the policy file is looked at (250) */
    int reconnect_min_ms, reconnect_max_ms; /* back-off between dials (100 .. 5000) */
    int list_cap;                  /* records in a list answer (20) */
    /* The records store's memory and warm-up (store.h sl_store_opts, docs/gateway.md §1). */
    int64_t store_mmap;            /* mmap window, bytes; -1 (auto) = the whole file */
    int store_cache_mib;           /* SQLite page cache, MiB (64) */
    int store_warm;                /* SL_STORE_WARM_*: 0 no, 1 indexes (default), 2 all */
    int store_warm_wait;           /* 1: warm before dialling the hub; 0: in the background */
    /* The oversight desk in the browser (src/http, http.h, docs/http-api.md). */
    char http_listen[128];         /* host:port, "" = no HTTP server */
    int http_tls;                  /* 1: HTTPS (default); 0 only on loopback (tests) */
    char http_cert[SL_GW_PATH_MAX], http_key[SL_GW_PATH_MAX]; /* server cert (PEM) */
    int http_session_s;            /* a session's idle lifetime (1800 s) */
    char audit_pub[SL_GW_PATH_MAX]; /* verifier key of the log (default audit_key's .pub) */
    /* the review desk and notices (docs/review.md) */
    int review_poll_ms;            /* how often gateway.db is looked at for decisions (200) */
    char two_person[512];          /* hold rule ids whose approval needs two reviewers, or
                                      "all"; "" = one reviewer suffices */
    char reviewer_links[1024];     /* "alice=WASP00000 bob=WAKCS0000": a reviewer's own ORIs */
    int nholidays;
    int32_t holidays[128];         /* yyyymmdd, sorted: not business days */
    int retention_days;            /* gateway.db's done reviews and sent notices are deleted
                                      this long after (365); 0 = kept (A-3, P-19) */
};

/* Read and check a config.  0, or -1 with "file: [section] key = value: why" in err. */
int sl_gw_config_load(const char *path, struct sl_gw_config *cfg, char *err, size_t errlen);
/* The same from text (len bytes, need not be NUL-terminated); path names it in errors and
 * gives the folder relative paths are relative to.  For tests and the fuzz target. */
int sl_gw_config_parse(const char *text, size_t len, const char *path,
                       struct sl_gw_config *cfg, char *err, size_t errlen);

/* Layout for one requester: the standard layout when the requester's ORI or member is
 * listed in standard_for, else cfg->layout. */
enum sl_gw_layout sl_gw_layout_for(const struct sl_gw_config *cfg, const char *ori,
                                   const char *member);

/* Run the gateway until SIGTERM/SIGINT.  Returns 0 on a clean stop, 1 when it could not
 * start (the reason is logged). */
int sl_gw_run(const struct sl_gw_config *cfg);

/* ---- notices: due dates (gw_desk.c) ----------------------------------------------- */

/* 1 when yyyymmdd is a business day: not Saturday, Sunday or in cfg->holidays. */
int sl_gw_business_day(const struct sl_gw_config *cfg, int32_t ymd);
/* The due date of a notice created on the local date of from (a Unix time, the process's
 * time zone): `days` business days (business = 1; the day of creation does not count) or
 * calendar days later.  Returns yyyymmdd; the notice is due by the end of that day. */
int32_t sl_gw_notice_due(const struct sl_gw_config *cfg, int64_t from_s, int days,
                         int business);

/* ---- the review desk (gw_desk.c; docs/review.md) ------------------------------------ */

/* A connection of a tool (`stateline review`, `stateline policy apply`) to the gateway's
 * gateway.db.  Decisions are recorded there in one transaction each; the running gateway
 * acts on them (docs/review.md §2). */
struct sl_gw_desk;
struct sl_gw_desk *sl_gw_desk_open(const struct sl_gw_config *cfg, char *err, size_t errlen);
void sl_gw_desk_close(struct sl_gw_desk *d);
/* Held requests (all = every request ever held, with its outcome) as text or JSON. */
int sl_gw_desk_list(struct sl_gw_desk *d, int all, int json, struct sl_buf *out);
/* One request, all a reviewer needs.  id: "WA-R12" or "12".  0, or -1 with err. */
int sl_gw_desk_show(struct sl_gw_desk *d, const char *id, int json, struct sl_buf *out,
                    char *err, size_t errlen);
/* Record a reviewer's decision.  approve: 1 approve (extra: policy class bits the reviewer
 * withholds too), 0 deny.  Returns 0 when the decision is final (the gateway sends the
 * reply), 1 when a first approval was recorded and a second reviewer must approve, -1 when
 * refused (err says why: not held, own request, same reviewer twice, ...). */
int sl_gw_desk_decide(struct sl_gw_desk *d, const char *id, int approve, const char *reviewer,
                      uint32_t extra, const char *reason, struct sl_buf *out, char *err,
                      size_t errlen);
/* Notices: which = 0 every unsent, 1 unsent and not yet overdue, 2 overdue, 3 all (sent
 * too).  now_s: the time "overdue" is measured at. */
int sl_gw_desk_notices(struct sl_gw_desk *d, int which, int json, int64_t now_s,
                       struct sl_buf *out);
/* Write a letter (text and HTML) for every unsent notice into outbox (created 0700; one
 * that others can read is refused) and mark each sent.  *nsent: letters written.  0, or -1
 * with err (notices already written stay sent). */
int sl_gw_desk_send(struct sl_gw_desk *d, const char *outbox, const char *sender,
                    struct sl_buf *out, int *nsent, char *err, size_t errlen);
/* The text of notice id's letter ("WA-N7" or "7"): the letter sent (read back from the
 * outbox; returns 1), or for an unsent notice the letter `notices send` would write now,
 * with the person's name and address from the records store (returns 0).  Appends to txt.
 * -1 with err (no such notice, record no longer on file, letter file gone). */
int sl_gw_desk_letter(struct sl_gw_desk *d, const char *id, const char *sender,
                      struct sl_buf *txt, char *err, size_t errlen);
/* ---- putting a policy in force (gw_apply.c; docs/review.md §4) ---- */
struct sl_policy_opts;
struct sl_policy_diags;
/* Who puts a text in force, for the gateway's policy-change audit entry. */
struct sl_gw_change {
    const char *author;     /* required: actor of the entry (<= 63 characters) */
    const char *approver;   /* "bob" or "bob, dave"; NULL/"" when none (the CLI) */
    const char *basis;      /* legal basis (<= 256 characters); NULL/"" when none */
    const char *note;       /* the entry's text, e.g. "draft 3 approved on the desk" */
    const char *file;       /* where the text came from (a name for diagnostics) */
    int must_record;        /* 1: refuse when who cannot be recorded in gateway.db */
};
/* Check text as `policy check` does (opts may be NULL; diagnostics into *dg, which the
 * caller frees with sl_policy_diags_free), refuse errors and another state, record who in
 * gateway.db (table policy_apply; texts before and after in policy_text), then replace the
 * gateway's policy file atomically: the running gateway puts it in force within
 * policy_poll_ms (+ a compile) and writes the policy-change entry.  hash: the text's
 * SHA-256 (hex).  0, or -1 with err (nothing changed). */
int sl_gw_policy_apply(const struct sl_gw_config *cfg, const char *text, size_t len,
                       const struct sl_gw_change *who, const struct sl_policy_opts *opts,
                       struct sl_policy_diags *dg, char hash[65], char *err, size_t errlen);
/* Record, for the running gateway to write into its audit log as an admin entry (outcome
 * failed when `failed`), something a tool did or was refused: table admin_event of
 * gateway.db (the gateway is the log's one writer).  actor <= 63, action <= 31, text
 * <= 399 characters, no personal data.  0, or -1 with err. */
int sl_gw_admin_event(const struct sl_gw_config *cfg, const char *actor, const char *action,
                      const char *text, int failed, char *err, size_t errlen);
/* Replace path with text: temporary file in the same folder, fsync, rename, fsync of the
 * folder.  0, or -1 with err. */
int sl_gw_write_atomic(const char *path, const char *text, size_t len, char *err,
                       size_t errlen);
/* `stateline policy apply`: remember who applied the text with this hash, for the
 * gateway's policy-change entry.  0 or -1. */
int sl_gw_desk_policy_applied(struct sl_gw_desk *d, const char *author, const char *file,
                              const char *hash, char *err, size_t errlen);

/* ---- reply layouts (gw_layout.c; store side) -------------------------------------- */

struct sl_driver;
struct sl_vehicle;
struct sl_history;

/*
 * Append one record in a layout.  withheld: store class bits the policy withheld; the
 * records must already be redacted (sl_store_*_redact): the layouts print WITHHELD for a
 * field of a withheld class and never read its value.  state: "WA"; state_name:
 * "WASHINGTON".  n / total for lists: item number (1-based) and count.
 */
void sl_gw_format_driver(struct sl_buf *out, enum sl_gw_layout lay, const char *state,
                         const char *state_name, const struct sl_driver *d, unsigned withheld);
void sl_gw_format_history(struct sl_buf *out, enum sl_gw_layout lay,
                          const struct sl_history *h, int n, int total, unsigned withheld);
void sl_gw_format_vehicle(struct sl_buf *out, enum sl_gw_layout lay, const char *state,
                          const char *state_name, const struct sl_vehicle *v,
                          unsigned withheld);
/* One line of a list answer (DNR, RNR, RPR); standard layout: a REC block. */
void sl_gw_format_driver_item(struct sl_buf *out, enum sl_gw_layout lay, int n,
                              const struct sl_driver *d, unsigned withheld);
void sl_gw_format_vehicle_item(struct sl_buf *out, enum sl_gw_layout lay, int n,
                               const struct sl_vehicle *v, unsigned withheld);

#endif
