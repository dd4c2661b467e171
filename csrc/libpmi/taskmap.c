/* Task maps: decoding the three forms Flux reads, and the two questions
 * PMI-1's clique calls ask of them (which node a task is on; which tasks a
 * node has). See taskmap.h.
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */
#define _POSIX_C_SOURCE 200809L
#include "taskmap.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

static struct taskmap *map_new(void)
{
    return calloc(1, sizeof(struct taskmap));
}

void taskmap_free(struct taskmap *map)
{
    if (map) {
        free(map->blocks);
        free(map);
    }
}

static long long map_total(const struct taskmap *map)
{
    long long total = 0;
    for (size_t i = 0; i < map->count; i++) {
        const struct tm_block *b = &map->blocks[i];
        total += b->nnodes * b->ppn * b->repeat;
    }
    return total;
}

/* Append a block; 0, or -1 with errno (EINVAL for numbers out of range). */
static int map_add(struct taskmap *map, long long start, long long nnodes, long long ppn,
                   long long repeat)
{
    if (start < 0 || nnodes <= 0 || ppn <= 0 || repeat <= 0 || start > INT_MAX
        || nnodes > INT_MAX || ppn > INT_MAX || repeat > INT_MAX
        || start + nnodes - 1 > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* Every task id must fit an int (PMI ranks are ints). */
    long long total = map_total(map);
    if (nnodes * ppn > INT_MAX || (nnodes * ppn) * repeat > (long long)INT_MAX - total + 1) {
        errno = EINVAL;
        return -1;
    }
    if (map->count == map->capacity) {
        size_t capacity = map->capacity ? map->capacity * 2 : 8;
        struct tm_block *blocks = realloc(map->blocks, capacity * sizeof(*blocks));
        if (!blocks) {
            errno = ENOMEM;
            return -1;
        }
        map->blocks = blocks;
        map->capacity = capacity;
    }
    map->blocks[map->count++] = (struct tm_block){start, nnodes, ppn, repeat};
    return 0;
}

/* -- RFC 13: PMI_process_mapping ------------------------------------------------------ */

static int all_space(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* "start,nnodes,ppn)" at the head of s */
static int vector_block(const char *s, long long out[3])
{
    const char ends[3] = {',', ',', ')'};
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        out[i] = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != ends[i])
            return -1;
        s = end + 1;
    }
    return 0;
}

static struct taskmap *parse_vector(const char *text)
{
    struct taskmap *map = map_new();
    char *copy = strdup(text);
    char *save = NULL;
    int seen_vector = 0;

    if (!map || !copy) {
        errno = ENOMEM;
        goto fail;
    }
    if (*text == '\0') /* empty: a valid mapping that says nothing */
        goto done;
    for (char *tok = strtok_r(copy, "(", &save); tok; tok = strtok_r(NULL, "(", &save)) {
        long long block[3];
        while (isspace((unsigned char)*tok))
            tok++;
        if (strncmp(tok, "vector,", 7) == 0) {
            seen_vector = 1;
            continue;
        }
        if (all_space(tok))
            continue;
        if (!seen_vector || vector_block(tok, block) < 0) {
            errno = EINVAL;
            goto fail;
        }
        if (map_add(map, block[0], block[1], block[2], 1) < 0)
            goto fail;
    }
    if (map_total(map) == 0) {
        errno = EINVAL;
        goto fail;
    }
done:
    free(copy);
    return map;
fail:
    free(copy);
    taskmap_free(map);
    return NULL;
}

/* -- raw: "ids;ids;..." (node i's task ids, as an idset "0-3,7") --------------------- */

struct run {
    long long first;
    long long count;
    long long node;
};

static int by_first(const void *a, const void *b)
{
    const struct run *x = a;
    const struct run *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

static int runs_push(struct run **runs, size_t *count, size_t *capacity, struct run run)
{
    if (*count == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 16;
        struct run *more = realloc(*runs, grown * sizeof(**runs));
        if (!more) {
            errno = ENOMEM;
            return -1;
        }
        *runs = more;
        *capacity = grown;
    }
    (*runs)[(*count)++] = run;
    return 0;
}

/* An RFC 22 id: digits, no leading zero. */
static int rfc22_id(const char *s, char **end, long long *id)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    *id = strtoll(s, end, 10);
    if (errno != 0 || *id > INT_MAX || (*s == '0' && *end - s > 1))
        return -1;
    return 0;
}

