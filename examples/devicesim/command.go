package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/internal/plistlimit"
	"github.com/openomm/omm/profile"
)

// Bounds on a command the server sends.
const (
	maxCommandSize  = 2 << 20
	maxCommandDepth = 16
)

// errNoRequestType rejects a command without a RequestType.
var errNoRequestType = errors.New("command without CommandUUID or RequestType")

// command is one MDM command as the device reads it.
type command struct {
	UUID        string
	RequestType string
	Body        map[string]any // the Command dictionary
}

// decodeCommand reads a command plist from the server, behind size and
// nesting limits.
func decodeCommand(data []byte) (command, error) {
	var raw struct {
		CommandUUID string
		Command     map[string]any
	}
	if err := plistlimit.Unmarshal(data, &raw, plistlimit.Limits{MaxSize: maxCommandSize, MaxDepth: maxCommandDepth}); err != nil {
		return command{}, fmt.Errorf("command: %w", err)
	}
	rt, _ := raw.Command["RequestType"].(string)
	if raw.CommandUUID == "" || rt == "" {
		return command{}, errNoRequestType
	}
	return command{UUID: raw.CommandUUID, RequestType: rt, Body: raw.Command}, nil
}

// pollStats counts what one poll did.
type pollStats struct {
	Requests int
	Commands []string // request types answered, in order
}

// observer sees each request's latency and outcome.
type observer func(latency time.Duration, err error)

// poll checks in idle and answers commands until the server has none left
// (or max commands were answered, when max > 0). observe, when not nil,
// sees each request.
func (d *device) poll(ctx context.Context, max int, logf logFunc, observe observer) (pollStats, error) {
	var st pollStats
	msg := map[string]any{"Status": "Idle"}
	for {
		start := d.now()
		reply, err := d.put(ctx, d.serverURL, msg)
		idle := err == nil && len(strings.TrimSpace(string(reply))) == 0
		var cmd command
		if err == nil && !idle {
			cmd, err = decodeCommand(reply)
		}
		st.Requests++
		if observe != nil {
			observe(d.now().Sub(start), err)
		}
		if err != nil {
			return st, fmt.Errorf("command poll: %w", err)
		}
		if idle || (max > 0 && len(st.Commands) >= max) {
			return st, nil
		}
		st.Commands = append(st.Commands, cmd.RequestType)
		var note string
		msg, note = d.respond(cmd)
		logf("command %s (%s) → %s: %s", cmd.RequestType, cmd.UUID, msg["Status"], note)
	}
}

