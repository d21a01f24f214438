/*
 * policy.h - a state's release rules: the policy language, its checker and the compiled
 * matcher the gateway consults on every query (docs/policy-language.md).
 *
 * A policy file is UTF-8 text, one state's rules:
 *
 *     state WA
 *     default permit
 *     rule no-civil-immigration "Keep Washington Working Act: no data for ICE ERO"
 *       forbid when requester.parent under "DHS/ICE/ERO"
 *
 * The full grammar is in docs/policy-language.md.  Semantics: the order of rules does not
 * matter; a decision is forbid if any forbid rule matches, else hold if any hold rule
 * matches, else permit if any permit rule matches, else the file's default.  The
 * obligations (redact, notify, mark) of every matching permit (and, for a hold, of the
 * matching holds) apply together.
 *
 * Fail closed: a condition the request cannot answer (the requester is not in the
 * directory, the message or the time is missing) is an evaluation error, not "false".
 * A forbid or hold rule whose condition errors counts as matching; a permit rule that
 * errors is skipped, and if it carries obligations the decision becomes forbid (we cannot
 * know whether its redactions were owed).  The decision says so (nerrors, fail_closed).
 *
 * Life cycle for the gateway:
 *     1. read the file, sl_policy_compile(); on any error keep the policy in force;
 *     2. on success publish it with sl_policy_slot_swap() - queries in flight keep the
 *        reference they took with sl_policy_slot_acquire() and finish on the old policy;
 *     3. per query: fill a struct sl_policy_request, sl_policy_decide() (no allocation),
 *        sl_policy_unref() when the decision is no longer needed (rule ids and marks in
 *        the decision point into the policy).
 */
#ifndef STATELINE_POLICY_H
#define STATELINE_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "stateline/msg.h"

/* ---- data classes a rule may redact ---- */
enum sl_policy_dc {
    SL_DC_IDENTITY = 0,   /* name */
    SL_DC_PHOTO,          /* licence photo (image request) */
    SL_DC_SSN,            /* SSN or its last digits, where the record holds one */
    SL_DC_ADDRESS,        /* residential and mailing address */
    SL_DC_DOB,            /* date of birth */
    SL_DC_DESCRIPTION,    /* sex, height, weight, eyes, hair */
    SL_DC_LICENSE,        /* licence number, class, status, restrictions, endorsements, expiry */
    SL_DC_HISTORY,        /* driver history: convictions, withdrawals, accidents (KQ) */
    SL_DC_VEHICLE,        /* plate, VIN, make, model, year, colour */
    SL_DC_OWNER,          /* registered owner's name */
    SL_DC_OWNER_ADDRESS,  /* registered owner's address */
    SL_DC_COUNT
};
/* A set of classes is a mask of these bits (struct sl_policy_decision.redact, the store's
 * redaction masks and the audit log's released/withheld fields all use it). */
#define SL_DC_BIT(dc) (1u << (dc))
#define SL_DC_ALL ((1u << SL_DC_COUNT) - 1u)
/* "owner-address" for SL_DC_OWNER_ADDRESS etc.; NULL when out of range. */
const char *sl_policy_dc_name(int dc);
/* -1 when unknown. */
int sl_policy_dc_lookup(const char *name);
/* Bitmask (1u << SL_DC_*) of the classes a reply to this key can carry; 0 for a key the
 * gateway does not answer.  DQG/RQG count as DQ/RQ. */
uint32_t sl_policy_dc_for_key(const char *key);

/* ---- the request ---- */
enum sl_policy_via {
    SL_VIA_DIRECT = 0,     /* addressed to this state */
    SL_VIA_REGION = 1,     /* addressed to a region (DQG/RQG) */
    SL_VIA_NATIONWIDE = 2, /* multi-state query, destination NL */
};

/* Local wall-clock time of the deciding state (the gateway's TZ). */
struct sl_policy_time {
    int year, month, day;   /* 2026, 1..12, 1..31 */
    int hour, minute;       /* 0..23, 0..59 */
    int wday;               /* 0 = Sunday .. 6 = Saturday */
};

/* One body field, as in struct sl_field: pfx "LGP", val/len not NUL-terminated. */
struct sl_policy_field {
    char pfx[4];
    const char *val;
    uint32_t len;
};

#define SL_POLICY_REQ_MAX_FIELDS 48

/*
 * What a decision is made on.  Everything is borrowed from the caller for the duration
 * of sl_policy_decide().  Missing parts make the conditions that need them evaluation
 * errors (fail closed):
 *   requester NULL              every requester.* condition errors;
 *   requester_known 0           the requester was not found in the directory:
 *                               type, parent, tags and categories error (ORI, member and
 *                               state still come from the switch's line binding);
 *   key[0] == 0                 key, via and field conditions error;
 *   has_time 0                  time, weekday and date conditions error.
 */
