// Package apns sends the MDM "wake up and check in" push through Apple Push
// Notification service over HTTP/2.
//
// An MDM push carries no message: its payload is the device's PushMagic, and
// the device answers by checking in with the server. So a push either
// reached APNs or it did not, and the one result that changes stored state
// is a dead token (HTTP 410, or a token APNs rejects as bad): the device must
// send a new TokenUpdate before it can be reached again.
//
// Authentication is by the MDM push certificate (the usual case: the topic
// is the certificate's UID) or by a provider token (ES256 JWT). Concurrency
// is bounded per [Client], so fanning out to 100,000 devices keeps a fixed
// number of streams in flight.
package apns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoints of APNs. MDM push certificates from Apple's push certificates
// portal are production certificates.
const (
	Production  = "https://api.push.apple.com"
	Development = "https://api.sandbox.push.apple.com"
)

// maxResponse bounds how much of an APNs answer is read: error bodies are a
// short JSON object.
const maxResponse = 4 << 10

// Client sends MDM pushes. It is safe for concurrent use.
type Client struct {
	topic       string
	topicHeader []string                        // {topic}, shared by every request
	cert        atomic.Pointer[tls.Certificate] // nil with token authentication
	base        *url.URL                        // the endpoint, parsed once
	conns       []*http.Client                  // one HTTP/2 connection each, used in turn
	next        atomic.Uint64
	token       *providerToken // nil with certificate authentication
	sem         chan struct{}
	log         *slog.Logger
}

// Option configures [New].
type Option func(*settings) error

type settings struct {
	endpoint    string
	cert        *tls.Certificate
	token       *providerToken
	roots       *x509.CertPool
	concurrency int
	connections int
	timeout     time.Duration
	clock       func() time.Time
	log         *slog.Logger
}

// WithCertificate authenticates with the MDM push certificate and its key.
func WithCertificate(cert tls.Certificate) Option {
	return func(s *settings) error {
		if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
			return errors.New("apns: push certificate without certificate or key")
		}
		s.cert = &cert
		return nil
	}
}

// WithEndpoint sets the APNs base URL: [Production] (the default),
// [Development], or a local fake for tests and load runs.
func WithEndpoint(url string) Option {
	return func(s *settings) error {
		if !strings.HasPrefix(url, "https://") {
			return fmt.Errorf("apns: endpoint %q: APNs is only spoken over https", url)
		}
		s.endpoint = strings.TrimSuffix(url, "/")
		return nil
	}
}

// WithRootCAs sets the roots that the endpoint's TLS certificate must chain
// to (default: the system roots). Tests and local fakes need it.
func WithRootCAs(roots *x509.CertPool) Option {
	return func(s *settings) error { s.roots = roots; return nil }
}

// WithConcurrency bounds the pushes in flight at once, over all
// connections (default 100). More is not faster: on a 2-core machine 64–100
// streams in flight beat 500 by about 2× (BenchmarkPushAllStreams), since
// each extra stream costs goroutines and buffers on both ends.
func WithConcurrency(n int) Option {
	return func(s *settings) error {
		if n < 1 {
			return fmt.Errorf("apns: concurrency %d: at least 1", n)
		}
		s.concurrency = n
		return nil
	}
}

// WithConnections sets how many HTTP/2 connections pushes are spread over
// (default 2). One connection serializes every frame through one TLS
// stream and one writer; a large fan-out is faster over a few, as Apple
// recommends for high volumes.
func WithConnections(n int) Option {
	return func(s *settings) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("apns: connections %d: want 1…64", n)
		}
		s.connections = n
		return nil
	}
}

// WithTimeout bounds one push, request and answer (default 15s).
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error { s.timeout = d; return nil }
}

// WithClock sets the clock used to date provider tokens.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error { s.clock = now; return nil }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error { s.log = l; return nil }
}