// respond returns the result a device sends for cmd and a note for the log.
func (d *device) respond(cmd command) (map[string]any, string) {
	res := map[string]any{"Status": "Acknowledged", "CommandUUID": cmd.UUID}
	switch cmd.RequestType {
	case "DeviceInformation":
		all := d.deviceInformation()
		q := map[string]any{}
		queries, _ := cmd.Body["Queries"].([]any)
		for _, k := range queries {
			if name, ok := k.(string); ok {
				if v, ok := all[name]; ok {
					q[name] = v
				}
			}
		}
		if len(queries) == 0 {
			q = all
		}
		// An over-sharing device: identifiers nobody asked for, which the
		// server's privacy filter must drop.
		for _, k := range oversharing {
			q[k] = all[k]
		}
		res["QueryResponses"] = q
		return res, fmt.Sprintf("answered %d queries plus %s the server must drop", len(queries), strings.Join(oversharing, ", "))
	case "SecurityInfo":
		res["SecurityInfo"] = map[string]any{
			"HardwareEncryptionCaps": 3, "PasscodePresent": true, "PasscodeCompliant": true,
			"PasscodeCompliantWithProfiles": true, "PasscodeLockGracePeriodEnforced": 0,
		}
		return res, "encryption on, passcode set and compliant"
	case "InstalledApplicationList":
		res["InstalledApplicationList"] = []any{
			map[string]any{"Identifier": d.PersonalApp, "Name": "Personal Notes", "ShortVersion": "3.2", "Version": "320",
				"BundleSize": 48213504, "DynamicSize": 1024000, "IsValidated": true},
			map[string]any{"Identifier": "com.apple.mobilesafari", "Name": "Safari", "ShortVersion": d.OSVersion, "Version": "8618.1.15"},
			map[string]any{"Identifier": "com.example.work.mail", "Name": "Work Mail", "ShortVersion": "1.0", "Version": "100"},
		}
		return res, "3 apps, including " + d.PersonalApp + " installed before enrollment"
	case "ManagedApplicationList":
		res["ManagedApplicationList"] = map[string]any{"com.example.work.mail": map[string]any{"Status": "Managed", "HasConfiguration": false}}
		return res, "1 managed app"
	case "ProfileList":
		list := make([]any, len(d.profiles))
		for i, id := range d.profiles {
			list[i] = map[string]any{"PayloadIdentifier": id, "PayloadDisplayName": id, "IsManaged": true,
				"PayloadRemovalDisallowed": false, "PayloadVersion": 1}
		}
		res["ProfileList"] = list
		return res, fmt.Sprintf("%d profiles installed by the MDM", len(list))
	case "InstallProfile":
		id, err := d.installProfile(cmd)
		if err != nil {
			return map[string]any{"Status": "Error", "CommandUUID": cmd.UUID, "ErrorChain": []any{
				map[string]any{"ErrorCode": 1000, "ErrorDomain": "MCProfileErrorDomain", "LocalizedDescription": err.Error()}}}, err.Error()
		}
		return res, "installed profile " + id
	case "InstallApplication", "InstallEnterpriseApplication", "RemoveApplication", "RemoveProfile",
		"DeviceLock", "EraseDevice", "ClearPasscode", "Settings", "ApplyRedemptionCode":
		return res, "acknowledged"
	default:
		return map[string]any{"Status": "Error", "CommandUUID": cmd.UUID, "ErrorChain": []any{
			map[string]any{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain", "LocalizedDescription": "Unknown command"}}}, "unsupported by the simulator"
	}
}

// oversharing are the DeviceInformation keys sent unasked.
var oversharing = []string{"IMEI", "WiFiMAC", "BluetoothMAC", "PhoneNumber", "BatteryLevel"}

// deviceInformation is every query this device answers, privacy-sensitive
// ones included.
func (d *device) deviceInformation() map[string]any {
	return map[string]any{
		"UDID": d.UDID, "DeviceName": d.Name, "SerialNumber": d.Serial, "Model": "MTP03LL/A",
		"ModelName": d.Model, "ModelNumber": "MTP03", "ProductName": d.Product,
		"OSVersion": d.OSVersion, "BuildVersion": d.Build,
		"DeviceCapacity": 119.2, "AvailableDeviceCapacity": 73.5, "BatteryLevel": 0.81,
		"IMEI": d.IMEI, "WiFiMAC": d.WiFiMAC, "BluetoothMAC": d.Bluetooth,
		"PhoneNumber": "+1 555 0100", "IsSupervised": false,
	}
}

// installProfile reads an InstallProfile payload (signed by the server's
// CA, or unsigned) and records its identifier for ProfileList.
func (d *device) installProfile(cmd command) (string, error) {
	data, ok := cmd.Body["Payload"].([]byte)
	if !ok || len(data) == 0 {
		return "", errors.New("InstallProfile without a payload")
	}
	content := data
	if !strings.HasPrefix(strings.TrimSpace(string(data[:min(len(data), 64)])), "<") {
		var err error
		if content, _, err = profile.Verify(data, profile.VerifyOptions{Signer: d.ca}); err != nil {
			return "", fmt.Errorf("profile signature: %w", err)
		}
	}
	p, err := profile.Decode(content)
	if err != nil {
		return "", err
	}
	for _, id := range d.profiles {
		if id == p.Identifier {
			return id, nil
		}
	}
	d.profiles = append(d.profiles, p.Identifier)
	return p.Identifier, nil
}
