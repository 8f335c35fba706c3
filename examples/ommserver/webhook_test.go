package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/events/webhook"
)

// TestWebhook: with -webhook the server delivers its event stream, signed;
// a deactivation in the admin API reaches the receiver, and the console's
// device page lists the device's recent events.
func TestWebhook(t *testing.T) {
	secret := "a webhook secret of some length\n"
	var mu sync.Mutex
	var got []events.Event
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte(strings.TrimSpace(secret)), r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var b webhook.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, b.Events...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	dir := filepath.Join(t.TempDir(), "data")
	secretFile := filepath.Join(t.TempDir(), "webhook-secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServerArgs(t, dir, "-postgres", "", "-webhook", recv.URL+"/hook", "-webhook-secret-file", secretFile)
	first := parseFirstStart(t, ts.out.String())
	users := must[struct{ Users []userView }](t, 200)(ts.do(t, "GET", "/api/admin/users", first.adminToken, nil))
	carol := ""
	for _, u := range users.Users {
		if u.Username == "carol" {
			carol = u.ID
		}
	}
	if st, out := ts.do(t, "POST", "/api/admin/users/"+carol+"/deactivate", first.adminToken, nil); st != 200 {
		t.Fatalf("deactivate: %d %s", st, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		i := slices.IndexFunc(got, func(e events.Event) bool { return e.Kind == events.UserDeactivated && e.User == carol })
		mu.Unlock()
		if i >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver never got carol's deactivation; it has %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The same events through the admin API.
	page := must[struct {
		Events []events.Event `json:"events"`
	}](t, 200)(ts.do(t, "GET", "/api/admin/events?newest=true&limit=5", first.adminToken, nil))
	if len(page.Events) == 0 || page.Events[0].Kind != events.UserDeactivated {
		t.Errorf("admin API events: %+v", page.Events)
	}
}

func TestWebhookFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-webhook", "http://example.com/hook"},       // plain http to another host
		{"-webhook", "https://hooks.example.com/omm"}, // no secret
		{"-webhook", "https://hooks.example.com/omm", "-webhook-secret-file", "/nonexistent"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		err := run(t.Context(), append([]string{"-data", dir, "-listen", "127.0.0.1:0", "-postgres", ""}, args...), io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "webhook") {
			t.Errorf("%q: %v, want a clear webhook error", args, err)
		}
	}
}
