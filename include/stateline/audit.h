/*
 * audit.h - the tamper-evident audit log (DESIGN §7, REQUIREMENTS A-1..A-4, F-4, R-1).
 *
 * Four pieces, each usable on its own:
 *
 *  1. Entries.  struct sl_audit_entry is one event (a query received, a decision, a release,
 *     a review action, a hub routing decision ...).  sl_audit_encode writes its canonical
 *     binary form (docs/audit-format.md §2): version 1, type, sequence number, time, then
 *     TLV fields in ascending tag order.  sl_audit_decode is strict: anything that is not the
 *     canonical encoding of some entry is refused with a reason.  Entries never carry
 *     personal data; they carry HMAC-SHA-256(log secret, personal data) instead.
 *
 *  2. The tree.  RFC 6962: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || l || r).
 *     struct sl_audit_range is the compact range (right edge) of a growing tree; the
 *     sl_audit_mth / _inclusion / _consistency functions build proofs from leaf hashes and
 *     the _verify_ functions check them (RFC 9162 §2.1.3.2 and §2.1.4.2).
 *
 *  3. Checkpoints.  C2SP signed notes (c2sp.org/tlog-checkpoint) signed with Ed25519;
 *     keys in the golang.org/x/mod/sumdb/note text form (docs/audit-format.md §5).
 *
 *  4. The log.  A directory of segment files written by a durability thread with one
 *     fdatasync wait per batch (group commit), signed checkpoints appended to
 *     DIR/checkpoints, and an encrypted personal-data store (DIR/personal/: one append-only
 *     data file and one key per month, synced together with the segment) whose month is
 *     destroyed by sl_audit_shred when retention ends.
 *
 * Directory layout (all created by sl_audit_open):
 *     DIR/seg-00000001.log ...   entries: records of  u32 length | u32 CRC32C | entry
 *     DIR/checkpoints            every signed checkpoint, in order, separated by blank lines
 *     DIR/checkpoint             the latest one (replaced atomically)
 *     DIR/lock                   flock'd by the one process that appends
 *     DIR/personal/hmac.key      the per-log secret for the keyed hash (0600)
 *     DIR/personal/YYYY-MM.data  0600: the month's AES-256-GCM records, in index order
 *     DIR/personal/YYYY-MM.index sidecar: entry index -> record offset (rebuilt if lost)
 *     DIR/personal/keys/YYYY-MM.key   one 32-byte key per month (0600)
 *     DIR/personal/personal.db   logs begun before the data files only: read, never written
 *
 * Threads: everything except the durability thread's work runs on the caller's thread.
 * sl_audit_append and the accessors are for ONE producer thread (the event loop).
 */
#ifndef STATELINE_AUDIT_H
#define STATELINE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

/* ---- entries ----------------------------------------------------------------------- */

/* Version 1: types 1..15, tags 1..35.  Version 2 adds the hub's fields and its line
 * events (tags 36.., type 16).  An entry is written with the lowest version that can
 * carry it, so every entry has one encoding and version-1 entries are unchanged. */
#define SL_AUDIT_VERSION 1
#define SL_AUDIT_VERSION_MAX 2
#define SL_AUDIT_HASH_LEN 32
#define SL_AUDIT_MAX_ENTRY 65535 /* tlog-tiles entry bundles use u16 lengths */
#define SL_AUDIT_MAX_LIST 32     /* items in a list field (rule ids, destinations ...) */

