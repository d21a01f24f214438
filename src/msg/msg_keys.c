/*
 * msg_keys.c - the one table of message keys (msg.h, docs/protocol.md §3),
 * the body prefixes the codec knows, and the standard ER texts.
 *
 * Everything that depends on the key reads this table: header parsing (destination count
 * and kinds), sl_msg_check (field sets, optional fields), the text of a .22. error (the
 * numbered list of valid sets), the hub (access category, priority, reply key,
 * switch-only keys) and `stateline query` (usage).
 *
 * Decisions the Nlets sources leave open (docs/protocol.md §3 gives the reasons):
 *   - access category: every DMV key and reply 'D'; AM, AML, SM, ER 'A'; NLQ/NFQ and their
 *     replies 'Z' (archive search is "other message types"; the directory's rand flag
 *     says who may search);
 *   - DNQ and RNQ (name-only list searches) go to exactly one state: a name sweep of the
 *     nation is what a state most wants to see and decide one request at a time;
 *   - KQ takes one state or NL (S-5 fans KQ out to every state); RPQ one state only;
 *   - DQG is answered with DR (the hub re-types it to DQ); DRG is still accepted from a
 *     state that follows the older Nlets page;
 *   - every DMV query key takes CAS/ (case number) and LGP/ (legal process) besides
 *     RSN/, PUR/, ATN/; IMQ/ only where Nlets allows a photo (DQ, KQ);
 *   - priority: 0 SM, 1 ER and replies (a requester is waiting), 2 queries and AM,
 *     3 regional DQG/RQG and archive searches.
 */
#include "msg_int.h"

#include <string.h>

#define ST SL_DEST_STATE
#define RG SL_DEST_REGION
#define NLD SL_DEST_NL
#define OR SL_DEST_ORI
#define F SL_BODY_FIELDS
#define T SL_BODY_TEXT

#define DMV_OPT "RSN PUR ATN CAS LGP"

static const struct sl_key_info keys[] = {
    /* key, name, category, max_dest, dest kinds, body, reply, nsets, sets, optional,
     * priority, switch_only */
    {"DQ", "Driver license query", 'D', 5, ST | RG | NLD, F, "DR", 2,
     {{"OLN", NULL}, {"NAM", "DOB", "SEX", NULL}}, DMV_OPT " IMQ", 2, 0},
    {"DQG", "Driver license query to a region", 'D', 5, ST | RG | NLD, F, "DR", 1,
     {{"NAM", "DOB", "SEX", NULL}}, DMV_OPT, 3, 0},
    {"DNQ", "Driver license query by name (list answer)", 'D', 1, ST, F, "DNR", 1,
     {{"NAM", NULL}}, DMV_OPT, 2, 0},
    {"KQ", "Driver history query", 'D', 1, ST | NLD, F, "KR", 2,
     {{"OLN", NULL}, {"NAM", "DOB", "SEX", NULL}}, DMV_OPT " IMQ", 2, 0},
    {"RQ", "Vehicle registration query", 'D', 5, ST | RG | NLD, F, "RR", 2,
     {{"LIC", "LIY", "LIT", NULL}, {"VIN", NULL}}, DMV_OPT " VMA VYR", 2, 0},
    {"RQG", "Vehicle registration query to a region", 'D', 5, ST | RG | NLD, F, "RR", 2,
     {{"LIC", "LIY", "LIT", NULL}, {"VIN", NULL}}, DMV_OPT " VMA VYR", 3, 0},
    {"RNQ", "Vehicle registration query by owner name (list answer)", 'D', 1, ST, F, "RNR",
     1, {{"NAM", NULL}}, DMV_OPT, 2, 0},
    {"RPQ", "Partial plate registration query (wildcards)", 'D', 1, ST, F, "RPR", 1,
     {{"LIC", NULL}}, DMV_OPT " LIY LIT VMA VYR", 2, 0},
    {"AM", "Administrative message", 'A', 5, ST | RG | OR, T, NULL, 0, {{NULL}}, "", 2, 0},
    {"AML", "Administrative message, law enforcement only", 'A', 5, ST | RG | OR, T, NULL,
     0, {{NULL}}, "", 2, 0},
    {"SM", "Status message", 'A', 5, ST | RG | OR, T, NULL, 0, {{NULL}}, "", 0, 0},
    {"NLQ", "Message archive search (RAND)", 'Z', 1, NLD, F, "NLR", 2,
     {{"TYP", "BEG", "END", "FND", NULL}, {"TYP", "BEG", "END", "NAM", NULL}},
     "SRC DST AND ORR", 3, 0},
    {"NFQ", "Message archive fetch of one message", 'Z', 1, NLD, F, "NFR", 1,
     {{"SEQ", NULL}}, "", 3, 0},
    {"ER", "Error message from the switch", 'A', 1, OR, T, NULL, 0, {{NULL}}, "", 1, 1},
    {"DR", "Driver license response", 'D', 1, OR, T, NULL, 0, {{NULL}}, "", 1, 0},
    {"DRG", "Driver license response to a regional query", 'D', 1, OR, T, NULL, 0,
     {{NULL}}, "", 1, 0},
    {"DNR", "Driver license name search response (list)", 'D', 1, OR, T, NULL, 0,
     {{NULL}}, "", 1, 0},
    {"KR", "Driver history response", 'D', 1, OR, T, NULL, 0, {{NULL}}, "", 1, 0},
    {"RR", "Vehicle registration response", 'D', 1, OR, T, NULL, 0, {{NULL}}, "", 1, 0},
    {"RNR", "Registration owner name search response (list)", 'D', 1, OR, T, NULL, 0,
     {{NULL}}, "", 1, 0},
    {"RPR", "Partial plate registration response", 'D', 1, OR, T, NULL, 0, {{NULL}}, "",
     1, 0},
    {"NLR", "Message archive search response", 'Z', 1, OR, T, NULL, 0, {{NULL}}, "", 1, 1},
    {"NFR", "Message archive fetch response", 'Z', 1, OR, T, NULL, 0, {{NULL}}, "", 1, 1},
};

