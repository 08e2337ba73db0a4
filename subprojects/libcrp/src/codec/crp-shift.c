/*
 * crp-shift.c: find content that moved sideways between two frames.
 *
 * Works a tile row at a time on the runs of changed tiles. A few sample
 * rows propose shifts: a short, not flat stretch of new pixels that
 * differs from the old ones is looked for in the same row of the old
 * image, and a stretch found at exactly one place votes for that shift.
 * A shift voted for by several stretches is then checked on the sample
 * rows and, if they bear it out, on every row of the tile row, which gives
 * the destination rectangle: the rows whose change it explains and the
 * columns it explains in them (per row the stretch where it gets the most
 * changed pixels right against those it gets wrong). The tiles of the run
 * it leaves alone are searched again (panes moving apart), and it grows
 * over neighbouring runs it explains too (a window's edges). Rectangles of
 * consecutive tile rows with the same shift and columns are merged.
 *
 * Row hashes (crp-scroll.c) cannot see these moves: every row of a band
 * moved sideways hashes differently. Searching a handful of stretches per
 * tile row keeps frames without such moves (a terminal, typing) nearly
 * free; the pixel-by-pixel check runs only once the votes agree.
 */
#include "crp/crp-tiles.h"
#include "codec/crp-codec-private.h"

#include <string.h>

/* Pixels of a searched stretch: long enough to be unique in a row of
 * text or a gradient. */
#define ANCHOR 32
/* Farthest a stretch is looked for: a quick drag between two frames.
 * Searching whole rows made a frame without such moves (video, a window
 * dragged diagonally) cost up to 8 % more. */
#define MAX_DX (4 * CRP_TILE_SIZE)
/* Sample rows per tile row, and stretches tried per sample row. */
#define SAMPLE_ROWS 8
#define ANCHORS_PER_ROW 3
/* Stretches that must agree on a shift before it is checked. */
#define MIN_VOTES 2
#define MAX_CANDIDATES 8
/* A row's explained run must be this long to count (shorter ones happen
 * by chance), and a tile row's runs must explain this many changed
 * pixels for a move: a COPY costs 17 bytes, a few text glyphs more. */
#define MIN_ROW_RUN 32
#define MIN_GAIN 256
/* Unchanged tiles a run of changed ones may span. */
#define MAX_TILE_GAP 2

typedef struct {
    int dx;
    guint votes;
} Candidate;

typedef struct {
    int x1, x2;             /* pixel columns of a run of changed tiles */
} Run;

typedef struct {
    const guint32 *old, *now;   /* top-left pixels */
    gsize old_stride, now_stride;
    int width, height;
} Images;

static inline gboolean
same_rgb(guint32 a, guint32 b)
{
    return ((a ^ b) & CRP_PIXEL_RGB_MASK) == 0;
}

/* A stretch with a single colour, or two in long runs, matches anywhere. */
static gboolean
is_flat(const guint32 *p, int n)
{
    int edges = 0;
    for (int i = 1; i < n; i++) {
        edges += !same_rgb(p[i], p[i - 1]);
    }
    return edges < 3;
}

static void
vote(Candidate *cands, guint *ncands, int dx)
{
    for (guint i = 0; i < *ncands; i++) {
        if (cands[i].dx == dx) {
            cands[i].votes++;
            return;
        }
    }
    if (*ncands < MAX_CANDIDATES) {
        cands[(*ncands)++] = (Candidate){ dx, 1 };
    }
}

/* Looks for the new stretch at @a of row @y in the old row; votes if it
 * is found at exactly one place other than @a. */