enum sl_audit_type {
    SL_AUDIT_QUERY = 1,          /* a query received (gateway) */
    SL_AUDIT_DECISION = 2,       /* the policy's decision: effect, rule ids, policy hash */
    SL_AUDIT_RELEASE = 3,        /* data released: classes released and withheld */
    SL_AUDIT_HOLD = 4,           /* a request put in the review queue, with its deadline */
    SL_AUDIT_REVIEW = 5,         /* a reviewer's action: reviewer, action, reason */
    SL_AUDIT_NOTICE_CREATED = 6, /* a notice to the person created, with its due date */
    SL_AUDIT_NOTICE_SENT = 7,    /* ... and sent */
    SL_AUDIT_POLICY_CHANGE = 8,  /* author, approver, before/after policy hashes, basis */
    SL_AUDIT_LOGON = 9,          /* a successful log-on */
    SL_AUDIT_LOGON_FAILED = 10,  /* a failed log-on */
    SL_AUDIT_LOG_READ = 11,      /* a read of this log (who, what) */
    SL_AUDIT_ADMIN = 12,         /* permission/password change, privileged action */
    SL_AUDIT_SYSTEM = 13,        /* start, stop, recovery, fail-closed outage */
    SL_AUDIT_HUB_ROUTE = 14,     /* hub: header received and the routing decision */
    SL_AUDIT_HUB_DELIVER = 15,   /* hub: message delivered on a line (line sequence) */
    SL_AUDIT_HUB_LINE = 16,      /* hub: a line up, down or refused (version 2) */
};
#define SL_AUDIT_TYPE_MAX 16
#define SL_AUDIT_TYPE_MAX_V1 15

/* What happened, in the words of the transparency report (P-23) and of the hub. */
enum sl_audit_outcome {
    SL_AUDIT_OUT_NONE = 0,
    SL_AUDIT_OUT_RELEASED = 1,
    SL_AUDIT_OUT_DENIED = 2,
    SL_AUDIT_OUT_HELD = 3,
    SL_AUDIT_OUT_REDACTED = 4, /* released with some classes withheld */
    SL_AUDIT_OUT_NOTICED = 5,
    SL_AUDIT_OUT_TIMED_OUT = 6,
    SL_AUDIT_OUT_ROUTED = 7,     /* hub */
    SL_AUDIT_OUT_REJECTED = 8,   /* hub: ER sent */
    SL_AUDIT_OUT_QUEUED = 9,     /* hub: SM .02., stored for later delivery */
    SL_AUDIT_OUT_NOT_QUEUED = 10, /* hub: SM .04. */
    SL_AUDIT_OUT_OK = 11,        /* log-on, admin, read: succeeded */
    SL_AUDIT_OUT_FAILED = 12,    /* ... failed */
};
#define SL_AUDIT_OUT_MAX 12

enum sl_audit_effect { SL_AUDIT_EFF_NONE = 0, SL_AUDIT_EFF_PERMIT = 1, SL_AUDIT_EFF_FORBID = 2,
                       SL_AUDIT_EFF_HOLD = 3 };

/* Data classes (P-1, P-8), a bit mask.  The bits and names are those of the policy
 * module (enum sl_policy_dc in policy.h: bit = 1u << SL_DC_*), so a decision's redaction
 * mask goes into an entry unchanged; tests/unit/test_audit_entry.c checks they agree.
 * Bits beyond SL_AUDIT_CLASS_ALL are refused. */
enum {
    SL_AUDIT_CLASS_IDENTITY = 1u << 0,
    SL_AUDIT_CLASS_PHOTO = 1u << 1,
    SL_AUDIT_CLASS_SSN = 1u << 2,
    SL_AUDIT_CLASS_ADDRESS = 1u << 3,
    SL_AUDIT_CLASS_DOB = 1u << 4,
    SL_AUDIT_CLASS_DESCRIPTION = 1u << 5,
    SL_AUDIT_CLASS_LICENSE = 1u << 6,
    SL_AUDIT_CLASS_HISTORY = 1u << 7,
    SL_AUDIT_CLASS_VEHICLE = 1u << 8,
    SL_AUDIT_CLASS_OWNER = 1u << 9,
    SL_AUDIT_CLASS_OWNER_ADDRESS = 1u << 10,
};
#define SL_AUDIT_CLASS_COUNT 11
#define SL_AUDIT_CLASS_ALL ((1u << SL_AUDIT_CLASS_COUNT) - 1)

/* A byte string that is not NUL-terminated (decoded entries point into their input). */
struct sl_audit_str {
    const char *p;
    uint16_t len;
};

struct sl_audit_list {
    uint8_t n;
    struct sl_audit_str item[SL_AUDIT_MAX_LIST];
};

