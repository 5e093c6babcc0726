package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// Error types of a failed archive_recording, as operators see them.
const (
	// ErrTypeRecordingsNotConfigured: no bucket is configured (RUDDERHOOK_RECORDINGS_BUCKET).
	ErrTypeRecordingsNotConfigured = "RecordingsNotConfigured"
	// ErrTypeNoRecording: the call has no recording link, and Airudder gave none for its call ID.
	ErrTypeNoRecording = "NoRecording"
	// ErrTypeRecordingGone: the link answered 404 or 410: it expired, or the recording was deleted.
	ErrTypeRecordingGone = "RecordingGone"
	// ErrTypeRecordingTooLarge: the recording is larger than RUDDERHOOK_RECORDINGS_MAX_BYTES.
	ErrTypeRecordingTooLarge = "RecordingTooLarge"
)

// DefaultRecordingMaxBytes caps one recording: 200 MiB is over three hours of 8 kHz 16-bit WAV.
const DefaultRecordingMaxBytes = 200 << 20

const (
	// recordingIdleTimeout ends a download whose body sends nothing for this long (the attempt is retried):
	// the activity's own timeout is long (30 minutes), and a stalled connection must not use it all.
	recordingIdleTimeout = time.Minute
	// recordingHeartbeatEvery is how often a download tells Temporal how far it got.
	recordingHeartbeatEvery = 5 * time.Second
	// recordingMaxRedirects bounds the redirects a recording link may take (each is checked by the egress
	// policy, as the first address is).
	recordingMaxRedirects = 5
)

var (
	recordingsArchived = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rudderhook_recordings_archived_total",
		Help: "Call recordings archived to the bucket.",
	})
	recordingBytes = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rudderhook_recordings_archived_bytes_total",
		Help: "Bytes of call recordings archived to the bucket.",
	})
	recordingFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rudderhook_recordings_failures_total",
		Help: "Failed attempts to archive a call recording, by reason (not_configured, no_recording, lookup, refused, gone, too_large, rejected, unavailable, download, storage).",
	}, []string{"reason"})
)

// Recordings is the bucket that archive_recording puts call recordings in, opened from a Go CDK URL
// (gocloud.dev/blob): file:///dir (dev, tests, a mounted volume), s3://bucket?region=…, gs://bucket,
// azblob://container — the schemes whose drivers the binary links (cmd registers them).
type Recordings struct {
	Bucket *blob.Bucket
	// URL is the bucket's URL as configured; Location builds on it without its query.
	URL string
	// MaxBytes refuses a recording larger than this (DefaultRecordingMaxBytes when 0).
	MaxBytes int64
}

// OpenRecordings opens the bucket at rawURL and checks that it can be reached, so that a mistake in
// RUDDERHOOK_RECORDINGS_BUCKET stops the worker at start rather than failing every archive.
func OpenRecordings(ctx context.Context, rawURL string, maxBytes int64) (*Recordings, error) {
	if u, err := url.Parse(rawURL); err == nil && !blob.DefaultURLMux().ValidBucketScheme(u.Scheme) {
		return nil, fmt.Errorf("%s: this binary opens %s:// buckets (gs:// and azblob:// need a build with BUCKET_TAGS=\"gcs azure\")",
			redactBucketURL(rawURL), strings.Join(blob.DefaultURLMux().BucketSchemes(), "://, "))
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("open the recordings bucket %s: %w", redactBucketURL(rawURL), err)
	}
	ok, err := b.IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("it does not exist")
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("the recordings bucket %s cannot be reached: %w", redactBucketURL(rawURL), err)
	}
	return &Recordings{Bucket: b, URL: rawURL, MaxBytes: maxBytes}, nil
}

// Close closes the bucket.
func (r *Recordings) Close() error { return r.Bucket.Close() }

func (r *Recordings) maxBytes() int64 {
	if r.MaxBytes > 0 {
		return r.MaxBytes
	}
	return DefaultRecordingMaxBytes
}

// Location is where key is, as a URL an operator can use with the bucket's own tools: the bucket's URL
// without its query (options, possibly credentials) and the key.
func (r *Recordings) Location(key string) string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return key
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return strings.TrimSuffix(u.String(), "/") + "/" + key
}

// redactBucketURL is a bucket URL without its query, which may hold options with secrets.
func redactBucketURL(raw string) string {
	before, _, _ := strings.Cut(raw, "?")
	return before
}

