/*
 * crp-scroll.c: find content that moved vertically between two frames.
 *
 * Per column band (one tile column), every row of both images is hashed.
 * Rows of the new image that changed vote for the shift that would bring
 * back a row of the old image with the same hash; rows that repeat (blank
 * lines, borders) are ambiguous and do not vote. The best-voted shifts are
 * then scored by how many changed rows they explain, over the longest run
 * of matching rows. Bands with the same shift and similar runs are merged
 * into one move, so a full-width scroll gives a single COPY.
 */
#include "crp/crp-tiles.h"

#include <string.h>

/* Changed rows a move must explain to be worth a COPY rect. */
#define MIN_GAIN 16
/* Unexplained rows a move may span: an edited line, a cursor, a sticky
 * header inside the scrolled area. */
#define MAX_GAP 32
#define MAX_CANDIDATES 16
/* Bands tried before hashing the whole area. */
#define PROBE_BANDS 4
/* Best-voted shifts scored per band. */
#define TRY_CANDIDATES 3

#define ROW_EMPTY -1
#define ROW_AMBIGUOUS -2

typedef struct {
    guint64 *keys;
    int *rows;
    guint mask;
} RowTable;

typedef struct {
    int dy;
    guint votes;
} Candidate;

typedef struct {
    gboolean found;
    int dy;
    int y0, y1;             /* destination rows, relative to the area */
} BandMove;

/* A row segment's hash, ignoring the pad byte. Four lanes keep the
 * multiplies independent. */
static inline guint64
hash_segment(const guint32 *p, int n)
{
    const guint64 k = G_GUINT64_CONSTANT(0x9e3779b97f4a7c15);
    const guint64 mask = G_GUINT64_CONSTANT(0x00ffffff00ffffff);
    guint64 a = 1, b = 2, c = 3, d = 4;
    int i = 0;

    for (; i + 8 <= n; i += 8) {
        guint64 v0, v1, v2, v3;
        /* Separate 8-byte loads; one 32-byte memcpy goes through the stack. */
        memcpy(&v0, p + i, 8);
        memcpy(&v1, p + i + 2, 8);
        memcpy(&v2, p + i + 4, 8);
        memcpy(&v3, p + i + 6, 8);
        a = (a ^ (v0 & mask)) * k;
        b = (b ^ (v1 & mask)) * k;
        c = (c ^ (v2 & mask)) * k;
        d = (d ^ (v3 & mask)) * k;
    }
    for (; i < n; i++) {
        a = (a ^ (p[i] & 0x00ffffffu)) * k;
    }
    guint64 h = a ^ (b * 3) ^ (c * 5) ^ (d * 7);
    return h ^ (h >> 29);
}

/* Hashes every row of every band of the area, a whole image row at a
 * time (reading bands column-wise would cost a TLB miss per row); band
 * @b's hashes land at out[b * height ...]. */
static void
hash_rows(pixman_image_t *image, int x1, int x2, int y, int height,
          guint64 *out)
{
    gsize stride = (gsize)pixman_image_get_stride(image) / 4;
    const guint32 *row = pixman_image_get_data(image) + (gsize)y * stride;
    int first_band = x1 / CRP_TILE_SIZE;
    int nbands = (x2 - 1) / CRP_TILE_SIZE - first_band + 1;

    for (int i = 0; i < height; i++, row += stride) {
        for (int b = 0; b < nbands; b++) {
            int bx1 = MAX(x1, (first_band + b) * CRP_TILE_SIZE);
            int bx2 = MIN(x2, (first_band + b + 1) * CRP_TILE_SIZE);
            /* The constant width lets the compiler unroll the common case. */
            out[(gsize)b * height + i] = bx2 - bx1 == CRP_TILE_SIZE
                ? hash_segment(row + bx1, CRP_TILE_SIZE)
                : hash_segment(row + bx1, bx2 - bx1);
        }
    }
}

