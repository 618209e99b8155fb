/*-------------------------------------------------------------------------
 *
 * http.c
 *	  The libcurl transport of the worker: one multi handle, many transfers
 *	  at once, connections and TLS sessions reused.
 *
 * libcurl's sockets are kept in a private epoll set (CURLMOPT_SOCKETFUNCTION)
 * whose descriptor sits in the worker's WaitEventSet beside its latch and
 * postmaster death, so one wait covers new work, network readiness and
 * curl's own timers (CURLMOPT_TIMERFUNCTION).  Every transfer has connect
 * and total timeouts, speaks only http and https, follows no redirects,
 * and verifies TLS peers against the system store or gwresize.ca_file.
 * Nothing here logs a header or a body: they carry secrets.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <malloc.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "gwresize.h"

struct GwTransfer
{
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *body;			/* the request's, sent from there: no copy */
	size_t		body_len;
	MemoryContext cxt;			/* where the answer is accumulated */
	GwHttpResponse resp;
	GwTransferDone done;
	void	   *arg;
	int			sends;			/* times libcurl began sending the request */
	bool		interim;		/* reading the headers of a 1xx answer */
	char		errbuf[CURL_ERROR_SIZE];
};


static CURLM *multi = NULL;
static CURLSH *share = NULL;
static int	epfd = -1;
static WaitEventSet *wait_set = NULL;
static TimestampTz curl_deadline = 0;	/* 0: no curl timer pending */

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev;

	if (what == CURL_POLL_REMOVE)
	{
		(void) epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(multi, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (socketp == NULL)
	{
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
			(void) epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
		curl_multi_assign(multi, s, (void *) 1);
	}
	else
		(void) epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
	return 0;
}

static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	if (timeout_ms < 0)
		curl_deadline = 0;
	else
		curl_deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													timeout_ms);
	return 0;
}

/*
 * libcurl's memory, zeroed when it is given back: its buffers held what was
 * sent and received (signed headers, credentials in answers).  The worker
 * is the only process of ours that uses libcurl.
 */
static void
zeroing_free(void *p)
{
	if (p)
	{
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *
zeroing_realloc(void *p, size_t size)
{
	void	   *q;
	size_t		old;

	if (p == NULL)
		return malloc(size);
	if (size == 0)
	{
		zeroing_free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	q = malloc(size);
	if (q == NULL)
		return NULL;
	memcpy(q, p, Min(old, size));
	zeroing_free(p);
	return q;
}

/* TLS: what was deciphered is cleansed once libcurl has it */
static CURLcode
ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *arg)
{
#ifdef SSL_OP_CLEANSE_PLAINTEXT
	SSL_CTX_set_options((SSL_CTX *) ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
#endif
	return CURLE_OK;
}

static void
gw_http_cleanup(int code, Datum arg)
{
	if (multi)
		curl_multi_cleanup(multi);
	if (share)
		curl_share_cleanup(share);
	multi = NULL;
	share = NULL;
	curl_global_cleanup();
}

/*
 * gw_http_init
 *		Set up libcurl for this process.  Called once by the worker.
 */
void
gw_http_init(void)
{
	if (curl_global_init_mem(CURL_GLOBAL_ALL, malloc, zeroing_free,
							 zeroing_realloc, strdup, calloc) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	share = curl_share_init();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (multi == NULL || share == NULL || epfd < 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize the HTTP transport: %m")));
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	gw_http_apply_settings();
	on_proc_exit(gw_http_cleanup, (Datum) 0);

	wait_set = gw_wait_event_set_new(3);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wait_set, WL_SOCKET_READABLE, epfd, NULL, NULL);
}

/*
 * gw_http_apply_settings
 *		(Re)apply gwresize.max_connections: the connections kept open, in
 *		all and per host.  Called at start and after a reload.
 */
void
gw_http_apply_settings(void)
{
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) gw_max_connections);
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) gw_max_connections);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) gw_max_connections);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	GwTransfer *t = (GwTransfer *) userdata;
	size_t		n = size * nmemb;
	MemoryContext old;

	if (t->resp.body.len + n > GW_RESPONSE_MAX)
	{
		t->resp.too_large = true;
		return 0;				/* aborts the transfer */
	}
	old = MemoryContextSwitchTo(t->cxt);
	if (t->resp.body.len + (int) n >= t->resp.body.maxlen)
	{
		/* grow by hand: the smaller buffer is zeroed, not left behind */
		StringInfoData grown;

		initStringInfo(&grown);
		enlargeStringInfo(&grown, Max(t->resp.body.maxlen * 2,
									  t->resp.body.len + (int) n + 1) - 1);
		appendBinaryStringInfo(&grown, t->resp.body.data, t->resp.body.len);
		explicit_bzero(t->resp.body.data, t->resp.body.len);
		pfree(t->resp.body.data);
		t->resp.body = grown;
	}
	appendBinaryStringInfo(&t->resp.body, ptr, n);
	MemoryContextSwitchTo(old);
	return n;
}