// archiveRecording downloads a call's recording into the bucket, streaming it (never whole in memory,
// never in a Temporal payload) while it computes its size and SHA-256; the recording is written under a
// temporary key, then copied to recordings/{source}/{call key}/{sha256}{ext}, so that a key names its
// content and a half-written recording is never where one looks. A follow-up whose recording is in the
// bucket already is not fetched again. It answers the link's HTTP status (0 when nothing was fetched).
func (a *Activities) archiveRecording(ctx context.Context, fu rules.FollowUp) (int, error) {
	if a.Recordings == nil {
		recordingFailures.WithLabelValues("not_configured").Inc()
		return 0, temporal.NewNonRetryableApplicationError("recordings are not archived by this worker: no bucket is configured (RUDDERHOOK_RECORDINGS_BUCKET)",
			ErrTypeRecordingsNotConfigured, nil)
	}
	rec, err := a.Store.FollowUpByKey(ctx, fu.Key)
	if err != nil {
		return 0, fmt.Errorf("read follow-up %s: %w", fu.Key, err)
	}
	log := a.Log.With("follow_up", fu.Key, "workflow_id", rec.SubjectWorkflowID)
	if done, err := a.Store.RecordingByFollowUp(ctx, fu.Key); err == nil {
		if ok, err := a.Recordings.Bucket.Exists(ctx, done.BucketKey); err == nil && ok {
			log.Info("recording already archived", "key", done.BucketKey, "sha256", done.SHA256)
			return 0, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	link, err := a.recordingLink(ctx, fu, rec.SubjectWorkflowID)
	if err != nil {
		return 0, err
	}
	got, status, err := a.download(ctx, fu, link)
	if err != nil {
		return status, err
	}
	got.SubjectID, got.FollowUpKey, got.URL = rec.SubjectID, fu.Key, link
	if err := a.Store.RecordRecording(ctx, got); err != nil {
		return status, classifyDBError(err)
	}
	recordingsArchived.Inc()
	recordingBytes.Add(float64(got.Size))
	log.Info("recording archived", "from", redactURL(link), "location", got.Location, "size", got.Size, "sha256", got.SHA256)
	return status, nil
}

// recordingLink is where the recording is: the link of the call's shown revision (a later revision may
// have brought it), else the one planned, else, for a PDS call, the one Airudder's PDS API gives for
// its call ID.
func (a *Activities) recordingLink(ctx context.Context, fu rules.FollowUp, workflowID string) (string, error) {
	req := fu.Recording
	if req == nil {
		return "", temporal.NewNonRetryableApplicationError("the follow-up has no recording request", ErrTypeInvalidPlan, nil)
	}
	if subj, err := a.Store.SubjectByWorkflowID(ctx, workflowID); err == nil && subj.Call != nil && subj.Call.Call.RecordingURL != "" {
		return strings.TrimSpace(subj.Call.Call.RecordingURL), nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("read the call of %s: %w", fu.Key, err)
	}
	if req.URL != "" {
		return req.URL, nil
	}
	if req.CallID == "" {
		recordingFailures.WithLabelValues("no_recording").Inc()
		return "", temporal.NewNonRetryableApplicationError("the call has no recording link", ErrTypeNoRecording, nil)
	}
	if err := a.airudderConfigured(a.Airudder != nil && a.Airudder.PDSConfigured(),
		"AIRUDDER_PDS_APP_KEY, AIRUDDER_PDS_APP_SECRET or AIRUDDER_APP_KEY, AIRUDDER_APP_SECRET, to ask for the link of a PDS call that came without recLink"); err != nil {
		recordingFailures.WithLabelValues("not_configured").Inc()
		return "", err
	}
	link, err := a.Airudder.CaseRecording(ctx, req.CallID)
	if err != nil {
		recordingFailures.WithLabelValues("lookup").Inc()
		return "", a.airudderError(err, fu)
	}
	return link, nil
}

// downloadClient is the client that fetches recordings: links come from the sender, so it reaches what
// a rule's url: may (a.RuleURLs: public addresses, loopback when allowed), checked after DNS by the dialer
// and again for each redirect; it has no overall timeout (the activity's bounds the download) but waits at
// most two minutes for an answer's headers.
func (a *Activities) downloadClient() *http.Client {
	a.outboundMu.Lock()
	defer a.outboundMu.Unlock()
	if a.downloads == nil {
		p := a.RuleURLs
		t := outboundTransport(p)
		t.ResponseHeaderTimeout = 2 * time.Minute
		a.downloads = &http.Client{Transport: t, CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > recordingMaxRedirects {
				return fmt.Errorf("more than %d redirects", recordingMaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("a redirect to a %s: URL is not followed", req.URL.Scheme)
			}
			return p.CheckHost(req.URL.Hostname())
		}}
	}
	return a.downloads
}

// download streams link into the bucket and says where it went.
func (a *Activities) download(ctx context.Context, fu rules.FollowUp, link string) (*store.Recording, int, error) {
	dest := destination{url: link, policy: a.RuleURLs, limits: "recording links may reach only public addresses (" + rules.URLLimits + ")"}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		recordingFailures.WithLabelValues("rejected").Inc()
		return nil, 0, temporal.NewNonRetryableApplicationError("the recording link "+redactURL(link)+" is not an http(s) URL", ErrTypeTargetRejected, nil)
	}
	if err := a.RuleURLs.CheckHost(u.Hostname()); err != nil {
		recordingFailures.WithLabelValues("refused").Inc()
		return nil, 0, refused(err, u.Hostname(), dest)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, 0, temporal.NewNonRetryableApplicationError("the recording link "+redactURL(link)+": "+innerError(err).Error(), ErrTypeTargetRejected, nil)
	}
	req.Header.Set("User-Agent", "rudderhook")
	resp, err := a.downloadClient().Do(req)
	if errors.As(err, new(*egress.RefusedError)) {
		recordingFailures.WithLabelValues("refused").Inc()
		return nil, 0, refused(err, u.Hostname(), dest)
	}
	if err != nil {
		recordingFailures.WithLabelValues("download").Inc()
		return nil, 0, fmt.Errorf("GET %s: %w", redactURL(link), innerError(err))
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	if err := recordingStatus(resp, link); err != nil {
		return nil, status, err
	}
	limit := a.Recordings.maxBytes()
	if resp.ContentLength > limit {
		recordingFailures.WithLabelValues("too_large").Inc()
		return nil, status, tooLarge(link, resp.ContentLength, limit)
	}
	body := &meteredBody{r: resp.Body, max: limit, idle: time.AfterFunc(recordingIdleTimeout, func() {
		cancel(fmt.Errorf("the recording sent nothing for %s", recordingIdleTimeout))
	})}
	defer body.idle.Stop()
	hash := sha256.New()
	contentType := recordingContentType(resp.Header.Get("Content-Type"))
	r := a.Recordings
	prefix := recordingPrefix(fu)
	partial := prefix + ".partial-" + fu.Key
	stopBeat := heartbeat(ctx, &body.n)
	err = writeBlob(ctx, r.Bucket, partial, io.TeeReader(body, hash), contentType)
	stopBeat()
	switch {
	case body.over:
		recordingFailures.WithLabelValues("too_large").Inc()
		return nil, status, tooLarge(link, body.n.Load(), limit)
	case err != nil && context.Cause(ctx) != nil && ctx.Err() != nil:
		recordingFailures.WithLabelValues("download").Inc()
		return nil, status, fmt.Errorf("GET %s: %w after %d bytes", redactURL(link), context.Cause(ctx), body.n.Load())
	case err != nil:
		recordingFailures.WithLabelValues("storage").Inc()
		return nil, status, fmt.Errorf("archive %s to %s: %w", redactURL(link), redactBucketURL(r.URL), err)
	}
	sum := hex.EncodeToString(hash.Sum(nil))
	key := prefix + sum + recordingExt(u.Path, contentType)
	if err := promote(ctx, r.Bucket, partial, key); err != nil {
		recordingFailures.WithLabelValues("storage").Inc()
		return nil, status, fmt.Errorf("archive %s to %s: %w", redactURL(link), redactBucketURL(r.URL), err)
	}
	return &store.Recording{BucketKey: key, Location: r.Location(key), Size: body.n.Load(), SHA256: sum, ContentType: contentType}, status, nil
}

// recordingStatus says what the answer's status means: 2xx is the recording; 404 and 410 say the link
// expired or the recording is gone (for good); 408, 429 and 5xx are passing (retried, after Retry-After
// when given); any other is a refusal.
func recordingStatus(resp *http.Response, link string) error {
	status := resp.StatusCode
	if status >= 200 && status < 300 {
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	msg := fmt.Sprintf("the recording link %s answered HTTP %d: %s", redactURL(link), status, strings.TrimSpace(string(snippet)))
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		recordingFailures.WithLabelValues("gone").Inc()
		return temporal.NewNonRetryableApplicationError(msg+" (the link has expired, or the recording was deleted)", ErrTypeRecordingGone, nil)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		recordingFailures.WithLabelValues("unavailable").Inc()
		var delay time.Duration
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			delay = min(time.Duration(secs)*time.Second, time.Hour)
		}
		return temporal.NewApplicationErrorWithOptions(msg, "RecordingUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	recordingFailures.WithLabelValues("rejected").Inc()
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeTargetRejected, nil)
}

func tooLarge(link string, size, limit int64) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the recording at %s is larger than %d bytes (it sent %d; RUDDERHOOK_RECORDINGS_MAX_BYTES)",
		redactURL(link), limit, size), ErrTypeRecordingTooLarge, nil)
}

