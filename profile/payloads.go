package profile

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"regexp"
)

// Payload types, as Apple spells them.
const (
	TypeSCEP            = "com.apple.security.scep"
	TypeMDM             = "com.apple.mdm"
	TypeRootCertificate = "com.apple.security.root"
	TypeCertificate     = "com.apple.security.pkcs1"
	TypePasscode        = "com.apple.mobiledevice.passwordpolicy"
	TypeRestrictions    = "com.apple.applicationaccess"
	TypeExchange        = "com.apple.eas.account"
	TypeMail            = "com.apple.mail.managed"
	TypeWiFi            = "com.apple.wifi.managed"
	TypeVPN             = "com.apple.vpn.managed"
	TypeWebClip         = "com.apple.webClip.managed"
)

// Bool returns a pointer to b, for the optional *bool settings whose
// absence means something different from false.
func Bool(b bool) *bool { return &b }

func missing(key string) error { return fmt.Errorf("%w: %s", ErrMissingField, key) }

func httpsURL(key, s string) error {
	if s == "" {
		return missing(key)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: %s must be an https URL, got %q", ErrInvalidValue, key, s)
	}
	return nil
}

var uuidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

func isUUID(key, s string) error {
	if s == "" {
		return missing(key)
	}
	if !uuidPattern.MatchString(s) {
		return fmt.Errorf("%w: %s is not a UUID: %q", ErrInvalidValue, key, s)
	}
	return nil
}

func oneOf[T ~string](key string, v T, allowed ...T) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %q not one of %q", ErrInvalidValue, key, v, allowed)
}

// SCEP asks the device to enroll for a certificate (its MDM identity) with
// a SCEP server. Its settings sit in a nested PayloadContent dictionary.
type SCEP struct {
	Meta `plist:"-"`
	// URL of the SCEP server. Required.
	URL string `plist:"URL"`
	// Name is the CA identifier (the SCEP "message" / CA name).
	Name string `plist:"Name,omitempty"`
	// Subject is the X.500 name as RDNs of [OID or short name, value]
	// pairs: [][][]string{{{"O", "Example"}}, {{"CN", "device"}}}.
	Subject [][][]string `plist:"Subject,omitempty"`
	// Challenge is the one-time challenge password.
	Challenge string `plist:"Challenge,omitempty"`
	// KeySize is 1024, 2048 or 4096; 0 leaves the device default (1024),
	// so set it.
	KeySize int `plist:"Keysize,omitempty"`
	// KeyType is "RSA", the only type Apple accepts.
	KeyType string `plist:"Key Type,omitempty"`
	// KeyUsage is a bitmask: 1 signing, 4 encryption.
	KeyUsage int `plist:"Key Usage,omitempty"`
	// CAFingerprint pins the CA certificate by hash.
	CAFingerprint  []byte          `plist:"CAFingerprint,omitempty"`
	Retries        int             `plist:"Retries,omitempty"`
	RetryDelay     int             `plist:"RetryDelay,omitempty"`
	SubjectAltName *SubjectAltName `plist:"SubjectAltName,omitempty"`
	// KeyIsExtractable false keeps the private key in the keychain (macOS).
	KeyIsExtractable   *bool `plist:"KeyIsExtractable,omitempty"`
	AllowAllAppsAccess bool  `plist:"AllowAllAppsAccess,omitempty"`
}

// SubjectAltName is the SCEP request's subject alternative name.
type SubjectAltName struct {
	RFC822Name      string `plist:"rfc822Name,omitempty"`
	DNSName         string `plist:"dNSName,omitempty"`
	URI             string `plist:"uniformResourceIdentifier,omitempty"`
	NTPrincipalName string `plist:"ntPrincipalName,omitempty"`
}

// scepWire is the plist shape of SCEP: metadata beside a nested dictionary.
type scepWire struct {
	Meta
	Content SCEP `plist:"PayloadContent"`
}

func (*SCEP) PayloadType() string { return TypeSCEP }
func (*SCEP) suffix() string      { return "scep" }
func (p *SCEP) wire() any         { return scepWire{Meta: p.Meta, Content: *p} }
func (p *SCEP) unwire(decode func(any) error) error {
	var w scepWire
	if err := decode(&w); err != nil {
		return err
	}
	*p = w.Content
	p.Meta = w.Meta
	return nil
}