/* Field presence bits (one per TLV tag; tag = bit number + 1). */
enum sl_audit_field {
    SL_AF_REF = 1,          /* correlation id shared by a query's entries (message id) */
    SL_AF_ORI,              /* requester ORI */
    SL_AF_MEMBER,           /* requester's member (state code or federal line) */
    SL_AF_PARENT,           /* parent agency, e.g. DHS/ICE/ERO */
    SL_AF_AGENCY_TYPE,      /* ORION type: PD SO SA LE FE ... */
    SL_AF_REQ_STATE,        /* requester's state */
    SL_AF_USER,             /* ATN: the person asking (officer id, not a subject) */
    SL_AF_TERMINAL,         /* terminal or device */
    SL_AF_KEY,              /* message key: DQ, RQ, ... */
    SL_AF_DEST,             /* destinations (list) */
    SL_AF_CONTROL,          /* control field */
    SL_AF_SEARCH,           /* search field prefixes supplied, e.g. NAM DOB (list; no values) */
    SL_AF_REASON,           /* reason code (RSN) */
    SL_AF_PURPOSE,          /* purpose code (PUR) */
    SL_AF_CASE,             /* case number (CAS) */
    SL_AF_LEGAL,            /* legal process reference (LGP) */
    SL_AF_EFFECT,           /* u8 enum sl_audit_effect */
    SL_AF_OUTCOME,          /* u8 enum sl_audit_outcome */
    SL_AF_RULES,            /* rule ids (list) */
    SL_AF_POLICY_HASH,      /* SHA-256 of the policy text in force */
    SL_AF_RELEASED,         /* u32 class mask */
    SL_AF_WITHHELD,         /* u32 class mask */
    SL_AF_PERSONAL_HASH,    /* HMAC-SHA-256(log secret, personal data) */
    SL_AF_ACTOR,            /* reviewer, rule author, user logging on, reader of the log */
    SL_AF_ACTION,           /* review action (approve, approve-redact, deny), admin action */
    SL_AF_TEXT,             /* reason/rationale/detail text (UTF-8, no personal data) */
    SL_AF_APPROVER,         /* policy change approver */
    SL_AF_POLICY_BEFORE,    /* policy hash before a change */
    SL_AF_POLICY_AFTER,     /* policy hash after a change */
    SL_AF_NOTICE_ID,        /* notice id */
    SL_AF_DUE,              /* i64 due time / deadline, µs since the epoch (UTC) */
    SL_AF_ERROR,            /* u16 Nlets error number (hub ER) */
    SL_AF_LINE_SEQ,         /* u64 per-line sequence number (hub) */
    SL_AF_REMOTE,           /* remote address of a log-on */
    SL_AF_BASIS,            /* legal basis of a policy change */
    /* version 2 */
    SL_AF_LINE,             /* hub: the line's role, "answer" or "terminal" */
    SL_AF_LEGS,             /* hub: what the switch did for each destination (list) */
    SL_AF_MID,              /* hub: switch message id (MID/) a reply echoed or a frame had */
};
#define SL_AF_MAX SL_AF_MID
#define SL_AF_MAX_V1 SL_AF_BASIS
#define SL_AF_BIT(f) (UINT64_C(1) << ((f) - 1))

struct sl_audit_entry {
    uint8_t type;    /* enum sl_audit_type */
    uint64_t seq;    /* index in the log; set by sl_audit_append */
    int64_t time_us; /* UTC microseconds since the epoch */
    uint64_t present; /* SL_AF_BIT of each field set below */

    struct sl_audit_str ref, ori, member, parent, agency_type, req_state, user, terminal, key,
        control, reason, purpose, case_ref, legal, actor, action, text, approver, notice_id,
        remote, basis, line;
    struct sl_audit_list dest, search, rules, legs;
    uint8_t effect, outcome;
    uint32_t released, withheld;
    uint16_t error;
    uint64_t line_seq, mid;
    int64_t due_us;
    uint8_t policy_hash[SL_AUDIT_HASH_LEN], personal_hash[SL_AUDIT_HASH_LEN],
        policy_before[SL_AUDIT_HASH_LEN], policy_after[SL_AUDIT_HASH_LEN];
};