static void
search_anchor(const Images *im, int y, int a, Candidate *cands, guint *ncands)
{
    const guint32 *old = im->old + (gsize)y * im->old_stride;
    const guint32 *want = im->now + (gsize)y * im->now_stride + a;
    int found = -1;

    if (is_flat(want, ANCHOR)) {
        return;
    }
    /* Two pixels of different colours weed out most places cheaply (text
     * has two colours, so one pixel alone matches half the row); memcmp
     * settles the rest (a place that differs only in the pad byte is
     * missed, which costs a COPY, never a wrong one: moves are checked). */
    int k = 1;
    while (same_rgb(want[k], want[0])) {
        k++;
    }
    guint32 first = want[0] & CRP_PIXEL_RGB_MASK;
    guint32 key = want[k] & CRP_PIXEL_RGB_MASK;
    int s_end = MIN(im->width - ANCHOR, a + MAX_DX);
    for (int s = MAX(0, a - MAX_DX); s <= s_end; s++) {
        if ((old[s + k] & CRP_PIXEL_RGB_MASK) != key ||
            (old[s] & CRP_PIXEL_RGB_MASK) != first ||
            memcmp(old + s, want, ANCHOR * 4) != 0) {
            continue;
        }
        if (found >= 0 || s == a) {
            return;         /* ambiguous, or not moved */
        }
        found = s;
    }
    if (found >= 0) {
        vote(cands, ncands, a - found);
    }
}

/* The pixels of row @y in [@x1, @x2) that shifting by @dx explains best,
 * as [*rx1, *rx2), and its score: each changed pixel the shift gets
 * right counts one, each pixel it gets wrong minus one, one that stayed
 * and stays nothing (the stretch with the highest sum, Kadane's way).
 * So a bar moving on its own across a scrolling band is bridged, while
 * chance matches in noise and a neighbouring pane moving otherwise are
 * left out. */
static int
explain_row(const Images *im, int y, int x1, int x2, int dx, int *rx1, int *rx2)
{
    const guint32 *old = im->old + (gsize)y * im->old_stride;
    const guint32 *now = im->now + (gsize)y * im->now_stride;
    int best = 0, sum = 0, start = x1;

    *rx1 = *rx2 = x1;
    for (int x = x1, n; x < x2; x += n) {
        int v;
        /* Most of a moved band matches eight pixels at a time; such a
         * block counts eight if any of it changed. */
        if (x + 8 <= x2 && memcmp(now + x, old + x - dx, 32) == 0) {
            n = 8;
            v = memcmp(now + x, old + x, 32) == 0 ? 0 : 8;
        } else {
            n = 1;
            v = !same_rgb(now[x], old[x - dx]) ? -1
                : !same_rgb(now[x], old[x]) ? 1 : 0;
        }
        /* What stayed before a change still belongs to the stretch: a
         * window's flat title bar moved with its changed edge. */
        if (sum < 0) {
            sum = 0;
            start = x;
        }
        sum += v;
        /* Ties extend the best stretch over what stayed (a flat margin). */
        if (sum > best || (sum == best && best > 0 && start == *rx1)) {
            best = sum;
            *rx1 = start;
            *rx2 = x + n;
        }
    }
    return best;
}

/* The move by @dx within columns [@x1, @x2) of rows [@y1, @y2), checked on
 * every @step-th row; FALSE if it explains too little. */
static gboolean
explain_rows(const Images *im, int x1, int x2, int y1, int y2, int step,
             int dx, CrpShift *out)
{
    /* The source must lie inside the image. */
    int sx1 = MAX(x1, dx), sx2 = MIN(x2, im->width + dx);
    int gain = 0, ry1 = -1, ry2 = -1, cx1 = sx2, cx2 = sx1;

    if (sx2 - sx1 < MIN_ROW_RUN) {
        return FALSE;
    }
    for (int y = y1; y < y2; y += step) {
        int a, b;
        int g = explain_row(im, y, sx1, sx2, dx, &a, &b);
        /* Rows between text lines explain only a window's edges: they
         * belong to the move all the same. */
        if (g == 0 || b - a < MIN_ROW_RUN) {
            continue;
        }
        gain += g;
        if (ry1 < 0) {
            ry1 = y;
        }
        ry2 = y + 1;
        cx1 = MIN(cx1, a);
        cx2 = MAX(cx2, b);
    }
    if (gain * step < MIN_GAIN) {
        return FALSE;
    }
    *out = (CrpShift){ cx1, ry1, cx2 - cx1, ry2 - ry1, dx };
    return TRUE;
}

