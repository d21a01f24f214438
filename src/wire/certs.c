/*
 * certs.c - a CA, the hub's certificate, two certificates per member line and the plain
 * tokens file, made with the OpenSSL 3 API (see certs.h for the files and subjects).
 *
 * Keys are EC P-256 (fast handshakes, small certificates, and in every FIPS module),
 * certificates X.509 v3 signed with ECDSA-SHA256, serials 127 random bits.  Every file
 * is written to a temporary name in the same directory and renamed over the old one, so
 * an interrupted run never leaves a half-written key or a certificate without its key.
 */
#include "stateline/certs.h"
#include "stateline/conn.h"
#include "stateline/core.h"
#include "wire/wire_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *const all_members[] = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC", "PR", "GU", "VI", "CN", "DJ", "DH", "TR", "DI", "DD",
};

const char *const *sl_certs_all_members(size_t *n)
{
    *n = sizeof all_members / sizeof all_members[0];
    return all_members;
}

#define TOKEN_HEX 64

struct gen {
    const struct sl_certs_opts *o;
    char *err;
    size_t errlen;
    X509 *ca;
    EVP_PKEY *ca_key;
    int ca_new;
    int written;
    int kept;
};

static void path_of(char *out, size_t outlen, const char *dir, const char *name)
{
    snprintf(out, outlen, "%s/%s", dir, name);
}

static int fail(struct gen *g, const char *what, const char *path)
{
    char detail[160];
    sl_wire_ssl_error(detail, sizeof detail, what);
    snprintf(g->err, g->errlen, "%s%s%s", detail, path ? " " : "", path ? path : "");
    return -1;
}

/* ---- writing files atomically ---------------------------------------------------- */