/* Zero e and set type/time. */
void sl_audit_entry_init(struct sl_audit_entry *e, enum sl_audit_type type, int64_t time_us);
/* Set a string field (s NUL-terminated, not copied: it must live until encoded).
 * NULL or "" leaves the field absent.  0, or -1 if f is not a string field. */
int sl_audit_set_str(struct sl_audit_entry *e, enum sl_audit_field f, const char *s);
/* Append an item to a list field (SL_AF_DEST, SL_AF_SEARCH, SL_AF_RULES); -1 when full. */
int sl_audit_add_item(struct sl_audit_entry *e, enum sl_audit_field f, const char *s);
/* Set a fixed field; the value's width follows the field (u8 / u16 / u32 / u64 / i64). */
int sl_audit_set_int(struct sl_audit_entry *e, enum sl_audit_field f, int64_t v);
int sl_audit_set_hash(struct sl_audit_entry *e, enum sl_audit_field f, const uint8_t h[32]);

/* Canonical encoding of e with e->seq into out[cap].  Returns the length, or -1 with a
 * reason in err when e breaks a rule the decoder enforces (so an encoded entry always
 * decodes) or cap is too small. */
int sl_audit_encode(const struct sl_audit_entry *e, uint8_t *out, size_t cap, char *err,
                    size_t errlen);
/* Strict decoder.  e's strings point into buf (which must outlive e).  0, or -1 with err. */
int sl_audit_decode(const uint8_t *buf, size_t len, struct sl_audit_entry *e, char *err,
                    size_t errlen);

const char *sl_audit_type_name(int type);       /* "query", ... or NULL */
const char *sl_audit_outcome_name(int outcome); /* "released", ... or NULL */
const char *sl_audit_effect_name(int effect);
const char *sl_audit_class_name(int bit);       /* bit number 0..SL_AUDIT_CLASS_COUNT-1 */
const char *sl_audit_field_name(int field);
int sl_audit_type_parse(const char *s);   /* -1 if unknown */
int sl_audit_outcome_parse(const char *s);

/* A JSON object for e (jansson json_t *, caller owns the reference). */
struct json_t;
struct json_t *sl_audit_entry_json(const struct sl_audit_entry *e);

/* ---- hashing and the tree ---------------------------------------------------------- */

/* One prefetched SHA-256 (EVP_MD_fetch once) and a reusable context.  Not thread-safe:
 * one per thread. */
struct sl_audit_hasher;
struct sl_audit_hasher *sl_audit_hasher_new(void); /* caller frees with _free */
void sl_audit_hasher_free(struct sl_audit_hasher *h);
void sl_audit_leaf_hash(struct sl_audit_hasher *h, const uint8_t *entry, size_t len,
                        uint8_t out[32]);
void sl_audit_node_hash(struct sl_audit_hasher *h, const uint8_t l[32], const uint8_t r[32],
                        uint8_t out[32]);
void sl_audit_sha256(struct sl_audit_hasher *h, const void *p, size_t len, uint8_t out[32]);

/* Compact range [0, size): the roots of the perfect subtrees along the right edge, one per
 * set bit of size, largest first.  Appending costs one leaf hash plus on average one node
 * hash. */
struct sl_audit_range {
    uint64_t size;
    int n;
    uint8_t h[64][32];
};
void sl_audit_range_init(struct sl_audit_range *r);
void sl_audit_range_append(struct sl_audit_range *r, struct sl_audit_hasher *h,
                           const uint8_t leaf[32]);
void sl_audit_range_root(const struct sl_audit_range *r, struct sl_audit_hasher *h,
                         uint8_t out[32]);

/* MTH of leaves[lo, hi) (RFC 6962 §2.1). */
void sl_audit_mth(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t lo,
                  uint64_t hi, uint8_t out[32]);
/* Inclusion proof of index in a tree of size leaves: writes up to 64 hashes to proof and
 * returns their number, or -1 if index >= size. */