/* The shift of the changed columns [@x1, @x2) of rows [@y1, @y2). */
static gboolean
find_shift(const Images *im, int x1, int x2, int y1, int y2, CrpShift *out)
{
    Candidate cands[MAX_CANDIDATES];
    guint ncands = 0;
    int span = x2 - x1;
    int step = MAX(1, (y2 - y1) / SAMPLE_ROWS);

    if (span < 2 * ANCHOR) {
        return FALSE;
    }
    for (int y = y1 + step / 2; y < y2; y += step) {
        const guint32 *old = im->old + (gsize)y * im->old_stride;
        const guint32 *now = im->now + (gsize)y * im->now_stride;
        for (int k = 0; k < ANCHORS_PER_ROW; k++) {
            /* Spread the stretches out, each on the first change in its
             * part of the row. */
            int from = x1 + span * k / ANCHORS_PER_ROW;
            int to = MIN(x1 + span * (k + 1) / ANCHORS_PER_ROW, x2 - ANCHOR);
            int a = from;
            /* Most sample rows of a terminal did not change: skip them a
             * block at a time. */
            while (a + 16 <= to && memcmp(now + a, old + a, 64) == 0) {
                a += 16;
            }
            while (a < to && same_rgb(now[a], old[a])) {
                a++;
            }
            if (a < to) {
                search_anchor(im, y, a, cands, &ncands);
            }
        }
    }

    /* The best-voted shift, checked on the sample rows first. */
    guint top = 0;
    for (guint i = 1; i < ncands; i++) {
        if (cands[i].votes > cands[top].votes) {
            top = i;
        }
    }
    if (ncands == 0 || cands[top].votes < MIN_VOTES) {
        return FALSE;
    }
    int dx = cands[top].dx;
    return explain_rows(im, x1, x2, y1 + step / 2, y2, step, dx, out) &&
           explain_rows(im, x1, x2, y1, y2, 1, dx, out);
}

/* Grows @s, found in run @i of @runs (pixel spans of one tile row), over
 * neighbouring runs when its move explains them too: a window's edge
 * tiles show too little of it to be found alone. Runs separated by a
 * tile another COPY wrote are never joined. */
static void
grow_shift(const Images *im, const Run *runs, guint nruns, guint8 *done,
           guint i, const guint8 *skipped, int y1, int y2, CrpShift *s)
{
    guint lo = i, hi = i;

    done[i] = TRUE;
    for (int side = 0; side < 2; side++) {
        for (;;) {
            gboolean left = side == 0;
            if (left ? lo == 0 || done[lo - 1] : hi + 1 >= nruns || done[hi + 1]) {
                break;
            }
            guint j = left ? lo - 1 : hi + 1;
            int x1 = MIN(runs[j].x1, runs[lo].x1);
            int x2 = MAX(runs[j].x2, runs[hi].x2);
            gboolean blocked = FALSE;
            for (int c = x1 / CRP_TILE_SIZE; skipped && c * CRP_TILE_SIZE < x2; c++) {
                blocked |= skipped[c];
            }
            CrpShift t;
            if (blocked || !explain_rows(im, x1, x2, y1, y2, 1, s->dx, &t) ||
                (left ? t.x >= s->x : t.x + t.width <= s->x + s->width)) {
                break;
            }
            *s = t;
            done[j] = TRUE;
            if (left) {
                lo = j;
            } else {
                hi = j;
            }
        }
    }
}

