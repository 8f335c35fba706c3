package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micromdm/plist"
)

// TestResultSentAgain: the connection breaks as the device sends a
// result (the server that took it died): the device's next connection
// opens with that result instead of Idle, and a command delivered again
// after it ran is answered with its result, not run twice.
func TestResultSentAgain(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]any
	info := commandPlist(t, "cmd-1", map[string]any{"RequestType": "DeviceInformation", "Queries": []string{"DeviceName"}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		body, _ := io.ReadAll(r.Body)
		if err := plist.Unmarshal(body, &m); err != nil {
			t.Errorf("request: %v", err)
		}
		mu.Lock()
		got = append(got, m)
		n := len(got)
		mu.Unlock()
		switch n {
		case 1, 3: // Idle, then the result sent again: the command (again)
			w.Write(info)
		case 2: // the result: the server dies before it answers
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	}))
	defer srv.Close()
	d := &device{spec: newSpec("SIMRESEND01"), client: srv.Client(), base: srv.URL, serverURL: srv.URL + "/mdm", now: time.Now}
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	if _, err := d.poll(t.Context(), 0, logf, nil); err == nil {
		t.Fatal("the first poll went through a broken connection")
	}
	if _, err := d.poll(t.Context(), 0, logf, nil); err != nil {
		t.Fatal(err)
	}
	if d.unsent != nil {
		t.Errorf("a result is still waiting to be sent: %v", d.unsent)
	}
	want := []string{"Idle", "Acknowledged cmd-1", "Acknowledged cmd-1", "Acknowledged cmd-1"}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %v", len(got), len(want), got)
	}
	for i, m := range got {
		s, _ := m["Status"].(string)
		if u, ok := m["CommandUUID"].(string); ok {
			s += " " + u
		}
		if s != want[i] {
			t.Errorf("request %d: %s, want %s", i+1, s, want[i])
		}
	}
	if got[1]["QueryResponses"] == nil || fmt.Sprint(got[1]) != fmt.Sprint(got[2]) || fmt.Sprint(got[2]) != fmt.Sprint(got[3]) {
		t.Errorf("the results sent differ: %v", got[1:])
	}
	ran := 0
	for _, n := range notes {
		if !strings.Contains(n, "executed before") {
			ran++
		}
	}
	if ran != 1 || len(notes) != 2 {
		t.Errorf("notes %q: want the command run once and answered again from its result", notes)
	}
}
