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
 *
 * Hashing is most of the cost, so an encoder keeps its new image's row
 * hashes for the next frame, where that image is the old one
 * (CrpScrollCache), and rows of tiles that did not change are hashed once
 * for both images.
 */
#include "crp/crp-tiles.h"
#include "codec/crp-codec-private.h"

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

#define MAX_BANDS (CRP_MAX_SURFACE_DIM / CRP_TILE_SIZE + 1)

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

/* Where hash_rows() may take a row's hash instead of computing it. */
typedef struct {
    CrpScrollCache *cache;      /* NULL: hash everything */
    gboolean old_image;         /* take from the cache, or fill it */
    const CrpTileMap *map;      /* new image: tiles that differ from the old */
    const guint64 *hp;          /* new image: the old image's hashes */
} HashSource;

/* Hashes every row of every band of the area, a whole image row at a
 * time (reading bands column-wise would cost a TLB miss per row); band
 * @b's hashes land at out[b * height ...]. */
static void
hash_rows(pixman_image_t *image, int x1, int x2, int y, int height,
          guint64 *out, const HashSource *src)
{
    gsize stride = (gsize)pixman_image_get_stride(image) / 4;
    const guint32 *row = pixman_image_get_data(image) + (gsize)y * stride;
    int first_band = x1 / CRP_TILE_SIZE;
    int nbands = (x2 - 1) / CRP_TILE_SIZE - first_band + 1;
    CrpScrollCache *cache = src ? src->cache : NULL;
    const guint64 *known[MAX_BANDS];
    guint64 *store[MAX_BANDS];
    int known_lo[MAX_BANDS], known_hi[MAX_BANDS];

    g_assert(nbands <= MAX_BANDS);

    for (int b = 0; b < nbands; b++) {
        int band = first_band + b;
        int bx1 = MAX(x1, band * CRP_TILE_SIZE);
        int bx2 = MIN(x2, (band + 1) * CRP_TILE_SIZE);
        /* Only whole bands are kept: their hashes mean the same in any area. */
        gboolean whole = cache && band < cache->nbands &&
                         bx1 == band * CRP_TILE_SIZE &&
                         bx2 == MIN(cache->width, (band + 1) * CRP_TILE_SIZE);
        known[b] = NULL;
        store[b] = NULL;
        known_lo[b] = known_hi[b] = 0;
        if (whole && src->old_image) {
            known[b] = cache->hashes[0] + (gsize)band * cache->height;
            known_lo[b] = cache->lo[0][band];
            known_hi[b] = cache->hi[0][band];
        } else if (whole) {
            store[b] = cache->hashes[1] + (gsize)band * cache->height;
        }
    }

    for (int i = 0; i < height; i++, row += stride) {
        int yy = y + i;
        const guint8 *changed = src && src->map ?
            src->map->changed + (gsize)(yy / CRP_TILE_SIZE) * src->map->cols : NULL;
        for (int b = 0; b < nbands; b++) {
            int band = first_band + b;
            int bx1 = MAX(x1, band * CRP_TILE_SIZE);
            int bx2 = MIN(x2, (band + 1) * CRP_TILE_SIZE);
            gsize at = (gsize)b * height + i;
            guint64 h;
            if (known[b] && yy >= known_lo[b] && yy < known_hi[b]) {
                h = known[b][yy];
            } else if (changed && src->hp && !changed[band]) {
                h = src->hp[at];        /* same pixels as the old image */
            } else {
                /* The constant width lets the compiler unroll the common case. */
                h = bx2 - bx1 == CRP_TILE_SIZE
                    ? hash_segment(row + bx1, CRP_TILE_SIZE)
                    : hash_segment(row + bx1, bx2 - bx1);
            }
            out[at] = h;
            if (store[b]) {
                store[b][yy] = h;
            }
        }
    }

    for (int b = 0; b < nbands; b++) {
        int band = first_band + b;
        if (!store[b]) {
            continue;
        }
        /* Every call of a frame hashes the same rows (the detection area),
         * so the union stays one range. */
        int *lo = &cache->lo[1][band], *hi = &cache->hi[1][band];
        if (*lo == *hi) {
            *lo = y;
            *hi = y + height;
        } else {
            *lo = MIN(*lo, y);
            *hi = MAX(*hi, y + height);
        }
    }
}