// New returns a client that pushes on topic (for MDM, the UID of the push
// certificate's subject; see [Topic]). Exactly one of [WithCertificate] and
// [WithToken] must be given.
func New(topic string, opts ...Option) (*Client, error) {
	s := settings{endpoint: Production, concurrency: 100, connections: 2, timeout: 15 * time.Second, clock: time.Now, log: slog.Default()}
	for _, o := range opts {
		if err := o(&s); err != nil {
			return nil, err
		}
	}
	if topic == "" {
		return nil, errors.New("apns: empty topic")
	}
	if (s.cert == nil) == (s.token == nil) {
		return nil, errors.New("apns: configure exactly one of a push certificate or a provider token")
	}
	c := &Client{topic: topic}
	tlsConf := &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
	if s.cert != nil {
		if s.cert.Leaf == nil {
			leaf, err := x509.ParseCertificate(s.cert.Certificate[0])
			if err != nil {
				return nil, fmt.Errorf("apns: push certificate: %w", err)
			}
			s.cert.Leaf = leaf
		}
		c.cert.Store(s.cert)
		// Read at every handshake, so that ReplaceCertificate takes
		// effect on the next connection.
		tlsConf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c.cert.Load(), nil }
	}
	// A transport per connection: net/http keeps one HTTP/2 connection
	// per host and transport while it has free streams.
	conns := make([]*http.Client, s.connections)
	for i := range conns {
		transport := &http.Transport{
			TLSClientConfig:     tlsConf.Clone(),
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     5 * time.Minute,
		}
		conns[i] = &http.Client{Transport: transport, Timeout: s.timeout}
	}
	if s.token != nil {
		s.token.clock = s.clock
	}
	base, err := url.Parse(s.endpoint)
	if err != nil {
		return nil, fmt.Errorf("apns: endpoint %q: %w", s.endpoint, err)
	}
	c.topicHeader, c.base, c.conns, c.token, c.sem, c.log = []string{topic}, base, conns, s.token, make(chan struct{}, s.concurrency), s.log
	return c, nil
}

// ErrTopicMismatch reports a replacement push certificate for another
// topic than the client's: devices enrolled with the old topic would
// never be reached (Apple delivers a push only on the topic the device's
// MDM profile names), so it is refused.
var ErrTopicMismatch = errors.New("apns: the new push certificate is for another topic")