struct sl_policy_request {
    const struct sl_requester *requester;
    int requester_known;
    char key[4];              /* as received; DQG/RQG mean DQ/RQ via a region */
    enum sl_policy_via via;
    int nfields;
    struct sl_policy_field fields[SL_POLICY_REQ_MAX_FIELDS];
    int has_time;
    struct sl_policy_time local;
    /* Query counts for `requester.queries per W > N` and `user.queries per W > N`
     * (P-22): how many queries this requester's ORI, and the person asking at that ORI
     * (ATN/), sent to this state in the last minute, hour and day, this one included.
     * The gateway fills them from its counters (sl_policy_counts_add); absent counts make
     * those conditions evaluation errors (fail closed). */
    int has_counts;           /* ori_queries[] holds counts */
    int has_user_counts;      /* user_queries[] holds counts (the request names its ATN) */
    uint32_t ori_queries[3];  /* by enum sl_policy_window */
    uint32_t user_queries[3];
};

/* The windows a count condition can name. */
enum sl_policy_window { SL_WIN_MINUTE = 0, SL_WIN_HOUR = 1, SL_WIN_DAY = 2, SL_WIN_COUNT };
const char *sl_policy_window_name(int w); /* "minute" "hour" "day"; NULL out of range */

/* The request's field with this prefix ("LGP"; the first if several), or NULL. */
const struct sl_policy_field *sl_policy_request_field(const struct sl_policy_request *r,
                                                     const char *pfx);
/* The person asking: the ATN/ field when it is there and not empty, else NULL (what
 * user.queries counts by). */
const struct sl_policy_field *sl_policy_request_user(const struct sl_policy_request *r);
/* Fill key, via and fields from a parsed message (pointers into m, which must outlive
 * the request).  via comes from the key and the destinations: DQG/RQG or a region code
 * (two characters containing a digit) -> region, NL -> nationwide, else direct. */
void sl_policy_request_from_msg(struct sl_policy_request *r, const struct sl_msg *m);
/* Set local time from a Unix time, in the process's time zone (localtime_r). */
void sl_policy_request_set_time(struct sl_policy_request *r, time_t t);

/* ---- the decision ---- */
enum sl_policy_effect { SL_POLICY_PERMIT = 0, SL_POLICY_HOLD = 1, SL_POLICY_FORBID = 2 };
const char *sl_policy_effect_name(enum sl_policy_effect e); /* "permit" ... */

/* Why a condition could not be evaluated. */
enum sl_policy_eval_err {
    SL_PEVAL_OK = 0,
    SL_PEVAL_NO_REQUESTER,  /* no verified requester at all */
    SL_PEVAL_UNKNOWN_REQUESTER, /* requester not in the directory: type/parent/tags unknown */
    SL_PEVAL_NO_MESSAGE,    /* no message key or fields */
    SL_PEVAL_NO_TIME,       /* no time given */
    SL_PEVAL_NO_COUNT,      /* no query count given (or the counters are full) */
    SL_PEVAL_NO_USER,       /* a per-user count, and the request names no user (ATN/) */
};
const char *sl_policy_eval_err_text(enum sl_policy_eval_err e);

#define SL_POLICY_MAX_IDS 16
#define SL_POLICY_MAX_NOTICES 4
#define SL_POLICY_MAX_MARKS 4
#define SL_POLICY_MAX_ERRS 4

struct sl_policy_notice {
    uint16_t days;     /* within this many days */
    uint8_t business;  /* 1: business days (the gateway's holiday list), 0: calendar days */
    const char *rule;  /* id of the rule that asked for it */
};

/*
 * A decision.  Filled by sl_policy_decide without allocation; the strings point into the
 * policy, so keep a reference to it as long as the decision is used.
 */
struct sl_policy_decision {
    enum sl_policy_effect effect;
    int is_default;               /* no rule decided: the file's default did */
    int nrules;                   /* ids stored in rules[], in file order */
    int nrules_total;             /* how many rules made the decision (may exceed 16) */
    const char *rules[SL_POLICY_MAX_IDS];
    uint32_t redact;              /* bitmask of 1u << SL_DC_* to withhold if released */
    int nnotices;
    struct sl_policy_notice notices[SL_POLICY_MAX_NOTICES];
    int nmarks;                   /* re-dissemination lines for the reply (P-28) */
    const char *marks[SL_POLICY_MAX_MARKS];
    /* hold only: */
    int64_t hold_deadline_s;      /* seconds after receipt (shortest of the matching holds) */
    enum sl_policy_effect hold_then; /* outcome when it passes (forbid if any hold says so) */
    /* evaluation errors (fail closed): */
    int nerrors;                  /* rules whose conditions could not be evaluated */
    int fail_closed;              /* 1: an error changed the outcome towards denial */
    const char *error_rules[SL_POLICY_MAX_ERRS];
    enum sl_policy_eval_err error_kinds[SL_POLICY_MAX_ERRS];
    char hash[65];                /* SHA-256 of the policy text in force, lower-case hex */
};