#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

const struct sl_key_info *sl_key_lookup(const char *key)
{
    if (!key || !key[0] || !key[1])
        return NULL;
    for (int i = 0; i < NKEYS; i++) {
        const char *k = keys[i].key;
        if (k[0] == key[0] && k[1] == key[1] && k[2] == key[2])
            return &keys[i]; /* k[2] == '\0' for 2-letter keys: compares the NUL too */
    }
    return NULL;
}

const struct sl_key_info *sl_key_at(int i)
{
    return i >= 0 && i < NKEYS ? &keys[i] : NULL;
}

/* ---- prefixes ---- */

static const char pfx_names[SL_P_COUNT][4] = {
    "OLN", "NAM", "DOB", "SEX", "RSN", "PUR", "ATN", "IMQ", "CAS", "LGP", "LIC", "LIY", "LIT",
    "VIN", "VMA", "VYR", "TYP", "SRC", "DST", "BEG", "END", "FND", "AND", "ORR", "SEQ",
};

static uint32_t pack3(const char *p)
{
    return (uint32_t)(unsigned char)p[0] << 16 | (uint32_t)(unsigned char)p[1] << 8 |
           (uint32_t)(unsigned char)p[2];
}

int sl_msg_pfx_id(const char *p)
{
    /* The same names packed, so one lookup is at most 25 integer compares. */
#define P3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    static const uint32_t packed[SL_P_COUNT] = {
        P3('O', 'L', 'N'), P3('N', 'A', 'M'), P3('D', 'O', 'B'), P3('S', 'E', 'X'),
        P3('R', 'S', 'N'), P3('P', 'U', 'R'), P3('A', 'T', 'N'), P3('I', 'M', 'Q'),
        P3('C', 'A', 'S'), P3('L', 'G', 'P'), P3('L', 'I', 'C'), P3('L', 'I', 'Y'),
        P3('L', 'I', 'T'), P3('V', 'I', 'N'), P3('V', 'M', 'A'), P3('V', 'Y', 'R'),
        P3('T', 'Y', 'P'), P3('S', 'R', 'C'), P3('D', 'S', 'T'), P3('B', 'E', 'G'),
        P3('E', 'N', 'D'), P3('F', 'N', 'D'), P3('A', 'N', 'D'), P3('O', 'R', 'R'),
        P3('S', 'E', 'Q'),
    };
#undef P3
    uint32_t v = pack3(p);
    for (int i = 0; i < SL_P_COUNT; i++)
        if (packed[i] == v)
            return i;
    return -1;
}

const char *sl_msg_pfx_name(int id)
{
    return id >= 0 && id < SL_P_COUNT ? pfx_names[id] : "???";
}

uint32_t sl_msg_pfx_mask_list(const char *const *names, int n)
{
    uint32_t m = 0;
    for (int i = 0; i < n && names[i]; i++) {
        int id = sl_msg_pfx_id(names[i]);
        if (id >= 0)
            m |= 1u << id;
    }
    return m;
}

uint32_t sl_msg_pfx_mask_str(const char *s)
{
    uint32_t m = 0;
    while (s && *s) {
        while (*s == ' ')
            s++;
        if (s[0] && s[1] && s[2]) {
            int id = sl_msg_pfx_id(s);
            if (id >= 0)
                m |= 1u << id;
            s += 3;
        } else {
            break;
        }
    }
    return m;
}

int sl_key_is_reply(const struct sl_key_info *k)
{
    return k && k->priority == 1 && !k->switch_only;
}

/* ---- ER texts ---- */

const char *sl_er_text(enum sl_er code)
{
    switch (code) {
    case SL_ER_NONE: return "NO ERROR";
    case SL_ER_FORMAT:
        return "MESSAGE FORMAT/STRUCTURE ERROR - THE RECEIVED MESSAGE IS INCORRECTLY FORMATTED";
    case SL_ER_HEADER: return "INVALID HEADER INFORMATION";
    case SL_ER_NOT_ALLOWED: return "MESSAGE TYPE NOT ALLOWED TO DESTINATION";
    case SL_ER_TXT: return "TXT NOT FOUND OR IMPROPERLY FORMED XML";
    case SL_ER_DOB: return "DOB INVALID or MISSING";
    case SL_ER_YEAR: return "A YEAR FIELD IS INVALID or MISSING";
    case SL_ER_MISSING: return "FIELDS MISSING";
    case SL_ER_ATN: return "ATN FIELD INVALID";
    case SL_ER_DEST: return "INVALID DESTINATION ORIs";
    case SL_ER_FORMAT22: return "INVALID MESSAGE FORMAT";
    }
    return "UNKNOWN ERROR";
}
