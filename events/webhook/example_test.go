package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openomm/omm/events/webhook"
)

// A receiver checks each delivery's signature before it trusts the body.
func ExampleVerify() {
	secret := []byte("a shared secret of 32 characters")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// Decode a webhook.Batch from body; deduplicate by event ID.
		w.WriteHeader(http.StatusNoContent)
	})
	_ = handler

	body := []byte(`{"org":"org_x","events":[]}`)
	sig := webhook.Sign(secret, time.Unix(1_800_000_000, 0), body)
	fmt.Println(webhook.Verify(secret, sig, body, time.Unix(1_800_000_060, 0), 0))
	fmt.Println(webhook.Verify(secret, sig, []byte(`{"org":"org_y"}`), time.Unix(1_800_000_060, 0), 0))
	// Output:
	// <nil>
	// webhook: signature not valid
}