// writeBlob streams r to key, aborting the write (nothing is left under key) when reading fails.
func writeBlob(ctx context.Context, b *blob.Bucket, key string, r io.Reader, contentType string) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel() // abort: Close must not commit what was read so far
		_ = w.Close()
		return err
	}
	return w.Close()
}

// promote moves the partial recording to its final key, unless a recording with the same content is
// there already (an earlier attempt that stopped before it was recorded).
func promote(ctx context.Context, b *blob.Bucket, partial, key string) error {
	exists, err := b.Exists(ctx, key)
	if err != nil {
		return err
	}
	if !exists {
		if err := b.Copy(ctx, key, partial, nil); err != nil {
			return err
		}
	}
	if err := b.Delete(ctx, partial); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return err
	}
	return nil
}

// heartbeat tells Temporal, every few seconds until stopped, how many bytes the download has: the
// Temporal UI shows it, and a worker that died mid-download is noticed by the heartbeat timeout.
func heartbeat(ctx context.Context, n *atomic.Int64) (stop func()) {
	if !activity.IsActivity(ctx) || activity.GetInfo(ctx).IsLocalActivity {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(recordingHeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, n.Load())
			}
		}
	}()
	return func() { close(done) }
}

// meteredBody counts what it reads, refuses past max, and pushes the idle timer back at every read.
type meteredBody struct {
	r    io.Reader
	n    atomic.Int64
	max  int64
	over bool
	idle *time.Timer
}

