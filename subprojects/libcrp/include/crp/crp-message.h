/*
 * crp-message.h: every CRP message, as C structs, and their wire encoding.
 *
 * A message is a 6-byte header (u8 type, u8 flags, u32 body length) and a
 * body. docs/protocol.md has the byte layout of each body; the golden
 * vectors in tests/libcrp/wire/test-crp-message.c keep this code and the spec
 * together.
 *
 * Decoding borrows: CrpView and CrpStr fields point into the decoded buffer
 * and stay valid as long as it does. Decoding never allocates.
 */
#pragma once

#include <glib.h>
#include "crp/crp-wire.h"

G_BEGIN_DECLS

#define CRP_MESSAGE_HEADER_SIZE 6
/** Largest plaintext of one encrypted record (and so of one message). */
#define CRP_MAX_RECORD_PLAINTEXT (4u * 1024 * 1024)
#define CRP_MAX_MESSAGE_BODY (CRP_MAX_RECORD_PLAINTEXT - CRP_MESSAGE_HEADER_SIZE)
#define CRP_MAX_SURFACE_DIM 8192
#define CRP_MAX_SURFACE_PIXELS (8192u * 4320u)
#define CRP_MAX_CURSOR_DIM 256
/** Opus packets are at most 1275 bytes per frame; leave room for repacketising. */
#define CRP_MAX_AUDIO_PACKET 4000
#define CRP_MAX_LIST_ITEMS 1024
/** Largest clipboard content (one format) either side sends or accepts;
 *  larger content is refused with CRP_CLIPBOARD_TOO_LARGE. */
#define CRP_MAX_CLIPBOARD (16u * 1024 * 1024)
/** My files: longest path (bytes, '/'-separated), longest name of one
 *  component, and the largest chunk of one UPLOAD_DATA or FILE_DATA. */
#define CRP_MAX_FILE_PATH 1024
#define CRP_MAX_FILE_NAME 255
/** ... and most components of a path (a file 31 folders down): a server
 *  walks the tree to count it against the quota. */
#define CRP_MAX_FILE_DEPTH 32
#define CRP_MAX_FILE_CHUNK (1u << 20)

typedef enum {
    /* Display channel, server -> client. */
    CRP_MSG_SURFACE = 0x01,
    CRP_MSG_RECT = 0x02,
    CRP_MSG_FRAME_END = 0x03,
    CRP_MSG_CURSOR_SHAPE = 0x04,
    CRP_MSG_CURSOR_POS = 0x05,
    CRP_MSG_AUDIO_FORMAT = 0x06,
    CRP_MSG_AUDIO_OUT = 0x07,
    CRP_MSG_PING = 0x08,
    /* Display channel, client -> server. */
    CRP_MSG_KEY = 0x21,
    CRP_MSG_POINTER = 0x22,
    CRP_MSG_WHEEL = 0x23,
    CRP_MSG_AUDIO_IN = 0x24,
    CRP_MSG_FRAME_ACK = 0x25,
    CRP_MSG_RESIZE_REQUEST = 0x26,
    CRP_MSG_CLOSE_APP = 0x27,
    CRP_MSG_PONG = 0x28,
    /* Display channel, either direction (capability CLIPBOARD). */
    CRP_MSG_CLIPBOARD_GRAB = 0x30,
    CRP_MSG_CLIPBOARD_REQUEST = 0x31,
    CRP_MSG_CLIPBOARD_DATA = 0x32,
    /* Either channel, either direction: the sender is closing, and why. */
    CRP_MSG_BYE = 0x3f,
    /* Broker channel, client -> broker (requests). */
    CRP_MSG_CATALOG_LIST = 0x41,
    CRP_MSG_SUBSCRIBE = 0x42,
    CRP_MSG_UNSUBSCRIBE = 0x43,
    CRP_MSG_MY_APPS = 0x44,
    CRP_MSG_LAUNCH = 0x45,
    CRP_MSG_SESSION_LIST = 0x46,
    CRP_MSG_SESSION_CLOSE = 0x47,
    CRP_MSG_ATTACH = 0x48,
    CRP_MSG_SESSION_TICKET = 0x49,
    /* My files requests (capability CRP_CAP_BROKER_FILES). */
    CRP_MSG_FILE_LIST = 0x4a,
    CRP_MSG_UPLOAD_BEGIN = 0x4b,
    CRP_MSG_UPLOAD_DATA = 0x4c,
    CRP_MSG_DOWNLOAD = 0x4d,
    CRP_MSG_FILE_DELETE = 0x4e,
    /* Broker channel, broker -> client (replies). */
    CRP_MSG_OK = 0x61,
    CRP_MSG_APP_LIST = 0x62,
    CRP_MSG_LAUNCHED = 0x63,
    CRP_MSG_SESSIONS = 0x64,
    CRP_MSG_ERROR = 0x65,
    /* My files replies. */
    CRP_MSG_FILES = 0x66,
    CRP_MSG_UPLOAD_READY = 0x67,
    CRP_MSG_FILE_DATA = 0x68,
} CrpMessageType;