static void
table_fill(RowTable *t, const guint64 *hashes, int n)
{
    for (guint i = 0; i <= t->mask; i++) {
        t->rows[i] = ROW_EMPTY;
    }
    for (int y = 0; y < n; y++) {
        guint s = (guint)(hashes[y] >> 20) & t->mask;
        while (t->rows[s] != ROW_EMPTY && t->keys[s] != hashes[y]) {
            s = (s + 1) & t->mask;
        }
        if (t->rows[s] == ROW_EMPTY) {
            t->keys[s] = hashes[y];
            t->rows[s] = y;
        } else {
            t->rows[s] = ROW_AMBIGUOUS;
        }
    }
}

/* The one row with @hash, or a negative ROW_* value. */
static int
table_find(const RowTable *t, guint64 hash)
{
    guint s = (guint)(hash >> 20) & t->mask;
    while (t->rows[s] != ROW_EMPTY) {
        if (t->keys[s] == hash) {
            return t->rows[s];
        }
        s = (s + 1) & t->mask;
    }
    return ROW_EMPTY;
}

static guint
collect_candidates(const guint64 *hp, const guint64 *hc, int n,
                   const RowTable *table, Candidate *cands)
{
    guint ncands = 0;

    for (int y = 0; y < n; y++) {
        if (hc[y] == hp[y] || (y > 0 && hc[y] == hc[y - 1])) {
            continue;
        }
        int from = table_find(table, hc[y]);
        if (from < 0) {
            continue;
        }
        int dy = y - from;
        guint i = 0;
        while (i < ncands && cands[i].dy != dy) {
            i++;
        }
        if (i < ncands) {
            cands[i].votes++;
        } else if (ncands < MAX_CANDIDATES) {
            cands[ncands++] = (Candidate){ dy, 1 };
        }
    }
    return ncands;
}

/* The run of rows best explained by shifting by @dy, and how many changed
 * rows it explains. */
static guint
score_shift(const guint64 *hp, const guint64 *hc, int n, int dy,
            int *run_y0, int *run_y1)
{
    guint best = 0, gain = 0;
    int start = -1, last = -1;

    for (int y = MAX(0, dy); y <= MIN(n, n + dy); y++) {
        gboolean end = y == MIN(n, n + dy);
        gboolean match = !end && hc[y] == hp[y - dy];
        if (!end && !match) {
            continue;
        }
        if (start >= 0 && (end || y - last > MAX_GAP)) {
            if (gain > best) {
                best = gain;
                *run_y0 = start;
                *run_y1 = last + 1;
            }
            start = -1;
        }
        if (end) {
            break;
        }
        if (start < 0) {
            start = y;
            gain = 0;
        }
        last = y;
        if (hc[y] != hp[y]) {
            gain++;
        }
    }
    return best;
}

static BandMove
find_band_move(const guint64 *hp, const guint64 *hc, int n, RowTable *table)
{
    BandMove move = { FALSE, 0, 0, 0 };
    Candidate cands[MAX_CANDIDATES];

    guint changed = 0;
    for (int y = 0; y < n; y++) {
        changed += hc[y] != hp[y];
    }
    if (changed < MIN_GAIN) {
        return move;
    }

    table_fill(table, hp, n);
    guint ncands = collect_candidates(hp, hc, n, table, cands);
    guint best_gain = MIN_GAIN - 1;

    for (guint t = 0; t < TRY_CANDIDATES && t < ncands; t++) {
        /* Pick the next best-voted candidate (selection, ncands is small). */
        guint top = t;
        for (guint i = t + 1; i < ncands; i++) {
            if (cands[i].votes > cands[top].votes) {
                top = i;
            }
        }
        Candidate tmp = cands[t];
        cands[t] = cands[top];
        cands[top] = tmp;

        int y0 = 0, y1 = 0;
        guint gain = score_shift(hp, hc, n, cands[t].dy, &y0, &y1);
        if (gain > best_gain) {
            best_gain = gain;
            move = (BandMove){ TRUE, cands[t].dy, y0, y1 };
        }
    }
    return move;
}

