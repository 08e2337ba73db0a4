/* test-crp-opus.c: Opus round trips, the frame accumulator, decoder errors. */
#include <math.h>
#include <string.h>
#include <crp/crp-error.h>
#include <crp/crp-opus.h>

#define SINE_HZ 1000.0
#define SINE_AMPLITUDE 16000.0

/* Every packet an encoder emitted, with its timestamp. */
typedef struct {
    GPtrArray *packets;         /* GBytes */
    GArray *timestamps;         /* guint64 */
} Packets;

static void
packets_init(Packets *p)
{
    p->packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    p->timestamps = g_array_new(FALSE, FALSE, sizeof(guint64));
}

static void
packets_clear(Packets *p)
{
    g_ptr_array_unref(p->packets);
    g_array_unref(p->timestamps);
}

static void
collect_packet(const guint8 *packet, gsize len, guint64 timestamp_us,
               gpointer user_data)
{
    Packets *p = user_data;
    g_ptr_array_add(p->packets, g_bytes_new(packet, len));
    g_array_append_val(p->timestamps, timestamp_us);
}

static gint16 *
make_sine(int channels, gsize n_samples)
{
    gint16 *pcm = g_new(gint16, n_samples * channels);
    for (gsize i = 0; i < n_samples; i++) {
        double v = SINE_AMPLITUDE * sin(2 * G_PI * SINE_HZ * i / CRP_OPUS_RATE);
        for (int c = 0; c < channels; c++) {
            pcm[i * channels + c] = (gint16)lrint(v);
        }
    }
    return pcm;
}