typedef enum {
    CRP_CHANNEL_DISPLAY,
    CRP_CHANNEL_BROKER,
} CrpChannelKind;

typedef enum {
    CRP_ROLE_CLIENT,
    CRP_ROLE_SERVER,
} CrpRole;

/** Pixel encodings of a RECT. Every client supports FILL, RAW and COPY. */
typedef enum {
    CRP_ENCODING_FILL = 0,
    CRP_ENCODING_RAW = 1,
    CRP_ENCODING_ZLIB = 2,
    CRP_ENCODING_JPEG = 3,
    CRP_ENCODING_COPY = 4,
    CRP_ENCODING_ZSTD = 5,
    CRP_ENCODING_H264 = 6,
} CrpEncoding;

/** The largest zstd window (log2 bytes) a ZSTD stream may use: a receiver
 *  refuses a stream that asks for more instead of allocating it. */
#define CRP_ZSTD_MAX_WINDOW_LOG 24

/** H264 rects: how many video streams a sender may keep at once (the
 *  stream number of a rect is below this). */
#define CRP_H264_MAX_STREAMS 4
/** Largest side of an H264 rect, and the most pixels the live streams of
 *  one connection cover together (a receiver's decoder memory). */
#define CRP_H264_MAX_DIM 4096
#define CRP_H264_MAX_PIXELS (4096u * 2304u)
/** Most reference frames an H264 stream may declare (its SPS). */
#define CRP_H264_MAX_REF_FRAMES 4

/** RECT flag: lossy content the server will refine losslessly later. */
#define CRP_RECT_FLAG_LOSSY 0x01
/** RECT flag (ZLIB, ZSTD, H264): the sender started its compressed stream
 *  afresh with this rect; the receiver resets its decompressor first. */
#define CRP_RECT_FLAG_STREAM_RESET 0x02
/** RECT flag (ZSTD only): the rect belongs to the sender's second zstd
 *  stream, for pictures (photo, video: little to find again, so coded
 *  fast), not the first, for text and UI. STREAM_RESET then resets it. */
#define CRP_RECT_FLAG_PICTURE_STREAM 0x04

/**
 * Stable status codes, used in BYE, ERROR and handshake rejections.
 * Never renumber: clients show messages keyed by them.
 */
typedef enum {
    CRP_STATUS_OK = 0,
    CRP_STATUS_BAD_REQUEST = 1,
    CRP_STATUS_VERSION_UNSUPPORTED = 2,
    CRP_STATUS_AUTH_FAILED = 3,
    CRP_STATUS_UNKNOWN_KEY = 4,
    CRP_STATUS_KEY_REVOKED = 5,
    CRP_STATUS_RATE_LIMITED = 6,
    CRP_STATUS_NO_SUCH_APP = 7,
    CRP_STATUS_NOT_SUBSCRIBED = 8,
    CRP_STATUS_NO_CAPACITY = 9,
    CRP_STATUS_QUOTA_EXCEEDED = 10,
    CRP_STATUS_NO_SUCH_SESSION = 11,
    CRP_STATUS_SESSION_ENDED = 12,
    CRP_STATUS_INTERNAL = 13,
    CRP_STATUS_TIMEOUT = 14,
    CRP_STATUS_SHUTDOWN = 15,
    CRP_STATUS_REPLACED = 16,
    CRP_STATUS_NO_SUCH_FILE = 17,
} CrpStatus;