guint
crp_scroll_detect(pixman_image_t *prev, pixman_image_t *cur,
                  const pixman_box32_t *area, CrpScroll *scrolls,
                  guint max_scrolls)
{
    int width = pixman_image_get_width(cur);
    int height = pixman_image_get_height(cur);

    g_return_val_if_fail(pixman_image_get_width(prev) == width &&
                         pixman_image_get_height(prev) == height, 0);
    g_return_val_if_fail(PIXMAN_FORMAT_BPP(pixman_image_get_format(prev)) == 32 &&
                         PIXMAN_FORMAT_BPP(pixman_image_get_format(cur)) == 32, 0);

    int x1 = 0, y1 = 0, x2 = width, y2 = height;
    if (area) {
        x1 = CLAMP(area->x1, 0, width);
        y1 = CLAMP(area->y1, 0, height);
        x2 = CLAMP(area->x2, x1, width);
        y2 = CLAMP(area->y2, y1, height);
    }
    int n = y2 - y1;
    if (max_scrolls == 0 || x1 >= x2 || n < MIN_GAIN * 2) {
        return 0;
    }

    int first_band = x1 / CRP_TILE_SIZE;
    int nbands = (x2 - 1) / CRP_TILE_SIZE - first_band + 1;
    guint table_size = 1;
    while (table_size < (guint)n * 2) {
        table_size <<= 1;
    }

    g_autofree guint64 *hp = g_new(guint64, (gsize)nbands * n);
    g_autofree guint64 *hc = g_new(guint64, (gsize)nbands * n);
    g_autofree guint64 *keys = g_new(guint64, table_size);
    g_autofree int *rows = g_new(int, table_size);
    g_autofree BandMove *moves = g_new(BandMove, nbands);
    RowTable table = { keys, rows, table_size - 1 };

    /* Most frames with a large change did not scroll (a window moved, a
     * page changed): first try a few bands spread over the area, and pay
     * for hashing all of it only if one of them scrolled. */
    if (nbands > 2 * PROBE_BANDS) {
        gboolean any = FALSE;
        for (int i = 0; i < PROBE_BANDS && !any; i++) {
            int b = nbands * (2 * i + 1) / (2 * PROBE_BANDS);
            int bx1 = MAX(x1, (first_band + b) * CRP_TILE_SIZE);
            int bx2 = MIN(x2, (first_band + b + 1) * CRP_TILE_SIZE);
            hash_rows(prev, bx1, bx2, y1, n, hp);
            hash_rows(cur, bx1, bx2, y1, n, hc);
            any = find_band_move(hp, hc, n, &table).found;
        }
        if (!any) {
            return 0;
        }
    }

    hash_rows(prev, x1, x2, y1, n, hp);
    hash_rows(cur, x1, x2, y1, n, hc);
    for (int b = 0; b < nbands; b++) {
        moves[b] = find_band_move(hp + (gsize)b * n, hc + (gsize)b * n, n, &table);
    }

    /* Merge neighbouring bands with the same shift while their common run
     * keeps at least three quarters of its height. */
    guint count = 0;
    for (int b = 0; b < nbands && count < max_scrolls;) {
        if (!moves[b].found) {
            b++;
            continue;
        }
        int ry0 = moves[b].y0, ry1 = moves[b].y1;
        int e = b + 1;
        while (e < nbands && moves[e].found && moves[e].dy == moves[b].dy) {
            int ny0 = MAX(ry0, moves[e].y0);
            int ny1 = MIN(ry1, moves[e].y1);
            if ((ny1 - ny0) * 4 < (ry1 - ry0) * 3) {
                break;
            }
            ry0 = ny0;
            ry1 = ny1;
            e++;
        }
        int sx1 = MAX(x1, (first_band + b) * CRP_TILE_SIZE);
        int sx2 = MIN(x2, (first_band + e) * CRP_TILE_SIZE);
        scrolls[count++] = (CrpScroll){
            .x = sx1, .y = y1 + ry0, .width = sx2 - sx1, .height = ry1 - ry0,
            .dy = moves[b].dy,
        };
        b = e;
    }
    return count;
}
