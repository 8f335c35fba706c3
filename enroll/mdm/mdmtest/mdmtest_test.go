package mdmtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/mdm"
)

func commandPlist(t testing.TB, uuid string, body map[string]any) []byte {
	t.Helper()
	data, err := plist.Marshal(map[string]any{"CommandUUID": uuid, "Command": body})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeCommand(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<array>", 40) + strings.Repeat("</array>", 40)
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		want    string
		wantErr error
	}{
		{"device information", commandPlist(t, "u1", map[string]any{"RequestType": "DeviceInformation", "Queries": []string{"OSVersion"}}), Limits{}, "DeviceInformation", nil},
		{"no request type", commandPlist(t, "u1", map[string]any{"Queries": []string{"OSVersion"}}), Limits{}, "", ErrNoRequestType},
		{"no uuid", commandPlist(t, "", map[string]any{"RequestType": "ProfileList"}), Limits{}, "", ErrNoRequestType},
		{"not a plist", []byte("hello"), Limits{}, "", mdm.ErrMalformed},
		{"too deep", []byte(`<plist version="1.0"><dict><key>Command</key>` + deep + `</dict></plist>`), Limits{}, "", ErrTooDeep},
		{"too large", append([]byte("<plist>"), make([]byte, DefaultMaxSize)...), Limits{}, "", ErrTooLarge},
		{"beyond a smaller limit", commandPlist(t, "u1", map[string]any{"RequestType": "ProfileList"}), Limits{MaxSize: 64}, "", ErrTooLarge},
		{"deeper than a smaller limit", commandPlist(t, "u1", map[string]any{"RequestType": "DeviceInformation", "Queries": []string{"OSVersion"}}),
			Limits{MaxDepth: 3}, "", ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := DecodeCommand(tt.data, tt.lim)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, mdm.ErrMalformed) {
					t.Fatalf("err = %v, want %v wrapping mdm.ErrMalformed", err, tt.wantErr)
				}
				return
			}
			if err != nil || cmd.RequestType != tt.want || cmd.UUID != "u1" || cmd.Body["RequestType"] != tt.want {
				t.Fatalf("DecodeCommand = %+v, %v", cmd, err)
			}
		})
	}
}

// TestDecodeEncoded reads every command the server's encoder writes.
func TestDecodeEncoded(t *testing.T) {
	t.Parallel()
	install, err := mdm.InstallApplication(mdm.App{ITunesStoreID: 361309726})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []mdm.Command{mdm.DeviceInformation([]string{"OSVersion"}), mdm.SecurityInfo(), mdm.ProfileList(true),
		mdm.InstallProfile([]byte("<plist/>")), mdm.RemoveApplication("com.example.app"), install} {
		data, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCommand(data, Limits{})
		if err != nil || got.UUID != c.UUID || got.RequestType != c.RequestType {
			t.Errorf("%s: decoded %+v, %v", c.RequestType, got, err)
		}
	}
}

func TestSignatureRefusesAMismatchedKey(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := Signature([]byte("body"), key, nil); err == nil {
		t.Error("signed without a certificate")
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(commandPlist(f, "u1", map[string]any{"RequestType": "DeviceInformation", "Queries": []string{"OSVersion"}}))
	f.Add(commandPlist(f, "u2", map[string]any{"RequestType": "InstallProfile", "Payload": []byte("<plist/>")}))
	f.Add([]byte("bplist00"))
	f.Add([]byte(`<plist version="1.0"><dict><key>Command</key><array><array></array></array></dict></plist>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeCommand(data, Limits{})
		if err == nil && (cmd.UUID == "" || cmd.RequestType == "") {
			t.Fatalf("accepted a command without UUID or type: %+v", cmd)
		}
		if err != nil && !errors.Is(err, mdm.ErrMalformed) {
			t.Fatalf("error %v does not wrap mdm.ErrMalformed", err)
		}
	})
}