/** A human-readable default text for @status ("unknown status" if new). */
const char *crp_status_to_string(guint16 status);

/** A message type's name ("RECT"), or NULL if the type is unknown. */
const char *crp_message_type_name(guint8 type);

/** TRUE if @sender may send @type on a @kind channel. */
gboolean crp_message_type_allowed(CrpChannelKind kind, CrpRole sender,
                                  guint8 type);

typedef struct {
    guint16 width;
    guint16 height;
} CrpSurfaceMsg;

typedef struct {
    guint16 x, y, width, height;
    guint8 encoding;        /* CrpEncoding */
    guint32 fill;           /* FILL: 0x00RRGGBB */
    guint16 src_x, src_y;   /* COPY: source origin in the client's framebuffer */
    guint8 stream;          /* H264: which of the sender's video streams */
    CrpView data;           /* RAW, ZLIB, JPEG, ZSTD, H264: the encoded pixels */
} CrpRectMsg;

typedef struct {
    guint32 frame_id;
    /** Serial of the last input event applied before this frame's capture. */
    guint32 input_serial;
    /** Server monotonic clock at capture, microseconds. */
    guint64 capture_us;
    /** Microseconds from capture until the frame was queued for sending. */
    guint32 encode_us;
} CrpFrameEndMsg;

typedef struct {
    guint16 width, height, hot_x, hot_y;
    /** width*height*4 bytes, each pixel u32 0xAARRGGBB, not premultiplied. */
    CrpView pixels;
} CrpCursorShapeMsg;

typedef struct {
    guint16 x, y;
    guint8 visible;
} CrpCursorPosMsg;

#define CRP_AUDIO_CODEC_OPUS 1

typedef struct {
    guint8 codec;           /* CRP_AUDIO_CODEC_OPUS */
    guint8 channels;
    guint32 sample_rate;
} CrpAudioFormatMsg;

/** AUDIO_OUT and AUDIO_IN: one Opus packet. */
typedef struct {
    guint64 timestamp_us;
    CrpView packet;
} CrpAudioMsg;

/** PING and PONG; PONG echoes the PING's fields. */
typedef struct {
    guint32 id;
    guint64 time_us;
} CrpPingMsg;

typedef struct {
    guint32 serial;
    guint16 code;           /* Linux evdev key code */
    guint8 down;
} CrpKeyMsg;

#define CRP_BUTTON_LEFT   0x01
#define CRP_BUTTON_MIDDLE 0x02
#define CRP_BUTTON_RIGHT  0x04
#define CRP_BUTTON_SIDE   0x08
#define CRP_BUTTON_EXTRA  0x10

typedef struct {
    guint32 serial;
    guint16 x, y;           /* absolute, in surface pixels */
    guint32 buttons;        /* CRP_BUTTON_* mask */
} CrpPointerMsg;

typedef struct {
    guint32 serial;
    gint16 dx, dy;          /* detents; positive dy scrolls down */
} CrpWheelMsg;

typedef struct {
    guint32 frame_id;
    /** Client microseconds from receiving the frame to presenting it. */
    guint32 present_us;
} CrpFrameAckMsg;

typedef struct {
    guint16 width, height;
} CrpResizeMsg;

/** Clipboard formats: bits of a GRAB, one value in REQUEST and DATA. */
#define CRP_CLIPBOARD_TEXT 0x01     /* UTF-8 text, no NUL */
#define CRP_CLIPBOARD_PNG  0x02     /* a PNG image */
#define CRP_CLIPBOARD_ALL  0x03

