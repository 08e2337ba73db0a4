/*
 * broker-ws-stream.h: a WebSocket (RFC 6455, server side) as a byte
 * stream. Internal to broker/daemon.
 *
 * The browser client sends and receives CRP records in binary messages
 * whose boundaries mean nothing: the stream is the concatenation of their
 * payloads, exactly what a TCP connection would carry. So this GIOStream
 * takes the connection libsoup hands over after the 101 response, and a
 * BrokerConnection or the gateway's splice read and write it as they do a
 * socket.
 *
 * Reading unmasks payloads straight into the caller's buffer: nothing is
 * queued beyond one 16 KiB read buffer, and nothing is read from the
 * network while nobody reads the stream (backpressure reaches the
 * browser's TCP window). Each write becomes one unmasked binary frame of
 * at most 64 KiB, written before the write completes. Pings are answered
 * (one pong pending at most); text messages, unmasked frames, reserved
 * bits and oversized control frames are protocol errors (read fails with
 * G_IO_ERROR_INVALID_DATA and the browser gets close code 1002 or 1003).
 *
 * Closing the output stream sends a Close frame (the WebSocket's
 * "shutdown write"); the peer's Close reads as the end of the stream.
 * Closing the GIOStream sends a Close frame if none was sent and closes
 * the connection once operations in flight are over (they are cancelled).
 * Everything runs on the main loop; no threads.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BROKER_TYPE_WS_STREAM (broker_ws_stream_get_type())
G_DECLARE_FINAL_TYPE(BrokerWsStream, broker_ws_stream, BROKER, WS_STREAM,
                     GIOStream)

/** @base: the connection after the 101 response (a reference is taken). */
GIOStream *broker_ws_stream_new(GIOStream *base);

G_END_DECLS