/* Open "<path>.tmp" for writing with mode; the caller writes, then commit_file. */
static FILE *open_tmp(const char *path, mode_t mode, char *tmp, size_t tmplen)
{
    snprintf(tmp, tmplen, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return NULL;
    if (fchmod(fd, mode) < 0) {
        close(fd);
        unlink(tmp);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
    }
    return f;
}

static int commit_file(FILE *f, int write_ok, const char *tmp, const char *path)
{
    int ok = write_ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int write_key(struct gen *g, const char *path, EVP_PKEY *key)
{
    char tmp[4200];
    FILE *f = open_tmp(path, 0600, tmp, sizeof tmp);
    if (!f) {
        snprintf(g->err, g->errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (commit_file(f, ok, tmp, path) < 0)
        return fail(g, "cannot write private key", path);
    return 0;
}

static int write_cert(struct gen *g, const char *path, X509 *cert)
{
    char tmp[4200];
    FILE *f = open_tmp(path, 0644, tmp, sizeof tmp);
    if (!f) {
        snprintf(g->err, g->errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = PEM_write_X509(f, cert) == 1;
    if (commit_file(f, ok, tmp, path) < 0)
        return fail(g, "cannot write certificate", path);
    return 0;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

/* ---- making certificates ---------------------------------------------------------- */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int set_serial(X509 *cert)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    raw[0] &= 0x7f; /* positive */
    raw[0] |= 0x40; /* and full length */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    if (!bn)
        return -1;
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (!ai)
        return -1;
    int ok = X509_set_serialNumber(cert, ai);
    ASN1_INTEGER_free(ai);
    return ok ? 0 : -1;
}

static X509_NAME *make_name(const char *cn, const char *ou)
{
    X509_NAME *n = X509_NAME_new();
    if (!n)
        return NULL;
    if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"stateline",
                                    -1, -1, 0) ||
        (ou && !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1,
                                           -1, 0)) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0)) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

/* A certificate for key, signed by issuer/issuer_key, or self-signed when issuer is NULL.
 * san: "DNS:..,IP:.." or NULL; eku: extendedKeyUsage value or NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *ou, X509 *issuer,
                       EVP_PKEY *issuer_key, int days, int is_ca, const char *eku,
                       const char *san)
{
    X509 *x = X509_new();
    X509_NAME *name = make_name(cn, ou);
    int ok = x && name && X509_set_version(x, 2) && set_serial(x) == 0 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) && /* tolerate clock skew */
             X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) &&
             X509_set_subject_name(x, name) &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
             X509_set_pubkey(x, key);
    X509_NAME_free(name);
    X509 *iss = issuer ? issuer : x;
    if (ok) {
        if (is_ca)
            ok = add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
                 add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
        else
            ok = add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
                 add_ext(x, iss, NID_key_usage, "critical,digitalSignature") == 0;
    }
    ok = ok && add_ext(x, iss, NID_subject_key_identifier, "hash") == 0 &&
         add_ext(x, iss, NID_authority_key_identifier, "keyid:always") == 0;
    if (ok && eku)
        ok = add_ext(x, iss, NID_ext_key_usage, eku) == 0;
    if (ok && san)
        ok = add_ext(x, iss, NID_subject_alt_name, san) == 0;
    if (ok)
        ok = X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* ---- checking what is there --------------------------------------------------------- */

static int subject_is(X509 *x, const char *cn, const char *ou)
{
    char v[64];
    X509_NAME *n = X509_get_subject_name(x);
    int i = X509_NAME_get_text_by_NID(n, NID_commonName, v, sizeof v);
    if (i < 0 || strcmp(v, cn) != 0)
        return 0;
    if (ou) {
        i = X509_NAME_get_text_by_NID(n, NID_organizationalUnitName, v, sizeof v);
        if (i < 0 || strcmp(v, ou) != 0)
            return 0;
    }
    return 1;
}

static int in_validity(X509 *x)
{
    return X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
           X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
}

static int is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int names_host(X509 *x, const char *host)
{
    if (is_ip(host))
        return X509_check_ip_asc(x, host, 0) == 1;
    return X509_check_host(x, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/* RFC 1123 letters, digits, hyphens and dots; at most 253 characters. */
static int host_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

/* A kept pair must be whole and right; otherwise it is made again. */
static int pair_valid(struct gen *g, X509 *x, EVP_PKEY *k, const char *cn, const char *ou,
                      const char *const *hosts)
{
    if (!x || !k || !in_validity(x) || X509_check_private_key(x, k) != 1 ||
        !subject_is(x, cn, ou))
        return 0;
    if (X509_check_issued(g->ca, x) != X509_V_OK)
        return 0;
    EVP_PKEY *capub = X509_get0_pubkey(g->ca);
    if (!capub || X509_verify(x, capub) != 1)
        return 0;
    for (size_t i = 0; hosts && hosts[i]; i++)
        if (!names_host(x, hosts[i]))
            return 0;
    return 1;
}

static int load_or_make_ca(struct gen *g)
{
    char crt[4096], key[4096];
    path_of(crt, sizeof crt, g->o->out_dir, "ca.crt");
    path_of(key, sizeof key, g->o->out_dir, "ca.key");
    if (!g->o->force) {
        X509 *x = read_cert(crt);
        EVP_PKEY *k = read_key(key);
        if (x && k && in_validity(x) && X509_check_private_key(x, k) == 1 &&
            X509_check_ca(x) >= 1 && X509_check_issued(x, x) == X509_V_OK &&
            X509_verify(x, k) == 1) {
            g->ca = x;
            g->ca_key = k;
            g->kept += 2;
            (void)chmod(key, 0600);
            return 0;
        }
        X509_free(x);
        EVP_PKEY_free(k);
    }
    ERR_clear_error();
    g->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!g->ca_key)
        return fail(g, "cannot make the CA key", NULL);
    /* The CA outlives its certificates: twice their validity, at least ten years. */
    int days = g->o->days * 2 > 3650 ? g->o->days * 2 : 3650;
    g->ca = make_cert(g->ca_key, "stateline network CA", NULL, NULL, NULL, days, 1, NULL, NULL);
    if (!g->ca)
        return fail(g, "cannot make the CA certificate", NULL);
    if (write_key(g, key, g->ca_key) < 0 || write_cert(g, crt, g->ca) < 0)
        return -1;
    g->ca_new = 1;
    g->written += 2;
    return 0;
}

/* base "hub" -> hub.crt / hub.key. */
static int load_or_make_leaf(struct gen *g, const char *base, const char *cn, const char *ou,
                             const char *eku, const char *san, const char *const *hosts)
{
    char crt[4096], key[4096], name[64];
    snprintf(name, sizeof name, "%s.crt", base);
    path_of(crt, sizeof crt, g->o->out_dir, name);
    snprintf(name, sizeof name, "%s.key", base);
    path_of(key, sizeof key, g->o->out_dir, name);
    if (!g->o->force && !g->ca_new) {
        X509 *x = read_cert(crt);
        EVP_PKEY *k = read_key(key);
        int valid = pair_valid(g, x, k, cn, ou, hosts);
        X509_free(x);
        EVP_PKEY_free(k);
        ERR_clear_error();
        if (valid) {
            (void)chmod(key, 0600);
            g->kept += 2;
            return 0;
        }
    }
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!k)
        return fail(g, "cannot make a key for", crt);
    X509 *x = make_cert(k, cn, ou, g->ca, g->ca_key, g->o->days, 0, eku, san);
    int rc = -1;
    if (!x)
        fail(g, "cannot make the certificate", crt);
    else if (write_key(g, key, k) == 0 && write_cert(g, crt, x) == 0)
        rc = 0;
    X509_free(x);
    EVP_PKEY_free(k);
    if (rc == 0)
        g->written += 2;
    return rc;
}

/* ---- tokens ------------------------------------------------------------------------ */

struct token_line {
    char member[SL_MEMBER_MAX];
    char role[SL_ROLE_MAX];
    char token[TOKEN_HEX + 1];
};

static int hex_token(const char *s)
{
    if (strlen(s) != TOKEN_HEX)
        return 0;
    for (size_t i = 0; i < TOKEN_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int write_tokens(struct gen *g, int *added, int *total)
{
    char path[4096];
    path_of(path, sizeof path, g->o->out_dir, "tokens");
    struct token_line *lines = NULL;
    size_t n = 0, cap = 0;
    if (!g->o->force) {
        FILE *f = fopen(path, "r");
        char buf[512];
        while (f && fgets(buf, sizeof buf, f)) {
            char m[64], r[64], t[128];
            if (buf[0] == '#' || sscanf(buf, "%63s %63s %127s", m, r, t) != 3)
                continue;
            if (!sl_wire_member_valid(m) || sl_role_parse(r) == SL_ROLE_UNKNOWN ||
                !hex_token(t))
                continue; /* a damaged line is made again if still wanted */
            if (n == cap) {
                cap = cap ? cap * 2 : 128;
                lines = sl_xrealloc(lines, cap * sizeof *lines);
            }
            sl_strlcpy(lines[n].member, m, sizeof lines[n].member);
            sl_strlcpy(lines[n].role, r, sizeof lines[n].role);
            sl_strlcpy(lines[n].token, t, sizeof lines[n].token);
            n++;
        }
        if (f)
            fclose(f);
        OPENSSL_cleanse(buf, sizeof buf);
    }
    *added = 0;
    static const char *const roles[2] = {"answer", "terminal"};
    for (size_t i = 0; i < g->o->nmembers; i++) {
        for (int r = 0; r < 2; r++) {
            int have = 0;
            for (size_t j = 0; j < n && !have; j++)
                have = strcmp(lines[j].member, g->o->members[i]) == 0 &&
                       strcmp(lines[j].role, roles[r]) == 0;
            if (have)
                continue;
            unsigned char raw[TOKEN_HEX / 2];
            if (RAND_bytes(raw, sizeof raw) != 1) {
                free(lines);
                return fail(g, "no random bytes for a token", NULL);
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 128;
                lines = sl_xrealloc(lines, cap * sizeof *lines);
            }
            sl_strlcpy(lines[n].member, g->o->members[i], sizeof lines[n].member);
            sl_strlcpy(lines[n].role, roles[r], sizeof lines[n].role);
            for (size_t b = 0; b < sizeof raw; b++)
                snprintf(lines[n].token + 2 * b, 3, "%02x", raw[b]);
            OPENSSL_cleanse(raw, sizeof raw);
            n++;
            (*added)++;
        }
    }
    *total = (int)n;
    int rc = 0;
    if (*added > 0 || g->o->force) {
        char tmp[4200];
        FILE *f = open_tmp(path, 0600, tmp, sizeof tmp);
        if (!f) {
            snprintf(g->err, g->errlen, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        } else {
            int ok = fprintf(f, "# stateline plain-line tokens: MEMBER ROLE TOKEN. Secret: "
                                "keep mode 0600.\n") > 0;
            for (size_t j = 0; j < n && ok; j++)
                ok = fprintf(f, "%s %s %s\n", lines[j].member, lines[j].role,
                             lines[j].token) > 0;
            if (commit_file(f, ok, tmp, path) < 0) {
                snprintf(g->err, g->errlen, "cannot write %s", path);
                rc = -1;
            }
        }
    } else {
        (void)chmod(path, 0600);
    }
    if (lines)
        OPENSSL_cleanse(lines, cap * sizeof *lines);
    free(lines);
    return rc;
}

/* ---- the whole set ------------------------------------------------------------------ */

int sl_certs_generate(const struct sl_certs_opts *o, FILE *report, char *err, size_t errlen)
{
    struct gen g = {.o = o, .err = err, .errlen = errlen};
    err[0] = '\0';
    if (!o->out_dir || !o->out_dir[0]) {
        snprintf(err, errlen, "no output directory");
        return -1;
    }
    if (o->days < 1 || o->days > 36500) {
        snprintf(err, errlen, "--days must be between 1 and 36500, not %d", o->days);
        return -1;
    }
    for (size_t i = 0; i < o->nmembers; i++) {
        if (!sl_wire_member_valid(o->members[i]) || strcmp(o->members[i], "NL") == 0) {
            snprintf(err, errlen,
                     "'%s' is not a member code (2 to 7 of A-Z and 0-9; NL is the switch)",
                     o->members[i]);
            return -1;
        }
    }
    if (o->hub_host && !is_ip(o->hub_host) && !host_name_ok(o->hub_host)) {
        snprintf(err, errlen, "--hub-host '%s' is not a host name or IP address", o->hub_host);
        return -1;
    }
    if (mkdir(o->out_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", o->out_dir, strerror(errno));
        return -1;
    }
    ERR_clear_error();
    int rc = -1;
    if (load_or_make_ca(&g) < 0)
        goto out;

    char san[400];
    const char *hosts[5] = {"localhost", "127.0.0.1", "::1", NULL, NULL};
    if (o->hub_host && strcmp(o->hub_host, "localhost") != 0 &&
        strcmp(o->hub_host, "127.0.0.1") != 0 && strcmp(o->hub_host, "::1") != 0) {
        snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1,%s:%s",
                 is_ip(o->hub_host) ? "IP" : "DNS", o->hub_host);
        hosts[3] = o->hub_host;
    } else {
        snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1");
    }
    int before = g.written;
    if (load_or_make_leaf(&g, "hub", "NL", "hub", "serverAuth,clientAuth", san, hosts) < 0)
        goto out;
    int hub_new = g.written > before;

    before = g.written;
    int kept_before = g.kept;
    for (size_t i = 0; i < o->nmembers; i++) {
        static const char *const roles[2] = {"answer", "terminal"};
        for (int r = 0; r < 2; r++) {
            char base[64];
            snprintf(base, sizeof base, "%s-%s", o->members[i], roles[r]);
            if (load_or_make_leaf(&g, base, o->members[i], roles[r], "clientAuth", NULL, NULL) <
                0)
                goto out;
        }
    }
    int lines_new = (g.written - before) / 2, lines_kept = (g.kept - kept_before) / 2;
    /* Each member's oversight desk (docs/http-api.md): a web server certificate for
     * loopback, serverAuth only, so that browsers and Python's ssl accept the desk of a
     * test or demo network once they trust ca.crt.  A state's real desk uses a
     * certificate from its usual CA for its own host name. */
    before = g.written;
    kept_before = g.kept;
    for (size_t i = 0; i < o->nmembers; i++) {
        char base[64];
        snprintf(base, sizeof base, "%s-desk", o->members[i]);
        if (load_or_make_leaf(&g, base, o->members[i], "desk", "serverAuth", san, hosts) < 0)
            goto out;
    }
    int desks_new = (g.written - before) / 2, desks_kept = (g.kept - kept_before) / 2;
    int tok_added = 0, tok_total = 0;
    if (write_tokens(&g, &tok_added, &tok_total) < 0)
        goto out;
    if (report) {
        fprintf(report, "certificates in %s (EC P-256, %d days):\n", o->out_dir, o->days);
        fprintf(report, "  ca.crt ca.key        network CA            %s\n",
                g.ca_new ? "written" : "kept");
        fprintf(report, "  hub.crt hub.key      CN=NL OU=hub, SAN %s  %s\n", san,
                hub_new ? "written" : "kept");
        fprintf(report, "  <M>-answer/terminal  %zu members, %d line certificates written, %d kept\n",
                o->nmembers, lines_new, lines_kept);
        fprintf(report, "  <M>-desk             oversight desk (HTTPS server), SAN %s: %d "
                "written, %d kept\n", san, desks_new, desks_kept);
        fprintf(report, "  tokens               %d lines (%d new), mode 0600\n", tok_total,
                tok_added);
    }
    rc = 0;
out:
    X509_free(g.ca);
    EVP_PKEY_free(g.ca_key);
    return rc;
}