/* Add the ranges of one node's idset (RFC 22: "0-3,5,7-8", ids strictly ascending). */
static int raw_node(char *ids, long long node, struct run **runs, size_t *count, size_t *capacity)
{
    long long last = -1;
    char *save = NULL;

    for (char *tok = strtok_r(ids, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long long lo, hi;
        if (rfc22_id(tok, &end, &lo) < 0)
            goto invalid;
        hi = lo;
        if (*end == '-' && (rfc22_id(end + 1, &end, &hi) < 0 || hi <= lo))
            goto invalid;
        if (*end != '\0' || lo <= last)
            goto invalid;
        if (runs_push(runs, count, capacity, (struct run){lo, hi - lo + 1, node}) < 0)
            return -1;
        last = hi;
    }
    return 0;
invalid:
    errno = EINVAL;
    return -1;
}

static struct taskmap *parse_raw(const char *text)
{
    struct taskmap *map = map_new();
    char *copy = strdup(text);
    struct run *runs = NULL;
    size_t count = 0, capacity = 0;
    long long node = 0;
    char *save = NULL;

    if (!map || !copy) {
        errno = ENOMEM;
        goto fail;
    }
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        if (raw_node(tok, node++, &runs, &count, &capacity) < 0)
            goto fail;
    }
    /* Across nodes, the ids must cover 0..N-1 once each. */
    if (count > 0)
        qsort(runs, count, sizeof(*runs), by_first);
    long long next = 0;
    for (size_t i = 0; i < count; i++) {
        if (runs[i].first != next) { /* a task on two nodes, or one on none */
            errno = EINVAL;
            goto fail;
        }
        if (map_add(map, runs[i].node, 1, runs[i].count, 1) < 0)
            goto fail;
        next += runs[i].count;
    }
    free(runs);
    free(copy);
    return map;
fail:
    free(runs);
    free(copy);
    taskmap_free(map);
    return NULL;
}

/* -- RFC 34: {"version":1,"map":[[start,nnodes,ppn,repeat],...]} or the bare array ---- */

struct cursor {
    const char *p;
    int depth;
    const char *key; /* in an object: the current member's key (raw, unquoted) */
    size_t keylen;
};

static void ws(struct cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
        c->p++;
}

static int skip_value(struct cursor *c);

static int skip_string(struct cursor *c)
{
    if (*c->p != '"')
        return -1;
    c->p++;
    while (*c->p != '"') {
        if (*c->p == '\0' || (unsigned char)*c->p < 0x20)
            return -1;
        if (*c->p == '\\') {
            c->p++;
            if (*c->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)c->p[i]))
                        return -1;
                c->p += 4;
            }
            else if (!strchr("\"\\/bfnrt", *c->p) || *c->p == '\0') {
                return -1;
            }
        }
        c->p++;
    }
    c->p++;
    return 0;
}

/* A JSON number; *is_int says whether it is an integer (no fraction, no exponent). */
static int number(struct cursor *c, long long *value, int *is_int)
{
    const char *start = c->p;
    char *end;

    if (*c->p == '-')
        c->p++;
    if (!isdigit((unsigned char)*c->p))
        return -1;
    if (*c->p == '0' && isdigit((unsigned char)c->p[1])) /* JSON has no leading zeros */
        return -1;
    while (isdigit((unsigned char)*c->p))
        c->p++;
    *is_int = 1;
    if (*c->p == '.') {
        *is_int = 0;
        c->p++;
        if (!isdigit((unsigned char)*c->p))
            return -1;
        while (isdigit((unsigned char)*c->p))
            c->p++;
    }
    if (*c->p == 'e' || *c->p == 'E') {
        *is_int = 0;
        c->p++;
        if (*c->p == '+' || *c->p == '-')
            c->p++;
        if (!isdigit((unsigned char)*c->p))
            return -1;
        while (isdigit((unsigned char)*c->p))
            c->p++;
    }
    if (*is_int) {
        errno = 0;
        *value = strtoll(start, &end, 10);
        if (errno != 0 || end != c->p)
            return -1;
    }
    return 0;
}

static int integer(struct cursor *c, long long *value)
{
    int is_int;
    ws(c);
    if (number(c, value, &is_int) < 0 || !is_int)
        return -1;
    return 0;
}

/* Walk a '[' or '{' container; each element is handed to 'element' (NULL: skip it). */
static int container(struct cursor *c, char open, int (*element)(struct cursor *, void *),
                     void *arg)
{
    char close = open == '[' ? ']' : '}';
    if (*c->p != open || ++c->depth > JSON_MAX_DEPTH)
        return -1;
    c->p++;
    ws(c);
    if (*c->p == close) {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        ws(c);
        if (open == '{') {
            const char *key = c->p + 1;
            if (skip_string(c) < 0)
                return -1;
            c->key = key;
            c->keylen = (size_t)(c->p - 1 - key);
            ws(c);
            if (*c->p++ != ':')
                return -1;
            ws(c);
        }
        if ((element ? element(c, arg) : skip_value(c)) < 0)
            return -1;
        ws(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p != close)
            return -1;
        c->p++;
        c->depth--;
        return 0;
    }
}

