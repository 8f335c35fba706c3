package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/micromdm/plist"

	"github.com/openomm/omm/enroll/mdm/mdmtest"
	"github.com/openomm/omm/enroll/scep/sceptest"
	"github.com/openomm/omm/profile"
)

// spec is who a simulated iPhone is. The IMEI and Wi-Fi address are sent in
// DeviceInformation on purpose: the server's privacy filter must drop them.
type spec struct {
	UDID, Serial, Name       string
	Model, Product           string
	OSVersion, Build         string
	IMEI, WiFiMAC, Bluetooth string
	// PersonalApp was installed before enrollment; it shows up in
	// InstalledApplicationList like any other app.
	PersonalApp string
	// StoreApp, when set, is an app the user installed from the App Store
	// before enrollment that the organization's store also offers: the
	// store must show it as unmanaged.
	StoreApp string
	// Passcode is the user's device passcode ("" for none), checked
	// against the declarative passcode settings.
	Passcode string
	// NoDeclarative: the device acknowledges DeclarativeManagement but
	// never synchronises (load mode measures the command path).
	NoDeclarative bool
}

// newSpec makes a device with random identifiers; serial may fix the
// serial number.
func newSpec(serial string) spec {
	var b [16]byte
	rand.Read(b[:])
	hex := fmt.Sprintf("%X", b)
	if serial == "" {
		serial = "SIM" + hex[:9]
	}
	imei := fmt.Sprintf("35%013d", binary.BigEndian.Uint64(b[:8])%1e13)
	mac := func(o int) string {
		return fmt.Sprintf("a4:83:e7:%02x:%02x:%02x", b[o], b[o+1], b[o+2])
	}
	return spec{
		UDID:   "00008110-" + hex[:16],
		Serial: serial,
		Name:   "Simulated iPhone " + serial[len(serial)-4:],
		Model:  "iPhone 15", Product: "iPhone15,4",
		OSVersion: "17.4", Build: "21E219",
		IMEI: imei, WiFiMAC: mac(8), Bluetooth: mac(11),
		PersonalApp: "com.example.personal.notes",
		Passcode:    "482916",
	}
}

// device is an enrolled simulated device.
type device struct {
	spec
	client     *http.Client
	base       string
	checkInURL string
	serverURL  string
	topic      string
	ca         *x509.Certificate
	profiles   []string // identifiers of installed profiles
	// mdmProfile is the enrollment profile's identifier: removing it
	// unenrolls the device, which then checks out when checkOut is set.
	mdmProfile string
	checkOut   bool
	// unenrolled: the MDM profile is gone; the device talks no more.
	unenrolled bool
	apps       []app // nil until first used: the spec's apps
	// policyProfiles are the signed profiles InstallProfile delivered.
	policyProfiles []*profile.Profile
	// removedApps are the identifiers RemoveApplication removed;
	// refusedRemovals those it was refused because the user's.
	removedApps     []string
	refusedRemovals []string
	now             func() time.Time
	identity        *x509.Certificate
	key             *rsa.PrivateKey
	signed          bool // Mdm-Signature instead of the TLS client certificate
	// ddm is the declarative engine, nil until DeclarativeManagement
	// turned it on (ddm.go).
	ddm *ddmState
	// pushToken is the push token the TokenUpdate registered.
	pushToken []byte
	// api is the server the device enrolled with; renewal, when not nil,
	// is an MDM enrollment profile installed again, whose new identity
	// the device enrolls and switches to (renew.go); renewals counts them.
	api      *api
	renewal  *profile.Profile
	renewals []renewalDone
	// unsent is a command result whose sending failed (the server may or
	// may not have taken it): as a phone does, the device sends it again
	// to open its next connection instead of Idle. answered are the
	// results of the last commands it executed, by UUID: a command
	// delivered again is answered with its result, not executed twice.
	unsent   map[string]any
	answered map[string]map[string]any
	order    []string // answered's UUIDs, oldest first
}

