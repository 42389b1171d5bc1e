/* disc_engine_running.c - the engine's running jobs, kept in a binary
 * min-heap by deadline: the engine finds the next deadline in O(1) and
 * adds or removes a job in O(log n), so checking deadlines does not scan
 * every job. */
#include "disc_engine_internal.h"

static bool
earlier(const job *a, const job *b)
{
    return a->deadline_ms < b->deadline_ms;
}

static void
place(disc_engine *engine, size_t i, job *j)
{
    engine->running[i] = j;
    j->heap_index = i;
}

static void
sift_up(disc_engine *engine, size_t i)
{
    job *j = engine->running[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!earlier(j, engine->running[parent])) {
            break;
        }
        place(engine, i, engine->running[parent]);
        i = parent;
    }
    place(engine, i, j);
}

static void
sift_down(disc_engine *engine, size_t i)
{
    job *j = engine->running[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= engine->nrunning) {
            break;
        }
        if (child + 1 < engine->nrunning &&
            earlier(engine->running[child + 1], engine->running[child])) {
            child++;
        }
        if (!earlier(engine->running[child], j)) {
            break;
        }
        place(engine, i, engine->running[child]);
        i = child;
    }
    place(engine, i, j);
}

mr_err
disc_engine__running_add(disc_engine *engine, job *j)
{
    if (engine->nrunning == engine->running_max) {
        return MR_EINTERNAL;
    }
    place(engine, engine->nrunning, j);
    engine->nrunning++;
    sift_up(engine, j->heap_index);
    return MR_OK;
}

void
disc_engine__running_remove(disc_engine *engine, job *j)
{
    size_t i = j->heap_index;
    job *last;

    if (i >= engine->nrunning || engine->running[i] != j) {
        return;
    }
    engine->nrunning--;
    last = engine->running[engine->nrunning];
    if (last == j) {
        return;
    }

    /* The last job fills the hole and moves down or up to its place. */
    place(engine, i, last);
    sift_down(engine, i);
    sift_up(engine, last->heap_index);
}

job *
disc_engine__running_first(const disc_engine *engine)
{
    return engine->nrunning > 0 ? engine->running[0] : NULL;
}
