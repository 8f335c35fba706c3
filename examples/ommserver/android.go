package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/openomm/omm/android"
	"github.com/openomm/omm/storage"
)

// The Android channel: enrollment tokens for signed-in users, the agent
// protocol of the legacy modes (Samsung Knox, native device admin), the
// Android Management API path of work-profile and fully managed devices
// (a local fake unless turned off: android_amapi.go), and ownership-aware
// commands.

// androidAgentPath is where the agent protocol is served; the enrollment
// links of the legacy modes point at it.
const androidAgentPath = "/android/agent"

// maxKnoxLicense bounds the license key file.
const maxKnoxLicense = 1024

// knoxLicense is one org's Samsung Knox license key; every other org has
// none.
type knoxLicense struct {
	org storage.OrgID
	key string
}

func (k knoxLicense) KnoxLicense(_ context.Context, org storage.OrgID) (string, error) {
	if org != k.org {
		return "", fmt.Errorf("knox license of org %s: %w", org, storage.ErrNotFound)
	}
	return k.key, nil
}

// loadKnoxLicense reads the demo org's license key from path; "" means
// none (nil, so that Knox enrollment is refused).
func loadKnoxLicense(path string, org storage.OrgID) (android.KnoxLicenses, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("knox license: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if key == "" || len(key) > maxKnoxLicense || strings.ContainsAny(key, "\r\n") {
		return nil, fmt.Errorf("knox license: %s must hold one key of at most %d bytes", path, maxKnoxLicense)
	}
	return knoxLicense{org: org, key: key}, nil
}
