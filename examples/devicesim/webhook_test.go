package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadWebhook: a load run receives the server's event webhook: every
// event the server wrote arrives, signed, with its lag measured.
func TestLoadWebhook(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("a secret for the load run's webhook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ts := startServerArgs(t, "-allow-simulators", "-webhook", "http://"+addr+"/hook", "-webhook-secret-file", secret)
	out := &syncBuffer{}
	cfg := loadConfig{commonFlags: ts.flags("bob"), devices: 10, concurrency: 5, duration: 2 * time.Second, maxRequests: 1_000_000,
		progress: time.Second, adminToken: ts.adminToken, refreshRate: 10, drain: true, webhookListen: addr, webhookSecret: secret}
	res, err := runLoad(t.Context(), cfg, out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	w := res.Webhook
	if w == nil || w.Events < 10 || w.Missing != 0 || w.Refused != 0 || w.LagMax <= 0 {
		t.Fatalf("webhook: %+v\n%s", w, out)
	}
	if !strings.Contains(out.String(), "webhook:    ") {
		t.Errorf("the summary lacks the webhook line:\n%s", out)
	}
	if _, err := parseLoad([]string{"-password", "x", "-webhook-listen", "127.0.0.1:1"}, &syncBuffer{}); err == nil {
		t.Error("-webhook-listen without its secret was accepted")
	}
}
