package profile

import "fmt"

// Security is a Wi-Fi EncryptionType.
type Security string

// The EncryptionType values Apple accepts. Since iOS 16 and macOS 13, WPA
// joins WPA and WPA2 networks, WPA2 joins WPA2 and WPA3, WPA3 only WPA3.
const (
	SecurityNone Security = "None"
	SecurityWEP  Security = "WEP"
	SecurityWPA  Security = "WPA"
	SecurityWPA2 Security = "WPA2"
	SecurityWPA3 Security = "WPA3"
	SecurityAny  Security = "Any"
)

// EAPType is an accepted EAP method number.
type EAPType int

// EAP methods Apple supports in AcceptEAPTypes.
const (
	EAPTLS  EAPType = 13
	EAPLEAP EAPType = 17
	EAPSIM  EAPType = 18
	EAPTTLS EAPType = 21
	EAPAKA  EAPType = 23
	EAPPEAP EAPType = 25
	EAPFAST EAPType = 43
)

// WiFi configures a Wi-Fi network. Set EAP for WPA2/WPA3-Enterprise.
type WiFi struct {
	Meta
	SSID          string   `plist:"SSID_STR"`
	HiddenNetwork bool     `plist:"HIDDEN_NETWORK,omitempty"`
	AutoJoin      *bool    `plist:"AutoJoin,omitempty"`
	Security      Security `plist:"EncryptionType"`
	// Password is the pre-shared key (personal networks).
	Password string `plist:"Password,omitempty"`
	// CertificateUUID names the identity payload (SCEP or PKCS #12) used
	// for EAP-TLS.
	CertificateUUID string `plist:"PayloadCertificateUUID,omitempty"`
	EAP             *EAP   `plist:"EAPClientConfiguration,omitempty"`
	// DisableAssociationMACRandomization keeps the hardware MAC address.
	DisableAssociationMACRandomization bool `plist:"DisableAssociationMACRandomization,omitempty"`
}

// EAP is the enterprise (802.1X) part of a Wi-Fi payload.
type EAP struct {
	AcceptEAPTypes []EAPType `plist:"AcceptEAPTypes"`
	UserName       string    `plist:"UserName,omitempty"`
	UserPassword   string    `plist:"UserPassword,omitempty"`
	OuterIdentity  string    `plist:"OuterIdentity,omitempty"`
	// TrustedCertificateUUIDs are PayloadUUIDs of RootCertificate or
	// Certificate payloads the RADIUS server's chain must end in.
	TrustedCertificateUUIDs []string `plist:"PayloadCertificateAnchorUUID,omitempty"`
	// TrustedServerNames are the names the RADIUS server certificate may
	// have (wildcards allowed), so a rogue server with a valid
	// certificate from the same CA is refused.
	TrustedServerNames []string `plist:"TLSTrustedServerNames,omitempty"`
	// TTLSInnerAuthentication: PAP, CHAP, MSCHAP, MSCHAPv2 or EAP.
	TTLSInnerAuthentication string `plist:"TTLSInnerAuthentication,omitempty"`
	TLSMinimumVersion       string `plist:"TLSMinimumVersion,omitempty"`
	// TLSAllowTrustExceptions false stops the user from accepting an
	// untrusted server certificate.
	TLSAllowTrustExceptions *bool `plist:"TLSAllowTrustExceptions,omitempty"`
}

func (*WiFi) PayloadType() string { return TypeWiFi }
func (*WiFi) suffix() string      { return "wifi" }

func (p *WiFi) validate() error {
	if p.SSID == "" {
		return missing("SSID_STR")
	}
	switch p.Security {
	case SecurityNone:
		if p.Password != "" || p.EAP != nil {
			return fmt.Errorf("%w: open network %q with a password or EAP settings", ErrInvalidSecurityType, p.SSID)
		}
	case SecurityWEP, SecurityWPA, SecurityWPA2, SecurityWPA3, SecurityAny:
	case "":
		return fmt.Errorf("%w: EncryptionType not set for %q", ErrInvalidSecurityType, p.SSID)
	default:
		return fmt.Errorf("%w: %q", ErrInvalidSecurityType, p.Security)
	}
	if p.CertificateUUID != "" {
		if err := isUUID("PayloadCertificateUUID", p.CertificateUUID); err != nil {
			return err
		}
	}
	if p.EAP == nil {
		return nil
	}
	if p.Security == SecurityWEP {
		return fmt.Errorf("%w: WEP cannot be used with EAP", ErrInvalidSecurityType)
	}
	if len(p.EAP.AcceptEAPTypes) == 0 {
		return missing("AcceptEAPTypes")
	}
	for _, t := range p.EAP.AcceptEAPTypes {
		switch t {
		case EAPTLS, EAPLEAP, EAPSIM, EAPTTLS, EAPAKA, EAPPEAP, EAPFAST:
		default:
			return fmt.Errorf("%w: EAP type %d", ErrInvalidValue, t)
		}
		if t == EAPTLS && p.CertificateUUID == "" {
			return fmt.Errorf("%w: EAP-TLS needs PayloadCertificateUUID (the device identity)", ErrMissingField)
		}
	}
	for _, u := range p.EAP.TrustedCertificateUUIDs {
		if err := isUUID("PayloadCertificateAnchorUUID", u); err != nil {
			return err
		}
	}
	return nil
}

// VPNType is a VPN payload's VPNType.
type VPNType string

