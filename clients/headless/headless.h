/*
 * crp-headless: a CRP display client without a screen, for tests and
 * automation.
 *
 * It connects to a display channel, keeps the framebuffer and the
 * playback audio that a CrpViewer decodes, and runs a small script of
 * input and expectations against it. The pieces:
 *
 *   headless-main.c        options, the session, outputs at exit
 *   headless-log.c         the --verbose log
 *   headless-broker.c      broker mode: login, launch, attach
 *   headless-program.c     main()
 *   headless-script.c      the script language: parsing
 *   headless-runner.c      running a parsed script against the session
 *   headless-files.c       the My files commands (broker mode)
 *   headless-keymap.c      US keyboard: characters and key names -> evdev
 *   headless-audio.c       playback recording and analysis, microphone source
 *   headless-frames.c      --record-frames: the presented pictures, for benches
 *   headless-wav.c         WAV files (headless-wav.h)
 *   headless-spectrum.c    dominant frequency (headless-spectrum.h)
 *
 * Everything runs in one GLib main loop; there are no threads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <crp/crp-viewer.h>
#include "crp-broker-client.h"
#include "crp-display-link.h"

G_BEGIN_DECLS

/* Exit codes: stable, scripts and tests key on them. The first five are
 * how a display link ends (crp-display-link.h), passed on as they are. */
typedef enum {
    HL_EXIT_OK = CRP_DISPLAY_LINK_OK,
    /** Bad usage, a local file or socket problem. */
    HL_EXIT_ERROR = CRP_DISPLAY_LINK_ERROR,
    /** The server refused us: wrong, expired or used ticket, or no room. */
    HL_EXIT_AUTH = CRP_DISPLAY_LINK_AUTH,
    /** The server broke the protocol, or says we did. */
    HL_EXIT_PROTOCOL = CRP_DISPLAY_LINK_PROTOCOL,
    /** The server ended the session while we still needed it. */
    HL_EXIT_CLOSED = CRP_DISPLAY_LINK_CLOSED,
    /** A script expectation failed or timed out. */
    HL_EXIT_SCRIPT = 5,
    /** The broker refused the request: no capacity, quota, not subscribed,
     *  no such app or session (the message names the status). */
    HL_EXIT_REFUSED = 6,
} HlExit;

/** The whole crp-headless program (crp-client --headless runs it too). */
int hl_main(int argc, char **argv);

/* ---- headless-log.c ------------------------------------------------ */

/** Starts the clock log lines and the stats count from. */
void hl_log_start_clock(void);
/** Seconds since hl_log_start_clock(). */
double hl_log_elapsed_s(void);
/** Prints to stderr with a timestamp when --verbose is on. */
void hl_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void hl_log_set_verbose(gboolean verbose);

/* ---- headless-frames.c --------------------------------------------- */

/** Writes every presented frame's changed area to a file (format in
 *  headless-frames.c), for replaying a real session through the encoder. */
typedef struct HlFrameRecorder HlFrameRecorder;

HlFrameRecorder *hl_frame_recorder_new(const char *path, GError **error);
/** Adds @image's @damage box as the next frame (all of it after a resize). */
void hl_frame_recorder_add(HlFrameRecorder *rec, pixman_image_t *image,
                           const pixman_box32_t *damage);
void hl_frame_recorder_free(HlFrameRecorder *rec);

/* ---- headless-audio.c ---------------------------------------------- */

/** The playback audio we received: optional recordings and the samples
 *  expect-audio analyses. */
typedef struct HlPlayback HlPlayback;

HlPlayback *hl_playback_new(void);
/** Closes any recording (fixing up its header) and frees. */
void hl_playback_free(HlPlayback *pb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HlPlayback, hl_playback_free)

/** Records everything from now until hl_playback_finish() (--record). */
gboolean hl_playback_record_all(HlPlayback *pb, const char *path, GError **error);
/** The script's window: recording to @path and analysis start afresh. */
gboolean hl_playback_window_start(HlPlayback *pb, const char *path, GError **error);
gboolean hl_playback_window_stop(HlPlayback *pb, GError **error);

/** Appends @n_frames frames of interleaved 48 kHz s16 @pcm. */
gboolean hl_playback_add(HlPlayback *pb, const gint16 *pcm, gsize n_frames,
                         int channels, GError **error);

/** Frames received in all (for the stats). */
guint64 hl_playback_total_frames(HlPlayback *pb);

/**
 * The dominant frequency of the window (or, before any record-start, of
 * everything received, up to the last minute). Fails on too little audio
 * or on silence.
 */
gboolean hl_playback_dominant_frequency(HlPlayback *pb, double *hz,
                                        GError **error);

/** Closes the recordings, fixing up their WAV headers. */
gboolean hl_playback_finish(HlPlayback *pb, GError **error);