/** CLIPBOARD_DATA status: the content, or why there is none. */
typedef enum {
    CRP_CLIPBOARD_OK = 0,
    /** The holder has no such content (any more: a newer grab). */
    CRP_CLIPBOARD_NONE = 1,
    /** Larger than CRP_MAX_CLIPBOARD. */
    CRP_CLIPBOARD_TOO_LARGE = 2,
    /** The holder's clipboard sharing is off (muted). */
    CRP_CLIPBOARD_OFF = 3,
} CrpClipboardStatus;

/** CLIPBOARD_GRAB: the sender's clipboard holds @formats now (0: it is
 *  empty); @serial names this content in the requests for it. */
typedef struct {
    guint32 serial;
    guint8 formats;         /* CRP_CLIPBOARD_* bits */
} CrpClipboardGrabMsg;

/** CLIPBOARD_REQUEST: send the @format of the content grabbed as @serial. */
typedef struct {
    guint32 serial;
    guint8 format;          /* one CRP_CLIPBOARD_* value */
} CrpClipboardRequestMsg;

/** CLIPBOARD_DATA: one chunk (@offset, @data) of @total bytes, or with a
 *  status other than OK, the refusal (total, offset 0, no data). */
typedef struct {
    guint32 serial;
    guint8 format;
    guint8 status;          /* CrpClipboardStatus */
    guint32 total;
    guint32 offset;
    CrpView data;
} CrpClipboardDataMsg;

typedef struct {
    guint16 code;           /* CrpStatus */
    CrpStr reason;
} CrpByeMsg;

/** Broker requests: CATALOG_LIST, MY_APPS, SESSION_LIST carry no argument;
 *  SUBSCRIBE, UNSUBSCRIBE, LAUNCH name an app; SESSION_CLOSE, ATTACH,
 *  SESSION_TICKET name a session. */
typedef struct {
    guint32 request_id;
    CrpStr arg;
} CrpRequestMsg;

#define CRP_APP_SUBSCRIBED 0x01
#define CRP_APP_AUDIO      0x02

typedef struct {
    CrpStr name, title, description;
    guint16 vcpus;
    guint32 memory_mib;
    guint8 flags;           /* CRP_APP_* */
} CrpAppInfo;

typedef enum {
    CRP_SESSION_STARTING = 1,
    CRP_SESSION_RUNNING = 2,
    CRP_SESSION_CLOSING = 3,
} CrpSessionState;

typedef struct {
    CrpStr session_id, app;
    guint64 started_unix;
    guint8 state;           /* CrpSessionState */
} CrpSessionInfo;

/** APP_LIST and SESSIONS. To encode, point @items at @count structs of the
 *  list's type; decoding fills @raw and @count instead (see the iterators). */
typedef struct {
    guint32 request_id;
    guint16 count;
    const void *items;
    CrpView raw;
} CrpListMsg;

typedef struct {
    guint32 request_id;
    CrpStr session_id;
    CrpStr ticket;
    guint32 expires_in_s;
} CrpLaunchedMsg;

typedef struct {
    guint32 request_id;
    guint16 code;           /* CrpStatus */
    CrpStr message;
} CrpErrorMsg;

/**
 * My files requests. @path is relative to the user's files ('/'-separated;
 * the decoder checks only its length: crp_file_path_check() says whether
 * a path is acceptable, and the broker answers a bad one with an ERROR).
 *   FILE_LIST     @path: a directory ("" is the top)
 *   UPLOAD_BEGIN  @path, @size: start or resume an upload
 *   UPLOAD_DATA   @path, @size, @offset, @data: one chunk, in order
 *   DOWNLOAD      @path, @offset, @length: ask for one chunk
 *   FILE_DELETE   @path: a file or an empty directory
 */
typedef struct {
    guint32 request_id;
    CrpStr path;
    guint64 size;
    guint64 offset;
    guint32 length;
    CrpView data;
} CrpFileRequestMsg;

typedef enum {
    CRP_FILE_KIND_FILE = 1,
    CRP_FILE_KIND_DIR = 2,
} CrpFileKind;

/** An entry of FILES. */
typedef struct {
    CrpStr name;            /* one component, 1..CRP_MAX_FILE_NAME bytes */
    guint8 kind;            /* CrpFileKind */
    guint64 size;           /* bytes; 0 for a directory */
    guint64 mtime_ns;       /* last change, nanoseconds since 1970 */
} CrpFileEntry;