func (p *SCEP) validate() error {
	if p.URL == "" {
		return missing("URL")
	}
	if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: SCEP URL %q", ErrInvalidValue, p.URL)
	}
	if p.KeySize != 0 {
		if err := oneOf("Keysize", fmt.Sprint(p.KeySize), "1024", "2048", "4096"); err != nil {
			return err
		}
	}
	if p.KeyType != "" {
		if err := oneOf("Key Type", p.KeyType, "RSA"); err != nil {
			return err
		}
	}
	for _, rdn := range p.Subject {
		for _, pair := range rdn {
			if len(pair) != 2 {
				return fmt.Errorf("%w: Subject entries must be [type, value] pairs, got %q", ErrInvalidValue, pair)
			}
		}
	}
	return nil
}

// AccessRights is the MDM payload's bitmask of what the server may do.
// Rights can only shrink after enrollment, so choose them once, from
// policy.
type AccessRights int

// Access rights bits.
const (
	RightInspectProfiles             AccessRights = 1
	RightInstallProfiles             AccessRights = 2
	RightDeviceLock                  AccessRights = 4
	RightDeviceErase                 AccessRights = 8
	RightQueryDeviceInfo             AccessRights = 16
	RightQueryNetworkInfo            AccessRights = 32
	RightInspectProvisioningProfiles AccessRights = 64
	RightInstallProvisioningProfiles AccessRights = 128
	RightQueryApps                   AccessRights = 256
	RightRestrictionQueries          AccessRights = 512
	RightSecurityQueries             AccessRights = 1024
	RightChangeSettings              AccessRights = 2048
	RightManageApps                  AccessRights = 4096

	allRights AccessRights = 8191
)

// MDM enrolls the device in mobile device management.
type MDM struct {
	Meta
	// IdentityCertificateUUID is the PayloadUUID of the payload providing
	// the device identity. Left empty in a profile with exactly one SCEP
	// payload, the encoder fills in that payload's UUID.
	IdentityCertificateUUID string `plist:"IdentityCertificateUUID"`
	// Topic is the APNs push topic (the push certificate's UID).
	Topic string `plist:"Topic"`
	// ServerURL receives command polls. Must be https.
	ServerURL string `plist:"ServerURL"`
	// CheckInURL receives check-in messages; ServerURL when empty.
	CheckInURL string `plist:"CheckInURL,omitempty"`
	// SignMessage makes the device send an Mdm-Signature header.
	SignMessage         bool         `plist:"SignMessage,omitempty"`
	AccessRights        AccessRights `plist:"AccessRights"`
	CheckOutWhenRemoved bool         `plist:"CheckOutWhenRemoved,omitempty"`
	UseDevelopmentAPNS  bool         `plist:"UseDevelopmentAPNS,omitempty"`
	// ServerCapabilities, e.g. "com.apple.mdm.per-user-connections".
	ServerCapabilities []string `plist:"ServerCapabilities,omitempty"`
}

func (*MDM) PayloadType() string { return TypeMDM }
func (*MDM) suffix() string      { return "mdm" }

func (p *MDM) validate() error {
	if err := isUUID("IdentityCertificateUUID", p.IdentityCertificateUUID); err != nil {
		return err
	}
	if p.Topic == "" {
		return missing("Topic")
	}
	if err := httpsURL("ServerURL", p.ServerURL); err != nil {
		return err
	}
	if p.CheckInURL != "" {
		if err := httpsURL("CheckInURL", p.CheckInURL); err != nil {
			return err
		}
	}
	r := p.AccessRights
	switch {
	case r <= 0 || r > allRights:
		return fmt.Errorf("%w: AccessRights %d outside 1..%d", ErrInvalidValue, r, allRights)
	// Apple refuses installing profiles without inspecting them, and the
	// same for provisioning profiles.
	case r&RightInstallProfiles != 0 && r&RightInspectProfiles == 0:
		return fmt.Errorf("%w: AccessRights: installing profiles requires inspecting them (1)", ErrInvalidValue)
	case r&RightInstallProvisioningProfiles != 0 && r&RightInspectProvisioningProfiles == 0:
		return fmt.Errorf("%w: AccessRights: installing provisioning profiles requires inspecting them (64)", ErrInvalidValue)
	}
	return nil
}

// RootCertificate installs a trusted root (or intermediate) certificate.
type RootCertificate struct {
	Meta
	FileName string `plist:"PayloadCertificateFileName,omitempty"`
	// Content is the DER certificate.
	Content []byte `plist:"PayloadContent"`
}

// NewRootCertificate returns a payload installing cert as trusted.
func NewRootCertificate(cert *x509.Certificate) *RootCertificate {
	return &RootCertificate{
		Meta:     Meta{DisplayName: cert.Subject.CommonName},
		FileName: cert.Subject.CommonName + ".cer",
		Content:  cert.Raw,
	}
}