// ReplaceCertificate replaces the push certificate of a client made with
// [WithCertificate], without a restart: the renewed certificate Apple
// issues for the same push topic. A certificate for another topic is
// refused with ErrTopicMismatch, one without a key or not an MDM push
// certificate with an error, and nothing changes. Connections made from
// then on present the new certificate; idle ones are closed.
func (c *Client) ReplaceCertificate(cert tls.Certificate) error {
	if c.cert.Load() == nil {
		return errors.New("apns: the client authenticates with a provider token, not a certificate")
	}
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return errors.New("apns: push certificate without certificate or key")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("apns: push certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	topic, err := Topic(leaf)
	if err != nil {
		return err
	}
	if topic != c.topic {
		return fmt.Errorf("%w: it is for %q, the enrolled devices listen on %q; get the certificate renewed for the same topic (Apple's push certificates portal: renew, do not create)",
			ErrTopicMismatch, topic, c.topic)
	}
	c.cert.Store(&cert)
	c.Close()
	return nil
}

// Certificate returns the push certificate in use, nil with token
// authentication: its NotAfter is when pushes stop.
func (c *Client) Certificate() *x509.Certificate {
	if cert := c.cert.Load(); cert != nil {
		return cert.Leaf
	}
	return nil
}

// Topic returns the push topic the client pushes on.
func (c *Client) Topic() string { return c.topic }

// Close releases idle connections.
func (c *Client) Close() {
	for _, h := range c.conns {
		h.CloseIdleConnections()
	}
}

// Target is one device to wake: the token and push magic from its latest
// TokenUpdate.
type Target struct {
	Token     []byte
	PushMagic string
}

// Push wakes one device. It returns the apns-id of the accepted
// notification, or an error: an [*Error] for an answer from APNs (check it
// with errors.Is against [ErrTokenDead], [ErrAuth], [ErrRetry]), or the
// transport's error.
func (c *Client) Push(ctx context.Context, t Target) (string, error) {
	if len(t.Token) == 0 || t.PushMagic == "" {
		return "", fmt.Errorf("apns: push: %w: target without token or push magic", ErrTokenDead)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.sem }()

	body := payload(t.PushMagic)
	u := *c.base
	u.Path = c.base.Path + "/3/device/" + hex.EncodeToString(t.Token)
	// The constant headers' values are shared by every request (the
	// transport only reads them); keys are already canonical.
	header := http.Header{"Content-Type": contentJSON, "Apns-Topic": c.topicHeader, "Apns-Push-Type": pushTypeMDM}
	if c.token != nil {
		auth, err := c.token.authorization()
		if err != nil {
			return "", err
		}
		header["Authorization"] = auth
	}
	req := (&http.Request{
		Method: http.MethodPost, URL: &u, Host: u.Host, Header: header,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		GetBody: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
	}).WithContext(ctx)
	resp, err := c.conns[c.next.Add(1)%uint64(len(c.conns))].Do(req)
	if err != nil {
		return "", fmt.Errorf("apns: push: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		// An accepted push has no body: nothing to read or allocate.
		return first(resp.Header["Apns-Id"]), nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	apiErr := &Error{Status: resp.StatusCode, ID: resp.Header.Get("apns-id")}
	var answer struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"`
	}
	if json.Unmarshal(raw, &answer) == nil {
		apiErr.Reason = answer.Reason
		if answer.Timestamp > 0 {
			apiErr.Unregistered = time.UnixMilli(answer.Timestamp).UTC()
		}
	}
	if errors.Is(apiErr, ErrAuth) {
		c.log.WarnContext(ctx, "apns: push refused: check the push certificate or provider token", "status", apiErr.Status, "reason", apiErr.Reason)
	}
	return "", apiErr
}

var (
	contentJSON = []string{"application/json"}
	pushTypeMDM = []string{"mdm"}
)

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// payload is the push's JSON body, {"mdm":"<push magic>"}. Push magic is a
// UUID in practice: it is copied as is when no character needs escaping,
// and encoded by encoding/json otherwise.
func payload(magic string) []byte {
	const open, end = `{"mdm":"`, `"}`
	for i := 0; i < len(magic); i++ {
		if c := magic[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(magic)
			return append(append([]byte(`{"mdm":`), quoted...), '}')
		}
	}
	b := make([]byte, 0, len(open)+len(magic)+len(end))
	return append(append(append(b, open...), magic...), end...)
}

// Result is the outcome of one push of [Client.PushAll].
type Result struct {
	Target Target
	ID     string // apns-id, when accepted
	Err    error
}

// PushAll wakes every target, at most the client's concurrency at a time,
// and returns one result per target in the same order. It returns when all
// are done or ctx ends (the remaining results then carry ctx's error).
func (c *Client) PushAll(ctx context.Context, targets []Target) []Result {
	results := make([]Result, len(targets))
	// As many workers as streams: a 100,000-device fan-out holds a fixed
	// number of goroutines, not one per device.
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(cap(c.sem), len(targets)) {
		wg.Go(func() {
			for i := range next {
				results[i].ID, results[i].Err = c.Push(ctx, targets[i])
			}
		})
	}
	for i, t := range targets {
		results[i].Target = t
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// Sentinel errors an [*Error] matches with errors.Is.
var (
	// ErrTokenDead: the token will never work again (410 Unregistered, or
	// rejected as a bad token or not for this topic). Stop pushing to it
	// until the device sends a new TokenUpdate.
	ErrTokenDead = errors.New("apns: device token is no longer valid")
	// ErrAuth: APNs refused the certificate or provider token (403). Every
	// push will fail the same way until the credentials are fixed.
	ErrAuth = errors.New("apns: credentials refused")
	// ErrRetry: APNs is throttling or failing (429, 5xx); retry later with
	// backoff.
	ErrRetry = errors.New("apns: temporarily unavailable")
)

// Error is an answer from APNs other than 200.
type Error struct {
	Status int    // HTTP status
	Reason string // APNs reason, such as "Unregistered" or "BadDeviceToken"
	ID     string // apns-id
	// Unregistered is when APNs learned the token stopped being valid
	// (410 only).
	Unregistered time.Time
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("apns: push refused with HTTP %d", e.Status)
	}
	return fmt.Sprintf("apns: push refused with HTTP %d: %s", e.Status, e.Reason)
}

// Is maps APNs answers onto the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTokenDead:
		return e.Status == http.StatusGone || e.Reason == "BadDeviceToken" || e.Reason == "DeviceTokenNotForTopic" || e.Reason == "Unregistered"
	case ErrAuth:
		return e.Status == http.StatusForbidden
	case ErrRetry:
		return e.Status == http.StatusTooManyRequests || e.Status >= 500
	}
	return false
}

// oidUID is the userId attribute, where Apple puts the push topic in an MDM
// push certificate's subject.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// Topic returns the push topic of an MDM push certificate: the UID of its
// subject ("com.apple.mgmt.External.<uuid>").
func Topic(cert *x509.Certificate) (string, error) {
	return topicFromName(cert.Subject)
}

func topicFromName(name pkix.Name) (string, error) {
	for _, atv := range name.Names {
		if atv.Type.Equal(oidUID) {
			if s, ok := atv.Value.(string); ok && s != "" {
				return s, nil
			}
		}
	}
	return "", errors.New("apns: certificate subject has no UID: not an MDM push certificate")
}
