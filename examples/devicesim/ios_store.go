package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
)

// myDevice is a device in the agent API's "my devices".
type myDevice struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	SerialNumber string `json:"serial_number"`
}

// myDevice finds the signed-in user's device with serial.
func (a *api) myDevice(ctx context.Context, token, serial string) (myDevice, error) {
	var list struct {
		Devices []myDevice `json:"devices"`
	}
	if err := a.call(ctx, "GET", "/api/agent/devices", token, nil, &list); err != nil {
		return myDevice{}, fmt.Errorf("my devices: %w", err)
	}
	for _, d := range list.Devices {
		if d.SerialNumber == serial {
			return d, nil
		}
	}
	return myDevice{}, fmt.Errorf("my devices: no device with serial %s among %d", serial, len(list.Devices))
}

// storeItem is one app in the user's store on a device, as the agent API
// shows it.
type storeItem struct {
	AppID            string `json:"app_id"`
	Kind             string `json:"kind"`
	Identifier       string `json:"identifier"`
	Name             string `json:"name"`
	Mode             string `json:"mode"`
	State            string `json:"state"`
	Reason           string `json:"reason"`
	InstalledVersion string `json:"installed_version"`
	Advice           string `json:"advice"`
	TakeOver         bool   `json:"take_over"`
}

// store reads the user's store on a device.
func (a *api) store(ctx context.Context, token, device string) ([]storeItem, error) {
	var v struct {
		Apps []storeItem `json:"apps"`
	}
	if err := a.call(ctx, "GET", "/api/agent/store/devices/"+url.PathEscape(device)+"/apps", token, nil, &v); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return v.Apps, nil
}

// install asks the store to install (or take over) an app on a device.
func (a *api) install(ctx context.Context, token, device, appID string) (storeItem, error) {
	var it storeItem
	err := a.call(ctx, "POST", "/api/agent/store/devices/"+url.PathEscape(device)+"/apps/"+url.PathEscape(appID)+"/install", token, nil, &it)
	if err != nil {
		return it, fmt.Errorf("store install: %w", err)
	}
	return it, nil
}

// deprovision asks the server to remove the work data from a device.
func (a *api) deprovision(ctx context.Context, token, device string) error {
	if err := a.call(ctx, "POST", "/api/agent/devices/"+url.PathEscape(device)+"/deprovision", token, nil, nil); err != nil {
		return fmt.Errorf("deprovision: %w", err)
	}
	return nil
}

// item returns the store's item for identifier.
func item(items []storeItem, identifier string) (storeItem, bool) {
	i := slices.IndexFunc(items, func(it storeItem) bool { return it.Identifier == identifier })
	if i < 0 {
		return storeItem{}, false
	}
	return items[i], true
}

// adminView is the admin API's device detail, as far as the walk reads it.
type adminView struct {
	Device struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"device"`
	Apps []adminApp `json:"apps"`
}

// adminApp is an app of the admin API's device detail.
type adminApp struct {
	Identifier string
	Managed    bool
}

// adminDevice reads a device's detail through the admin API.
func (a *api) adminDevice(ctx context.Context, adminToken, id string) (adminView, error) {
	var v adminView
	if err := a.call(ctx, "GET", "/api/admin/devices/"+url.PathEscape(id), adminToken, nil, &v); err != nil {
		return v, fmt.Errorf("admin API: %w", err)
	}
	return v, nil
}