/* ---- diagnostics ---- */
enum sl_policy_diag_level { SL_PDIAG_ERROR = 0, SL_PDIAG_WARNING = 1 };

struct sl_policy_diag {
    enum sl_policy_diag_level level;
    int line, col;        /* 1-based; 0 when about the whole file */
    char msg[240];        /* "unknown field 'requestor' — did you mean 'requester'?" */
};

struct sl_policy_diags {
    int n, nerrors, nwarnings;
    int cap;
    struct sl_policy_diag *v;
};
void sl_policy_diags_free(struct sl_policy_diags *d);
/* "wa.policy:12:7: error: msg" into buf (always NUL-terminated). */
void sl_policy_diag_format(const struct sl_policy_diag *d, const char *name, char *buf,
                           size_t len);

/* ---- compiling ---- */

/* Optional look-ups in the ORI directory, used only for warnings.  Each returns 1 if
 * known, 0 if not.  known_parent: some ORI's parent equals p, or (under = 1) is p or lies
 * under p. */
struct sl_policy_opts {
    int (*known_parent)(void *ctx, const char *p, int under);
    int (*known_tag)(void *ctx, const char *tag);
    void *ctx;
    int no_analysis;  /* 1: skip the never-matches / shadowing analysis (large policies) */
};

struct sl_policy;

/*
 * Parse, check and compile.  name is the file name used in diagnostics.  opts may be
 * NULL.  diags (may be NULL) receives every error and warning; the caller frees it with
 * sl_policy_diags_free.  Returns 0 and *out (refcount 1, the caller owns it) when there
 * is no error - warnings do not prevent compiling; -1 and *out = NULL otherwise.
 */
int sl_policy_compile(const char *text, size_t len, const char *name,
                      const struct sl_policy_opts *opts, struct sl_policy **out,
                      struct sl_policy_diags *diags);
/* Read a file and compile it; a read failure is one error diagnostic at line 0. */
int sl_policy_load_file(const char *path, const struct sl_policy_opts *opts,
                        struct sl_policy **out, struct sl_policy_diags *diags);

/* Reference counting (atomic: any thread). */
struct sl_policy *sl_policy_ref(struct sl_policy *p);
void sl_policy_unref(struct sl_policy *p);

/* Decide.  Never allocates, never fails: with p NULL the decision is a fail-closed
 * forbid (no policy in force).  d is fully overwritten. */
void sl_policy_decide(const struct sl_policy *p, const struct sl_policy_request *r,
                      struct sl_policy_decision *d);

/* ---- what the tools need ---- */
const char *sl_policy_state(const struct sl_policy *p);      /* "WA" */
const char *sl_policy_title(const struct sl_policy *p);      /* "" when none */
const char *sl_policy_hash(const struct sl_policy *p);       /* hex SHA-256 */
enum sl_policy_effect sl_policy_default(const struct sl_policy *p);
int sl_policy_nrules(const struct sl_policy *p);
struct sl_policy_rule_info {
    const char *id, *reason;
    enum sl_policy_effect effect;
    int line;
    uint32_t redact;
    int notify_days, notify_business; /* notify_days 0: none */
    const char *mark;                 /* NULL: none */
    int64_t deadline_s;               /* hold only */
    enum sl_policy_effect then;       /* hold only */
};
int sl_policy_rule_info(const struct sl_policy *p, int i, struct sl_policy_rule_info *out);
/* Index of the rule with this id, or -1. */
int sl_policy_rule_find(const struct sl_policy *p, const char *id);
/* Evaluate one rule alone: 1 matches, 0 does not, -1 cannot be evaluated (*why says
 * why).  For explain: shows rules that matched but were overridden. */
int sl_policy_rule_eval(const struct sl_policy *p, int i, const struct sl_policy_request *r,
                        enum sl_policy_eval_err *why);
/* The rule's condition as text, normalised ("requester.type = FE and key in (DQ, KQ)"). */
void sl_policy_rule_condition(const struct sl_policy *p, int i, struct sl_buf *out);