// enrollDirect walks a direct enrollment from its .mobileconfig URL: fetch
// and verify the profile, get the identity over SCEP, check in.
func enrollDirect(ctx context.Context, a *api, enrollURL string, s spec, logf logFunc) (*device, error) {
	ca, err := a.orgCA(ctx, enrollURL)
	if err != nil {
		return nil, err
	}
	prof, err := a.fetchProfile(ctx, "GET", enrollURL, nil, ca)
	if err != nil {
		return nil, fmt.Errorf("enrollment profile: %w", err)
	}
	return a.enrollMDM(ctx, ca, prof, s, logf)
}

// orgCA returns the SCEP CA of the org an enrollment URL
// ({base}/enroll/{org}/…) belongs to; it signs the enrollment profiles.
func (a *api) orgCA(ctx context.Context, enrollURL string) (*x509.Certificate, error) {
	if !strings.HasPrefix(enrollURL, a.base+"/enroll/") {
		return nil, fmt.Errorf("enrollment URL %q is not below the server's base URL %s", redactToken(enrollURL), a.base)
	}
	u, err := url.Parse(strings.TrimPrefix(enrollURL, a.base))
	if err != nil {
		return nil, fmt.Errorf("enrollment URL: %w", err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "enroll" {
		return nil, fmt.Errorf("enrollment URL %q: unexpected path", redactToken(enrollURL))
	}
	caDER, err := do(ctx, a.client, a.base, "GET", "/scep/"+url.PathEscape(parts[1])+"?operation=GetCACert", "", "", nil, maxOtherReply)
	if err != nil {
		return nil, fmt.Errorf("SCEP GetCACert: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("SCEP GetCACert: %w", err)
	}
	return ca, nil
}

// fetchProfile sends a request whose answer is a profile signed by ca, and
// decodes it.
func (a *api) fetchProfile(ctx context.Context, method, target string, body []byte, ca *x509.Certificate) (*profile.Profile, error) {
	ct := ""
	if body != nil {
		ct = "application/pkcs7-signature"
	}
	signed, err := do(ctx, a.client, a.base, method, target, ct, "", body, maxOtherReply)
	if err != nil {
		return nil, err
	}
	content, _, err := profile.Verify(signed, profile.VerifyOptions{Signer: ca})
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return profile.Decode(content)
}

// payloads returns a profile's SCEP and MDM payloads (nil when absent).
func payloads(p *profile.Profile) (*profile.SCEP, *profile.MDM) {
	var scepP *profile.SCEP
	var mdmP *profile.MDM
	for _, pl := range p.Payloads {
		switch pl := pl.(type) {
		case *profile.SCEP:
			scepP = pl
		case *profile.MDM:
			mdmP = pl
		}
	}
	return scepP, mdmP
}

// scepEnroll gets a certificate for a new key from the CA, as the SCEP
// payload says.
func (a *api) scepEnroll(ctx context.Context, ca *x509.Certificate, p *profile.SCEP, subject string) (*x509.Certificate, *rsa.PrivateKey, error) {
	key, err := a.newKey(max(p.KeySize, 2048))
	if err != nil {
		return nil, nil, err
	}
	msg, pending, err := sceptest.Request{Key: key, Challenge: p.Challenge, Subject: pkix.Name{CommonName: subject}}.Build(ca)
	if err != nil {
		return nil, nil, fmt.Errorf("SCEP request: %w", err)
	}
	reply, err := do(ctx, a.client, a.base, "POST", p.URL+"?operation=PKIOperation", "application/x-pki-message", "", msg, maxOtherReply)
	if err != nil {
		return nil, nil, fmt.Errorf("SCEP PKIOperation: %w", err)
	}
	cert, err := pending.Read(reply, ca)
	if err != nil {
		return nil, nil, fmt.Errorf("SCEP: %w", err)
	}
	return cert, key, nil
}

// enrollMDM installs an MDM enrollment profile: SCEP for the identity,
// then check-in.
func (a *api) enrollMDM(ctx context.Context, ca *x509.Certificate, prof *profile.Profile, s spec, logf logFunc) (*device, error) {
	d, err := a.mdmIdentity(ctx, ca, prof, s, logf)
	if err != nil {
		return nil, err
	}
	if err := d.checkIn(ctx, logf); err != nil {
		return nil, err
	}
	return d, nil
}

// mdmIdentity gets the MDM identity an enrollment profile asks for and
// returns the device, which has not called the MDM server yet.
func (a *api) mdmIdentity(ctx context.Context, ca *x509.Certificate, prof *profile.Profile, s spec, logf logFunc) (*device, error) {
	scepP, mdmP := payloads(prof)
	if scepP == nil || mdmP == nil {
		return nil, fmt.Errorf("enrollment profile %s lacks a SCEP or MDM payload", prof.Identifier)
	}
	logf("MDM profile %q verified (signed by %s): SCEP %s, MDM %s", prof.Identifier, ca.Subject.CommonName, scepP.URL, mdmP.ServerURL)
	identity, key, err := a.scepEnroll(ctx, ca, scepP, s.UDID)
	if err != nil {
		return nil, err
	}
	logf("SCEP: MDM identity issued, subject %q, serial %s, valid until %s", identity.Subject.CommonName,
		identity.SerialNumber.Text(16), identity.NotAfter.UTC().Format("2006-01-02"))

	d := &device{
		spec:       s,
		client:     a.deviceClient(&tls.Certificate{Certificate: [][]byte{identity.Raw}, PrivateKey: key, Leaf: identity}),
		identity:   identity,
		key:        key,
		base:       a.base,
		checkInURL: mdmP.CheckInURL,
		serverURL:  mdmP.ServerURL,
		topic:      mdmP.Topic,
		ca:         ca,
		profiles:   []string{prof.Identifier},
		mdmProfile: prof.Identifier,
		checkOut:   mdmP.CheckOutWhenRemoved,
		now:        a.now,
		api:        a,
	}
	if d.checkInURL == "" {
		d.checkInURL = d.serverURL
	}
	if a.signed {
		d.signed = true
		d.client = a.deviceClient(nil) // the signature alone proves the identity
	}
	return d, nil
}

// checkIn sends Authenticate and TokenUpdate.
func (d *device) checkIn(ctx context.Context, logf logFunc) error {
	if _, err := d.put(ctx, d.checkInURL, map[string]any{"MessageType": "Authenticate", "Topic": d.topic,
		"ProductName": d.Product, "SerialNumber": d.Serial, "DeviceName": d.Name,
		"OSVersion": d.OSVersion, "BuildVersion": d.Build, "Model": d.Model}); err != nil {
		return fmt.Errorf("check-in Authenticate: %w", err)
	}
	logf("check-in: Authenticate accepted (UDID %s)", d.UDID)
	token := make([]byte, 32)
	rand.Read(token)
	if _, err := d.put(ctx, d.checkInURL, map[string]any{"MessageType": "TokenUpdate", "Topic": d.topic,
		"Token": token, "PushMagic": rand.Text(), "AwaitingConfiguration": false}); err != nil {
		return fmt.Errorf("check-in TokenUpdate: %w", err)
	}
	d.pushToken = token
	logf("check-in: TokenUpdate accepted (push token registered)")
	return nil
}

// put sends a plist message as this device and returns the answer. The
// identity is the TLS client certificate, or, for a signing device, an
// Mdm-Signature header: a detached CMS signature over the body.
func (d *device) put(ctx context.Context, target string, m map[string]any) ([]byte, error) {
	m["UDID"] = d.UDID
	body, err := plist.Marshal(m)
	if err != nil {
		return nil, err
	}
	var hdr http.Header
	if d.signed {
		sig, err := mdmtest.Signature(body, d.key, d.identity)
		if err != nil {
			return nil, err
		}
		hdr = http.Header{mdmtest.SignatureHeader: {sig}}
	}
	return doHeader(ctx, d.client, d.base, "PUT", target, "application/x-apple-aspen-mdm", hdr, body, maxOtherReply)
}