func (*RootCertificate) PayloadType() string { return TypeRootCertificate }
func (*RootCertificate) suffix() string      { return "root" }
func (p *RootCertificate) validate() error   { return derCertificate(p.Content) }

// Certificate installs a certificate (PKCS #1 payload) without making it a
// trust anchor, e.g. an intermediate a Wi-Fi or VPN server presents.
type Certificate struct {
	Meta
	FileName string `plist:"PayloadCertificateFileName,omitempty"`
	// Content is the DER certificate.
	Content []byte `plist:"PayloadContent"`
}

// NewCertificate returns a PKCS #1 payload carrying cert.
func NewCertificate(cert *x509.Certificate) *Certificate {
	return &Certificate{
		Meta:     Meta{DisplayName: cert.Subject.CommonName},
		FileName: cert.Subject.CommonName + ".cer",
		Content:  cert.Raw,
	}
}

func (*Certificate) PayloadType() string { return TypeCertificate }
func (*Certificate) suffix() string      { return "pkcs1" }
func (p *Certificate) validate() error   { return derCertificate(p.Content) }

func derCertificate(b []byte) error {
	if len(b) == 0 {
		return missing("PayloadContent")
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return fmt.Errorf("%w: PayloadContent is not a DER certificate: %w", ErrInvalidValue, err)
	}
	return nil
}

// Passcode is the device passcode policy. Zero values leave a rule out.
type Passcode struct {
	Meta
	// AllowSimple nil leaves the device default (simple passcodes allowed).
	AllowSimple         *bool `plist:"allowSimple,omitempty"`
	ForcePIN            bool  `plist:"forcePIN,omitempty"`
	RequireAlphanumeric bool  `plist:"requireAlphanumeric,omitempty"`
	MinLength           int   `plist:"minLength,omitempty"`
	MinComplexChars     int   `plist:"minComplexChars,omitempty"`
	// MaxFailedAttempts before the device erases (or locks, on macOS).
	MaxFailedAttempts int `plist:"maxFailedAttempts,omitempty"`
	// MaxInactivity is the auto-lock in minutes.
	MaxInactivity   int `plist:"maxInactivity,omitempty"`
	MaxPINAgeInDays int `plist:"maxPINAgeInDays,omitempty"`
	PINHistory      int `plist:"pinHistory,omitempty"`
	// MaxGracePeriod is minutes after lock before the passcode is needed.
	MaxGracePeriod int `plist:"maxGracePeriod,omitempty"`
}

func (*Passcode) PayloadType() string { return TypePasscode }
func (*Passcode) suffix() string      { return "passcode" }

func (p *Passcode) validate() error {
	for _, f := range []struct {
		key       string
		v, lo, hi int
	}{
		{"minLength", p.MinLength, 0, 16},
		{"minComplexChars", p.MinComplexChars, 0, 4},
		{"maxFailedAttempts", p.MaxFailedAttempts, 0, 11},
		{"maxPINAgeInDays", p.MaxPINAgeInDays, 0, 730},
		{"pinHistory", p.PINHistory, 0, 50},
		{"maxInactivity", p.MaxInactivity, 0, 15},
		{"maxGracePeriod", p.MaxGracePeriod, 0, 240},
	} {
		if f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("%w: %s %d outside %d..%d", ErrInvalidValue, f.key, f.v, f.lo, f.hi)
		}
	}
	if p.MaxFailedAttempts != 0 && p.MaxFailedAttempts < 2 {
		return fmt.Errorf("%w: maxFailedAttempts must be 2..11", ErrInvalidValue)
	}
	return nil
}