int sl_audit_inclusion(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t index,
                       uint64_t size, uint8_t proof[][32]);
/* Consistency proof between sizes m <= n (0 < m); returns the count, or -1. */
int sl_audit_consistency(struct sl_audit_hasher *h, const uint8_t (*leaves)[32], uint64_t m,
                         uint64_t n, uint8_t proof[][32]);
/* 0 when the proof holds, -1 otherwise. */
int sl_audit_verify_inclusion(struct sl_audit_hasher *h, uint64_t index, uint64_t size,
                              const uint8_t leaf[32], const uint8_t (*proof)[32], int nproof,
                              const uint8_t root[32]);
int sl_audit_verify_consistency(struct sl_audit_hasher *h, uint64_t m, uint64_t n,
                                const uint8_t root_m[32], const uint8_t root_n[32],
                                const uint8_t (*proof)[32], int nproof);

/* ---- checkpoints (C2SP signed notes, Ed25519) ---------------------------------------- */

#define SL_AUDIT_MAX_NAME 128

struct sl_audit_signer {   /* opaque content: name, key id, private key */
    char name[SL_AUDIT_MAX_NAME + 1];
    uint32_t key_id;
    void *pkey; /* EVP_PKEY * */
};
struct sl_audit_verifier {
    char name[SL_AUDIT_MAX_NAME + 1];
    uint32_t key_id;
    void *pkey;
};

/* Make a new key pair; writes the signer key "PRIVATE+KEY+<name>+<id>+<b64>" to skey and
 * the verifier key "<name>+<id>+<b64>" to vkey (NUL-terminated).  name: the log's origin,
 * no spaces or '+'.  0, or -1 with err. */
int sl_audit_keygen(const char *name, char *skey, size_t skeylen, char *vkey, size_t vkeylen,
                    char *err, size_t errlen);
/* Parse key strings (trailing newline allowed).  The structs own an EVP_PKEY: free with
 * the _free functions. */
int sl_audit_signer_parse(struct sl_audit_signer *s, const char *text, char *err, size_t errlen);
int sl_audit_verifier_parse(struct sl_audit_verifier *v, const char *text, char *err,
                            size_t errlen);
void sl_audit_signer_free(struct sl_audit_signer *s);
void sl_audit_verifier_free(struct sl_audit_verifier *v);

struct sl_audit_checkpoint {
    char origin[SL_AUDIT_MAX_NAME + 1];
    uint64_t size;
    uint8_t root[32];
    size_t text_len; /* bytes of the signed text (origin line .. last text line incl. \n) */
    int nsig;
    struct {
        char name[SL_AUDIT_MAX_NAME + 1];
        uint32_t key_id;
        uint8_t sig[64];
        int siglen; /* bytes after the key id */
    } sig[16];
};

/* Write the signed note for (origin = signer name, size, root) into out; returns its
 * length, or -1. */
int sl_audit_checkpoint_sign(const struct sl_audit_signer *s, uint64_t size,
                             const uint8_t root[32], char *out, size_t cap);
/* Parse one note of exactly len bytes (ends after its last signature line's newline).
 * Strict: the C2SP rules of line form, decimal size without leading zeros, 32-byte root,
 * at least one signature line, at most 16.  0, or -1 with err. */
int sl_audit_checkpoint_parse(const char *note, size_t len, struct sl_audit_checkpoint *c,
                              char *err, size_t errlen);
/* 0 when a signature by v (name and key id match) verifies over the note text; -1 if none. */
int sl_audit_checkpoint_verify(const char *note, const struct sl_audit_checkpoint *c,
                               const struct sl_audit_verifier *v);
/* Split a checkpoints history file into notes: calls fn(note, len, arg) for each, in
 * order; a note ends at the newline after its last signature line (notes are separated by
 * one blank line).  Returns the number of notes, or -1 (with err) at the first byte that
 * is not a note, *bad_offset set to where it starts. */
int sl_audit_checkpoints_split(const char *text, size_t len,
                               int (*fn)(const char *note, size_t len, void *arg), void *arg,
                               size_t *bad_offset, char *err, size_t errlen);