// VPN types this package builds. "VPN" is a VPN app (set VPNSubType to
// its bundle identifier).
const (
	VPNIKEv2    VPNType = "IKEv2"
	VPNIPSec    VPNType = "IPSec"
	VPNProvider VPNType = "VPN"
)

// VPN configures a VPN connection.
type VPN struct {
	Meta
	Type VPNType `plist:"VPNType"`
	// SubType is the VPN app's bundle identifier when Type is VPNProvider.
	SubType string `plist:"VPNSubType,omitempty"`
	// Name is what Settings shows.
	Name string `plist:"UserDefinedName"`
	// IKEv2 is required when Type is VPNIKEv2.
	IKEv2 *IKEv2 `plist:"IKEv2,omitempty"`
	// IPSec is required when Type is VPNIPSec.
	IPSec *IPSec `plist:"IPSec,omitempty"`
	// App is the configuration of a VPN app (Type VPNProvider).
	App *VPNAppConfig `plist:"VPN,omitempty"`
	// VendorConfig is passed to a VPN app as is.
	VendorConfig map[string]string `plist:"VendorConfig,omitempty"`
}

// IKEv2 is the IKEv2 dictionary of a VPN payload.
type IKEv2 struct {
	RemoteAddress    string `plist:"RemoteAddress"`
	LocalIdentifier  string `plist:"LocalIdentifier"`
	RemoteIdentifier string `plist:"RemoteIdentifier"`
	// AuthenticationMethod: "None", "SharedSecret" or "Certificate".
	AuthenticationMethod string `plist:"AuthenticationMethod"`
	// CertificateUUID names the identity payload for "Certificate".
	CertificateUUID string `plist:"PayloadCertificateUUID,omitempty"`
	SharedSecret    string `plist:"SharedSecret,omitempty"`
	// ExtendedAuthEnabled (1) adds EAP user authentication.
	ExtendedAuthEnabled int    `plist:"ExtendedAuthEnabled,omitempty"`
	AuthName            string `plist:"AuthName,omitempty"`
	// ServerCertificateIssuerCommonName pins the server certificate issuer.
	ServerCertificateIssuerCommonName string `plist:"ServerCertificateIssuerCommonName,omitempty"`
	OnDemandEnabled                   int    `plist:"OnDemandEnabled,omitempty"`
	EnablePFS                         int    `plist:"EnablePFS,omitempty"`
}

// IPSec is the IPSec (Cisco) dictionary of a VPN payload.
type IPSec struct {
	RemoteAddress string `plist:"RemoteAddress"`
	// AuthenticationMethod: "SharedSecret" or "Certificate".
	AuthenticationMethod string `plist:"AuthenticationMethod"`
	LocalIdentifier      string `plist:"LocalIdentifier,omitempty"`
	LocalIdentifierType  string `plist:"LocalIdentifierType,omitempty"`
	SharedSecret         []byte `plist:"SharedSecret,omitempty"`
	CertificateUUID      string `plist:"PayloadCertificateUUID,omitempty"`
	XAuthEnabled         int    `plist:"XAuthEnabled,omitempty"`
	XAuthName            string `plist:"XAuthName,omitempty"`
}

// VPNAppConfig is the "VPN" dictionary used with a VPN app.
type VPNAppConfig struct {
	AuthenticationMethod     string `plist:"AuthenticationMethod,omitempty"`
	CertificateUUID          string `plist:"PayloadCertificateUUID,omitempty"`
	ProviderBundleIdentifier string `plist:"ProviderBundleIdentifier,omitempty"`
	ProviderType             string `plist:"ProviderType,omitempty"`
}

func (*VPN) PayloadType() string { return TypeVPN }
func (*VPN) suffix() string      { return "vpn" }

func (p *VPN) validate() error {
	if p.Name == "" {
		return missing("UserDefinedName")
	}
	switch p.Type {
	case VPNIKEv2:
		k := p.IKEv2
		switch {
		case k == nil:
			return missing("IKEv2")
		case k.RemoteAddress == "":
			return missing("IKEv2.RemoteAddress")
		case k.LocalIdentifier == "":
			return missing("IKEv2.LocalIdentifier")
		case k.RemoteIdentifier == "":
			return missing("IKEv2.RemoteIdentifier")
		}
		if err := oneOf("IKEv2.AuthenticationMethod", k.AuthenticationMethod, "None", "SharedSecret", "Certificate"); err != nil {
			return err
		}
		return credential("IKEv2", k.AuthenticationMethod, k.CertificateUUID, k.SharedSecret != "")
	case VPNIPSec:
		s := p.IPSec
		switch {
		case s == nil:
			return missing("IPSec")
		case s.RemoteAddress == "":
			return missing("IPSec.RemoteAddress")
		}
		if err := oneOf("IPSec.AuthenticationMethod", s.AuthenticationMethod, "SharedSecret", "Certificate"); err != nil {
			return err
		}
		return credential("IPSec", s.AuthenticationMethod, s.CertificateUUID, len(s.SharedSecret) > 0)
	case VPNProvider:
		if p.SubType == "" {
			return missing("VPNSubType")
		}
		return nil
	case "":
		return missing("VPNType")
	default:
		return fmt.Errorf("%w: VPNType %q", ErrInvalidValue, p.Type)
	}
}

// credential checks that the chosen authentication method has its secret.
func credential(dict, method, certUUID string, hasSecret bool) error {
	switch method {
	case "Certificate":
		return isUUID(dict+".PayloadCertificateUUID", certUUID)
	case "SharedSecret":
		if !hasSecret {
			return missing(dict + ".SharedSecret")
		}
	}
	return nil
}