/* Appends @s, or continues the move of the tile row above with it. */
static void
add_shift(CrpShift *shifts, guint *count, const CrpShift *s, int tile_y)
{
    for (guint k = 0; k < *count; k++) {
        CrpShift *up = &shifts[k];
        if (up->dx == s->dx && up->x == s->x && up->width == s->width &&
            up->y + up->height == tile_y && s->y == tile_y) {
            up->height = s->y + s->height - up->y;
            return;
        }
    }
    shifts[(*count)++] = *s;
}

guint
crp_shift_detect(pixman_image_t *prev, pixman_image_t *cur,
                 const CrpTileMap *map, const guint8 *skip,
                 CrpShift *shifts, guint max_shifts)
{
    Images im = {
        pixman_image_get_data(prev), pixman_image_get_data(cur),
        (gsize)pixman_image_get_stride(prev) / 4,
        (gsize)pixman_image_get_stride(cur) / 4,
        pixman_image_get_width(cur), pixman_image_get_height(cur),
    };
    guint count = 0;

    g_return_val_if_fail(pixman_image_get_width(prev) == im.width &&
                         pixman_image_get_height(prev) == im.height, 0);

    g_autofree Run *runs = g_new(Run, MAX(map->cols, 1));
    g_autofree guint8 *done = g_new(guint8, MAX(map->cols, 1));

    for (guint r = 0; r < map->rows && count < max_shifts; r++) {
        const guint8 *changed = map->changed + (gsize)r * map->cols;
        const guint8 *skipped = skip ? skip + (gsize)r * map->cols : NULL;
        int y1 = (int)r * CRP_TILE_SIZE;
        int y2 = MIN(y1 + CRP_TILE_SIZE, im.height);
        guint nruns = 0;

        for (guint c = 0; c < map->cols;) {
            if (!changed[c] || (skipped && skipped[c])) {
                c++;
                continue;
            }
            /* A run may step over a few unchanged tiles: the flat middle
             * of a window whose edges moved. */
            guint e = c + 1;
            for (guint next = e; next < map->cols && next <= e + MAX_TILE_GAP;
                 next++) {
                if (skipped && skipped[next]) {
                    break;
                }
                if (changed[next]) {
                    e = next + 1;
                }
            }
            runs[nruns] = (Run){ (int)c * CRP_TILE_SIZE,
                                 MIN((int)e * CRP_TILE_SIZE, im.width) };
            done[nruns++] = FALSE;
            c = e;
        }

        for (guint i = 0; i < nruns && count < max_shifts; i++) {
            /* Spans of the run left to search: after a move is found, the
             * tiles on either side that it does not touch may hold another
             * (panes moving apart). No tile gets two moves: each re-diff
             * assumes a tile was written by one COPY at most. */
            Run todo[8];
            guint ntodo = 0;
            if (done[i]) {
                continue;
            }
            todo[ntodo++] = runs[i];
            while (ntodo > 0 && count < max_shifts) {
                Run span = todo[--ntodo];
                CrpShift s;
                if (!find_shift(&im, span.x1, span.x2, y1, y2, &s)) {
                    continue;
                }
                if (span.x1 == runs[i].x1 && span.x2 == runs[i].x2) {
                    grow_shift(&im, runs, nruns, done, i, skipped, y1, y2, &s);
                }
                done[i] = TRUE;
                add_shift(shifts, &count, &s, y1);
                int left = s.x / CRP_TILE_SIZE * CRP_TILE_SIZE;
                int right = (s.x + s.width + CRP_TILE_SIZE - 1) / CRP_TILE_SIZE *
                            CRP_TILE_SIZE;
                if (left - span.x1 >= 2 * ANCHOR && ntodo < G_N_ELEMENTS(todo)) {
                    todo[ntodo++] = (Run){ span.x1, left };
                }
                if (span.x2 - right >= 2 * ANCHOR && ntodo < G_N_ELEMENTS(todo)) {
                    todo[ntodo++] = (Run){ right, span.x2 };
                }
            }
        }
    }
    return count;
}
