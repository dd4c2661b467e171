/* fluxsdk's PMI-1 client library (libpmi.so).
 *
 * What Flux's job shell offers every task as FLUX_PMI_LIBRARY_PATH, for the
 * embedded instance: the PMI-1 API, spoken as the simple PMI wire protocol
 * on the descriptor the shell passes in PMI_FD (with PMI_RANK and PMI_SIZE).
 * The behaviour follows Flux's own libpmi, call for call:
 *
 * - PMI_Init needs PMI_FD, PMI_RANK and PMI_SIZE; without them it fails
 *   (PMI_FAIL) rather than making a singleton: falling back is the caller's
 *   choice (MPICH, for one, does). It fails with PMI_ERR_INIT if called twice.
 * - Every call but PMI_Initialized and PMI_Abort answers PMI_ERR_INIT before a
 *   successful PMI_Init (and after PMI_Finalize), PMI_ERR_INVALID_ARG for a
 *   NULL out-parameter; a nonzero rc in the server's reply is returned as is
 *   (PMI_ERR_INVALID_KEY for a key nobody put, ..._KEY_LENGTH for a long one);
 *   a broken channel or an answer that does not fit the buffer is PMI_FAIL.
 * - PMI_KVS_Commit has nothing to do: puts go to the server as they are made,
 *   and PMI_Barrier is the point after which every task sees them.
 * - Clique calls read the server's flux.taskmap (RFC 34), or else
 *   PMI_process_mapping (RFC 13); with neither (or an empty map) the clique is
 *   the task alone.
 * - Name publishing, spawning and the old KVS iteration calls are refused
 *   (PMI_FAIL): there is no name service and no dynamic process creation.
 *
 * One difference, deliberate: a key or value with a newline in it is refused
 * (PMI_ERR_INVALID_KEY, PMI_ERR_INVALID_VAL) instead of being sent, since it
 * would end the request early and break the job's channel.
 *
 * Not thread-safe (PMI-1 is not); one channel per process.
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#pragma GCC visibility push(default)
#include "pmi.h"

/* Present in Flux's PMI libraries too: it tells Flux's own bootstrap (which
 * refuses to load a "Flux" libpmi under a foreign process manager) that this
 * library is one of those, a plain client of the simple wire protocol. */
void *flux_pmi_library;
#pragma GCC visibility pop

#include "taskmap.h"

/* The longest reply before the server's limits are known, and the room a
 * reply needs besides its name, key and value. */
#define FIRST_LINE_MAX 1024
#define LINE_OVERHEAD 64

struct client {
    int fd;
    int rank;
    int size;
    int spawned;
    int initialized;
    unsigned int kvsname_max;
    unsigned int keylen_max;
    unsigned int vallen_max;
    char *in; /* received bytes; the reply being read starts at in[0] */
    size_t in_len;
    size_t in_cap;
    size_t consumed;     /* bytes of in[] that the last reply took */
    struct taskmap *map; /* the job's task map, once read */
};

static struct client *pmi;

/* -- the channel ----------------------------------------------------------------------- */

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        /* A socket (what shells pass): a closed peer is an error, not SIGPIPE. */
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int sendv(struct client *c, const char *fmt, va_list ap)
{
    char *line = NULL;
    int n = vasprintf(&line, fmt, ap);
    if (n < 0)
        return -1;
    int rc = send_all(c->fd, line, (size_t)n);
    free(line);
    return rc;
}

/* The next line the server sends (without its newline), or NULL. */
static char *receive(struct client *c)
{
    if (c->consumed > 0) {
        memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
        c->in_len -= c->consumed;
        c->consumed = 0;
    }
    for (;;) {
        char *newline = memchr(c->in, '\n', c->in_len);
        if (newline) {
            *newline = '\0';
            c->consumed = (size_t)(newline - c->in) + 1;
            return c->in;
        }
        if (c->in_len + 1 >= c->in_cap) { /* longer than any reply may be */
            errno = EPROTO;
            return NULL;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - 1 - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        c->in_len += (size_t)n;
    }
}

/* -- reading a reply: "cmd=NAME rc=0 key=value ... [value=rest of line]" --------------- */

/* Where the value of 'key' starts in 'line' (a word "key=" at the start or after a blank). */
static const char *field(const char *line, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p++) {
        if ((p == line || p[-1] == ' ' || p[-1] == '\t') && p[n] == '=')
            return p + n + 1;
    }
    return NULL;
}

