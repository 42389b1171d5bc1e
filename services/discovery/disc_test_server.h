/* disc_test_server.h - an HTTP server on 127.0.0.1 for the discovery
 * tests, built on libmicrohttpd: an MCP server that requires OAuth, its
 * protected resource metadata, and an authorization server with dynamic
 * client registration, all on one port. */
#ifndef DISC_TEST_SERVER_H
#define DISC_TEST_SERVER_H

#include <stddef.h>

/* disc_test_mode selects how the server misbehaves, if at all. */
typedef enum {
    DISC_TEST_NORMAL,        /* every step succeeds */
    DISC_TEST_BIG_METADATA,  /* the protected resource metadata is huge */
    DISC_TEST_BIG_CHUNKED,   /* the same, chunked without a length */
    DISC_TEST_SLOW_METADATA, /* it arrives after DISC_TEST_SLOW_MS */
    DISC_TEST_ENDLESS_PROBE, /* the probe gets 200 and a body without end */
    DISC_TEST_REDIRECT,      /* the metadata URL redirects twice */
    DISC_TEST_REDIRECT_LOOP, /* the metadata URL redirects forever */
} disc_test_mode;

/* DISC_TEST_SLOW_MS is the delay of DISC_TEST_SLOW_METADATA. */
#define DISC_TEST_SLOW_MS 1500

/* DISC_TEST_BIG_BYTES is the body size of the two big modes. */
#define DISC_TEST_BIG_BYTES (300 * 1024)

typedef struct disc_test_server disc_test_server;

/* disc_test_server_start starts the server on a free port of 127.0.0.1;
 * NULL when it cannot. */
disc_test_server *disc_test_server_start(void);

/* disc_test_server_port returns the port the server listens on. */
int disc_test_server_port(const disc_test_server *server);

/* disc_test_server_set_mode changes the behaviour for the next requests. */
void disc_test_server_set_mode(disc_test_server *server, disc_test_mode mode);

/*
 * disc_test_server_registration copies the Content-Type and body of the
 * last registration request into the buffers and returns how many
 * registration requests arrived so far.
 */
int disc_test_server_registration(disc_test_server *server, char *content_type,
                                  size_t type_len, char *body,
                                  size_t body_len);

/* disc_test_server_requests returns how many requests arrived so far. */
int disc_test_server_requests(disc_test_server *server);

/* disc_test_server_stop stops the server and frees it. */
void disc_test_server_stop(disc_test_server *server);

#endif