/** A microphone source: a WAV file cut into 20 ms chunks. */
typedef struct HlMicSource HlMicSource;

/** Loads @path: 16-bit PCM, mono or stereo, 48 kHz; anything else fails. */
HlMicSource *hl_mic_source_new(const char *path, GError **error);
void hl_mic_source_free(HlMicSource *mic);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HlMicSource, hl_mic_source_free)

/**
 * The next 20 ms chunk with @channels channels (the server's count now:
 * AUDIO_FORMAT may change it mid-file), the last one zero-padded, or NULL
 * at the end. *@n_frames is set to the frames per channel in it.
 */
const gint16 *hl_mic_source_next(HlMicSource *mic, int channels,
                                 gsize *n_frames);

/* ---- headless-keymap.c --------------------------------------------- */

#define HL_KEY_LEFTSHIFT 42

/** How to type @c on a US keyboard; FALSE if it cannot be typed. */
gboolean hl_keymap_char(gunichar c, guint16 *code, gboolean *shift);

/** Parses a key: an evdev number ("28") or a name ("enter", "KEY_ENTER"). */
gboolean hl_keymap_parse(const char *name, guint16 *code);

/* ---- headless-script.c --------------------------------------------- */

typedef enum {
    HL_CMD_WAIT_FRAMES,     /* n[0] frames */
    HL_CMD_WAIT_SURFACE,    /* n[0..1] width, height (0: any), n[2] timeout ms */
    HL_CMD_SLEEP,           /* n[0] ms */
    HL_CMD_STALL,           /* n[0] ms without reading the socket */
    HL_CMD_SCREENSHOT,      /* text: path */
    HL_CMD_KEY,             /* n[0] code */
    HL_CMD_KEYDOWN,
    HL_CMD_KEYUP,
    HL_CMD_TYPE,            /* text: what to type (escapes resolved) */
    HL_CMD_MOVE,            /* n[0..1] x, y */
    HL_CMD_CLICK,           /* n[0..1] x, y, n[2] button mask */
    HL_CMD_WHEEL,           /* n[0] dy */
    HL_CMD_RESIZE,          /* n[0..1] width, height */
    HL_CMD_MIC,             /* text: WAV path */
    HL_CMD_RECORD_START,    /* text: WAV path */
    HL_CMD_RECORD_STOP,
    HL_CMD_WAIT_PIXEL,      /* n[0..1] x, y, n[2] 0xRRGGBB, n[3] timeout ms */
    HL_CMD_WAIT_CHANGE,     /* n[0..3] x, y, w, h, n[4] timeout ms */
    HL_CMD_EXPECT_AUDIO,    /* n[0] Hz, n[1] tolerance Hz */
    HL_CMD_WAIT_CURSOR,     /* n[0..1] x, y, n[2] timeout ms */
    HL_CMD_SAVE_CURSOR,     /* text: path (PAM, RGBA) */
    HL_CMD_CLIPBOARD_SET,   /* text: our clipboard's text (escapes resolved) */
    HL_CMD_CLIPBOARD_FILL,  /* n[0] bytes of text ("x"), for the caps */
    HL_CMD_CLIPBOARD_SET_PNG, /* text: path of the PNG our clipboard holds */
    HL_CMD_EXPECT_CLIPBOARD, /* n[0] timeout ms, text: the server's text */
    HL_CMD_EXPECT_CLIPBOARD_REFUSED, /* n[0] timeout ms, n[1] status (0: any) */
    HL_CMD_EXPECT_CLIPBOARD_PNG, /* n[0] timeout ms, text: path of the PNG */
    /* My files (broker mode). Each: n[0] the CrpStatus expected to refuse
     * it (0: it must succeed), n[2] 1 for --unchecked (the path goes to
     * the broker as written). */
    HL_CMD_FILES_LIST,      /* text: directory ("" the top) */
    HL_CMD_FILES_UPLOAD,    /* text: local file, text2: remote path,
                             * n[1] --stop-after bytes (0: none) */
    HL_CMD_FILES_DOWNLOAD,  /* text: remote path, text2: local file */
    HL_CMD_FILES_DELETE,    /* text: remote path */
    HL_CMD_CLOSE_APP,
    HL_CMD_QUIT,
} HlCommandType;

typedef struct {
    HlCommandType type;
    /** Where it came from, for messages: "line 3" or "command 2". */
    char *where;
    /** The command as written, for logs. */
    char *source;
    gint64 n[5];
    char *text;
    char *text2;
} HlCommand;

typedef struct {
    HlCommand *commands;
    guint n_commands;
} HlScript;

/**
 * Parses a script: commands one per line or separated by ';'; '#' starts
 * a comment to the end of the line. `type` takes the rest of the command
 * as its text (spaces and '#' included; "\;" for ';', "\n" for Enter).
 * @one_line: name commands "command N" in errors rather than "line N".
 */
