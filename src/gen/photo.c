/*
 * photo.c - the derived driver portrait (population.h sl_pop_photo).
 *
 * A 64x80 grey image drawn from the driver's id and the population seed: background,
 * shoulders, a head ellipse with a skin tone, hair shaded by the recorded hair colour
 * (none for BAL), eyes shaded by eye colour, brows, nose and mouth, then a little
 * noise.  It is a placeholder portrait that carries no real likeness; it exists so that
 * the photo path (IMQ/Y, redaction of the photo class, XML image transport) has real
 * bytes to move, and it costs no storage: it is rendered again on every request.
 */
#include <math.h>
#include <string.h>

#include "stateline/population.h"

static int hair_level(const char *hair)
{
    if (!hair)
        return 60;
    if (!strcmp(hair, "BLK")) return 25;
    if (!strcmp(hair, "BRO")) return 70;
    if (!strcmp(hair, "BLN")) return 190;
    if (!strcmp(hair, "RED")) return 120;
    if (!strcmp(hair, "SDY")) return 150;
    if (!strcmp(hair, "GRY")) return 165;
    if (!strcmp(hair, "WHI")) return 225;
    return -1; /* BAL, or unknown: no hair drawn */
}

static int eye_level(const char *eyes)
{
    if (!eyes)
        return 50;
    if (!strcmp(eyes, "BLU")) return 120;
    if (!strcmp(eyes, "GRN")) return 100;
    if (!strcmp(eyes, "GRY")) return 130;
    if (!strcmp(eyes, "HAZ")) return 80;
    return 45;
}

static double sq(double x) { return x * x; }

void sl_pop_photo(uint64_t seed, int64_t driver_id, char sex, const char *hair,
                  const char *eyes, unsigned char *pix)
{
    const int W = SL_STORE_PHOTO_W, H = SL_STORE_PHOTO_H;
    struct sl_pop_rng r;
    sl_pop_rng_seed(&r, seed ^ 0x70686f746fULL ^ ((uint64_t)driver_id * 0xd1342543de82ef95ULL));
    double bg = 200 + (double)sl_pop_rng_below(&r, 40);
    double skin = 130 + (double)sl_pop_rng_below(&r, 90);
    double cloth = 30 + (double)sl_pop_rng_below(&r, 150);
    double cx = 32 + ((double)sl_pop_rng_below(&r, 5) - 2), cy = 36 + ((double)sl_pop_rng_below(&r, 5) - 2);
    double rx = 15 + (double)sl_pop_rng_below(&r, 5), ry = 20 + (double)sl_pop_rng_below(&r, 5);
    int hl = hair_level(hair);
    double hair_len = sex == 'F' ? 10 + (double)sl_pop_rng_below(&r, 20) : (double)sl_pop_rng_below(&r, 6);
    int el = eye_level(eyes);
    double eye_dx = 6 + (double)sl_pop_rng_below(&r, 3), eye_y = cy - 3;
    double mouth_w = 4 + (double)sl_pop_rng_below(&r, 4);

    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            double v = bg - y * 0.4;
            /* shoulders */
            double sh = 66 + fabs(x - cx) * 0.35;
            if (y > sh)
                v = cloth;
            /* neck */
            if (fabs(x - cx) < 6 && y > cy + ry - 4 && y <= sh)
                v = skin - 15;
            /* hair behind the head (long hair) */
            double d_head = sq((x - cx) / rx) + sq((y - cy) / ry);
            if (hl >= 0 && hair_len > 8 && d_head < sq(1.18) && y < cy + hair_len)
                v = hl;
            /* face */
            if (d_head <= 1.0) {
                v = skin - (x - cx) * 0.8; /* light from the left */
                /* hair cap */
                if (hl >= 0 && y < cy - ry * 0.45 && d_head > 0.0)
                    v = hl;
                /* eyes and brows */
                for (int s = -1; s <= 1; s += 2) {
                    double ex = cx + s * eye_dx;
                    double de = sq((x - ex) / 3.0) + sq((y - eye_y) / 1.6);
                    if (de < 1.0)
                        v = 235;
                    if (sq((x - ex) / 1.4) + sq((y - eye_y) / 1.4) < 1.0)
                        v = el;
                    if (fabs(y - (eye_y - 4)) < 0.8 && fabs(x - ex) < 3.5)
                        v = hl >= 0 ? hl * 0.7 : skin - 60;
                }
                /* nose and mouth */
                if (fabs(x - cx) < 0.8 && y > eye_y + 2 && y < eye_y + 9)
                    v = skin - 35;
                if (fabs(y - (cy + ry * 0.5)) < 0.9 && fabs(x - cx) < mouth_w)
                    v = skin - 70;
            }
            v += (double)sl_pop_rng_below(&r, 9) - 4;
            pix[y * W + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}
