package android

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// DPC describes the device policy controller a QR code installs on a
// company-owned device at setup: Google's Android Device Policy for the
// Android Management API, or our own agent.
type DPC struct {
	// Component is the admin receiver, "package/.Receiver".
	Component string
	// DownloadURL is where the device downloads the app (https).
	DownloadURL string
	// SignatureChecksum is the URL-safe base64 of the SHA-256 of the app's
	// signing certificate (Android 10 and later accept only SHA-256).
	SignatureChecksum string
	// TokenExtra is the key of the admin extras bundle that carries the
	// enrollment token.
	TokenExtra string
}

// GoogleDPC returns Android Device Policy, the Android Management API's
// controller. Google publishes its signature checksum in its QR
// provisioning guide; pass it in (it is not fixed here, so that a change on
// Google's side is a configuration change).
func GoogleDPC(signatureChecksum string) DPC {
	return DPC{
		Component:         "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver",
		DownloadURL:       "https://play.google.com/managed/downloadManagingApp?identifier=setup",
		SignatureChecksum: signatureChecksum,
		TokenExtra:        "com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN",
	}
}

// Validate checks the DPC: a component with a package and a class, an
// https download location, and a checksum that is URL-safe base64 of
// exactly 32 bytes (padded or not).
func (d DPC) Validate() error {
	pkg, cls, ok := strings.Cut(d.Component, "/")
	if !ok || pkg == "" || cls == "" {
		return fmt.Errorf("android: DPC component %q is not package/class", d.Component)
	}
	u, err := url.Parse(d.DownloadURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("android: DPC download location %q is not an https URL", d.DownloadURL)
	}
	sum, err := DecodeChecksum(d.SignatureChecksum)
	if err != nil {
		return err
	}
	if len(sum) != 32 {
		return fmt.Errorf("android: DPC signature checksum decodes to %d bytes, a SHA-256 has 32", len(sum))
	}
	if d.TokenExtra == "" {
		return fmt.Errorf("android: DPC has no token extra key")
	}
	return nil
}

// DecodeChecksum decodes a URL-safe base64 checksum, with or without
// padding. Standard base64 ('+', '/') is refused: Android expects URL-safe.
func DecodeChecksum(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("android: signature checksum is not URL-safe base64: %w", err)
	}
	return b, nil
}

// EncodeChecksum returns the URL-safe base64 of a SHA-256 digest, as
// Android's provisioning extras expect it.
func EncodeChecksum(sum [32]byte) string { return base64.URLEncoding.EncodeToString(sum[:]) }

// Provisioning keys, as the Android framework names them.
const (
	extraComponent = "android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME"
	extraDownload  = "android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION"
	extraChecksum  = "android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM"
	extraBundle    = "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE"
)

// QRPayload is the JSON a provisioning QR code holds.
type QRPayload struct {
	Component         string            `json:"android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME"`
	DownloadURL       string            `json:"android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION"`
	SignatureChecksum string            `json:"android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM"`
	Extras            map[string]string `json:"android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE"`
}

// ProvisioningJSON returns the QR provisioning JSON that installs d and
// hands it token in its admin extras bundle.
func ProvisioningJSON(d DPC, token string) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("android: empty enrollment token")
	}
	return json.Marshal(QRPayload{
		Component: d.Component, DownloadURL: d.DownloadURL, SignatureChecksum: d.SignatureChecksum,
		Extras: map[string]string{d.TokenExtra: token},
	})
}

// GoogleEnrollLink is the enrollment link of the Android Management API for
// a device in use (a personal device gets a work profile).
func GoogleEnrollLink(token string) string {
	return "https://enterprise.google.com/android/enroll?et=" + url.QueryEscape(token)
}

// AgentEnrollLink is the link our agent app opens to enroll with token:
// base (the embedder's https URL for the agent) with the token as a query
// parameter.
func AgentEnrollLink(base, token string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("android: agent enrollment URL %q is not an https URL", base)
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
