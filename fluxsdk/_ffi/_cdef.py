"""The C declarations fluxsdk uses from libflux-core, for cffi's ABI mode.

Written from flux-core's public headers (``flux/core.h``: ``types.h``,
``handle.h``, ``message.h``, ``attr.h``, ``future.h``, ``version.h``;
``flux/job.h`` for ``flux_job_submit``). ABI mode needs no compiler and no
headers at install time: cffi parses this text and calls the functions
through libffi, so the declarations must match the library's ABI exactly.
Only what fluxsdk calls is declared; ``typings/_libflux_core.pyi`` types the
same names for mypy (a test checks the two agree).

Why no reactor, watchers, RPC or future callbacks: fluxsdk's handle implements
RPCs, futures and its reactor in Python over the message layer (the same code
serves the embedded instance), so the connector needs only to move messages
and a pollable fd. No C code ever calls back into Python. The one future API
used is for ``flux_job_submit``'s own future, which is fulfilled and destroyed
at once (see the connector's signer).
"""

from __future__ import annotations

from typing import Final

__all__ = ["CDEF", "FUNCTIONS"]

CDEF: Final = """
typedef struct flux_handle flux_t;
typedef struct flux_msg flux_msg_t;
typedef struct flux_future flux_future_t;
typedef struct { char text[160]; } flux_error_t;

struct flux_match {
    int typemask;
    uint32_t matchtag;
    const char *topic_glob;
};

struct flux_msg_cred {
    uint32_t userid;
    uint32_t rolemask;
};

const char *flux_core_version_string (void);

flux_t *flux_open_ex (const char *uri, int flags, flux_error_t *error);
void flux_close (flux_t *h);
int flux_pollfd (flux_t *h);
int flux_pollevents (flux_t *h);
int flux_send (flux_t *h, const flux_msg_t *msg, int flags);
flux_msg_t *flux_recv (flux_t *h, struct flux_match match, int flags);
int flux_attr_set_cacheonly (flux_t *h, const char *name, const char *val);
int flux_respond (flux_t *h, const flux_msg_t *request, const char *s);
int flux_respond_error (flux_t *h, const flux_msg_t *request, int errnum, const char *errstr);

flux_msg_t *flux_msg_create (int type);
void flux_msg_destroy (flux_msg_t *msg);
int flux_msg_get_type (const flux_msg_t *msg, int *type);
int flux_msg_set_topic (flux_msg_t *msg, const char *topic);
int flux_msg_get_topic (const flux_msg_t *msg, const char **topic);
int flux_msg_set_string (flux_msg_t *msg, const char *s);
int flux_msg_get_payload (const flux_msg_t *msg, const void **buf, size_t *size);
bool flux_msg_has_payload (const flux_msg_t *msg);
int flux_msg_set_flag (flux_msg_t *msg, int flag);
bool flux_msg_has_flag (const flux_msg_t *msg, int flag);
int flux_msg_set_nodeid (flux_msg_t *msg, uint32_t nodeid);
int flux_msg_get_nodeid (const flux_msg_t *msg, uint32_t *nodeid);
int flux_msg_set_errnum (flux_msg_t *msg, int errnum);
int flux_msg_get_errnum (const flux_msg_t *msg, int *errnum);
int flux_msg_set_seq (flux_msg_t *msg, uint32_t seq);
int flux_msg_get_seq (const flux_msg_t *msg, uint32_t *seq);
int flux_msg_set_matchtag (flux_msg_t *msg, uint32_t matchtag);
int flux_msg_get_matchtag (const flux_msg_t *msg, uint32_t *matchtag);
int flux_msg_set_cred (flux_msg_t *msg, struct flux_msg_cred cred);
int flux_msg_get_cred (const flux_msg_t *msg, struct flux_msg_cred *cred);

flux_future_t *flux_job_submit (flux_t *h, const char *jobspec, int urgency, int flags);
bool flux_future_is_ready (flux_future_t *f);
int flux_future_get (flux_future_t *f, const void **result);
const char *flux_future_error_string (flux_future_t *f);
int flux_future_fulfill_error (flux_future_t *f, int errnum, const char *errstr);
void flux_future_destroy (flux_future_t *f);
"""

# The function names in CDEF, in order: checked against the library at load
# time (a missing symbol is a clear error, not an AttributeError later).
FUNCTIONS: Final = tuple(
    line.split("(", 1)[0].split()[-1].lstrip("*")
    for line in CDEF.splitlines()
    if line.endswith(");") and not line.startswith(("typedef", " "))
)

# -- constants (the headers' enum values; they are part of the ABI) --------------

# handle.h: flux_open() / flux_send() / flux_recv() flags.
FLUX_O_NONBLOCK: Final = 4
FLUX_O_NOREQUEUE: Final = 64
# handle.h: flux_pollevents() bits.
FLUX_POLLIN: Final = 1
FLUX_POLLOUT: Final = 2
FLUX_POLLERR: Final = 4
# message.h
FLUX_MSGTYPE_ANY: Final = 0x0F
FLUX_MSGTYPE_REQUEST: Final = 0x01
FLUX_MSGTYPE_RESPONSE: Final = 0x02
FLUX_MSGTYPE_EVENT: Final = 0x04
FLUX_MSGFLAG_NORESPONSE: Final = 0x04
FLUX_MSGFLAG_UPSTREAM: Final = 0x10
FLUX_MSGFLAG_PRIVATE: Final = 0x20
FLUX_MSGFLAG_STREAMING: Final = 0x40
FLUX_MSGFLAG_USER1: Final = 0x80
#: The flags a sender may set; TOPIC/PAYLOAD/ROUTE are managed by libflux.
FLUX_MSGFLAG_SETTABLE: Final = (
    FLUX_MSGFLAG_NORESPONSE
    | FLUX_MSGFLAG_UPSTREAM
    | FLUX_MSGFLAG_PRIVATE
    | FLUX_MSGFLAG_STREAMING
    | FLUX_MSGFLAG_USER1
)
FLUX_MATCHTAG_NONE: Final = 0
FLUX_USERID_UNKNOWN: Final = 0xFFFFFFFF
FLUX_ROLE_NONE: Final = 0
# job.h
FLUX_JOB_URGENCY_DEFAULT: Final = 16