void
crp_scroll_cache_finish(CrpScrollCache *cache)
{
    for (int i = 0; i < 2; i++) {
        g_clear_pointer(&cache->hashes[i], g_free);
        g_clear_pointer(&cache->lo[i], g_free);
        g_clear_pointer(&cache->hi[i], g_free);
    }
    cache->width = cache->height = cache->nbands = 0;
}

void
crp_scroll_cache_invalidate(CrpScrollCache *cache)
{
    for (int i = 0; i < 2 && cache->lo[i]; i++) {
        memset(cache->lo[i], 0, sizeof(int) * cache->nbands);
        memset(cache->hi[i], 0, sizeof(int) * cache->nbands);
    }
}

void
crp_scroll_cache_next_frame(CrpScrollCache *cache, int width, int height)
{
    if (width != cache->width || height != cache->height || !cache->hashes[0]) {
        crp_scroll_cache_finish(cache);
        cache->width = width;
        cache->height = height;
        cache->nbands = (width + CRP_TILE_SIZE - 1) / CRP_TILE_SIZE;
        for (int i = 0; i < 2; i++) {
            cache->hashes[i] = g_new(guint64, (gsize)cache->nbands * MAX(height, 1));
            cache->lo[i] = g_new0(int, MAX(cache->nbands, 1));
            cache->hi[i] = g_new0(int, MAX(cache->nbands, 1));
        }
        return;
    }
    /* Swap [0] and [1]: the new image's hashes now describe the old. */
    guint64 *h = cache->hashes[0];
    int *lo = cache->lo[0], *hi = cache->hi[0];
    cache->hashes[0] = cache->hashes[1];
    cache->lo[0] = cache->lo[1];
    cache->hi[0] = cache->hi[1];
    cache->hashes[1] = h;
    cache->lo[1] = lo;
    cache->hi[1] = hi;
    memset(cache->lo[1], 0, sizeof(int) * cache->nbands);
    memset(cache->hi[1], 0, sizeof(int) * cache->nbands);
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
    return crp_scroll_detect_cached(prev, cur, area, scrolls, max_scrolls,
                                    NULL, NULL);
}

guint
crp_scroll_detect_cached(pixman_image_t *prev, pixman_image_t *cur,
                         const pixman_box32_t *area, CrpScroll *scrolls,
                         guint max_scrolls, CrpScrollCache *cache,
                         const CrpTileMap *map)
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
    if (cache && (cache->width != width || cache->height != height)) {
        cache = NULL;
    }
    HashSource old_src = { cache, TRUE, NULL, NULL };
    HashSource new_src = { cache, FALSE, map, hp };

    /* Most frames with a large change did not scroll (a window moved, a
     * page changed): first try a few bands spread over the area, and pay
     * for hashing all of it only if one of them scrolled. */
    if (nbands > 2 * PROBE_BANDS) {
        gboolean any = FALSE;
        for (int i = 0; i < PROBE_BANDS && !any; i++) {
            int b = nbands * (2 * i + 1) / (2 * PROBE_BANDS);
            int bx1 = MAX(x1, (first_band + b) * CRP_TILE_SIZE);
            int bx2 = MIN(x2, (first_band + b + 1) * CRP_TILE_SIZE);
            hash_rows(prev, bx1, bx2, y1, n, hp, &old_src);
            hash_rows(cur, bx1, bx2, y1, n, hc, &new_src);
            any = find_band_move(hp, hc, n, &table).found;
        }
        if (!any) {
            return 0;
        }
    }

    hash_rows(prev, x1, x2, y1, n, hp, &old_src);
    hash_rows(cur, x1, x2, y1, n, hc, &new_src);
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