/* the value of "Name: value\r\n" when the line's name is name, else NULL */
static char *
header_value(const char *line, size_t len, const char *name)
{
	size_t		nlen = strlen(name);
	const char *v;
	const char *end = line + len;

	if (len <= nlen || pg_strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return NULL;
	v = line + nlen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return pnstrdup(v, end - v);
}

/*
 * header_cb
 *		Keep the headers we read (request id, retry hint, IAM token) of the
 *		final answer only: a status line starts a new answer, and the
 *		headers of interim 1xx answers are ignored.  Values longer than
 *		GW_HEADER_MAX are not kept.
 */
static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	GwTransfer *t = (GwTransfer *) userdata;
	size_t		n = size * nitems;
	MemoryContext old;
	char	   *v;

	if (n > 5 && strncmp(buffer, "HTTP/", 5) == 0)
	{
		const char *sp = memchr(buffer, ' ', n);

		t->interim = sp != NULL && sp + 1 < buffer + n && sp[1] == '1';
		t->resp.request_id = NULL;
		t->resp.retry_after = NULL;
		t->resp.subject_token = NULL;
		return n;
	}
	if (t->interim || n > GW_HEADER_MAX)
		return n;
	old = MemoryContextSwitchTo(t->cxt);
	if ((v = header_value(buffer, n, "x-acs-request-id")) != NULL ||
		(v = header_value(buffer, n, "X-Request-Id")) != NULL)
		t->resp.request_id = v;
	else if ((v = header_value(buffer, n, "x-acs-retry-after")) != NULL ||
			 (v = header_value(buffer, n, "Retry-After")) != NULL)
		t->resp.retry_after = v;
	else if ((v = header_value(buffer, n, "X-Subject-Token")) != NULL)
		t->resp.subject_token = v;
	MemoryContextSwitchTo(old);
	return n;
}

/*
 * prereq_cb
 *		Called each time libcurl is about to send the request.  libcurl
 *		silently re-sends a request whose reused connection died without an
 *		answer; we refuse that second send, so every attempt is ours, counted
 *		and freshly signed (and a non-idempotent Huawei POST is not doubled
 *		behind our back).
 */
static int
prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		  int conn_primary_port, int conn_local_port)
{
	GwTransfer *t = (GwTransfer *) clientp;

	if (++t->sends > 1)
		return CURL_PREREQFUNC_ABORT;
	return CURL_PREREQFUNC_OK;
}

static void
setopt_checked(CURLcode rc)
{
	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not set up an HTTP transfer"),
				 errdetail_internal("%s", curl_easy_strerror(rc))));
}

/*
 * gw_http_start
 *		Start sending req; done(t, arg) is called from
 *		gw_http_wait_and_dispatch once the answer, or a transport failure,
 *		is in.  The transfer and its answer live in CurrentMemoryContext,
 *		which must outlive the transfer.
 */
GwTransfer *
gw_http_start(GwServer *server, GwHttpRequest *req, GwTransferDone done,
			  void *arg)
{
	GwTransfer *t = palloc0(sizeof(GwTransfer));
	ListCell   *lc;
	bool		has_ctype = false;
	CURLMcode	mrc;

	t->cxt = CurrentMemoryContext;
	t->done = done;
	t->arg = arg;
	initStringInfo(&t->resp.body);
	t->easy = curl_easy_init();
	if (t->easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP transfer")));

	foreach(lc, req->headers)
	{
		GwHeader   *h = (GwHeader *) lfirst(lc);
		char	   *line = psprintf("%s: %s", h->name, h->value);

		has_ctype |= pg_strcasecmp(h->name, "Content-Type") == 0;
		t->headers = curl_slist_append(t->headers, line);
		if (h->secret)
			explicit_bzero(line, strlen(line));
		pfree(line);
	}
	/* no 100-continue round trip; no form content type on empty POSTs */
	t->headers = curl_slist_append(t->headers, "Expect:");
	if (!has_ctype)
		t->headers = curl_slist_append(t->headers, "Content-Type:");

	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_URL, req->url));
	if (strcmp(req->method, "GET") == 0)
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L));
	else
	{
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_POST, 1L));
		/* sent from req's memory, which outlives the transfer: no copy */
		t->body = req->body ? req->body : "";
		t->body_len = req->body ? req->body_len : 0;
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE,
										(long) t->body_len));
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body));
		/* PUT (a metadata session token): a POST's framing, another verb */
		if (strcmp(req->method, "POST") != 0)
			setopt_checked(curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST,
											req->method));
	}
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers));
#if LIBCURL_VERSION_NUM >= 0x075500
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https"));
#else
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS,
									(long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)));