HlScript *hl_script_parse(const char *text, gboolean one_line, GError **error);
void hl_script_free(HlScript *script);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HlScript, hl_script_free)

/** FALSE for the commands that run without a display session (My files,
 *  sleep, quit): a broker-mode run without --open or --attach. */
gboolean hl_command_needs_display(HlCommandType type);
/** The --expect-error name of a status ("no-such-file"). */
const char *hl_files_status_name(guint16 status);

/* ---- the session (headless-main.c), broker mode and the script runner */

typedef struct HlRunner HlRunner;
typedef struct HlBrokerPhase HlBrokerPhase;

typedef struct {
    GMainLoop *loop;
    HlBrokerPhase *broker;      /* broker mode: login, launch, attach */
    char *session_id;           /* broker mode, once known */
    CrpDisplayLink *conn;       /* NULL until the display channel starts */
    HlPlayback *playback;
    HlFrameRecorder *frames_rec; /* --record-frames, or NULL */
    HlRunner *runner;           /* NULL without a script */
    guint32 capabilities;       /* agreed in the handshake */
    guint64 frames;
    int width, height;          /* 0 before the first SURFACE */
    /* The server's clipboard, fetched as soon as it announces it (the
     * text first, then the image): the formats it announced, the last
     * text and image that arrived, and the last refusal (0: none). */
    guint8 clipboard_formats;
    char *clipboard_text;
    GBytes *clipboard_png;
    guint8 clipboard_refused;
    guint timeout_id;           /* --timeout */
    gboolean finishing;
    int exit_code;
    char *exit_message;
} HlApp;

/* headless-broker.c: broker mode (--key). */
typedef struct {
    const char *key_path;
    const char *address;        /* NULL: the key file's */
    const char *app;            /* --open: launch it */
    const char *session;        /* --attach: a fresh ticket for it;
                                 * neither: log in only (My files) */
    gboolean subscribe;         /* subscribe to @app first */
} HlBrokerOptions;

/** Called once the display stream is attached (or with why not); with
 *  neither stream nor error once logged in, when there is nothing to
 *  open (a My files run). */
typedef void (*HlBrokerAttachedFunc)(HlApp *app, GIOStream *stream,
                                     const char *ticket, const GError *error);

/** Logs in, launches (or renews a ticket), attaches; then @done. */
HlBrokerPhase *hl_broker_phase_start(HlApp *app, const HlBrokerOptions *opts,
                                     HlBrokerAttachedFunc done);
/** Cancels what is in flight (no callback) and logs out. */
void hl_broker_phase_free(HlBrokerPhase *phase);
/** The HlExit for a broker failure. */
int hl_broker_exit_code(const GError *error);
/** The logged-in broker client, or NULL before the login. */
CrpBrokerClient *hl_broker_phase_client(HlBrokerPhase *phase);

/* headless-files.c: the My files commands. */
typedef struct HlFilesOp HlFilesOp;

/** Called once when the command is over: @code HL_EXIT_OK or why it
 *  failed, with @message. */
typedef void (*HlFilesDoneFunc)(gpointer data, int code, const char *message);

/** Runs files-* command @cmd on @client; @done runs later, never inside. */
HlFilesOp *hl_files_start(CrpBrokerClient *client, const HlCommand *cmd,
                          HlFilesDoneFunc done, gpointer data);
/** Cancels @op; its @done is not called. */
void hl_files_abandon(HlFilesOp *op);

/* headless-runner.c: runs a script against the session it reads (@app);
 * what it needs done to the session it asks its owner for. */
typedef struct {
    /** Ends the session with @code (an HlExit; @message NULL for a quiet
     *  success). The runner does nothing more afterwards. */
    void (*finish)(HlApp *app, int code, const char *message);
    /** Hands the viewer's decoded playback to app->playback; returns the
     *  server's channel count (from AUDIO_FORMAT). */
    int (*pump_audio)(HlApp *app);
} HlRunnerEvents;

HlRunner *hl_runner_new(HlApp *app, HlScript *script,
                        const HlRunnerEvents *events);
void hl_runner_free(HlRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HlRunner, hl_runner_free)

/** Starts running, once the session is ready. */
void hl_runner_start(HlRunner *runner);
/** Something arrived (surface, frame, audio): re-checks what we wait for. */
void hl_runner_poll(HlRunner *runner);
/** Stops all timers; the runner does nothing more. */
void hl_runner_stop(HlRunner *runner);
/** TRUE once every command ran. */
gboolean hl_runner_done(HlRunner *runner);
/** The command running now ("line 3 (wait-frames 2)"), or NULL. */
char *hl_runner_describe(HlRunner *runner);

G_END_DECLS