// Restrictions restricts device features. Every setting is a *bool: nil
// leaves the device default (almost always "allowed"), so only settings
// the policy decides are sent.
type Restrictions struct {
	Meta
	// Data separation: documents from managed apps open only in managed
	// apps (false), and the reverse.
	AllowOpenFromManagedToUnmanaged *bool `plist:"allowOpenFromManagedToUnmanaged,omitempty"`
	AllowOpenFromUnmanagedToManaged *bool `plist:"allowOpenFromUnmanagedToManaged,omitempty"`
	// Contacts written by managed apps / read by unmanaged apps, used
	// together with the two above.
	AllowManagedToWriteUnmanagedContacts *bool `plist:"allowManagedToWriteUnmanagedContacts,omitempty"`
	AllowUnmanagedToReadManagedContacts  *bool `plist:"allowUnmanagedToReadManagedContacts,omitempty"`
	// RequireManagedPasteboard applies the open-in rules to copy and paste.
	RequireManagedPasteboard                *bool `plist:"requireManagedPasteboard,omitempty"`
	AllowManagedAppsCloudSync               *bool `plist:"allowManagedAppsCloudSync,omitempty"`
	AllowCloudBackup                        *bool `plist:"allowCloudBackup,omitempty"`
	AllowCloudDocumentSync                  *bool `plist:"allowCloudDocumentSync,omitempty"`
	ForceEncryptedBackup                    *bool `plist:"forceEncryptedBackup,omitempty"`
	AllowCamera                             *bool `plist:"allowCamera,omitempty"`
	AllowScreenShot                         *bool `plist:"allowScreenShot,omitempty"`
	AllowAppInstallation                    *bool `plist:"allowAppInstallation,omitempty"`
	AllowEnterpriseAppTrust                 *bool `plist:"allowEnterpriseAppTrust,omitempty"`
	AllowUIConfigurationProfileInstallation *bool `plist:"allowUIConfigurationProfileInstallation,omitempty"`
	AllowEraseContentAndSettings            *bool `plist:"allowEraseContentAndSettings,omitempty"`
	AllowPasscodeModification               *bool `plist:"allowPasscodeModification,omitempty"`
	AllowAirDrop                            *bool `plist:"allowAirDrop,omitempty"`
	ForceAirDropUnmanaged                   *bool `plist:"forceAirDropUnmanaged,omitempty"`
}

func (*Restrictions) PayloadType() string { return TypeRestrictions }
func (*Restrictions) suffix() string      { return "restrictions" }

// Exchange configures an Exchange ActiveSync account.
type Exchange struct {
	Meta
	// Host is the Exchange server host name. Without it the device asks.
	Host         string `plist:"Host,omitempty"`
	SSL          *bool  `plist:"SSL,omitempty"`
	EmailAddress string `plist:"EmailAddress,omitempty"`
	UserName     string `plist:"UserName,omitempty"`
	// Password is better left empty: the device asks the user.
	Password string `plist:"Password,omitempty"`
	// OAuth uses OAuth instead of a password.
	OAuth bool `plist:"OAuth,omitempty"`
	// CertificateUUID names an identity payload for client-certificate
	// authentication.
	CertificateUUID string `plist:"PayloadCertificateUUID,omitempty"`
	// PreventMove stops moving mail to other accounts (data separation).
	PreventMove     bool `plist:"PreventMove,omitempty"`
	PreventAppSheet bool `plist:"PreventAppSheet,omitempty"`
	// MailNumberOfPastDaysToSync: 0 all, or 1, 3, 7, 14, 31.
	MailNumberOfPastDaysToSync int  `plist:"MailNumberOfPastDaysToSync,omitempty"`
	DisableMailRecentsSyncing  bool `plist:"disableMailRecentsSyncing,omitempty"`
}

func (*Exchange) PayloadType() string { return TypeExchange }
func (*Exchange) suffix() string      { return "exchange" }

func (p *Exchange) validate() error {
	if p.CertificateUUID != "" {
		if err := isUUID("PayloadCertificateUUID", p.CertificateUUID); err != nil {
			return err
		}
	}
	switch p.MailNumberOfPastDaysToSync {
	case 0, 1, 3, 7, 14, 31:
		return nil
	}
	return fmt.Errorf("%w: MailNumberOfPastDaysToSync %d", ErrInvalidValue, p.MailNumberOfPastDaysToSync)
}

// Mail account kinds and authentication methods.
const (
	MailIMAP         = "EmailTypeIMAP"
	MailPOP          = "EmailTypePOP"
	MailAuthNone     = "EmailAuthNone"
	MailAuthPassword = "EmailAuthPassword"
	MailAuthCRAMMD5  = "EmailAuthCRAMMD5"
	MailAuthNTLM     = "EmailAuthNTLM"
	MailAuthHTTPMD5  = "EmailAuthHTTPMD5"
)