/* ---- CRC32C (the per-record checksum) ---------------------------------------------- */
uint32_t sl_audit_crc32c(uint32_t crc, const void *p, size_t len);

/* ---- base64 / hex helpers for tools ------------------------------------------------- */
size_t sl_audit_b64_encode(const uint8_t *in, size_t len, char *out); /* out >= 4*ceil(len/3)+1 */
int sl_audit_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap); /* -1 if bad */
void sl_audit_hex(const uint8_t *in, size_t len, char *out);                  /* out: 2*len+1 */
int sl_audit_unhex(const char *in, size_t len, uint8_t *out);                 /* -1 if bad */

/* ---- the appending log ------------------------------------------------------------- */

struct sl_audit_opts {
    const char *dir;            /* the log directory (created if missing) */
    const char *signer_key;     /* path of the note signer key; required */
    uint64_t segment_bytes;     /* roll segments at this size (default 64 MiB) */
    size_t queue_bytes;         /* bound on bytes queued and not yet written (default 4 MiB) */
    int64_t checkpoint_ms;      /* sign a checkpoint at most this long after new entries (1000) */
    uint64_t checkpoint_every;  /* ... or after this many new entries (default 0 = off) */
    int64_t batch_wait_us;      /* let a small batch wait this long for more (default 0) */
    int nonblocking;            /* append returns -1 (errno EAGAIN) instead of waiting when
                                   the queue is full */
    int scan_all;               /* at open, rescan the whole log instead of starting from
                                   DIR/tree-state (the state after the last checkpoint) */
};

struct sl_audit_log;

/* Open (or create) the log: take DIR/lock, rebuild the tree (from DIR/tree-state when it
 * matches the last checkpoint, scanning only the entries after it; else, or with scan_all,
 * from every entry), check it against the last checkpoint, check the tail (a torn last
 * record is truncated and logged, and a SYSTEM entry says so), start the durability thread.  *out owned by the caller,
 * released by sl_audit_close.  0, or -1 with err. */
int sl_audit_open(struct sl_audit_log **out, const struct sl_audit_opts *o, char *err,
                  size_t errlen);
/* Queue an entry (e->seq is set to its index).  personal/plen: the personal data of the
 * entry (names, numbers, DOB, addresses; at most 1 MiB) or NULL; its keyed hash goes into
 * the entry and the data itself, encrypted, into the personal store, durable with the entry.
 * Returns the index, or -1: the entry is invalid or its personal data too large (logged,
 * errno EINVAL), the queue is full in nonblocking mode (errno EAGAIN), or the log has
 * failed (a write or fdatasync error is fatal to the log: nothing after it is durable). */
int64_t sl_audit_append(struct sl_audit_log *log, struct sl_audit_entry *e,
                        const void *personal, size_t plen);
/* An eventfd that becomes readable when more entries are durable; watch it with the loop
 * and call sl_audit_durable_upto when it fires. */
int sl_audit_durable_fd(const struct sl_audit_log *log);
/* Entries [0, n) are on disk; also drains the eventfd. */
uint64_t sl_audit_durable_upto(struct sl_audit_log *log);
/* Group the entries of one pass of the caller's loop into one batch.  Between
 * sl_audit_cork and sl_audit_uncork an append does not wake the durability thread (a full
 * slot still does); uncork wakes it once if entries wait.  Without it, the thread, woken
 * by a query's first entry on the other core, makes that entry durable alone, and the
 * reply, which needs the query's last entry too, waits for a second batch: two rounds of
 * syncs instead of one.  Both from the thread that appends. */
void sl_audit_cork(struct sl_audit_log *log);
void sl_audit_uncork(struct sl_audit_log *log);
/* Block until entries [0, n) are durable (tools and tests; the loop uses the eventfd).
 * 0, or -1 if the log failed. */
int sl_audit_wait(struct sl_audit_log *log, uint64_t n);
/* Entries appended so far (durable or not). */
uint64_t sl_audit_size(const struct sl_audit_log *log);
/* Flush, sign a final checkpoint (written before this returns), stop both threads,
 * release everything. */