/** FILES message flag: the directory holds more entries than one list
 *  carries; the ones sent are the first by name. */
#define CRP_FILES_FLAG_TRUNCATED 0x01

/** FILES: a directory's entries, and the user's storage against the
 *  quota. To encode, point @items at @count entries; decoding fills @raw
 *  (see crp_list_iter_next_file()). */
typedef struct {
    guint32 request_id;
    guint64 used_bytes;     /* files, uploads under way and disk overlays */
    guint64 quota_bytes;    /* 0: no quota */
    guint16 count;
    const CrpFileEntry *items;
    CrpView raw;
} CrpFilesMsg;

/** UPLOAD_READY: send from @offset (the bytes the broker already holds
 *  of this upload; @offset == size: the file is complete). */
typedef struct {
    guint32 request_id;
    guint64 offset;
} CrpUploadReadyMsg;

/** FILE_DATA: a chunk of the file as it is now (@size, @mtime_ns: a
 *  client that sees them change mid-download starts again). */
typedef struct {
    guint32 request_id;
    guint64 size;
    guint64 mtime_ns;
    CrpView data;
} CrpFileDataMsg;

typedef struct {
    guint8 type;            /* CrpMessageType */
    guint8 flags;
    union {
        CrpSurfaceMsg surface;
        CrpRectMsg rect;
        CrpFrameEndMsg frame_end;
        CrpCursorShapeMsg cursor_shape;
        CrpCursorPosMsg cursor_pos;
        CrpAudioFormatMsg audio_format;
        CrpAudioMsg audio;          /* AUDIO_OUT, AUDIO_IN */
        CrpPingMsg ping;            /* PING, PONG */
        CrpKeyMsg key;
        CrpPointerMsg pointer;
        CrpWheelMsg wheel;
        CrpFrameAckMsg frame_ack;
        CrpResizeMsg resize;
        CrpClipboardGrabMsg clipboard_grab;
        CrpClipboardRequestMsg clipboard_request;
        CrpClipboardDataMsg clipboard_data;
        CrpByeMsg bye;
        CrpRequestMsg request;      /* all broker requests */
        guint32 ok_request_id;      /* OK */
        CrpListMsg list;            /* APP_LIST, SESSIONS */
        CrpLaunchedMsg launched;
        CrpErrorMsg error;
        CrpFileRequestMsg file;     /* all My files requests */
        CrpFilesMsg files;
        CrpUploadReadyMsg upload_ready;
        CrpFileDataMsg file_data;
    };
} CrpMessage;

/**
 * Appends @msg's header and body to @out. Fields are encoded as given; the
 * caller keeps them within the caps (debug builds assert it). Returns the
 * number of bytes appended.
 */
gsize crp_message_encode(const CrpMessage *msg, GByteArray *out);

/**
 * Decodes one message from the start of @data. Returns the bytes consumed,
 * or 0 with @error set (CRP_ERROR_PROTOCOL, CRP_ERROR_TOO_LARGE) if the bytes
 * do not hold one whole valid message. Unknown types are errors: a peer
 * only sends what the negotiated version defines.
 */
gsize crp_message_decode(const guint8 *data, gsize len, CrpMessage *msg,
                         GError **error);

/** Iterates a decoded list. Entries were validated when it was decoded. */
typedef struct {
    CrpReader reader;
    guint16 left;
} CrpListIter;

void crp_list_iter_init(CrpListIter *iter, const CrpListMsg *list);
gboolean crp_list_iter_next_app(CrpListIter *iter, CrpAppInfo *app);
gboolean crp_list_iter_next_session(CrpListIter *iter, CrpSessionInfo *session);
void crp_list_iter_init_files(CrpListIter *iter, const CrpFilesMsg *files);
gboolean crp_list_iter_next_file(CrpListIter *iter, CrpFileEntry *entry);

/** Builds a CrpStr view of a NUL-terminated string (NULL gives ""). */
CrpStr crp_str(const char *s);

G_END_DECLS