// Mail configures an IMAP or POP mail account.
type Mail struct {
	Meta
	AccountType        string `plist:"EmailAccountType"`
	AccountDescription string `plist:"EmailAccountDescription,omitempty"`
	AccountName        string `plist:"EmailAccountName,omitempty"`
	EmailAddress       string `plist:"EmailAddress,omitempty"`

	IncomingAuthentication string `plist:"IncomingMailServerAuthentication"`
	IncomingHost           string `plist:"IncomingMailServerHostName"`
	IncomingPort           int    `plist:"IncomingMailServerPortNumber,omitempty"`
	IncomingUseSSL         bool   `plist:"IncomingMailServerUseSSL,omitempty"`
	IncomingUsername       string `plist:"IncomingMailServerUsername,omitempty"`

	OutgoingAuthentication string `plist:"OutgoingMailServerAuthentication"`
	OutgoingHost           string `plist:"OutgoingMailServerHostName"`
	OutgoingPort           int    `plist:"OutgoingMailServerPortNumber,omitempty"`
	OutgoingUseSSL         bool   `plist:"OutgoingMailServerUseSSL,omitempty"`
	OutgoingUsername       string `plist:"OutgoingMailServerUsername,omitempty"`
	// OutgoingPasswordSameAsIncoming spares the user a second prompt.
	OutgoingPasswordSameAsIncoming bool `plist:"OutgoingPasswordSameAsIncomingPassword,omitempty"`

	PreventMove     bool `plist:"PreventMove,omitempty"`
	PreventAppSheet bool `plist:"PreventAppSheet,omitempty"`
}

func (*Mail) PayloadType() string { return TypeMail }
func (*Mail) suffix() string      { return "mail" }

func (p *Mail) validate() error {
	auths := []string{MailAuthNone, MailAuthPassword, MailAuthCRAMMD5, MailAuthNTLM, MailAuthHTTPMD5}
	switch {
	case p.AccountType == "":
		return missing("EmailAccountType")
	case p.IncomingHost == "":
		return missing("IncomingMailServerHostName")
	case p.OutgoingHost == "":
		return missing("OutgoingMailServerHostName")
	}
	if err := oneOf("EmailAccountType", p.AccountType, MailIMAP, MailPOP); err != nil {
		return err
	}
	if err := oneOf("IncomingMailServerAuthentication", p.IncomingAuthentication, auths...); err != nil {
		return err
	}
	return oneOf("OutgoingMailServerAuthentication", p.OutgoingAuthentication, auths...)
}

// WebClip puts a web link on the home screen.
type WebClip struct {
	Meta
	URL   string `plist:"URL"`
	Label string `plist:"Label"`
	// Icon is a PNG, ideally 180×180.
	Icon        []byte `plist:"Icon,omitempty"`
	IsRemovable *bool  `plist:"IsRemovable,omitempty"`
	FullScreen  bool   `plist:"FullScreen,omitempty"`
	Precomposed bool   `plist:"Precomposed,omitempty"`
	// TargetApplicationBundleIdentifier opens the URL in this app.
	TargetApplicationBundleIdentifier string `plist:"TargetApplicationBundleIdentifier,omitempty"`
}

func (*WebClip) PayloadType() string { return TypeWebClip }
func (*WebClip) suffix() string      { return "webclip" }

func (p *WebClip) validate() error {
	if p.Label == "" {
		return missing("Label")
	}
	if p.URL == "" {
		return missing("URL")
	}
	if u, err := url.Parse(p.URL); err != nil || u.Scheme == "" {
		return fmt.Errorf("%w: web clip URL %q", ErrInvalidValue, p.URL)
	}
	return nil
}

// Unknown is a payload of a type this package has no struct for, kept as
// decoded so that a profile can be inspected and re-encoded unchanged.
type Unknown struct {
	Meta
	// Keys holds every key of the payload dictionary except the Meta keys.
	Keys map[string]any
}

func (p *Unknown) PayloadType() string { return p.Type }

func (p *Unknown) wire() any {
	m := make(map[string]any, len(p.Keys)+7)
	for k, v := range p.Keys {
		m[k] = v
	}
	m["PayloadType"] = p.Type
	m["PayloadVersion"] = p.Version
	m["PayloadIdentifier"] = p.Identifier
	m["PayloadUUID"] = p.UUID
	for k, v := range map[string]string{
		"PayloadDisplayName": p.DisplayName, "PayloadDescription": p.Description, "PayloadOrganization": p.Organization,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func (p *Unknown) unwire(decode func(any) error) error {
	if err := decode(&p.Meta); err != nil {
		return err
	}
	if err := decode(&p.Keys); err != nil {
		return err
	}
	for _, k := range []string{"PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID",
		"PayloadDisplayName", "PayloadDescription", "PayloadOrganization"} {
		delete(p.Keys, k)
	}
	return nil
}

func (p *Unknown) validate() error {
	if p.Type == "" {
		return missing("PayloadType")
	}
	return nil
}
