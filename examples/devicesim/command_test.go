package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/mdm"
	"github.com/openomm/omm/enroll/mdm/mdmtest"
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
		want    string
		wantErr error
	}{
		{"device information", commandPlist(t, "u1", map[string]any{"RequestType": "DeviceInformation", "Queries": []string{"OSVersion"}}), "DeviceInformation", nil},
		{"no request type", commandPlist(t, "u1", map[string]any{"Queries": []string{"OSVersion"}}), "", mdmtest.ErrNoRequestType},
		{"no uuid", commandPlist(t, "", map[string]any{"RequestType": "ProfileList"}), "", mdmtest.ErrNoRequestType},
		{"not a plist", []byte("hello"), "", mdm.ErrMalformed},
		{"too deep", []byte(`<plist version="1.0"><dict><key>Command</key>` + deep + `</dict></plist>`), "", mdmtest.ErrTooDeep},
		{"too large", append([]byte("<plist>"), make([]byte, maxCommandSize)...), "", mdmtest.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := decodeCommand(tt.data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || cmd.RequestType != tt.want || cmd.UUID != "u1" {
				t.Fatalf("decodeCommand = %+v, %v", cmd, err)
			}
		})
	}
}

// TestRespond checks the results' shapes, including the identifiers a
// DeviceInformation answer over-shares on purpose.
func TestRespond(t *testing.T) {
	t.Parallel()
	d := &device{spec: newSpec("SIMRESP0001"), profiles: []string{"com.example.enroll"}}
	tests := []struct {
		requestType string
		body        map[string]any
		status      string
		key         string
	}{
		{"DeviceInformation", map[string]any{"Queries": []any{"OSVersion", "SerialNumber"}}, "Acknowledged", "QueryResponses"},
		{"SecurityInfo", nil, "Acknowledged", "SecurityInfo"},
		{"InstalledApplicationList", nil, "Acknowledged", "InstalledApplicationList"},
		{"ManagedApplicationList", nil, "Acknowledged", "ManagedApplicationList"},
		{"ProfileList", nil, "Acknowledged", "ProfileList"},
		{"InstallApplication", nil, "Acknowledged", ""},
		{"InstallProfile", nil, "Error", "ErrorChain"}, // no payload
		{"ScheduleOSUpdate", nil, "Error", "ErrorChain"},
	}
	for _, tt := range tests {
		t.Run(tt.requestType, func(t *testing.T) {
			body := map[string]any{"RequestType": tt.requestType}
			for k, v := range tt.body {
				body[k] = v
			}
			res, _ := d.respond(command{UUID: "u1", RequestType: tt.requestType, Body: body})
			if res["Status"] != tt.status || res["CommandUUID"] != "u1" {
				t.Fatalf("result %v", res)
			}
			if tt.key != "" && res[tt.key] == nil {
				t.Fatalf("result lacks %s: %v", tt.key, res)
			}
			if _, err := plist.Marshal(res); err != nil {
				t.Fatal(err)
			}
		})
	}
	res, _ := d.respond(command{UUID: "u2", RequestType: "DeviceInformation",
		Body: map[string]any{"Queries": []any{"OSVersion"}}})
	q := res["QueryResponses"].(map[string]any)
	if q["OSVersion"] != d.OSVersion || q["IMEI"] != d.IMEI || q["WiFiMAC"] != d.WiFiMAC || q["SerialNumber"] != nil {
		t.Errorf("QueryResponses %v: want the query answered plus the over-shared identifiers only", q)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(commandPlist(f, "u1", map[string]any{"RequestType": "DeviceInformation", "Queries": []string{"OSVersion"}}))
	f.Add(commandPlist(f, "u2", map[string]any{"RequestType": "InstallProfile", "Payload": []byte("<plist/>")}))
	f.Add([]byte("bplist00"))
	f.Add([]byte(`<plist version="1.0"><dict><key>Command</key><array><array></array></array></dict></plist>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := decodeCommand(data)
		if err == nil && (cmd.UUID == "" || cmd.RequestType == "") {
			t.Fatalf("accepted a command without UUID or type: %+v", cmd)
		}
		if err == nil {
			d := &device{spec: newSpec("SIMFUZZ0001")}
			d.respond(cmd) // must not panic on any decoded command
		}
	})
}
