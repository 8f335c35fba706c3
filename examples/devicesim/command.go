package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openomm/omm/enroll/mdm/mdmtest"
	"github.com/openomm/omm/profile"
)

// Bounds on a command the server sends.
const (
	maxCommandSize  = mdmtest.DefaultMaxSize
	maxCommandDepth = mdmtest.DefaultMaxDepth
)

// command is one MDM command as the device reads it.
type command = mdmtest.Command

// decodeCommand reads a command plist from the server, behind size and
// nesting limits.
func decodeCommand(data []byte) (command, error) {
	return mdmtest.DecodeCommand(data, mdmtest.Limits{MaxSize: maxCommandSize, MaxDepth: maxCommandDepth})
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
	msg := d.opening()
	for {
		start := d.now()
		reply, err := d.send(ctx, msg)
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
		if idle && d.ddm != nil && d.ddm.pending {
			// The queue is done: synchronise the declarations the
			// DeclarativeManagement command asked for (ddm.go).
			return st, d.syncDeclarations(ctx, logf)
		}
		if idle || (max > 0 && len(st.Commands) >= max) {
			return st, nil
		}
		st.Commands = append(st.Commands, cmd.RequestType)
		var note string
		msg, note, _ = d.execute(cmd)
		logf("command %s (%s) → %s: %s", cmd.RequestType, cmd.UUID, msg["Status"], note)
		if d.renewal != nil {
			// The MDM profile was installed again: as iOS does, the device
			// enrolls its new identity and authenticates with it before it
			// answers (renew.go).
			if err := d.renew(ctx, logf); err != nil {
				return st, err
			}
		}
		if d.unenrolled {
			// The MDM profile is gone with its identity: iOS sends no
			// result, only the CheckOut its payload asked for.
			return st, d.sendCheckOut(ctx, logf)
		}
	}
}

// sendCheckOut tells the server the MDM profile was removed, when the
// profile asked for it (CheckOutWhenRemoved).
func (d *device) sendCheckOut(ctx context.Context, logf logFunc) error {
	if !d.checkOut {
		logf("MDM profile removed; its payload asks for no CheckOut, so the server is not told")
		return nil
	}
	if _, err := d.put(ctx, d.checkInURL, map[string]any{"MessageType": "CheckOut", "Topic": d.topic}); err != nil {
		return fmt.Errorf("check-in CheckOut: %w", err)
	}
	logf("check-in: CheckOut accepted (the MDM profile was removed)")
	return nil
}

// maxAnswered bounds the results a device keeps to answer a command
// delivered again.
const maxAnswered = 64

// opening is the message that opens a connection to the command endpoint:
// the result whose sending failed last time, else Idle.
func (d *device) opening() map[string]any {
	if d.unsent != nil {
		return d.unsent
	}
	return map[string]any{"Status": "Idle"}
}

// send puts msg to the command endpoint. When msg is a result and the
// server may not have taken it (the connection failed, or the server
// failed: 5xx), the result is kept to open the next connection; the
// server records a result once, however often it is sent.
func (d *device) send(ctx context.Context, msg map[string]any) ([]byte, error) {
	reply, err := d.put(ctx, d.serverURL, msg)
	_, result := msg["CommandUUID"].(string)
	var se *statusError
	switch {
	case err == nil || !result:
		d.unsent = nil
	case errors.As(err, &se) && se.Status < 500:
		d.unsent = nil // refused: sending it again changes nothing
	default:
		d.unsent = msg
	}
	return reply, err
}

// execute runs cmd and returns the result to send, a note for the log and
// whether it ran now: a command the device already executed (delivered
// again because its result was lost) is answered with its result.
func (d *device) execute(cmd command) (map[string]any, string, bool) {
	if res, ok := d.answered[cmd.UUID]; ok {
		return res, "executed before: its result again", false
	}
	res, note := d.respond(cmd)
	if d.answered == nil {
		d.answered = map[string]map[string]any{}
	}
	if len(d.order) == maxAnswered {
		delete(d.answered, d.order[0])
		d.order = d.order[1:]
	}
	d.answered[cmd.UUID] = res
	d.order = append(d.order, cmd.UUID)
	return res, note, true
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
		list, note := d.installedApplicationList()
		res["InstalledApplicationList"] = list
		return res, note
	case "ManagedApplicationList":
		m, note := d.managedApplicationList()
		res["ManagedApplicationList"] = m
		return res, note
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
	case "InstallApplication":
		return res, d.installApplication(cmd.Body)
	case "RemoveApplication", "RemoveProfile":
		remove, what := d.removeApplication, "removed app "
		if cmd.RequestType == "RemoveProfile" {
			remove, what = d.removeProfile, "removed profile "
		}
		if err := remove(cmd.Body); err != nil {
			return map[string]any{"Status": "Error", "CommandUUID": cmd.UUID, "ErrorChain": []any{
				map[string]any{"ErrorCode": 1000, "ErrorDomain": "MCMDMErrorDomain", "LocalizedDescription": err.Error()}}}, err.Error()
		}
		id, _ := cmd.Body["Identifier"].(string)
		if d.unenrolled {
			return res, what + id + ": the device is no longer managed"
		}
		return res, what + id
	case "DeclarativeManagement":
		return res, d.declarativeCommand(cmd)
	case "InstallEnterpriseApplication", "DeviceLock", "EraseDevice", "ClearPasscode", "Settings", "ApplyRedemptionCode":
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
	signed := !strings.HasPrefix(strings.TrimSpace(string(data[:min(len(data), 64)])), "<")
	if signed {
		var err error
		if content, _, err = profile.Verify(data, profile.VerifyOptions{Signer: d.ca}); err != nil {
			return "", fmt.Errorf("profile signature: %w", err)
		}
	}
	p, err := profile.Decode(content)
	if err != nil {
		return "", err
	}
	if signed && p.Identifier == d.mdmProfile && d.api != nil {
		d.renewal = p // its identity is enrolled right after (renew.go)
		return p.Identifier, nil
	}
	if signed {
		d.policyProfiles = append(d.policyProfiles, p)
	}
	for _, id := range d.profiles {
		if id == p.Identifier {
			return id, nil
		}
	}
	d.profiles = append(d.profiles, p.Identifier)
	return p.Identifier, nil
}