/* ---- query counts (policy_rate.c; P-22) ----
 *
 * Which counts a policy reads: bit (dim * SL_WIN_COUNT + window) of the result, dim 0 =
 * ORI, 1 = user.  0 when no rule counts: then nothing need be counted. */
uint32_t sl_policy_count_uses(const struct sl_policy *p);
#define SL_POLICY_USES_ORI(w) (1u << (w))
#define SL_POLICY_USES_USER(w) (1u << (SL_WIN_COUNT + (w)))

/*
 * The counters: for each ORI, and each person asking at an ORI (ORI + ATN/ text), the
 * queries of the last minute, hour and day, each window in 60 steps (1 s, 1 min, 24 min):
 * a query counts from its arrival until 59 to 60 steps later.  Only the windows in `uses`
 * are kept.  Memory: about 400 bytes per ORI or user per window kept; at most max_keys
 * of each (a full table first forgets the keys whose counts are back to zero; a key
 * that still finds no room gets no count, which fails its conditions closed).
 * One thread at a time (the gateway's loop); the simulator has its own.
 */
struct sl_policy_counts;
struct sl_policy_counts *sl_policy_counts_new(size_t max_keys);
void sl_policy_counts_free(struct sl_policy_counts *c);
/*
 * Count one query at Unix time now_s from `ori`, asked by `user` (ulen bytes, not
 * NUL-terminated; ulen 0 = nobody named), in the windows of `uses`, and set the request's
 * counts (this query included): has_counts when every ORI window of `uses` was counted,
 * has_user_counts likewise for the user windows.  Times that go backwards count in the
 * newest step.  Returns 0, or -1 when some count could not be kept (table full).
 */
int sl_policy_counts_add(struct sl_policy_counts *c, uint32_t uses, int64_t now_s,
                         const char *ori, const char *user, size_t ulen,
                         struct sl_policy_request *r);
/* Keys held now, for the gateway's stats. */
size_t sl_policy_counts_keys(const struct sl_policy_counts *c);

/* ---- swapping the policy in force (gateway) ---- */
struct sl_policy_slot;
/* An empty slot: until something is swapped in, acquire returns NULL and decide on NULL
 * forbids (fail closed). */
struct sl_policy_slot *sl_policy_slot_new(void);
void sl_policy_slot_free(struct sl_policy_slot *s);   /* drops the policy it holds */
/* A new reference to the policy in force (NULL if none); release with sl_policy_unref. */
struct sl_policy *sl_policy_slot_acquire(struct sl_policy_slot *s);
/* Put p in force, taking over the caller's reference; the old policy is released when its
 * last in-flight user lets go. */
void sl_policy_slot_swap(struct sl_policy_slot *s, struct sl_policy *p);

/* ---- tool helpers (policy_req.c) ---- */

/*
 * Requester from "ORI=WASP00000,TYPE=PD,MEMBER=WA,STATE=WA,PARENT=DHS/ICE/ERO,
 * TAGS=a b,CATS=DZ".  Keys are case-insensitive.  STATE defaults to the ORI's first two
 * characters, MEMBER to STATE.  Without TYPE the requester counts as not found in the
 * directory (*known = 0).  0 or -1 with err.
 */
int sl_policy_parse_requester(const char *s, struct sl_requester *out, int *known, char *err,
                              size_t errlen);
/*
 * Request from Nlets text "DQ.WASP00000.WA.TXT OLN/WDL123.RSN/I" (a newline may stand
 * for the space).  Only what the policy needs: key, destinations (for via) and the
 * PFX/value fields.  Field values point into text, which must outlive r.  The gateway
 * uses the real codec (sl_msg_parse) and sl_policy_request_from_msg instead.
 */
int sl_policy_parse_request_text(const char *text, struct sl_policy_request *r, char *err,
                                 size_t errlen);
/* "2026-11-26 14:05" or "2026-11-26T14:05" (weekday computed).  0 or -1. */
int sl_policy_parse_time(const char *s, struct sl_policy_time *out);
/*
 * Query counts for a tool's request (explain, test tables): "hour=51,user-day=3", keys
 * minute hour day (the requester's ORI) and user-minute user-hour user-day (the person,
 * ATN/).  A window not given counts as the next shorter one, or 1 (this query alone);
 * s NULL gives 1 everywhere.  The user's counts are set only when r names a user (call
 * after the fields are filled).  0, or -1 with err.
 */
int sl_policy_parse_counts(const char *s, struct sl_policy_request *r, char *err,
                           size_t errlen);

