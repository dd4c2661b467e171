/* Where a job's tasks are: the task maps a PMI-1 server publishes.
 *
 * A map is a list of blocks in task order; block {start, nnodes, ppn, repeat}
 * puts ppn consecutive tasks on each of the nodes start..start+nnodes-1, and
 * does so repeat times over. Decoded from any of the three forms Flux reads:
 * RFC 34's JSON (flux.taskmap), RFC 13's PMI_process_mapping
 * "(vector,(start,nnodes,ppn),...)", and the raw "tasks;tasks;..." form (the
 * task ids of node 0, of node 1, ...). A map with no block is "unknown".
 * SPDX-License-Identifier: LGPL-3.0-or-later
 */
#ifndef FLUXSDK_TASKMAP_H
#define FLUXSDK_TASKMAP_H

#include <stddef.h>

/* Internal to the library: never exported, whatever the compiler's defaults. */
#pragma GCC visibility push(hidden)

struct tm_block {
    long long start;
    long long nnodes;
    long long ppn;
    long long repeat;
};

struct taskmap {
    struct tm_block *blocks;
    size_t count;
    size_t capacity;
};

/* A new map from text, or NULL (errno EINVAL: not a map; ENOMEM). */
struct taskmap *taskmap_parse(const char *text);
void taskmap_free(struct taskmap *map);

/* Whether the map says nothing (an empty PMI_process_mapping or JSON map). */
int taskmap_is_unknown(const struct taskmap *map);

/* The node task 'task' runs on, or -1. */
long long taskmap_node_of(const struct taskmap *map, long long task);

/* How many tasks run on 'node'; fills ids[0..length) with them in ascending
 * order when ids is not NULL (at most 'length' of them are written). */
long long taskmap_tasks_on(const struct taskmap *map, long long node, int *ids, long long length);

#pragma GCC visibility pop

#endif /* FLUXSDK_TASKMAP_H */
