package omm

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/openomm/omm/events"
)

// CredentialWarning is how long before a deployment credential (the APNs
// push certificate, the serving certificate) expires the SDK warns: the
// admin API marks it expiring and the event stream of every org gets
// events.CredentialExpiring, once a day however many replicas run.
const CredentialWarning = 30 * 24 * time.Hour

// Names of the deployment credentials [SDK.Credentials] reports.
const (
	CredentialPush    = "apns"
	CredentialServing = "serving"
)

// Credential is a deployment credential's expiry, as the admin API shows
// it.
type Credential struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	// Topic is the push topic of the APNs certificate.
	Topic    string    `json:"topic,omitempty"`
	NotAfter time.Time `json:"not_after"`
	// Expiring: within CredentialWarning of NotAfter; Expired: past it.
	Expiring bool `json:"expiring"`
	Expired  bool `json:"expired"`
}

// pushCertificate is a push client with a certificate (an *apns.Client).
type pushCertificate interface {
	Certificate() *x509.Certificate
	Topic() string
	ReplaceCertificate(cert tls.Certificate) error
}

// ErrNoPushCertificate reports a push certificate replacement on an SDK
// whose push client has no certificate (none configured, or a provider
// token).
var ErrNoPushCertificate = errors.New("omm: push does not use a certificate")

// Credentials returns the expiry of the APNs push certificate (when push
// uses one) and of the serving certificate (when Config.ServingCertificate
// gives it), each marked expiring within CredentialWarning.
func (s *SDK) Credentials() []Credential {
	now := s.now()
	out := []Credential{}
	add := func(name string, c *x509.Certificate, topic string) {
		if c == nil {
			return
		}
		out = append(out, Credential{Name: name, Subject: c.Subject.String(), Topic: topic, NotAfter: c.NotAfter.UTC(),
			Expiring: !now.Add(CredentialWarning).Before(c.NotAfter), Expired: !now.Before(c.NotAfter)})
	}
	if p, ok := s.push.(pushCertificate); ok {
		if c := p.Certificate(); c != nil {
			add(CredentialPush, c, p.Topic())
		}
	}
	if s.serving != nil {
		add(CredentialServing, s.serving(), "")
	}
	return out
}

// ReplacePushCertificate replaces the APNs push certificate without a
// restart: the certificate Apple renewed for the same topic. A certificate
// for another topic is refused (apns.ErrTopicMismatch, saying both
// topics): the enrolled devices' MDM profiles name the topic, and they
// would never be woken again.
func (s *SDK) ReplacePushCertificate(cert tls.Certificate) error {
	p, ok := s.push.(pushCertificate)
	if !ok || p.Certificate() == nil {
		return ErrNoPushCertificate
	}
	old := p.Certificate()
	if err := p.ReplaceCertificate(cert); err != nil {
		return fmt.Errorf("omm: replace the push certificate: %w", err)
	}
	s.log.Info("push certificate replaced", "topic", p.Topic(), "old_not_after", old.NotAfter, "new_not_after", p.Certificate().NotAfter)
	return nil
}

// credentialWarnings remembers when each credential was last warned of,
// so that a process looks at most once a day; the event itself is emitted
// under a lease (CredentialWarningLease), so once a day for the
// deployment, not once per replica.
type credentialWarnings struct {
	mu   sync.Mutex
	last map[string]time.Time // name + NotAfter → when
	// holder is this process's lease holder name: its own, not the
	// replica's, so that a replica restarted within the day does not take
	// its own lease again and warn twice.
	holder string
}

// CredentialWarningLease prefixes the per-org lease under which one
// replica emits a day's events.CredentialExpiring for a credential; the
// lease's name ends with the credential's name and NotAfter, so a
// replaced credential is warned of afresh.
const CredentialWarningLease = "credential-warning:"

// warnCredentials logs and emits events.CredentialExpiring to every org
// for each credential within CredentialWarning of its expiry, once a day.
func (s *SDK) warnCredentials(ctx context.Context) {
	now := s.now()
	var due []Credential
	s.warned.mu.Lock()
	if s.warned.last == nil {
		s.warned.last = map[string]time.Time{}
		s.warned.holder = "warn-" + rand.Text()
	}
	holder := s.warned.holder
	for _, c := range s.Credentials() {
		key := c.Name + " " + c.NotAfter.String()
		if !c.Expiring || now.Sub(s.warned.last[key]) < 24*time.Hour {
			continue
		}
		s.warned.last[key] = now
		due = append(due, c)
	}
	s.warned.mu.Unlock()
	if len(due) == 0 {
		return
	}
	orgs, err := s.Store.ListOrgs(ctx)
	if err != nil {
		s.log.Error("credential warnings: list orgs", "err", err)
		return
	}
	for _, c := range due {
		s.log.Warn("credential expires soon: replace it before it does", "credential", c.Name, "subject", c.Subject, "not_after", c.NotAfter)
		lease := fmt.Sprintf("%s%s:%d", CredentialWarningLease, c.Name, c.NotAfter.Unix())
		for _, o := range orgs {
			// The lease first: a replica that dies between the two skips
			// the day's event (the log and the admin API still say it),
			// which is better than every replica sending its own.
			mine, err := s.Store.TakeLease(ctx, o.ID, lease, holder, now, now.Add(24*time.Hour))
			if err != nil {
				s.log.Warn("credential warnings: take the org's lease", "org", o.ID, "err", err)
				continue
			}
			if !mine {
				continue
			}
			if _, err := s.Store.AppendEvent(ctx, events.Event{ID: events.NewID(), Org: o.ID, Kind: events.CredentialExpiring,
				Time: now, Actor: "system", Data: map[string]string{"credential": c.Name, "not_after": c.NotAfter.Format(time.RFC3339)}}); err != nil {
				s.log.Warn("credential warnings: record the event", "org", o.ID, "err", err)
			}
		}
	}
}

func (s *SDK) adminCredentials(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"credentials": s.Credentials(), "warning": CredentialWarning.String()})
}