var errRecordingTooLarge = errors.New("the recording is too large")

func (m *meteredBody) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		m.idle.Reset(recordingIdleTimeout)
		if m.n.Add(int64(n)) > m.max {
			m.over = true
			return 0, errRecordingTooLarge
		}
	}
	return n, err
}

// recordingPrefix is recordings/{source}/{call key}/, each part made safe for every bucket's keys (a call
// key "pds/{callid}" keeps its slash).
func recordingPrefix(fu rules.FollowUp) string {
	parts := []string{"recordings", fu.Recording.Source}
	parts = append(parts, strings.Split(fu.Recording.CallKey, "/")...)
	for i, p := range parts {
		p = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
				return r
			}
			return '_'
		}, p)
		if strings.Trim(p, ".") == "" {
			p = "_"
		}
		parts[i] = p
	}
	return strings.Join(parts, "/") + "/"
}

// recordingContentType is the answer's media type when it says audio, else audio/wav (Airudder's
// recordings are WAV; a server that says application/octet-stream still sends one).
func recordingContentType(header string) string {
	if mt, _, err := mime.ParseMediaType(header); err == nil && strings.HasPrefix(mt, "audio/") {
		return mt
	}
	return "audio/wav"
}

// recordingExt is the extension of the link's file when it is an audio one, else one for its media type.
func recordingExt(linkPath, contentType string) string {
	switch ext := strings.ToLower(path.Ext(linkPath)); ext {
	case ".wav", ".mp3", ".ogg", ".opus", ".m4a", ".flac", ".amr":
		return ext
	}
	switch contentType {
	case "audio/mpeg":
		return ".mp3"
	case "audio/ogg":
		return ".ogg"
	}
	return ".wav"
}