static int skip_value(struct cursor *c)
{
    long long ignored;
    int is_int;

    ws(c);
    switch (*c->p) {
    case '"':
        return skip_string(c);
    case '[':
    case '{':
        return container(c, *c->p, NULL, NULL);
    case 't':
        return strncmp(c->p, "true", 4) == 0 ? (c->p += 4, 0) : -1;
    case 'f':
        return strncmp(c->p, "false", 5) == 0 ? (c->p += 5, 0) : -1;
    case 'n':
        return strncmp(c->p, "null", 4) == 0 ? (c->p += 4, 0) : -1;
    default:
        return number(c, &ignored, &is_int);
    }
}

struct entry {
    long long fields[4];
    int seen;
};

static int entry_field(struct cursor *c, void *arg)
{
    struct entry *e = arg;
    if (e->seen >= 4) /* items after the fourth are not looked at */
        return skip_value(c);
    return integer(c, &e->fields[e->seen++]);
}

static int map_entry(struct cursor *c, void *arg)
{
    struct entry e = {.seen = 0};
    ws(c);
    if (container(c, '[', entry_field, &e) < 0 || e.seen < 4)
        return -1;
    return map_add(arg, e.fields[0], e.fields[1], e.fields[2], e.fields[3]);
}

struct object {
    long long version;
    int has_version;
    const char *map;
};

static int key_is(const struct cursor *c, const char *name)
{
    return c->keylen == strlen(name) && strncmp(c->key, name, c->keylen) == 0;
}

static int object_member(struct cursor *c, void *arg)
{
    struct object *o = arg;
    if (key_is(c, "version")) {
        o->has_version = integer(c, &o->version) == 0;
        return o->has_version ? 0 : -1;
    }
    if (key_is(c, "map")) {
        ws(c);
        o->map = c->p;
    }
    return skip_value(c);
}

static struct taskmap *parse_json(const char *text)
{
    struct cursor c = {text, 0, NULL, 0};
    struct taskmap *map = map_new();
    const char *array = NULL;

    if (!map) {
        errno = ENOMEM;
        return NULL;
    }
    ws(&c);
    if (*c.p == '{') {
        struct object o = {.version = 0, .has_version = 0, .map = NULL};
        if (container(&c, '{', object_member, &o) < 0 || !o.has_version || o.version != 1
            || !o.map)
            goto invalid;
        array = o.map;
    }
    else if (*c.p == '[') {
        array = c.p;
        if (skip_value(&c) < 0)
            goto invalid;
    }
    else {
        goto invalid;
    }
    ws(&c);
    if (*c.p != '\0') /* one JSON text, nothing after it */
        goto invalid;
    struct cursor blocks = {array, 0, NULL, 0};
    if (container(&blocks, '[', map_entry, map) < 0)
        goto invalid;
    return map;
invalid:
    if (errno != ENOMEM)
        errno = EINVAL;
    taskmap_free(map);
    return NULL;
}

/* -- the public side ------------------------------------------------------------------- */

struct taskmap *taskmap_parse(const char *text)
{
    if (!text) {
        errno = EINVAL;
        return NULL;
    }
    errno = 0;
    if (*text == '\0' || strstr(text, "vector,"))
        return parse_vector(text);
    if (!strpbrk(text, "({[]})"))
        return parse_raw(text);
    return parse_json(text);
}

int taskmap_is_unknown(const struct taskmap *map)
{
    return map->count == 0;
}

long long taskmap_node_of(const struct taskmap *map, long long task)
{
    long long first = 0;

    if (task < 0)
        return -1;
    for (size_t i = 0; i < map->count; i++) {
        const struct tm_block *b = &map->blocks[i];
        long long span = b->nnodes * b->ppn; /* tasks in one repetition */
        if (task < first + span * b->repeat)
            return b->start + ((task - first) % span) / b->ppn;
        first += span * b->repeat;
    }
    return -1;
}

long long taskmap_tasks_on(const struct taskmap *map, long long node, int *ids, long long length)
{
    long long first = 0;
    long long found = 0;

    for (size_t i = 0; i < map->count; i++) {
        const struct tm_block *b = &map->blocks[i];
        long long span = b->nnodes * b->ppn;
        if (node >= b->start && node < b->start + b->nnodes) {
            if (!ids) {
                found += b->repeat * b->ppn;
            }
            else {
                long long offset = (node - b->start) * b->ppn;
                for (long long r = 0; r < b->repeat; r++) {
                    for (long long k = 0; k < b->ppn; k++, found++) {
                        if (found < length)
                            ids[found] = (int)(first + r * span + offset + k);
                    }
                }
            }
        }
        first += span * b->repeat;
    }
    return found;
}