static size_t word_length(const char *s)
{
    return strcspn(s, " \t\r\n");
}

static int field_is(const char *line, const char *key, const char *word)
{
    const char *value = field(line, key);
    return value && word_length(value) == strlen(word) && strncmp(value, word, strlen(word)) == 0;
}

/* An integer field within [lo, hi]: 0, or -1 if it is missing or not such a number. */
static int field_int(const char *line, const char *key, long long lo, long long hi, long long *out)
{
    const char *value = field(line, key);
    char *end;
    if (!value || word_length(value) == 0)
        return -1;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (errno != 0 || end != value + word_length(value) || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/* Send a request and read its reply. PMI_SUCCESS (the reply is in *reply), the
 * nonzero rc the server answered, or PMI_FAIL (a broken channel, or a reply
 * that is not the one expected). */
static int exchange(struct client *c, char **reply, const char *expect, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int sent = sendv(c, fmt, ap);
    va_end(ap);
    if (sent < 0)
        return PMI_FAIL;
    char *line = receive(c);
    if (!line || !field_is(line, "cmd", expect))
        return PMI_FAIL;
    long long rc;
    if (field_int(line, "rc", INT_MIN, INT_MAX, &rc) == 0 && rc != 0)
        return (int)rc;
    if (reply)
        *reply = line;
    return PMI_SUCCESS;
}

static int ready(void)
{
    return pmi != NULL && pmi->initialized;
}

/* -- life cycle ------------------------------------------------------------------------ */

static void client_free(struct client *c)
{
    if (c) {
        int saved = errno;
        if (c->fd >= 0)
            close(c->fd);
        taskmap_free(c->map);
        free(c->in);
        free(c);
        errno = saved;
    }
}

/* A client for the channel the environment names, or NULL (errno EINVAL: it names none). */
static struct client *client_from_env(void)
{
    const char *fd = getenv("PMI_FD");
    const char *rank = getenv("PMI_RANK");
    const char *size = getenv("PMI_SIZE");
    const char *spawned = getenv("PMI_SPAWNED");
    struct client *c;
    long long n_fd, n_rank, n_size, n_spawned = 0;
    char *end;

    if (!fd || !rank || !size) {
        errno = EINVAL;
        return NULL;
    }
    errno = 0;
    n_fd = strtoll(fd, &end, 10);
    n_rank = strtoll(rank, &end, 10);
    n_size = strtoll(size, &end, 10);
    if (spawned)
        n_spawned = strtoll(spawned, &end, 10);
    if (errno != 0 || n_fd < 0 || n_fd > INT_MAX || n_rank < 0 || n_rank > INT_MAX || n_size < 1
        || n_size > INT_MAX || n_spawned < INT_MIN || n_spawned > INT_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (fcntl((int)n_fd, F_GETFD) < 0) { /* no such descriptor (closed by PMI_Finalize) */
        errno = EINVAL;
        return NULL;
    }
    if (!(c = calloc(1, sizeof(*c))) || !(c->in = malloc(FIRST_LINE_MAX))) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->in_cap = FIRST_LINE_MAX;
    c->fd = (int)n_fd;
    c->rank = (int)n_rank;
    c->size = (int)n_size;
    c->spawned = (int)n_spawned;
    return c;
}

static int handshake(struct client *c)
{
    char *reply;
    long long version, subversion, kvsname_max, keylen_max, vallen_max;
    int rc;

    rc = exchange(c, &reply, "response_to_init", "cmd=init pmi_version=1 pmi_subversion=1\n");
    if (rc != PMI_SUCCESS)
        return rc;
    if (field_int(reply, "pmi_version", 0, UINT_MAX, &version) < 0
        || field_int(reply, "pmi_subversion", 0, UINT_MAX, &subversion) < 0 || version != 1
        || subversion != 1)
        return PMI_FAIL;
    rc = exchange(c, &reply, "maxes", "cmd=get_maxes\n");
    if (rc != PMI_SUCCESS)
        return rc;
    if (field_int(reply, "kvsname_max", 0, UINT_MAX, &kvsname_max) < 0
        || field_int(reply, "keylen_max", 0, UINT_MAX, &keylen_max) < 0
        || field_int(reply, "vallen_max", 0, UINT_MAX, &vallen_max) < 0)
        return PMI_FAIL;
    c->kvsname_max = (unsigned int)kvsname_max;
    c->keylen_max = (unsigned int)keylen_max;
    c->vallen_max = (unsigned int)vallen_max;
    /* Room for the longest reply now that the limits are known. */
    size_t cap = (size_t)kvsname_max + (size_t)keylen_max + (size_t)vallen_max + LINE_OVERHEAD;
    if (cap > c->in_cap) {
        char *in = realloc(c->in, cap);
        if (!in)
            return PMI_ERR_NOMEM;
        c->in = in;
        c->in_cap = cap;
    }
    c->initialized = 1;
    return PMI_SUCCESS;
}

int PMI_Init(int *spawned)
{
    struct client *c;
    int rc;

    if (pmi)
        return PMI_ERR_INIT;
    if (!(c = client_from_env()))
        return errno == ENOMEM ? PMI_ERR_NOMEM : PMI_FAIL;
    if ((rc = handshake(c)) != PMI_SUCCESS) {
        client_free(c); /* the channel is the library's from here: closed */
        return rc;
    }
    pmi = c;
    if (spawned)
        *spawned = c->spawned;
    return PMI_SUCCESS;
}

int PMI_Initialized(int *initialized)
{
    if (!initialized)
        return PMI_ERR_INVALID_ARG;
    *initialized = ready();
    return PMI_SUCCESS;
}

int PMI_Finalize(void)
{
    int rc;

    if (!ready())
        return PMI_ERR_INIT;
    rc = exchange(pmi, NULL, "finalize_ack", "cmd=finalize\n");
    client_free(pmi);
    pmi = NULL;
    return rc;
}

int PMI_Abort(int exit_code, const char *error_msg)
{
    /* With a channel the server is told, and takes the job down; without one
     * (or if telling fails) the message goes to stderr. Either way: exit. */
    if (ready() && exit_code >= 0) {
        char *msg = error_msg ? strdup(error_msg) : NULL;
        char *line = NULL;
        int n = -1;
        for (char *p = msg; p && *p; p++) {
            if (*p == '\n')
                *p = ' '; /* one request, one line */
        }
        if (msg)
            n = asprintf(&line, "cmd=abort exitcode=%d error_msg=%s\n", exit_code, msg);
        else if (!error_msg)
            n = asprintf(&line, "cmd=abort exitcode=%d\n", exit_code);
        if (n >= 0 && send_all(pmi->fd, line, (size_t)n) == 0)
            exit(exit_code);
        free(line);
        free(msg);
    }
    fprintf(stderr, "PMI_Abort: (%d) %s\n", pmi ? pmi->rank : -1,
            error_msg ? error_msg : "(null)");
    exit(exit_code);
}

/* -- who and where --------------------------------------------------------------------- */

int PMI_Get_size(int *size)
{
    if (!ready())
        return PMI_ERR_INIT;
    if (!size)
        return PMI_ERR_INVALID_ARG;
    *size = pmi->size;
    return PMI_SUCCESS;
}

int PMI_Get_rank(int *rank)
{
    if (!ready())
        return PMI_ERR_INIT;
    if (!rank)
        return PMI_ERR_INVALID_ARG;
    *rank = pmi->rank;
    return PMI_SUCCESS;
}

/* A request whose reply carries one integer field. */
static int ask_int(const char *request, const char *reply_cmd, const char *key, int *out)
{
    char *reply;
    long long value;
    int rc;

    if (!ready())
        return PMI_ERR_INIT;
    if (!out)
        return PMI_ERR_INVALID_ARG;
    if ((rc = exchange(pmi, &reply, reply_cmd, "%s\n", request)) != PMI_SUCCESS)
        return rc;
    if (field_int(reply, key, INT_MIN, INT_MAX, &value) < 0)
        return PMI_FAIL;
    *out = (int)value;
    return PMI_SUCCESS;
}

int PMI_Get_universe_size(int *size)
{
    return ask_int("cmd=get_universe_size", "universe_size", "size", size);
}

int PMI_Get_appnum(int *appnum)
{
    return ask_int("cmd=get_appnum", "appnum", "appnum", appnum);
}

/* -- the key-value space --------------------------------------------------------------- */

int PMI_KVS_Get_my_name(char *kvsname, int length)
{
    char *reply;
    const char *name;
    size_t n;
    int rc;

    if (!ready())
        return PMI_ERR_INIT;
    if (!kvsname || length <= 0)
        return PMI_ERR_INVALID_ARG;
    if ((rc = exchange(pmi, &reply, "my_kvsname", "cmd=get_my_kvsname\n")) != PMI_SUCCESS)
        return rc;
    if (!(name = field(reply, "kvsname")) || (n = word_length(name)) >= (size_t)length)
        return PMI_FAIL;
    memcpy(kvsname, name, n);
    kvsname[n] = '\0';
    return PMI_SUCCESS;
}

static int limit(unsigned int which, int *length)
{
    if (!ready())
        return PMI_ERR_INIT;
    if (!length)
        return PMI_ERR_INVALID_ARG;
    *length = which > INT_MAX ? INT_MAX : (int)which;
    return PMI_SUCCESS;
}

int PMI_KVS_Get_name_length_max(int *length)
{
    return limit(pmi ? pmi->kvsname_max : 0, length);
}

int PMI_KVS_Get_key_length_max(int *length)
{
    return limit(pmi ? pmi->keylen_max : 0, length);
}

int PMI_KVS_Get_value_length_max(int *length)
{
    return limit(pmi ? pmi->vallen_max : 0, length);
}

int PMI_KVS_Put(const char *kvsname, const char *key, const char *value)
{
    if (!ready())
        return PMI_ERR_INIT;
    if (!kvsname || !key || !value)
        return PMI_ERR_INVALID_ARG;
    if (strchr(key, '\n'))
        return PMI_ERR_INVALID_KEY;
    if (strchr(value, '\n'))
        return PMI_ERR_INVALID_VAL;
    return exchange(pmi, NULL, "put_result", "cmd=put kvsname=%s key=%s value=%s\n", kvsname, key,
                    value);
}

int PMI_KVS_Commit(const char *kvsname)
{
    if (!ready())
        return PMI_ERR_INIT;
    if (!kvsname)
        return PMI_ERR_INVALID_ARG;
    return PMI_SUCCESS;
}

int PMI_KVS_Get(const char *kvsname, const char *key, char *value, int length)
{
    static const char hydra_quirk[] = " found=TRUE";
    char *reply;
    char *found;
    size_t n;
    int rc;

    if (!ready())
        return PMI_ERR_INIT;
    if (!kvsname || !key || !value || length <= 0)
        return PMI_ERR_INVALID_ARG;
    if (strchr(key, '\n'))
        return PMI_ERR_INVALID_KEY;
    rc = exchange(pmi, &reply, "get_result", "cmd=get kvsname=%s key=%s\n", kvsname, key);
    if (rc != PMI_SUCCESS)
        return rc;
    /* The value is the rest of the line. Some MPICH hydra releases append
     * " found=TRUE" to it; that is not part of the value. */
    if (!(found = (char *)field(reply, "value")))
        return PMI_FAIL;
    n = strlen(found);
    if (n >= sizeof(hydra_quirk) - 1
        && strcmp(found + n - (sizeof(hydra_quirk) - 1), hydra_quirk) == 0)
        n -= sizeof(hydra_quirk) - 1;
    if (n >= (size_t)length)
        return PMI_FAIL;
    memcpy(value, found, n);
    value[n] = '\0';
    return PMI_SUCCESS;
}

int PMI_Barrier(void)
{
    if (!ready())
        return PMI_ERR_INIT;
    return exchange(pmi, NULL, "barrier_out", "cmd=barrier_in\n");
}

/* -- cliques: the tasks on this task's node -------------------------------------------- */

/* The job's task map (read once), or NULL if the server has none we can read. */
static struct taskmap *job_taskmap(void)
{
    static const char *const keys[] = {"flux.taskmap", "PMI_process_mapping"};
    char *name, *value;

    if (pmi->map)
        return pmi->map;
    name = malloc((size_t)pmi->kvsname_max + 1);
    value = malloc((size_t)pmi->vallen_max + 1);
    if (name && value && PMI_KVS_Get_my_name(name, (int)pmi->kvsname_max + 1) == PMI_SUCCESS) {
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (PMI_KVS_Get(name, keys[i], value, (int)pmi->vallen_max + 1) == PMI_SUCCESS) {
                pmi->map = taskmap_parse(value);
                break;
            }
        }
    }
    free(name);
    free(value);
    return pmi->map;
}

int PMI_Get_clique_size(int *size)
{
    struct taskmap *map;
    long long node;

    if (!ready())
        return PMI_ERR_INIT;
    if (!size)
        return PMI_ERR_INVALID_ARG;
    if (!(map = job_taskmap()) || taskmap_is_unknown(map)) {
        *size = 1;
        return PMI_SUCCESS;
    }
    if ((node = taskmap_node_of(map, pmi->rank)) < 0)
        return PMI_FAIL;
    *size = (int)taskmap_tasks_on(map, node, NULL, 0);
    return PMI_SUCCESS;
}

int PMI_Get_clique_ranks(int *ranks, int length)
{
    struct taskmap *map;
    long long node;

    if (!ready())
        return PMI_ERR_INIT;
    if (!ranks)
        return PMI_ERR_INVALID_ARG;
    if (!(map = job_taskmap()) || taskmap_is_unknown(map)) {
        if (length != 1)
            return PMI_ERR_INVALID_SIZE;
        ranks[0] = pmi->rank;
        return PMI_SUCCESS;
    }
    if ((node = taskmap_node_of(map, pmi->rank)) < 0)
        return PMI_FAIL;
    if (taskmap_tasks_on(map, node, NULL, 0) > length)
        return PMI_ERR_INVALID_SIZE;
    taskmap_tasks_on(map, node, ranks, length);
    return PMI_SUCCESS;
}

/* -- refused --------------------------------------------------------------------------- */

int PMI_Publish_name(const char *service_name, const char *port)
{
    (void)service_name;
    (void)port;
    return PMI_FAIL;
}

int PMI_Unpublish_name(const char *service_name)
{
    (void)service_name;
    return PMI_FAIL;
}

int PMI_Lookup_name(const char *service_name, char *port)
{
    (void)service_name;
    (void)port;
    return PMI_FAIL;
}

int PMI_Spawn_multiple(int count, const char *cmds[], const char **argvs[], const int *maxprocs,
                       const int *info_keyval_sizes, const PMI_keyval_t **info_keyval_vectors,
                       int preput_keyval_size, const PMI_keyval_t preput_keyval_vector[],
                       int *errors)
{
    (void)count;
    (void)cmds;
    (void)argvs;
    (void)maxprocs;
    (void)info_keyval_sizes;
    (void)info_keyval_vectors;
    (void)preput_keyval_size;
    (void)preput_keyval_vector;
    (void)errors;
    return PMI_FAIL;
}

/* -- older names ----------------------------------------------------------------------- */

int PMI_Get_id_length_max(int *length)
{
    return PMI_KVS_Get_name_length_max(length);
}

int PMI_Get_id(char *id_str, int length)
{
    return PMI_KVS_Get_my_name(id_str, length);
}

int PMI_Get_kvs_domain_id(char *id_str, int length)
{
    return PMI_KVS_Get_my_name(id_str, length);
}

int PMI_KVS_Create(char *kvsname, int length)
{
    (void)kvsname;
    (void)length;
    return PMI_FAIL;
}

int PMI_KVS_Destroy(const char *kvsname)
{
    (void)kvsname;
    return PMI_FAIL;
}

int PMI_KVS_Iter_first(const char *kvsname, char *key, int key_len, char *val, int val_len)
{
    (void)kvsname;
    (void)key;
    (void)key_len;
    (void)val;
    (void)val_len;
    return PMI_FAIL;
}

int PMI_KVS_Iter_next(const char *kvsname, char *key, int key_len, char *val, int val_len)
{
    return PMI_KVS_Iter_first(kvsname, key, key_len, val, val_len);
}

int PMI_Parse_option(int num_args, char **args, int *num_parsed, PMI_keyval_t **keyvalp,
                     int *size)
{
    (void)num_args;
    (void)args;
    (void)num_parsed;
    (void)keyvalp;
    (void)size;
    return PMI_FAIL;
}

int PMI_Args_to_keyval(int *argcp, char *((*argvp)[]), PMI_keyval_t **keyvalp, int *size)
{
    (void)argcp;
    (void)argvp;
    (void)keyvalp;
    (void)size;
    return PMI_FAIL;
}

int PMI_Free_keyvals(PMI_keyval_t *keyvalp, int size)
{
    (void)keyvalp;
    (void)size;
    return PMI_FAIL;
}

int PMI_Get_options(char *str, int *length)
{
    (void)str;
    (void)length;
    return PMI_FAIL;
}
