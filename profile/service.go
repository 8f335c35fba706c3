package profile

import (
	"fmt"
	"slices"

	"github.com/micromdm/plist"
)

// TypeService is the PayloadType of the OTA Profile Service document.
const TypeService = "Profile Service"

// Device attributes a Profile Service can request (OTA phase 1). Request
// only what the privacy contract allows: the network identifiers (IMEI,
// MEID, ICCID, MAC address) reveal more than the organization may see.
const (
	AttrUDID       = "UDID"
	AttrVersion    = "VERSION"
	AttrProduct    = "PRODUCT"
	AttrSerial     = "SERIAL"
	AttrDeviceName = "DEVICE_NAME"
	AttrMEID       = "MEID"
	AttrIMEI       = "IMEI"
	AttrICCID      = "ICCID"
	AttrMACAddress = "MAC_ADDRESS_EN0"
)

var knownAttrs = []string{AttrUDID, AttrVersion, AttrProduct, AttrSerial, AttrDeviceName, AttrMEID, AttrIMEI, AttrICCID, AttrMACAddress}

// Service is the OTA Profile Service document (OTA phase 1). Unlike the
// payloads, it is a top-level document of its own: the device shows its
// texts, then posts the requested attributes, signed, to URL.
type Service struct {
	Meta `plist:"-"`
	// URL receives the device's signed attributes (phase 2). Must be https.
	URL string `plist:"URL"`
	// DeviceAttributes lists the attributes requested, e.g. AttrUDID.
	DeviceAttributes []string `plist:"DeviceAttributes"`
	// Challenge is echoed back by the device, binding its post to the
	// session that served this document.
	Challenge string `plist:"Challenge,omitempty"`
}

type serviceWire struct {
	Meta
	Content Service `plist:"PayloadContent"`
}

// Validate reports what a device would refuse.
func (s *Service) Validate() error {
	if s.Identifier == "" {
		return fmt.Errorf("profile service: %w", ErrEmptyIdentifier)
	}
	if err := httpsURL("URL", s.URL); err != nil {
		return fmt.Errorf("profile service: %w", err)
	}
	if len(s.DeviceAttributes) == 0 {
		return fmt.Errorf("profile service: %w", missing("DeviceAttributes"))
	}
	for _, a := range s.DeviceAttributes {
		if !slices.Contains(knownAttrs, a) {
			return fmt.Errorf("profile service: %w: device attribute %q", ErrInvalidValue, a)
		}
	}
	return nil
}

// Encode returns the document as an XML plist, ready for Signer.Sign. The
// UUID is derived from Identifier when empty.
func (s *Service) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	w := serviceWire{Meta: s.Meta, Content: *s}
	w.Type, w.Version = TypeService, 1
	if w.UUID == "" {
		w.UUID = nameUUID(s.Identifier)
	}
	b, err := plist.MarshalIndent(w, "\t")
	if err != nil {
		return nil, fmt.Errorf("profile service: encode: %w", err)
	}
	return b, nil
}