#endif
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L));
	if (req->direct)
	{
		/* no proxy, whatever http_proxy and the like say in our environment */
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_PROXY, ""));
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "*"));
	}
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L));
	/* a request may ask for less time than the server's (metadata services) */
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
									(long) (req->timeout_ms > 0 ?
											Min(req->timeout_ms, server->connect_timeout_ms) :
											server->connect_timeout_ms)));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS,
									(long) (req->timeout_ms > 0 ?
											Min(req->timeout_ms, server->timeout_ms) :
											server->timeout_ms)));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "gwresize/1.0"));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_SHARE, share));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb));
	if (gw_ca_file && gw_ca_file[0] != '\0')
		setopt_checked(curl_easy_setopt(t->easy, CURLOPT_CAINFO, gw_ca_file));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, header_cb));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_PREREQFUNCTION, prereq_cb));
	setopt_checked(curl_easy_setopt(t->easy, CURLOPT_PREREQDATA, t));

	mrc = curl_multi_add_handle(multi, t->easy);
	if (mrc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start an HTTP transfer"),
				 errdetail_internal("%s", curl_multi_strerror(mrc))));
	return t;
}

GwHttpResponse *
gw_http_response(GwTransfer *t)
{
	return &t->resp;
}

/*
 * gw_http_release
 *		Free a transfer's libcurl objects (its memory goes with its context),
 *		first zeroing what may hold a secret: the header lines given to
 *		libcurl, the request body and the answer's body (a credential
 *		source's answer is the credentials).  Safe on a transfer still
 *		running: it is cancelled.  libcurl's own buffers are not ours to
 *		zero.
 */
void
gw_http_release(GwTransfer *t)
{
	struct curl_slist *h;

	if (t->easy)
	{
		(void) curl_multi_remove_handle(multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	if (t->headers)
	{
		for (h = t->headers; h; h = h->next)
			explicit_bzero(h->data, strlen(h->data));
		curl_slist_free_all(t->headers);
		t->headers = NULL;
	}
	if (t->body_len > 0)
	{
		explicit_bzero(t->body, t->body_len);
		t->body_len = 0;
	}
	if (t->resp.body.len > 0)
		explicit_bzero(t->resp.body.data, t->resp.body.len);
	if (t->resp.subject_token)
		explicit_bzero(t->resp.subject_token, strlen(t->resp.subject_token));
}

static void
dispatch_finished(void)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		GwTransfer *t;
		GwTransferDone done;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		t->resp.curl_code = msg->data.result;
		t->resp.sent = t->sends > 0;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->resp.http_status);
		if (msg->data.result != CURLE_OK)
		{
			MemoryContext old = MemoryContextSwitchTo(t->cxt);

			if (t->resp.too_large)
				t->resp.curl_error = psprintf("the answer exceeded %d bytes and was cut off",
											  GW_RESPONSE_MAX);
			else if (t->sends > 1)
				t->resp.curl_error = pstrdup("the connection closed before an answer came");
			else
				t->resp.curl_error = pstrdup(t->errbuf[0] ? t->errbuf :
											 curl_easy_strerror(msg->data.result));
			MemoryContextSwitchTo(old);
		}
		curl_multi_remove_handle(multi, t->easy);
		done = t->done;
		t->done = NULL;
		done(t, t->arg);
	}
}

/*
 * gw_http_wait_and_dispatch
 *		Sleep until the latch is set, a socket is ready, a curl timer fires
 *		or timeout_ms passes (-1: no limit of our own), then drive libcurl
 *		and call the done callbacks of finished transfers.  Exits the
 *		process if the postmaster dies.
 */
void
gw_http_wait_and_dispatch(long timeout_ms)
{
	WaitEvent	events[3];
	int			nevents;
	int			running;
	bool		sockets_ready = false;
	int			i;

	if (curl_deadline != 0)
	{
		long		secs;
		int			usecs;
		long		curl_ms;

		TimestampDifference(GetCurrentTimestamp(), curl_deadline, &secs, &usecs);
		curl_ms = secs * 1000 + (usecs + 999) / 1000;
		if (timeout_ms < 0 || curl_ms < timeout_ms)
			timeout_ms = curl_ms;
	}

	nevents = WaitEventSetWait(wait_set, timeout_ms, events, lengthof(events),
							   GW_WAIT_WORKER);
	for (i = 0; i < nevents; i++)
		if (events[i].events & WL_SOCKET_READABLE)
			sockets_ready = true;

	if (sockets_ready)
	{
		struct epoll_event evs[64];
		int			n;

		n = epoll_wait(epfd, evs, lengthof(evs), 0);
		for (i = 0; i < n; i++)
		{
			int			flags = 0;

			if (evs[i].events & (EPOLLIN | EPOLLHUP))
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & EPOLLERR)
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
		}
	}
	if (curl_deadline != 0 && GetCurrentTimestamp() >= curl_deadline)
	{
		curl_deadline = 0;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	dispatch_finished();
}