int sl_audit_close(struct sl_audit_log *log);

/* Statistics of the durability and checkpoint threads (for metrics and the benchmark).
 * checkpoints: written so far; checkpoints_coalesced: snapshots replaced by a newer one
 * because the checkpoint thread was CPQ_LEN (64) behind (0 unless the disk stalls). */
struct sl_audit_stats {
    uint64_t batches, bytes, entries, checkpoints, queue_full_waits;
    uint64_t checkpoints_coalesced;
};
void sl_audit_get_stats(struct sl_audit_log *log, struct sl_audit_stats *st);

/* ---- the personal store --------------------------------------------------------------- */

/* Read the personal data of entry index from DIR/personal (decrypting it).  *out is
 * malloc'd (caller frees), *outlen its length.  Returns 0; 1 when the entry has no
 * personal data; 2 when its period's key was shredded; -1 on error (err). */
int sl_audit_personal_read(const char *dir, uint64_t index, uint8_t **out, size_t *outlen,
                           char *err, size_t errlen);
/* Keyed hash of personal data under the log's secret (DIR/personal/hmac.key), for an
 * auditor who holds a record and wants to find or prove its entry.  0 or -1. */
int sl_audit_personal_hash(const char *dir, const void *data, size_t len, uint8_t out[32],
                           char *err, size_t errlen);
/* Crypto-shredding: destroy the key of period "YYYY-MM" (overwrite, fsync, unlink, fsync
 * the directory) and delete that period's ciphertext (its data file; its rows in a former
 * log's personal.db).  The log still verifies.
 * 0, or -1 with err (1 if the key was already gone). */
int sl_audit_shred(const char *dir, const char *period, char *err, size_t errlen);

/* ---- reading and verifying a log directory (tools) ---------------------------------- */

/* Read every entry of DIR in order: fn(index, entry, len, arg) returns 0 to go on, else
 * stops.  Record-level damage (bad checksum, broken framing) is reported through bad()
 * when given, and reading continues when the framing allows.  0, or -1 (err). */
struct sl_audit_reader_cb {
    int (*entry)(uint64_t index, const uint8_t *entry, size_t len, void *arg);
    void (*bad)(uint64_t index, const char *what, void *arg);
    void *arg;
};
int sl_audit_read_dir(const char *dir, const struct sl_audit_reader_cb *cb, char *err,
                      size_t errlen);

/* Full verification: recompute the tree, check record checksums, sequence numbers,
 * entry decoding, and every checkpoint in DIR/checkpoints (roots, sizes, order, and the
 * signature when v is given).  Each problem is passed to report(index or -1, text, arg).
 * Returns the number of problems (0 = the log verifies), or -1 when DIR cannot be read. */
struct sl_audit_verify_result {
    uint64_t entries;
    uint64_t checkpoints;
    uint64_t problems;
    double seconds;
    uint8_t root[32];
};
int64_t sl_audit_verify_dir(const char *dir, const struct sl_audit_verifier *v,
                            void (*report)(int64_t index, const char *text, void *arg),
                            void *arg, struct sl_audit_verify_result *res, char *err,
                            size_t errlen);

/* Load the leaf hashes of entries [0, n) (n = all when 0); *leaves malloc'd, caller
 * frees.  Returns the count or -1. */
/* The transparency report (docs/audit-format.md §9) over entries whose time is in
 * [from_us, to_us): a jansson object the caller owns, or NULL with err. */
struct json_t *sl_audit_report(const char *dir, int64_t from_us, int64_t to_us, char *err,
                               size_t errlen);

/* Write the log as static files in the C2SP tlog-tiles layout under out (tiles.c says
 * what): the tree of the latest checkpoint, checked against it first.  *size = its size.
 * 0, or -1 with err. */
int sl_audit_tiles(const char *dir, const char *out, uint64_t *size, char *err, size_t errlen);

int64_t sl_audit_load_leaves(const char *dir, uint64_t n, uint8_t (**leaves)[32], char *err,
                             size_t errlen);

#endif
