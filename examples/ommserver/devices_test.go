package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestDeviceEndpointsMounted checks that the MDM, SCEP and OTA endpoints
// answer where enrollment profiles point devices, and refuse requests
// without a device identity or a valid ticket.
func TestDeviceEndpointsMounted(t *testing.T) {
	w := newWorld(t)
	org := string(demoOrg.ID)
	tests := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"PUT", "/mdm/" + org + "/checkin", "<plist/>", http.StatusBadRequest, ""},
		{"PUT", "/mdm/" + org + "/server", "<plist/>", http.StatusBadRequest, ""},
		{"GET", "/scep/" + org + "?operation=GetCACaps", "", http.StatusOK, "POSTPKIOperation"},
		{"GET", "/enroll/" + org + "/profile?token=bogus", "", 0, ""},
		{"GET", "/enroll/" + org + "/mobileconfig?token=bogus", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			status, got := w.do(t, tt.method, tt.path, "", body)
			switch {
			case tt.status != 0 && status != tt.status:
				t.Errorf("status %d, want %d: %s", status, tt.status, got)
			case tt.status == 0 && (status < 400 || status >= 500):
				t.Errorf("status %d, want a refusal: %s", status, got)
			case !strings.Contains(string(got), tt.contains):
				t.Errorf("body %q lacks %q", got, tt.contains)
			}
		})
	}
}
