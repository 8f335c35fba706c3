package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"

	"github.com/openomm/omm/events/webhook"
)

// newWebhook delivers the event stream to -webhook, signed with the
// secret in -webhook-secret-file (surrounding white space ignored).
func newWebhook(s store, cfg config, replica string, log *slog.Logger) (*webhook.Deliverer, error) {
	if cfg.webhookSecretFile == "" {
		return nil, fmt.Errorf("-webhook needs -webhook-secret-file: the receiver verifies each delivery with the shared secret")
	}
	secret, err := os.ReadFile(cfg.webhookSecretFile)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	d, err := webhook.New(s, cfg.webhook, bytes.TrimSpace(secret), webhook.WithLogger(log), webhook.WithLease(replica, 0))
	if err != nil {
		return nil, fmt.Errorf("-webhook: %w", err)
	}
	return d, nil
}