/* ---- test tables (policy_cases.c), format in docs/policy-language.md ---- */
struct sl_policy_cases_result {
    int ncases, npassed, nfailed;
    int nrules, ncovered;       /* rules, and how many made a decision in some case */
};
/*
 * Run the CASES text against p; writes a human report (failures, coverage) to out.
 * Returns 0 when every case passes and every rule is covered, 1 when not, -1 when the
 * CASES text has a syntax error (reported in out with file:line:col).
 */
int sl_policy_run_cases(const struct sl_policy *p, const char *cases, size_t len,
                        const char *name, struct sl_buf *out,
                        struct sl_policy_cases_result *res);

/*
 * A decision as one line of JSON (for logs and programs):
 *   {"effect":"hold","default":false,"rules":["federal-review"],"rules_total":1,
 *    "redact":["photo","ssn"],"notices":[{"days":3,"business":true,"rule":"r"}],
 *    "marks":["..."],"hold":{"deadline_s":259200,"then":"forbid"},
 *    "errors":[{"rule":"r","why":"unknown-requester"}],"errors_total":1,
 *    "fail_closed":false,"policy_sha256":"..."}
 * "hold" only for holds.  why: no-requester | unknown-requester | no-message | no-time.
 */
void sl_policy_decision_json(const struct sl_policy_decision *d, struct sl_buf *out);

/* Describe a decision in words (explain). */
void sl_policy_decision_describe(const struct sl_policy *p, const struct sl_policy_decision *d,
                                 struct sl_buf *out);


/* ---- what a draft would change (policy_sim.c; docs/review.md §5) ---- */

/* Outcomes counted per query; redacted and noticed are parts of released. */
enum { SL_SIM_RELEASED, SL_SIM_DENIED, SL_SIM_HELD, SL_SIM_REDACTED, SL_SIM_NOTICED, SL_SIM_N };
extern const char *const sl_policy_sim_names[SL_SIM_N]; /* "released" ... "noticed" */

struct sl_policy_sim_class {
    char kind[8];                 /* parent | type | place */
    char name[64];                /* DHS/ICE/ERO, FE, in-state, "(none)" ... */
    uint64_t n[2][SL_SIM_N];      /* [0] the policy in force, [1] the draft */
};

struct sl_policy_sim {
    uint64_t total;               /* query entries replayed */
    uint64_t changed;             /* decided differently (any outcome column) */
    uint64_t loosened;            /* the draft gives more: denied -> held/released, held ->
                                     released, fewer classes withheld, a notice dropped */
    uint64_t bad;                 /* entries that did not decode */
    uint64_t all[2][SL_SIM_N];
    struct sl_policy_sim_class *cls; /* sorted by kind, name; owned, sl_policy_sim_free */
    size_t ncls;
    int64_t from_us, to_us;
    double weeks, minutes_per_review;
    double hours_per_week[2];     /* review desk: held x minutes per review / weeks */
};

/* The requester's directory entry for an ORI (tags and categories are not in the log):
 * fill *out and return 1, or 0 when unknown. */
typedef int (*sl_policy_sim_lookup)(void *ctx, const char *ori, struct sl_requester *out);

/* Replay the query entries of the audit log in audit_dir with time in [from_us, to_us)
 * against now and draft.  lookup may be NULL.  *out is the caller's, to be released with
 * sl_policy_sim_free.  0, or -1 with err (the log cannot be read). */
int sl_policy_simulate(const struct sl_policy *now, const struct sl_policy *draft,
                       const char *audit_dir, int64_t from_us, int64_t to_us,
                       double minutes_per_review, sl_policy_sim_lookup lookup, void *ctx,
                       struct sl_policy_sim *out, char *err, size_t errlen);
void sl_policy_sim_free(struct sl_policy_sim *s);
/* The result as JSON: {"queries","changed","loosened","all":{"in_force":{..},"draft":{..}},
 * "by_parent","by_type","by_place","review_hours_per_week","weeks"}.  New reference. */
struct json_t;
struct json_t *sl_policy_sim_json(const struct sl_policy_sim *s);

/* Does draft loosen access compared with now, judged by the rules' text?  Appends one line
 * per reason to why (at most 12, then "... and N more") and returns how many reasons
 * (0: nothing in the text loosens).  Reasons: the default goes from forbid to permit; a
 * forbid or hold rule is removed, changes its condition or becomes weaker; a rule stops
 * withholding a class or notifying; a hold starts releasing on timeout; under default
 * forbid, a permit rule is new or changes its condition.  Conservative: a tightened
 * condition of a forbid also counts (a person decides). */
int sl_policy_loosens(const struct sl_policy *now, const struct sl_policy *draft,
                      struct sl_buf *why);

#endif