/* Power of channel @c of @pcm at @hz (Goertzel). */
static double
goertzel_power(const gint16 *pcm, int channels, int c, gsize n, double hz)
{
    double coeff = 2 * cos(2 * G_PI * hz / CRP_OPUS_RATE);
    double s1 = 0, s2 = 0;
    for (gsize i = 0; i < n; i++) {
        double s0 = pcm[i * channels + c] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/* The strongest frequency between 100 Hz and 8 kHz, in 2 Hz steps. */
static double
dominant_frequency(const gint16 *pcm, int channels, int c, gsize n)
{
    double best_hz = 0, best_power = -1;
    for (double hz = 100; hz <= 8000; hz += 2) {
        double power = goertzel_power(pcm, channels, c, n, hz);
        if (power > best_power) {
            best_power = power;
            best_hz = hz;
        }
    }
    return best_hz;
}

/* Frequency from the rate of rising zero crossings. */
static double
zero_crossing_frequency(const gint16 *pcm, int channels, int c, gsize n)
{
    gsize rising = 0;
    for (gsize i = 1; i < n; i++) {
        if (pcm[(i - 1) * channels + c] < 0 && pcm[i * channels + c] >= 0) {
            rising++;
        }
    }
    return (double)rising * CRP_OPUS_RATE / (double)n;
}

static double
rms(const gint16 *pcm, int channels, int c, gsize n)
{
    double sum = 0;
    for (gsize i = 0; i < n; i++) {
        double v = pcm[i * channels + c];
        sum += v * v;
    }
    return sqrt(sum / (double)n);
}

typedef struct {
    int channels;
    int frame_ms;
} RoundTrip;

/* One second of a 1 kHz sine through encoder and decoder keeps its pitch
 * and loudness. */
static void
test_round_trip(gconstpointer data)
{
    const RoundTrip *rt = data;
    const gsize n = CRP_OPUS_RATE;
    const gsize frame = (gsize)(CRP_OPUS_RATE / 1000 * rt->frame_ms);
    g_autofree gint16 *in = make_sine(rt->channels, n);
    g_autoptr(GError) error = NULL;

    g_autoptr(CrpOpusEncoder) enc =
        crp_opus_encoder_new(rt->channels, rt->frame_ms, 0, &error);
    g_assert_no_error(error);
    g_assert_nonnull(enc);
    Packets p;
    packets_init(&p);
    g_assert_true(crp_opus_encoder_push(enc, in, n, collect_packet, &p, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(p.packets->len, ==, n / frame);

    g_autoptr(CrpOpusDecoder) dec = crp_opus_decoder_new(rt->channels, &error);
    g_assert_no_error(error);
    /* The decoder wants room for a 20 ms frame even when 10 ms are left. */
    const gsize room = n + CRP_OPUS_MAX_FRAME_SAMPLES;
    g_autofree gint16 *out = g_new0(gint16, room * rt->channels);
    gsize decoded = 0;
    for (guint i = 0; i < p.packets->len; i++) {
        gsize len;
        const guint8 *pkt = g_bytes_get_data(p.packets->pdata[i], &len);
        g_assert_cmpuint(len, >, 0);
        g_assert_cmpuint(g_array_index(p.timestamps, guint64, i), ==,
                         (guint64)i * rt->frame_ms * 1000);
        int got = crp_opus_decoder_decode(dec, pkt, len,
                                          out + decoded * rt->channels,
                                          (int)(room - decoded), &error);
        g_assert_no_error(error);
        g_assert_cmpint(got, ==, (int)frame);
        decoded += (gsize)got;
    }
    g_assert_cmpuint(decoded, ==, n);

    /* Skip the codec delay and the encoder settling: 100 ms. */
    const gsize skip = CRP_OPUS_RATE / 10;
    const gsize tail = n - skip;
    const double in_rms = rms(in, rt->channels, 0, n);
    for (int c = 0; c < rt->channels; c++) {
        const gint16 *o = out + skip * rt->channels;
        double hz = dominant_frequency(o, rt->channels, c, tail);
        g_assert_cmpfloat_with_epsilon(hz, SINE_HZ, 10.0);
        double zc_hz = zero_crossing_frequency(o, rt->channels, c, tail);
        g_assert_cmpfloat_with_epsilon(zc_hz, SINE_HZ, 10.0);
        double out_rms = rms(o, rt->channels, c, tail);
        g_test_message("channel %d: %.0f Hz (zero crossings %.1f Hz), "
                       "RMS %.0f in, %.0f out", c, hz, zc_hz, in_rms, out_rms);
        g_assert_cmpfloat(out_rms / in_rms, >, 0.95);
        g_assert_cmpfloat(out_rms / in_rms, <, 1.05);
    }
    packets_clear(&p);
}

/* Encodes @pcm pushed in chunks cycling through @chunks (0-terminated;
 * NULL: all at once). */
static void
encode_chunked(const gint16 *pcm, int channels, gsize n, const gsize *chunks,
               Packets *p)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc = crp_opus_encoder_new(channels, 10, 0, &error);
    g_assert_no_error(error);
    packets_init(p);
    if (!chunks) {
        g_assert_true(crp_opus_encoder_push(enc, pcm, n, collect_packet, p,
                                            &error));
        g_assert_no_error(error);
        return;
    }
    gsize done = 0;
    for (guint i = 0; done < n; i++) {
        if (!chunks[i]) {
            i = 0;
        }
        gsize len = MIN(chunks[i], n - done);
        g_assert_true(crp_opus_encoder_push(enc, pcm + done * channels, len,
                                            collect_packet, p, &error));
        g_assert_no_error(error);
        done += len;
    }
}

/* Chunk boundaries are invisible: the same packets, byte for byte, and the
 * same timestamps; a trailing partial frame stays buffered. */
static void
test_chunking(void)
{
    const int channels = 2;
    const gsize n = CRP_OPUS_RATE / 2 + 123;
    g_autofree gint16 *pcm = make_sine(channels, n);
    static const gsize chunks[] = { 1, 37, 481, 0 };
    static const gsize single[] = { 1, 0 };

    Packets whole, odd, tiny;
    encode_chunked(pcm, channels, n, NULL, &whole);
    encode_chunked(pcm, channels, n, chunks, &odd);
    encode_chunked(pcm, channels, n, single, &tiny);

    g_assert_cmpuint(whole.packets->len, ==, n / 480);
    for (guint i = 0; i < whole.packets->len; i++) {
        g_assert_cmpuint(g_array_index(whole.timestamps, guint64, i), ==,
                         (guint64)i * 10000);
    }
    Packets *others[] = { &odd, &tiny };
    for (guint k = 0; k < G_N_ELEMENTS(others); k++) {
        Packets *o = others[k];
        g_assert_cmpuint(o->packets->len, ==, whole.packets->len);
        g_assert_cmpmem(o->timestamps->data,
                        o->timestamps->len * sizeof(guint64),
                        whole.timestamps->data,
                        whole.timestamps->len * sizeof(guint64));
        for (guint i = 0; i < whole.packets->len; i++) {
            g_assert_true(g_bytes_equal(o->packets->pdata[i],
                                        whole.packets->pdata[i]));
        }
    }
    packets_clear(&whole);
    packets_clear(&odd);
    packets_clear(&tiny);
}

/* Timestamps of 20 ms frames follow the sample position across pushes. */
static void
test_timestamps_across_pushes(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc = crp_opus_encoder_new(1, 20, 0, &error);
    g_assert_no_error(error);
    g_autofree gint16 *pcm = make_sine(1, 1500);
    Packets p;
    packets_init(&p);

    g_assert_true(crp_opus_encoder_push(enc, pcm, 959, collect_packet, &p, &error));
    g_assert_cmpuint(p.packets->len, ==, 0);
    g_assert_true(crp_opus_encoder_push(enc, pcm, 0, collect_packet, &p, &error));
    g_assert_true(crp_opus_encoder_push(enc, NULL, 0, collect_packet, &p, &error));
    g_assert_cmpuint(p.packets->len, ==, 0);
    g_assert_true(crp_opus_encoder_push(enc, pcm, 1, collect_packet, &p, &error));
    g_assert_cmpuint(p.packets->len, ==, 1);
    g_assert_true(crp_opus_encoder_push(enc, pcm, 1500, collect_packet, &p, &error));
    g_assert_true(crp_opus_encoder_push(enc, pcm, 1500, collect_packet, &p, &error));
    g_assert_no_error(error);
    /* 960 + 3000 samples: 4 whole frames. */
    g_assert_cmpuint(p.packets->len, ==, 4);
    for (guint i = 0; i < p.packets->len; i++) {
        g_assert_cmpuint(g_array_index(p.timestamps, guint64, i), ==,
                         (guint64)i * 20000);
    }
    packets_clear(&p);
}

/* Encodes 200 ms of sine with @bitrate and returns the packets' total size. */
static gsize
encoded_size(int channels, int bitrate, GPtrArray **packets_out)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc =
        crp_opus_encoder_new(channels, 20, bitrate, &error);
    g_assert_no_error(error);
    g_autofree gint16 *pcm = make_sine(channels, CRP_OPUS_RATE / 5);
    Packets p;
    packets_init(&p);
    g_assert_true(crp_opus_encoder_push(enc, pcm, CRP_OPUS_RATE / 5,
                                        collect_packet, &p, &error));
    gsize total = 0;
    for (guint i = 0; i < p.packets->len; i++) {
        total += g_bytes_get_size(p.packets->pdata[i]);
    }
    *packets_out = g_ptr_array_ref(p.packets);
    packets_clear(&p);
    return total;
}

static gboolean
same_packets(GPtrArray *a, GPtrArray *b)
{
    if (a->len != b->len) {
        return FALSE;
    }
    for (guint i = 0; i < a->len; i++) {
        if (!g_bytes_equal(a->pdata[i], b->pdata[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

/* Bitrate 0 means 96 kbit/s stereo and 48 kbit/s mono. */
static void
test_default_bitrate(void)
{
    g_autoptr(GPtrArray) s0 = NULL, s96 = NULL, s48 = NULL;
    g_autoptr(GPtrArray) m0 = NULL, m48 = NULL, m96 = NULL;
    encoded_size(2, 0, &s0);
    encoded_size(2, 96000, &s96);
    encoded_size(2, 48000, &s48);
    encoded_size(1, 0, &m0);
    gsize m96_size = encoded_size(1, 96000, &m96);
    gsize m48_size = encoded_size(1, 48000, &m48);

    g_assert_true(same_packets(s0, s96));
    g_assert_false(same_packets(s0, s48));
    g_assert_true(same_packets(m0, m48));
    g_assert_false(same_packets(m0, m96));
    g_assert_cmpuint(m96_size, >, m48_size);
}

static void
test_invalid_args(void)
{
    static const int bad_encoders[][3] = {
        { 0, 20, 0 }, { 3, 20, 0 }, { -1, 10, 0 },
        { 2, 0, 0 }, { 2, 5, 0 }, { 2, 15, 0 }, { 2, 40, 0 }, { 1, -20, 0 },
        { 2, 20, -1 }, { 2, 20, 100 }, { 1, 10, 10000000 },
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad_encoders); i++) {
        g_autoptr(GError) error = NULL;
        CrpOpusEncoder *enc = crp_opus_encoder_new(bad_encoders[i][0],
                                                   bad_encoders[i][1],
                                                   bad_encoders[i][2], &error);
        g_assert_null(enc);
        g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    }
    static const int bad_channels[] = { 0, 3, -1, 8 };
    for (guint i = 0; i < G_N_ELEMENTS(bad_channels); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_null(crp_opus_decoder_new(bad_channels[i], &error));
        g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    }

    /* The extremes that are allowed, and NULL errors. */
    CrpOpusEncoder *enc = crp_opus_encoder_new(1, 10, 6000, NULL);
    g_assert_nonnull(enc);
    crp_opus_encoder_free(enc);
    enc = crp_opus_encoder_new(2, 20, 510000, NULL);
    g_assert_nonnull(enc);
    g_assert_null(crp_opus_encoder_new(2, 30, 0, NULL));

    /* Pushing needs PCM (unless empty) and a callback. */
    g_autoptr(GError) error = NULL;
    gint16 pcm[2 * 960] = { 0 };
    g_assert_false(crp_opus_encoder_push(enc, NULL, 10, collect_packet, NULL,
                                         &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);
    g_assert_false(crp_opus_encoder_push(enc, pcm, 960, NULL, NULL, &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);
    g_assert_false(crp_opus_encoder_push(NULL, pcm, 960, collect_packet, NULL,
                                         &error));
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);
    crp_opus_encoder_free(enc);

    /* Destructors take NULL. */
    crp_opus_encoder_free(NULL);
    crp_opus_decoder_free(NULL);
}

/* Decodes @packet and expects -1 with @code. */
static void
expect_decode_error(CrpOpusDecoder *dec, const guint8 *packet, gsize len,
                    int max_samples, int code)
{
    g_autoptr(GError) error = NULL;
    gint16 pcm[2 * 5760];
    g_assert_cmpint(max_samples, <=, 5760);
    g_assert_cmpint(crp_opus_decoder_decode(dec, packet, len, pcm, max_samples,
                                            &error), ==, -1);
    g_assert_error(error, CRP_ERROR, code);
}

/* A real packet of 20 ms of stereo sine. */
static GBytes *
real_packet(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusEncoder) enc = crp_opus_encoder_new(2, 20, 0, &error);
    g_autofree gint16 *pcm = make_sine(2, 960);
    Packets p;
    packets_init(&p);
    g_assert_true(crp_opus_encoder_push(enc, pcm, 960, collect_packet, &p,
                                        &error));
    g_assert_cmpuint(p.packets->len, ==, 1);
    GBytes *packet = g_bytes_ref(p.packets->pdata[0]);
    packets_clear(&p);
    return packet;
}

static void
test_decoder_errors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusDecoder) dec = crp_opus_decoder_new(2, &error);
    g_assert_no_error(error);

    /* Invalid TOC / length combinations. */
    static const guint8 code1_odd[] = { 0x01, 0xaa, 0xbb, 0xcc }; /* 2 equal frames, odd bytes */
    static const guint8 code3_zero[] = { 0x03, 0x00 };        /* 0 frames */
    static const guint8 code2_long[] = { 0x02, 0xfb, 0x01 };  /* 1st frame past the end */
    expect_decode_error(dec, code1_odd, sizeof(code1_odd), 960, CRP_ERROR_CODEC);
    expect_decode_error(dec, code3_zero, sizeof(code3_zero), 960, CRP_ERROR_CODEC);
    expect_decode_error(dec, code2_long, sizeof(code2_long), 960, CRP_ERROR_CODEC);

    /* Truncated: a TOC byte with its frame count or length missing, nothing. */
    static const guint8 code3_toc_only[] = { 0x03 };
    static const guint8 code2_toc_only[] = { 0x02 };
    expect_decode_error(dec, code3_toc_only, 1, 960, CRP_ERROR_CODEC);
    expect_decode_error(dec, code2_toc_only, 1, 960, CRP_ERROR_CODEC);
    expect_decode_error(dec, code3_toc_only, 0, 960, CRP_ERROR_CODEC);

    /* Oversized: one frame above Opus's 1275 bytes; a packet above the
     * protocol's cap; 120 ms (6 x 20 ms CELT frames) into room for 20 ms. */
    g_autofree guint8 *big = g_malloc0(CRP_MAX_AUDIO_PACKET + 1);
    big[0] = 0xfc;  /* CELT FB 20 ms, stereo, one frame */
    expect_decode_error(dec, big, 1277, 960, CRP_ERROR_CODEC);
    expect_decode_error(dec, big, CRP_MAX_AUDIO_PACKET + 1, 960,
                        CRP_ERROR_TOO_LARGE);
    static const guint8 six_frames[] = { 0xfb, 0x06 };
    expect_decode_error(dec, six_frames, sizeof(six_frames), 960,
                        CRP_ERROR_CODEC);
    gint16 *roomy = g_new(gint16, 2 * 5760);
    g_assert_cmpint(crp_opus_decoder_decode(dec, six_frames, sizeof(six_frames),
                                            roomy, 5760, &error), ==, 5760);
    g_assert_no_error(error);
    g_free(roomy);

    /* Caller bugs: too small a buffer, no buffer, length without packet. */
    g_autoptr(GBytes) good = real_packet();
    gsize good_len;
    const guint8 *good_data = g_bytes_get_data(good, &good_len);
    expect_decode_error(dec, good_data, good_len, 959, CRP_ERROR_STATE);
    expect_decode_error(dec, NULL, 10, 960, CRP_ERROR_STATE);
    g_assert_cmpint(crp_opus_decoder_decode(dec, good_data, good_len, NULL,
                                            960, &error), ==, -1);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);
    g_assert_cmpint(crp_opus_decoder_decode(NULL, good_data, good_len, NULL,
                                            960, &error), ==, -1);
    g_assert_error(error, CRP_ERROR, CRP_ERROR_STATE);
    g_clear_error(&error);

    /* The decoder still works after all that. */
    gint16 pcm[2 * 960];
    g_assert_cmpint(crp_opus_decoder_decode(dec, good_data, good_len, pcm, 960,
                                            &error), ==, 960);
    g_assert_no_error(error);
}

/* A lost packet is concealed as one 20 ms frame that continues the sound. */
static void
test_packet_loss_concealment(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusDecoder) dec = crp_opus_decoder_new(2, &error);
    g_autoptr(GBytes) good = real_packet();
    gsize len;
    const guint8 *data = g_bytes_get_data(good, &len);
    gint16 pcm[2 * 5760];

    /* Even before any packet. */
    g_assert_cmpint(crp_opus_decoder_decode(dec, NULL, 0, pcm, 5760, &error),
                    ==, 960);
    g_assert_no_error(error);
    g_assert_cmpint(crp_opus_decoder_decode(dec, data, len, pcm, 5760, &error),
                    ==, 960);
    g_assert_no_error(error);
    g_assert_cmpint(crp_opus_decoder_decode(dec, NULL, 0, pcm, 960, &error),
                    ==, 960);
    g_assert_no_error(error);
    g_assert_cmpfloat(rms(pcm, 2, 0, 960), >, 100.0);
}

/* Random bytes never crash the decoder: each either decodes or fails with
 * an error, never both, never neither. */
static void
test_decoder_random_bytes(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CrpOpusDecoder) dec = crp_opus_decoder_new(1, &error);
    g_autoptr(GRand) rand = g_rand_new_with_seed(0xc0ffee);
    guint8 packet[1500];
    gint16 pcm[960];
    guint ok = 0, failed = 0;

    for (int i = 0; i < 3000; i++) {
        gsize len = (gsize)g_rand_int_range(rand, 1, sizeof(packet) + 1);
        for (gsize j = 0; j < len; j++) {
            packet[j] = (guint8)g_rand_int_range(rand, 0, 256);
        }
        int n = crp_opus_decoder_decode(dec, packet, len, pcm, 960, &error);
        if (n < 0) {
            g_assert_cmpint(n, ==, -1);
            g_assert_error(error, CRP_ERROR, CRP_ERROR_CODEC);
            g_clear_error(&error);
            failed++;
        } else {
            g_assert_no_error(error);
            g_assert_cmpint(n, <=, 960);
            ok++;
        }
    }
    /* Both outcomes occur: libopus accepts some garbage, rejects the rest. */
    g_assert_cmpuint(ok, >, 0);
    g_assert_cmpuint(failed, >, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    static const RoundTrip stereo20 = { 2, 20 }, stereo10 = { 2, 10 };
    static const RoundTrip mono20 = { 1, 20 }, mono10 = { 1, 10 };
    g_test_add_data_func("/opus/round-trip/stereo-20ms", &stereo20, test_round_trip);
    g_test_add_data_func("/opus/round-trip/stereo-10ms", &stereo10, test_round_trip);
    g_test_add_data_func("/opus/round-trip/mono-20ms", &mono20, test_round_trip);
    g_test_add_data_func("/opus/round-trip/mono-10ms", &mono10, test_round_trip);
    g_test_add_func("/opus/chunking", test_chunking);
    g_test_add_func("/opus/timestamps", test_timestamps_across_pushes);
    g_test_add_func("/opus/default-bitrate", test_default_bitrate);
    g_test_add_func("/opus/invalid-args", test_invalid_args);
    g_test_add_func("/opus/decoder-errors", test_decoder_errors);
    g_test_add_func("/opus/packet-loss-concealment", test_packet_loss_concealment);
    g_test_add_func("/opus/decoder-random-bytes", test_decoder_random_bytes);
    return g_test_run();
}
